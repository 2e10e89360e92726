/*
 * zero_and_null.c - malloc(0) and free(NULL).
 *
 * Pattern:
 *   - three malloc(0): each is one alloc of 0 bytes returning a unique
 *     pointer; two are freed, one leaked                     (LEAK: malloc_zero)
 *   - 10 x free(NULL): counts nothing (neither valgrind nor memscope)
 *   - one malloc(1) freed, one malloc(7) leaked               (LEAK: seven)

 *
 * Observed with valgrind 3.19 (Debian 12, glibc 2.36, gcc 12, -g -O0, stdout a pipe;
 * a tty would make the stdout buffer 1024 bytes instead of 4096):
 *   total heap usage: 6 allocs, 4 frees, 4,104 bytes allocated
 *   in use at exit: 7 bytes in 2 blocks
 *   (the 0-byte malloc(0) + 7)
 * tests/integration/oracle.py compares memscope with a live valgrind run; these
 * figures are documentation, not hard-coded expectations.
 */
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    void *a = malloc(0);
    void *b = malloc(0);
    void *c = malloc(0); /* LEAK: malloc_zero */
    int distinct = (a != b) && (b != c) && (a != c);
    free(a);
    free(b);
    for (int i = 0; i < 10; i++)
        free(NULL);
    char *one = malloc(1);
    one[0] = 'x';
    free(one);
    char *seven = malloc(7); /* LEAK: seven */
    seven[6] = 0;
    printf("zero_and_null: distinct=%d nonnull=%d\n", distinct, c != NULL);
    return 0;
}
