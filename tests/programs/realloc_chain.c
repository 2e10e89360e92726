/*
 * realloc_chain.c - realloc chains.
 *
 * Pattern:
 *   - realloc(NULL, 10): counts as one alloc (10 bytes).
 *   - grow that buffer with realloc 20 times (size 10 -> 10+37*k), each
 *     counts as one alloc + one free (bytes_allocated adds the new size).
 *   - shrink it with realloc 3 times, then realloc(p, 0): one free, the
 *     buffer is gone (glibc and valgrind 3.19 both free and return NULL).
 *   - a second chain of 5 growth steps whose final block is leaked
 *     (LEAK: realloc_leak, the line of the last realloc).
 *   - realloc of a malloc'd block to the same size (one alloc + one free).

 *
 * Observed with valgrind 3.19 (Debian 12, glibc 2.36, gcc 12, -g -O0, stdout a pipe;
 * a tty would make the stdout buffer 1024 bytes instead of 4096):
 *   total heap usage: 33 allocs, 32 frees, 13,279 bytes allocated
 *   in use at exit: 256 bytes in 1 blocks
 * tests/integration/oracle.py compares memscope with a live valgrind run; these
 * figures are documentation, not hard-coded expectations.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *grow(char *p, size_t n)
{
    char *q = realloc(p, n);
    if (!q) {
        perror("realloc");
        exit(1);
    }
    return q;
}

int main(void)
{
    char *buf = realloc(NULL, 10);
    memset(buf, 'a', 10);
    size_t n = 10;
    for (int k = 1; k <= 20; k++) {
        n = 10 + 37 * (size_t)k;
        buf = grow(buf, n);
        buf[n - 1] = (char)('a' + k);
    }
    unsigned long sum = (unsigned char)buf[n - 1];
    buf = grow(buf, 500);
    buf = grow(buf, 100);
    buf = grow(buf, 3);
    sum += (unsigned char)buf[0];
    buf = realloc(buf, 0); /* frees; returns NULL */
    sum += buf == NULL;

    char *chain = malloc(8);
    memset(chain, 0, 8);
    for (int k = 1; k <= 4; k++)
        chain = grow(chain, 8u << k);
    chain = realloc(chain, 256); /* LEAK: realloc_leak */
    chain[255] = 'z';

    char *same = malloc(48);
    memset(same, 'q', 48);
    same = grow(same, 48);
    sum += (unsigned char)same[47];
    free(same);

    printf("realloc_chain: sum=%lu last=%c\n", sum, chain[255]);
    return 0;
}
