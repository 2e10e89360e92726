/*
 * abort_leak.c - leak, then die from abort() (SIGABRT).
 *
 * Pattern: 8 x malloc(64) freed, malloc(2048) leaked (LEAK: before_abort1),
 * calloc(3, 100) leaked (LEAK: before_abort2), prints one line, flushes
 * stdout (abort() does not flush stdio), then abort().
 * The process is killed by signal 6: a shell reports status 134, Python's
 * subprocess reports -6.  Valgrind still prints its HEAP SUMMARY; glibc's
 * __libc_freeres is NOT run on death by signal, so the stdout buffer is
 * still in use at exit.

 *
 * Observed with valgrind 3.19 (Debian 12, glibc 2.36, gcc 12, -g -O0, stdout a pipe;
 * a tty would make the stdout buffer 1024 bytes instead of 4096):
 *   total heap usage: 11 allocs, 8 frees, 6,956 bytes allocated
 *   in use at exit: 6,444 bytes in 3 blocks
 *   (2048 + 300 leaked + the 4096-byte stdout buffer: __libc_freeres is not run on death by signal)
 * tests/integration/oracle.py compares memscope with a live valgrind run; these
 * figures are documentation, not hard-coded expectations.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *grab(size_t n)
{
    void *p = malloc(n); /* LEAK: before_abort1 */
    memset(p, 'a', n);
    return p;
}

int main(void)
{
    for (int i = 0; i < 8; i++) {
        char *p = malloc(64);
        p[0] = (char)i;
        free(p);
    }
    char *a = grab(2048);
    char *b = calloc(3, 100); /* LEAK: before_abort2 */
    printf("abort_leak: about to abort %c%d\n", a[0], b[0]);
    fflush(stdout);
    abort();
}
