/* Benchmark workload: single-threaded malloc/free churn through a ring of 1024 slots; each
 * iteration frees the slot's block and mallocs a new one of 16..528 bytes, which it fills.
 * Argument: iterations (default 10 M, i.e. ~20 M malloc+free events); prints only a checksum. */
#include "common.h"

#define RING 1024

int main(int argc, char **argv)
{
    uint64_t iters = bench_count(argc, argv, 10000000);
    static unsigned char *ring[RING];
    uint64_t rng = 1, sum = 0;

    for (uint64_t i = 0; i < iters; i++) {
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
    printf("%016" PRIx64 "\n", sum);
    return 0;
}
