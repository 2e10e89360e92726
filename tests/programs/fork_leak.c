/*
 * fork_leak.c - parent and child each allocate and leak different amounts.
 *
 * Pattern:
 *   - before fork, the parent allocates 3 x malloc(200) it frees and one
 *     malloc(1000) it leaks (LEAK: before_fork).  A fork child inherits
 *     this block, so it is also "in use at exit" in the child.
 *   - stdout is flushed before fork (so no buffered text is duplicated).
 *   - child: 5 x malloc(300) freed, one malloc(2222) leaked
 *     (LEAK: child_only), prints one line, exit(0).
 *   - parent: waitpid() for the child, then 7 x malloc(400) freed, one
 *     malloc(4444) leaked (LEAK: parent_only), prints the child's status.
 * Under valgrind --trace-children=yes --child-silent-after-fork=no the
 * child has its own log (vg.<childpid>, "Parent PID:" = the parent's pid),
 * with the parent's pre-fork counts included (the heap is copied).

 *
 * Observed with valgrind 3.19 (Debian 12, glibc 2.36, gcc 12, -g -O0, stdout a pipe;
 * a tty would make the stdout buffer 1024 bytes instead of 4096):
 *   total heap usage: parent: 13 allocs, 11 frees, 12,940 bytes allocated
 *   in use at exit: parent: 5,444 bytes in 2 blocks
 *   (1000 + 4444).  child (Parent PID = parent): 11 allocs, 9 frees, 9,418 bytes allocated;
 *   in use at exit: 3,222 bytes in 2 blocks (1000 inherited + 2222); counts include the pre-fork
 ones
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

static char *child_work(void)
{
    churn(5, 300);
    char *c = malloc(2222); /* LEAK: child_only */
    memset(c, 'c', 2222);
    return c;
}

static char *parent_work(void)
{
    churn(7, 400);
    char *p = malloc(4444); /* LEAK: parent_only */
    memset(p, 'p', 4444);
    return p;
}

int main(void)
{
    churn(3, 200);
    char *shared = malloc(1000); /* LEAK: before_fork */
    memset(shared, 's', 1000);
    printf("fork_leak: start\n");
    fflush(stdout);

    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        char *c = child_work();
        printf("fork_leak: child %c\n", c[0]);
        fflush(stdout);
        exit(0);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid) {
        perror("waitpid");
        return 1;
    }
    char *p = parent_work();
    printf("fork_leak: parent %c child-exit=%d\n", p[0],
           WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return 0;
}
