/* Sampling by bytes (MEMSCOPE_SAMPLE_BYTES=N), as tcmalloc and jemalloc sample: the bytes between
 * two sampled points of the allocation stream are exponentially distributed with mean N, so an
 * allocation of s bytes is sampled with probability 1 - e^(-s/N), whatever came before it. The
 * capture draws the intervals (ms_sample_next: no libm, no allocation, a few dozen
 * instructions, once per sample); the reader weighs each sampled allocation by the inverse of
 * that probability (ms_sample_weight), which makes the scaled counts and bytes unbiased.
 * Not wired into the capture yet (issue 7, item 8). */
#ifndef MS_SAMPLING_H
#define MS_SAMPLING_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* The next value of a xorshift64* generator whose state is *s (never 0: seed with
 * ms_sample_seed). */
static inline uint64_t ms_sample_rand(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* A generator state from any seed (a thread id and a time, say): splitmix64's finaliser, never 0.
 */
static inline uint64_t ms_sample_seed(uint64_t seed)
{
    uint64_t z = seed + 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return z ? z : 0x9E3779B97F4A7C15ULL;
}

/* -ln(u) for u in (0, 1], without libm: u = m * 2^e with m in [1, 2), and
 * ln m = 2 atanh(z) with z = (m - 1) / (m + 1), |z| < 0.172 once m is brought into
 * [sqrt(1/2), sqrt(2)), by five terms of its series (error below 1e-9). */
static inline double ms_sample_neg_log(double u)
{
    uint64_t bits;
    memcpy(&bits, &u, sizeof bits);
    int e = (int)((bits >> 52) & 0x7ff) - 1023;
    bits = (bits & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL;
    double m;
    memcpy(&m, &bits, sizeof m);
    if (m > 1.4142135623730951) { /* m in [sqrt(1/2), sqrt(2)): z below 0.172 */
        m *= 0.5;
        e++;
    }
    double z = (m - 1) / (m + 1), z2 = z * z;
    double ln_m = 2 * z * (1 + z2 * (1.0 / 3 + z2 * (1.0 / 5 + z2 * (1.0 / 7 + z2 * (1.0 / 9)))));
    return -(e * 0.6931471805599453 + ln_m);
}

/* The bytes to the next sampled point, rounded up: the point lies at an exponential distance d
 * (mean `mean`) into the stream, so the allocation of s bytes that starts here holds it exactly
 * when d < s, that is when ceil(d) <= s. At least 1. */
static inline uint64_t ms_sample_next(uint64_t *state, uint64_t mean)
{
    /* 53 random bits, shifted into (0, 1]: u is never 0. */
    double u = (double)((ms_sample_rand(state) >> 11) + 1) * (1.0 / 9007199254740992.0);
    double d = ms_sample_neg_log(u) * (double)mean;
    if (d > 1.8e19)
        return UINT64_MAX;
    return (uint64_t)d + 1;
}

/* The weight of a sampled allocation of size bytes at mean `mean`: the inverse of its
 * probability of being sampled, so that summing weight (and weight * size) over the samples
 * gives unbiased estimates of the count (and bytes) of the whole stream. */
static inline double ms_sample_weight(uint64_t size, uint64_t mean)
{
    if (!mean)
        return 1;
    return 1 / -expm1(-(double)size / (double)mean);
}

#endif
