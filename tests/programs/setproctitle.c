/* Rewrites its own environment and argv area the way setproctitle() implementations do (the
 * strings of argv and environ are one contiguous block, overwritten with the new title and
 * zeros), then allocates and execs /bin/true: memscope must still write its trace where it was
 * asked, and the exec'd program must still be traced. It also prints how many variables named
 * MEMSCOPE_* or LD_PRELOAD it sees (natively: whatever the caller set). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
    int ours = 0;
    for (char **e = environ; *e; e++)
        ours += !strncmp(*e, "MEMSCOPE_", 9) || !strncmp(*e, "LD_PRELOAD=", 11);
    printf("%d memscope variable(s) visible\n", ours);
    /* The block from argv[0] to the end of the last environment string. */
    char *start = argv[0], *end = argv[argc - 1] + strlen(argv[argc - 1]);
    for (char **e = environ; *e; e++)
        if (*e + strlen(*e) > end)
            end = *e + strlen(*e);
    memset(start, 0, (size_t)(end - start));
    snprintf(start, (size_t)(end - start), "title: rewritten");
    for (int i = 0; i < 100000; i++) {
        char *volatile p = malloc(24);
        p[0] = 1;
        free(p);
    }
    char *volatile kept = malloc(4321); /* LEAK: after_rewrite */
    (void)kept;
    fflush(stdout);
    execl("/bin/true", "true", (char *)NULL);
    return 1;
}
