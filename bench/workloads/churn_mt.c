/* Benchmark workload: churn.c on 8 threads, each with its own ring of 1024 slots and its own
 * random stream. Argument: total iterations across all threads (default 10 M, ~20 M malloc+free
 * events); prints only a checksum, which does not depend on scheduling. */
#include <pthread.h>

#include "common.h"

#define RING 1024
#define THREADS 8

struct worker {
    pthread_t tid;
    uint64_t iters;
    uint64_t seed;
    uint64_t sum;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    unsigned char **ring = calloc(RING, sizeof(*ring));
    uint64_t rng = w->seed, sum = 0;

    if (!ring)
        abort();
    for (uint64_t i = 0; i < w->iters; i++) {
        size_t slot = i % RING;
        size_t n = 16 + bench_rand(&rng) % 513;
        free(ring[slot]);
        ring[slot] = malloc(n);
        if (!ring[slot])
            abort();
        bench_fill(ring[slot], n, &sum);
    }
    for (size_t i = 0; i < RING; i++)
        free(ring[i]);
    free(ring);
    w->sum = sum;
    return NULL;
}

int main(int argc, char **argv)
{
    uint64_t iters = bench_count(argc, argv, 10000000);
    struct worker w[THREADS];
    uint64_t sum = 0;

    for (int t = 0; t < THREADS; t++) {
        w[t].iters = iters / THREADS + ((uint64_t)t < iters % THREADS);
        w[t].seed = (uint64_t)t + 1;
        int err = pthread_create(&w[t].tid, NULL, work, &w[t]);
        if (err) {
            fprintf(stderr, "pthread_create: error %d\n", err);
            return 1;
        }
    }
    for (int t = 0; t < THREADS; t++) {
        pthread_join(w[t].tid, NULL);
        sum ^= w[t].sum;
    }
    printf("%016" PRIx64 "\n", sum);
    return 0;
}
