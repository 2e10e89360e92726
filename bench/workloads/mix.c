/* Benchmark workload: a ring of 1024 slots refilled mostly with small blocks (16..256 bytes),
 * with every 64th allocation large (64 KiB..1 MiB, so some are mmap-backed). Argument:
 * iterations (default 10 M, each one free + one malloc); prints only a checksum. */
#include "common.h"

#define RING 1024

int main(int argc, char **argv)
{
    uint64_t iters = bench_count(argc, argv, 10000000);
    static unsigned char *ring[RING];
    uint64_t rng = 1, sum = 0;

    for (uint64_t i = 0; i < iters; i++) {
        size_t slot = i % RING;
        size_t n;
        if (i % 64 == 63)
            n = (64 << 10) + bench_rand(&rng) % ((1 << 20) - (64 << 10) + 1);
        else
            n = 16 + bench_rand(&rng) % 241;
        free(ring[slot]);
        ring[slot] = malloc(n);
        if (!ring[slot])
            abort();
        bench_touch(ring[slot], n, &sum);
    }
    for (size_t i = 0; i < RING; i++)
        free(ring[i]);
    printf("%016" PRIx64 "\n", sum);
    return 0;
}
