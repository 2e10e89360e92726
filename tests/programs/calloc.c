/*
 * calloc.c - calloc in its corners.
 *
 * Pattern:
 *   - calloc(10, 12) leaked                                  (LEAK: calloc120)
 *   - calloc(0, 16) and calloc(16, 0): zero-byte blocks (each one alloc of 0
 *     bytes); the first is freed, the second leaked          (LEAK: calloc_zero)
 *   - 30 calloc(i, 8) + free pairs, i = 1..30
 *   - calloc(1, 100000) (above the mmap threshold) freed
 *   - a calloc'd block is checked to be zero-filled.

 *
 * Observed with valgrind 3.19 (Debian 12, glibc 2.36, gcc 12, -g -O0, stdout a pipe;
 * a tty would make the stdout buffer 1024 bytes instead of 4096):
 *   total heap usage: 35 allocs, 33 frees, 107,936 bytes allocated
 *   in use at exit: 120 bytes in 2 blocks
 *   (120 + the 0-byte calloc(16, 0))
 * tests/integration/oracle.py compares memscope with a live valgrind run; these
 * figures are documentation, not hard-coded expectations.
 */
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    unsigned char *a = calloc(10, 12); /* LEAK: calloc120 */
    unsigned long sum = 0;
    for (int i = 0; i < 120; i++)
        sum += a[i];

    void *z1 = calloc(0, 16);
    void *z2 = calloc(16, 0); /* LEAK: calloc_zero */
    sum += (z1 != NULL) + (z2 != NULL);
    free(z1);

    for (size_t i = 1; i <= 30; i++) {
        long *p = calloc(i, 8);
        sum += (unsigned long)p[i - 1];
        free(p);
    }
    unsigned char *big = calloc(1, 100000);
    sum += big[99999];
    free(big);
    printf("calloc: sum=%lu\n", sum);
    return 0;
}
