/*
 * thread_burst.c - 16 threads start together, each allocates and frees 100 blocks and leaks
 * one, and all exit at once, so their first buffer flushes (which create the trace file) race
 * each other. tests/CMakeLists.txt runs it repeatedly and checks every trace reads back whole.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 16

static pthread_barrier_t barrier;

static void *worker(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&barrier);
    for (int i = 0; i < 100; i++)
        free(malloc(32));
    char *kept = malloc(16); /* LEAK: burst */
    memset(kept, 0, 16);
    return kept;
}

int main(void)
{
    pthread_t t[THREADS];
    pthread_barrier_init(&barrier, NULL, THREADS);
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, worker, NULL);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&barrier);
    return 0;
}
