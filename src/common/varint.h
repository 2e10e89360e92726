/* LEB128 varints and zigzag signed mapping used by the trace format. Encoding is inline because
 * it runs on every captured event; decoding is bounds-checked because traces are hostile input. */
#ifndef MS_VARINT_H
#define MS_VARINT_H

#include <stddef.h>
#include <stdint.h>

/* The longest encoding of a 64-bit value. */
#define MS_VARINT_MAX 10

static inline uint64_t ms_zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t ms_unzigzag(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/* Writes v at p (which must have MS_VARINT_MAX bytes free) and returns the byte after it. */
static inline uint8_t *ms_varint_put(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/* Reads a varint from [*p, end). Returns 0 and advances *p, or -1 if the input ends inside the
 * varint or the value does not fit in 64 bits. */
static inline int ms_varint_get(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
    const uint8_t *q = *p;
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (q >= end)
            return -1;
        uint8_t b = *q++;
        if (shift == 63 && b > 1)
            return -1;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *p = q;
            *out = v;
            return 0;
        }
    }
    return -1;
}

#endif
