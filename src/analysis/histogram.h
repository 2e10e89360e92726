/* Histogram buckets by ascending bounds, each at least twice the one before (the last
 * UINT64_MAX): a value's bucket is found from its bit length (first[L]: the bucket of the
 * smallest value of L bits) and one compare, with no branch. The lifetimes' by time and by
 * allocations in between, per site (lifetimes.c) and per task (task_profiles.c). */
#ifndef MS_HISTOGRAM_H
#define MS_HISTOGRAM_H

#include <stdint.h>

struct ms_buckets {
    const uint64_t *bound;
    int n;
    uint8_t first[65];
};

static inline void ms_buckets_init(struct ms_buckets *b, const uint64_t *bound, int n)
{
    b->bound = bound;
    b->n = n;
    for (int len = 0; len <= 64; len++) {
        uint64_t least = len ? 1ull << (len - 1) : 0;
        int k = 0;
        while (k < n - 1 && bound[k] <= least)
            k++;
        b->first[len] = (uint8_t)k;
    }
}

static inline int ms_bucket(const struct ms_buckets *b, uint64_t v)
{
    int len = v ? 64 - __builtin_clzll(v) : 0, k = b->first[len];
    return k + (k < b->n - 1 && v >= b->bound[k]);
}

/* ns in ticks of ns_per_tick, rounded up: a span of t ticks is at least ns when t reaches it. */
static inline uint64_t ms_ticks_of(double ns_per_tick, uint64_t ns)
{
    double t = (double)ns / ns_per_tick;
    return t >= 1.8e19 ? UINT64_MAX : (uint64_t)t + ((double)(uint64_t)t < t);
}

#endif
