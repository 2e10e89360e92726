/* The call counts a spool head page holds (sampling: trace_format.h, MS_SPOOL_COUNTS_AT) as the
 * CALL_COUNTS and SAMPLE_FREES records that say them, for the writer at the finish (a slot's
 * counts, in a chunk of their own) and for the reader of a killed process's spool. Nothing here
 * allocates. */
#ifndef MS_SPOOL_COUNTS_H
#define MS_SPOOL_COUNTS_H

#include "record_codec.h"
#include "trace_format.h"

#include <stdint.h>

/* The most bytes ms_spool_counts_encode writes (8 of them ms_varint_put's slack). */
#define MS_SPOOL_COUNTS_RECORDS_MAX (MS_SPOOL_COUNTS * (MS_EXT_MAXLEN_CALL_COUNTS + 1) + 8)

/* Encodes the MS_SPOOL_COUNTS entries at t (a head page's, from MS_SPOOL_COUNTS_AT, little-
 * endian) of a buffer with committed bytes into out; returns their length. Unused entries are
 * skipped, and so is an entry caught between its record's commit and its reset (its counts are
 * in the records). The entries may be anything (a spool is untrusted): each makes one record at
 * most. */
static inline uint32_t ms_spool_counts_encode(const uint8_t *t, uint32_t committed, uint8_t *out)
{
    uint8_t *p = out;
    for (uint32_t i = 0; i < MS_SPOOL_COUNTS; i++) {
        const uint8_t *e = t + i * MS_SPOOL_COUNT_SIZE;
        uint64_t ip = ms_get_le(e, 8), bytes = ms_get_le(e + 8, 8);
        uint32_t allocs = (uint32_t)ms_get_le(e + 16, 4), emitted = (uint32_t)ms_get_le(e + 20, 4);
        if (!ip || (i == 0 && ip != 1) || (emitted && emitted <= committed))
            continue;
        uint8_t *kind = p++;
        *kind = 0;
        p = i == 0 ? ms_ext_put_SAMPLE_FREES(kind, p, allocs, bytes)
                   : ms_ext_put_CALL_COUNTS(kind, p, ip, allocs, bytes);
    }
    return (uint32_t)(p - out);
}

/* The bytes of a chunk of counts alone at most: a CLOCK record, then the counts. */
#define MS_SPOOL_COUNTS_CHUNK_MAX (MS_REC_MAXLEN_CLOCK + MS_SPOOL_COUNTS_RECORDS_MAX)

/* The CLOCK record that starts an EVENTS payload, at out; returns where it ends. */
static inline uint8_t *ms_spool_clock_put(uint8_t *out, uint64_t tsc, uint64_t mono_ns)
{
    struct ms_rec_base base = {0, 0};
    *out = 0;
    return ms_rec_put_CLOCK(&base, out, out + 1, tsc, mono_ns);
}

/* The EVENTS payload of entries t's counts (ms_spool_counts_encode) alone, after a CLOCK record
 * at tsc and mono_ns, into out (MS_SPOOL_COUNTS_CHUNK_MAX bytes); returns its length, 0 when
 * there are no counts. */
static inline size_t ms_spool_counts_chunk_put(uint8_t *out, uint64_t tsc, uint64_t mono_ns,
                                               const uint8_t *t, uint32_t committed)
{
    uint8_t *p = ms_spool_clock_put(out, tsc, mono_ns);
    uint32_t n = ms_spool_counts_encode(t, committed, p);
    return n ? (size_t)(p - out) + n : 0;
}

#endif
