/* Helpers shared by the C benchmark workloads: a cheap deterministic random generator, the
 * iteration-count argument, and a sink that keeps the compiler from eliding allocations. */
#ifndef MS_BENCH_COMMON_H
#define MS_BENCH_COMMON_H

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 64-bit LCG (Knuth's MMIX constants); the high bits are the useful ones. */
static inline uint32_t bench_rand(uint64_t *state)
{
    *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(*state >> 33);
}

/* The optional first argument: a positive count, or def when absent. Exits on garbage. */
static inline uint64_t bench_count(int argc, char **argv, uint64_t def)
{
    if (argc < 2)
        return def;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(argv[1], &end, 10);
    if (errno || end == argv[1] || *end || v == 0) {
        fprintf(stderr, "usage: %s [COUNT]  (COUNT: positive integer, default %" PRIu64 ")\n",
                argv[0], def);
        exit(2);
    }
    return v;
}

/* Writes a few bytes into a fresh block of size n (>= 1) and folds them into *sum, so every
 * allocation is used and touched the way a real program would. */
static inline void bench_touch(unsigned char *p, size_t n, uint64_t *sum)
{
    p[0] = (unsigned char)n;
    p[n - 1] = (unsigned char)(n >> 3);
    *sum = *sum * 31 + p[0] + p[n - 1];
}

/* Fills all of a fresh block of size n (>= 1), as a program initialising it would, and folds
 * one byte into *sum. */
static inline void bench_fill(unsigned char *p, size_t n, uint64_t *sum)
{
    memset(p, (int)(n & 0xff), n);
    *sum = *sum * 31 + p[n / 2];
}

#endif
