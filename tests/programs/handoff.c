/*
 * handoff.c - four threads that hand blocks to each other through 64 shared slots: each
 * allocates 100,000 blocks of 16 to 64 bytes and frees the block it takes out of a slot, most
 * often another thread's. The replay must repair the order of their events (the threads' times
 * are taken every 16 records), which is what a report's time window must not cut across
 * (tests/integration/analyses.py, window_threads).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#define SLOTS 64

static _Atomic(void *) slots[SLOTS];

static void *produce(void *arg)
{
    long id = (long)arg;
    for (long i = 0; i < 100000; i++) {
        void *p = malloc(16 + (size_t)(i % 4) * 16);
        void *old = atomic_exchange(&slots[(i * 7 + id) % SLOTS], p);
        free(old);
    }
    return NULL;
}

int main(void)
{
    pthread_t t[4];
    for (long i = 0; i < 4; i++)
        if (pthread_create(&t[i], NULL, produce, (void *)i) != 0)
            return 1;
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    for (int k = 0; k < SLOTS; k++)
        free(slots[k]);
    return 0;
}
