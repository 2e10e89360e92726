/* The spool a traced process leaves beside its trace when it is killed before it can finish
 * (TRACE.spool, see docs/trace-format.md): the event buffers it had not yet written as chunks.
 * The reader takes them as the last EVENTS chunk of each thread. */
#ifndef MS_SPOOL_READER_H
#define MS_SPOOL_READER_H

#include <stddef.h>
#include <stdint.h>

/* One buffer found in a spool: its records at offset, len bytes, of thread tid, the buffer's
 * CLOCK record at clock_tsc (the EVENTS chunk it would have become starts there). */
struct ms_spool_buffer {
    uint64_t offset;
    uint32_t len;
    uint32_t tid;
    uint64_t clock_tsc, clock_ns; /* the CLOCK record's readings: TSC, CLOCK_MONOTONIC ns */
};

/* Opens trace_path + ".spool" if it exists and is a regular file, and lists its buffers that
 * hold at least one record after the CLOCK. Returns the number found (0: no spool, or nothing
 * in it; *fd_out is then -1), with the open spool in *fd_out and the list in *out (the caller
 * frees it and closes the descriptor), or a negative MS_E* code. A region that does not look
 * like a buffer (bad magic, sizes out of range) is skipped, and no more regions are read than a
 * writer can make: the spool is untrusted input. */
int ms_spool_scan(const char *trace_path, int *fd_out, struct ms_spool_buffer **out);

#endif
