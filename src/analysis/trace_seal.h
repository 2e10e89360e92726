/* Completes the trace of a process that was killed before it could finish it (SIGKILL, the OOM
 * killer, a stack overflow): the buffers it left in its spool (TRACE.spool) become the last
 * EVENTS chunks of their threads, an END chunk says how the process ended, and the spool goes,
 * so that the trace stands alone. `memscope run` does this for every trace of its run. */
#ifndef MS_TRACE_SEAL_H
#define MS_TRACE_SEAL_H

#include <stddef.h>
#include <stdint.h>

/* Seals the trace at path if it has a spool beside it: the spool's buffers that the trace lacks
 * are appended, then an END chunk unless the trace has one (a fatal signal that interrupted a
 * thread's own flush leaves both). signal is the signal
 * that ended the process when the caller knows it (0: unknown). Returns 1 when it sealed the
 * trace, 0 when there was nothing to do, or a negative MS_E* code with a one-line explanation
 * in err (the trace and its spool are then left as they were, and the reader still recovers
 * the spool's events). */
int ms_trace_seal(const char *path, int signal, char *err, size_t errlen);

/* Writes one uncompressed chunk at fd's offset (the end, with O_APPEND), checksummed as a
 * version 2 writer does: 0 or MS_EIO. */
int ms_trace_chunk_write(int fd, int type, uint32_t tid, uint64_t t0, const uint8_t *payload,
                         uint32_t len);

#endif
