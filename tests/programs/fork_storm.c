/*
 * fork_storm.c - a threaded process with a long history forks many children that each do a
 * little: the children's summaries must not each replay the parent's history.
 *
 * usage: fork_storm [CHILDREN [HISTORY]]   (defaults 200 and 200000)
 * Pattern:
 *   - main and a helper thread: HISTORY malloc(64)/free pairs each, then 100 blocks of 100
 *     bytes kept (the parent's live set at the forks)                 (LEAK: parent100)
 *   - each child: 50 malloc(32)/free pairs and one malloc(777) kept     (LEAK: child777)
 *     then _exit(0); the parent waits for each before the next fork
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static long history = 200000;
static void *volatile sink;

static void churn(void)
{
    for (long i = 0; i < history; i++) {
        void *volatile p = malloc(64);
        free(p);
    }
}

static void *helper(void *arg)
{
    (void)arg;
    churn();
    return NULL;
}

int main(int argc, char **argv)
{
    int children = argc > 1 ? atoi(argv[1]) : 200;
    if (argc > 2)
        history = atol(argv[2]);
    pthread_t t;
    if (pthread_create(&t, NULL, helper, NULL) != 0)
        return 1;
    churn();
    pthread_join(t, NULL);
    static void *volatile kept[100];
    for (int i = 0; i < 100; i++)
        kept[i] = malloc(100); /* LEAK: parent100 */
    for (int c = 0; c < children; c++) {
        pid_t pid = fork();
        if (pid < 0)
            return 1;
        if (pid == 0) {
            for (int i = 0; i < 50; i++) {
                void *volatile p = malloc(32);
                free(p);
            }
            sink = malloc(777); /* LEAK: child777 */
            _exit(0);
        }
        int status;
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
            return 1;
    }
    printf("forked %d children, kept %d blocks\n", children, kept[99] ? 100 : 0);
    return 0;
}
