/* The spool a traced process leaves beside its trace when it is killed before it can finish
 * (TRACE.spool, see docs/trace-format.md): the event buffers it had not yet written as chunks.
 * The reader takes them as the last EVENTS chunk of each thread. */
#ifndef MS_SPOOL_READER_H
#define MS_SPOOL_READER_H

#include "common/trace_format.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One buffer found in a spool: its records at offset, len bytes, of thread tid, the buffer's
 * CLOCK record at clock_tsc (the EVENTS chunk it would have become starts there). */
struct ms_spool_buffer {
    uint64_t offset;
    uint32_t len;
    uint32_t tid;
    uint64_t clock_tsc, clock_ns; /* the CLOCK record's readings: TSC, CLOCK_MONOTONIC ns */
    bool records;                 /* the buffer holds a record after its CLOCK */
    /* Sampling: the counts the head page held that no record says yet, encoded as CALL_COUNTS
     * and SAMPLE_FREES records (counts_len bytes, 0: none). They belong after the buffer's
     * records, or, when those are in the trace already (or there are none), in an EVENTS chunk
     * of their own: ms_spool_counts_chunk. */
    uint8_t *counts; /* malloc'd; NULL when none */
    uint32_t counts_len;
};

/* The EVENTS payload that carries b's counts alone, a CLOCK record (b's) and the counts, in a
 * new array (*len bytes); NULL when out of memory. */
uint8_t *ms_spool_counts_chunk(const struct ms_spool_buffer *b, uint32_t *len);

/* Frees a list ms_spool_scan made (and the counts it still owns). */
void ms_spool_buffers_free(struct ms_spool_buffer *list, int n);

/* Opens trace_path + ".spool" if it exists and is a regular file, and lists its buffers that
 * hold at least one record after the CLOCK, or counts. Returns the number found (0: no spool, or
 * nothing in it; *fd_out is then -1), with the open spool in *fd_out and the list in *out (the
 * caller frees it with ms_spool_buffers_free and closes the descriptor), or a negative MS_E* code.
 * A region that does not look like a buffer (bad magic, sizes out of range) is skipped, and no more
 * regions are read than a writer can make: the spool is untrusted input. */
int ms_spool_scan(const char *trace_path, int *fd_out, struct ms_spool_buffer **out);

#endif
