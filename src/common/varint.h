/* Prefix varints and the zigzag signed mapping used by the trace format. A value takes k bytes
 * (1 <= k <= 9); the number of trailing zero bits of the first byte, plus one, is k, so both
 * encoding and decoding are branch-free for the usual sizes. Encoding is inline because it runs
 * on every captured event; decoding is bounds-checked because traces are hostile input.
 *
 *   k in 1..8: the k bytes hold, little-endian, (value << k) | (1 << (k - 1)); value < 2^(7k)
 *   k == 9:    a zero byte, then the value as 8 bytes little-endian */
#ifndef MS_VARINT_H
#define MS_VARINT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The longest encoding of a 64-bit value. Writers must also leave 8 bytes of slack after the
 * encoded value: the encoder stores 8 bytes at once. */
#define MS_VARINT_MAX 9

static inline uint64_t ms_zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t ms_unzigzag(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/* The number of bytes ms_varint_put takes for v. */
static inline unsigned ms_varint_len(uint64_t v)
{
    unsigned k = (64u - (unsigned)__builtin_clzll(v | 1) + 6) / 7;
    return k <= 8 ? k : 9;
}

/* Writes v in exactly k bytes (1..8, v < 2^(7k)), touching nothing after them; readers accept
 * such padded encodings. */
static inline uint8_t *ms_varint_put_width(uint8_t *p, uint64_t v, unsigned k)
{
    uint64_t x = (v << k) | (1ull << (k - 1));
    for (unsigned i = 0; i < k; i++)
        p[i] = (uint8_t)(x >> (8 * i));
    return p + k;
}

/* Writes v at p, which must have MS_VARINT_MAX + 8 bytes free (8 bytes are stored at once);
 * returns the byte after the encoding. */
static inline uint8_t *ms_varint_put(uint8_t *p, uint64_t v)
{
    unsigned bits = 64u - (unsigned)__builtin_clzll(v | 1);
    unsigned k = (bits + 6) / 7;
    if (__builtin_expect(k <= 8, 1)) {
        uint64_t x = (v << k) | (1ull << (k - 1));
        memcpy(p, &x, 8);
        return p + k;
    }
    *p = 0;
    memcpy(p + 1, &v, 8);
    return p + 9;
}

/* Reads a varint at p without a bounds check, for a caller that has made sure that the whole
 * record is readable (9 bytes at p are enough for any encoding); returns it and advances *p. */
static inline uint64_t ms_varint_get_unchecked(const uint8_t **p)
{
    const uint8_t *q = *p;
    uint64_t x;
    memcpy(&x, q, 8);
    if (__builtin_expect((x & 0xff) != 0, 1)) {
        static const uint64_t value_mask[9] = {0,
                                               (1ull << 7) - 1,
                                               (1ull << 14) - 1,
                                               (1ull << 21) - 1,
                                               (1ull << 28) - 1,
                                               (1ull << 35) - 1,
                                               (1ull << 42) - 1,
                                               (1ull << 49) - 1,
                                               (1ull << 56) - 1};
        unsigned k = (unsigned)__builtin_ctzll(x) + 1;
        *p = q + k;
        return (x >> k) & value_mask[k];
    }
    memcpy(&x, q + 1, 8);
    *p = q + 9;
    return x;
}

/* Reads a varint from [*p, end). Returns 0 and advances *p, or -1 if the input ends inside
 * the varint. */
static inline int ms_varint_get(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
    const uint8_t *q = *p;
    if (q >= end)
        return -1;
    size_t avail = (size_t)(end - q);
    if (*q == 0) {
        if (avail < 9)
            return -1;
        memcpy(out, q + 1, 8);
        *p = q + 9;
        return 0;
    }
    unsigned k = (unsigned)__builtin_ctz(*q) + 1;
    if (avail < k)
        return -1;
    uint64_t x = 0;
    memcpy(&x, q, avail >= 8 ? 8 : k);
    *out = (x >> k) & ((1ull << (7 * k)) - 1);
    *p = q + k;
    return 0;
}

#endif
