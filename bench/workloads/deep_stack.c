/* Benchmark workload: every allocation is made at call depth 30..40, reached by recursion
 * through four distinct non-inlined functions, so captured stacks are deep and varied.
 * Arguments: iterations (default 1 M, each one free + one malloc into a ring of 1024 slots) and
 * the number of distinct call paths (default 0: a fresh random path every time, so nearly every
 * stack is unique); prints only a checksum. */
#include "common.h"

#define RING 1024
#ifdef __clang__
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE __attribute__((noinline, noclone))
#endif

static unsigned char *ring[RING];
static uint64_t rng = 1, path_rng, sum;

static NOINLINE uint64_t descend_a(int depth, size_t slot);
static NOINLINE uint64_t descend_b(int depth, size_t slot);
static NOINLINE uint64_t descend_c(int depth, size_t slot);
static NOINLINE uint64_t descend_d(int depth, size_t slot);

static NOINLINE uint64_t leaf_alloc(size_t slot)
{
    size_t n = 16 + bench_rand(&rng) % 497;
    free(ring[slot]);
    ring[slot] = malloc(n);
    if (!ring[slot])
        abort();
    bench_touch(ring[slot], n, &sum);
    return n;
}

/* Picks the next frame (inlined, so only the descend_* functions are frames); the arithmetic
 * after each call keeps it from becoming a tail call. */
static inline __attribute__((always_inline)) uint64_t next(int depth, size_t slot)
{
    if (depth <= 0)
        return leaf_alloc(slot);
    switch (bench_rand(&path_rng) & 3) {
    case 0:
        return descend_a(depth - 1, slot) + 1;
    case 1:
        return descend_b(depth - 1, slot) * 3;
    case 2:
        return descend_c(depth - 1, slot) ^ 5;
    default:
        return descend_d(depth - 1, slot) - 7;
    }
}

static NOINLINE uint64_t descend_a(int depth, size_t slot)
{
    __asm__ volatile("" ::: "memory");
    return next(depth, slot) + (uint64_t)depth;
}

static NOINLINE uint64_t descend_b(int depth, size_t slot)
{
    __asm__ volatile("" ::: "memory");
    return next(depth, slot) ^ (uint64_t)depth;
}

static NOINLINE uint64_t descend_c(int depth, size_t slot)
{
    __asm__ volatile("" ::: "memory");
    return next(depth, slot) * 2 + (uint64_t)depth;
}

static NOINLINE uint64_t descend_d(int depth, size_t slot)
{
    __asm__ volatile("" ::: "memory");
    return next(depth, slot) - (uint64_t)depth;
}

int main(int argc, char **argv)
{
    uint64_t iters = bench_count(argc, argv, 1000000);
    uint64_t paths = 0, acc = 0;

    if (argc > 2) {
        char *end;
        paths = strtoull(argv[2], &end, 10);
        if (end == argv[2] || *end) {
            fprintf(stderr, "usage: %s [ITERATIONS [PATHS]]\n", argv[0]);
            return 2;
        }
    }
    for (uint64_t i = 0; i < iters; i++) {
        /* The path (depth and each frame's function) is a function of path_rng's seed. */
        uint64_t seed = (uint64_t)bench_rand(&rng) << 32 | bench_rand(&rng);
        path_rng = paths ? seed % paths : seed;
        bench_rand(&path_rng);
        acc += next(30 + (int)(bench_rand(&path_rng) % 11), i % RING);
    }
    for (size_t i = 0; i < RING; i++)
        free(ring[i]);
    printf("%016" PRIx64 " %016" PRIx64 "\n", sum, acc);
    return 0;
}
