/*
 * atfork_alloc.c - allocations made by pthread_atfork handlers, which run inside fork(): the
 * stack of such an allocation passes through memscope's fork wrapper, and must still start in
 * the handler, not at the program's fork() call.
 *
 * Pattern:
 *   - prepare() leaks one malloc(40) in the parent, before the fork   (LEAK: prepare40)
 *     (the child inherits it too)
 *   - in_child() leaks one malloc(60) in the child, after the fork    (LEAK: child60)
 *   - the parent waits for the child; both end with exit(0)
 * Output goes through write(2), so stdio allocates nothing.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void *kept_prepare, *kept_child;

static void prepare(void)
{
    kept_prepare = malloc(40); /* LEAK: prepare40 */
}

static void in_child(void)
{
    kept_child = malloc(60); /* LEAK: child60 */
}

int main(void)
{
    pthread_atfork(prepare, NULL, in_child);
    for (int i = 0; i < 5; i++)
        free(malloc(16));
    pid_t pid = fork();
    if (pid < 0)
        return 1;
    if (pid == 0) {
        ssize_t r = write(1, "child\n", 6);
        (void)r;
        exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    ssize_t r = write(1, "parent\n", 7);
    (void)r;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 2;
}
