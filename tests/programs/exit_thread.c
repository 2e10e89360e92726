/*
 * exit_thread.c - exit() called from a non-main thread while another
 * thread is still running (blocked) and main is blocked in pthread_join.
 *
 * Pattern:
 *   - main: malloc(500) leaked (LEAK: main_block), starts "sleeper".
 *   - sleeper: malloc(111) leaked (LEAK: sleeper_block), posts a semaphore,
 *     then blocks forever in read() on a pipe nobody writes to.
 *   - main waits for the semaphore (so the sleeper's allocation has
 *     happened), then starts "exiter" and joins it (never returns).
 *   - exiter: 10 x malloc(50) freed, malloc(3333) leaked
 *     (LEAK: exiter_block), prints, flushes, calls exit(3).
 * Exit status is 3.  The allocation counts do not depend on scheduling.

 *
 * Observed with valgrind 3.19 (Debian 12, glibc 2.36, gcc 12, -g -O0, stdout a pipe;
 * a tty would make the stdout buffer 1024 bytes instead of 4096):
 *   total heap usage: 16 allocs, 11 frees, 9,084 bytes allocated
 *   in use at exit: 4,488 bytes in 5 blocks
 *   (500 + 111 + 3333 + 2 x 272: glibc's per-thread DTV (calloc in pthread_create)
 *   of the two threads still alive at exit)
 * tests/integration/oracle.py compares memscope with a live valgrind run; these
 * figures are documentation, not hard-coded expectations.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static sem_t g_ready;
static int g_pipe[2];
static char *g_sleeper_block;

static void *sleeper(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "sleeper");
    g_sleeper_block = malloc(111); /* LEAK: sleeper_block */
    memset(g_sleeper_block, 1, 111);
    sem_post(&g_ready);
    char c;
    for (;;) {
        if (read(g_pipe[0], &c, 1) <= 0)
            pause();
    }
    return NULL;
}

static void *exiter(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "exiter");
    for (int i = 0; i < 10; i++) {
        char *p = malloc(50);
        memset(p, i, 50);
        free(p);
    }
    char *leak = malloc(3333); /* LEAK: exiter_block */
    memset(leak, 'x', 3333);
    printf("exit_thread: exiting from thread %c\n", leak[0]);
    fflush(stdout);
    exit(3);
}

int main(void)
{
    char *m = malloc(500); /* LEAK: main_block */
    memset(m, 'm', 500);
    if (pipe(g_pipe) != 0 || sem_init(&g_ready, 0, 0) != 0) {
        perror("setup");
        return 1;
    }
    pthread_t ts, te;
    if (pthread_create(&ts, NULL, sleeper, NULL) != 0)
        return 1;
    while (sem_wait(&g_ready) != 0)
        ;
    if (pthread_create(&te, NULL, exiter, NULL) != 0)
        return 1;
    pthread_join(te, NULL);
    printf("exit_thread: not reached\n");
    return 0;
}
