/*
 * dupstrings.c - strdup / strndup.
 *
 * Pattern:
 *   - strdup("hello, memscope") (16 bytes) freed
 *   - strdup of a 99-char string (100 bytes) leaked          (LEAK: strdup100)
 *   - strndup(s, 5) of a longer string (6 bytes) leaked       (LEAK: strndup6)
 *   - strndup(s, 50) of a 3-char string (4 bytes) freed
 *   - 20 strdup+free pairs of "item-NN" (8 bytes each)
 * strdup/strndup call malloc inside libc; the allocation stack's innermost
 * user frame is the strdup/strndup call line.

 *
 * Observed with valgrind 3.19 (Debian 12, glibc 2.36, gcc 12, -g -O0, stdout a pipe;
 * a tty would make the stdout buffer 1024 bytes instead of 4096):
 *   total heap usage: 25 allocs, 23 frees, 4,382 bytes allocated
 *   in use at exit: 106 bytes in 2 blocks
 *   (100 + 6)
 * tests/integration/oracle.py compares memscope with a live valgrind run; these
 * figures are documentation, not hard-coded expectations.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t bound(void)
{
    return 50; /* a call, so gcc cannot see the bound at -O0 */
}

int main(void)
{
    char *a = strdup("hello, memscope");
    size_t total = strlen(a);
    free(a);

    char longstr[100];
    memset(longstr, 'L', 99);
    longstr[99] = '\0';
    char *b = strdup(longstr); /* LEAK: strdup100 */
    total += strlen(b);

    char *c = strndup("truncate-me", 5); /* LEAK: strndup6 */
    total += strlen(c);

    char *d = strndup("abc", bound());
    total += strlen(d);
    free(d);

    for (int i = 0; i < 20; i++) {
        char tmp[16];
        snprintf(tmp, sizeof tmp, "item-%02d", i);
        char *e = strdup(tmp);
        total += strlen(e);
        free(e);
    }
    printf("dupstrings: total=%zu c=%s\n", total, c);
    return 0;
}
