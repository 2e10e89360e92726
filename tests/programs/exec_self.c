/*
 * exec_self.c - allocate, then fork + exec this same program with an
 * argument.
 *
 * Pattern:
 *   - without arguments ("parent" role): 4 x malloc(128) freed, one
 *     malloc(600) leaked (LEAK: exec_parent); stdout flushed; fork(); the
 *     child immediately execv()s argv[0] with the single argument "child"
 *     (no allocation between fork and exec); the parent waits, then prints
 *     the child's exit status.
 *   - with argument "child": 6 x malloc(250) freed, one malloc(777) leaked
 *     (LEAK: exec_child), prints one line, exits with status 5.
 * The exec'd process is a separate process for valgrind (its own
 * "Command: <path> child" log, "Parent PID:" = the parent's pid) and for
 * memscope (its own TRACE.<pid>).  argv[0] must be a path that execv can
 * use (the oracle always runs the program through an absolute path).

 *
 * Observed with valgrind 3.19 (Debian 12, glibc 2.36, gcc 12, -g -O0, stdout a pipe;
 * a tty would make the stdout buffer 1024 bytes instead of 4096):
 *   total heap usage: parent: 6 allocs, 5 frees, 5,208 bytes allocated
 *   in use at exit: parent: 600 bytes in 1 blocks
 *   exec'd child ("Command: <path> child"): 8 allocs, 7 frees, 6,373 bytes allocated; in use at
 exit: 777 bytes in 1 blocks.
 *   The fork child's pre-exec image has no log of its own (the exec'd valgrind reuses vg.<pid>).
 * tests/integration/oracle.py compares memscope with a live valgrind run; these
 * figures are documentation, not hard-coded expectations.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static void churn(int n, size_t size)
{
    for (int i = 0; i < n; i++) {
        char *p = malloc(size);
        memset(p, i, size);
        free(p);
    }
}

static int run_child(void)
{
    churn(6, 250);
    char *c = malloc(777); /* LEAK: exec_child */
    memset(c, 'e', 777);
    printf("exec_self: exec'd child %c\n", c[776]);
    return 5;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "child") == 0)
        return run_child();

    churn(4, 128);
    char *p = malloc(600); /* LEAK: exec_parent */
    memset(p, 'p', 600);
    printf("exec_self: parent before fork\n");
    fflush(stdout);

    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        char *const args[] = {argv[0], (char *)"child", NULL};
        execv(argv[0], args);
        _exit(127);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid) {
        perror("waitpid");
        return 1;
    }
    printf("exec_self: parent %c child-exit=%d\n", p[0],
           WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return 0;
}
