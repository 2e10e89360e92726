/* Compresses a trace that its process wrote uncompressed, as it is written: `memscope run` has
 * the program it runs store its chunks raw (MEMSCOPE_DEFER_COMPRESSION) and compresses them
 * itself, on the core the program leaves free, instead of in the program's own time. The
 * result is the trace the program would have written with MEMSCOPE_COMPRESSION=level: the same
 * chunks in the same order, each compressed with the same zstd call and kept compressed only
 * when that is smaller. A chunk whose checksum fails, a truncated tail and anything after a
 * chunk too large to be one are copied as they are, so the reader finds the same damage. */
#ifndef MS_TRACE_COMPACT_H
#define MS_TRACE_COMPACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ms_trace_compactor ms_trace_compactor;

/* Follows the trace at path (it need not exist yet) with zstd level (not 0). NULL when out of
 * memory. */
ms_trace_compactor *ms_trace_compact_new(const char *path, int level);

/* Compresses the whole chunks appended since the last call into a file of its own (not yet at
 * path). Returns true when it made progress. */
bool ms_trace_compact_poll(ms_trace_compactor *c);

/* The trace is finished: compresses the rest and puts the result in its place, atomically.
 * Returns 1 when it did, 0 when there was nothing to compress (no trace, or no chunk the
 * compression makes smaller: the file is left as it is), or a negative MS_E* code with a
 * one-line explanation in err (the trace is then left as it was, uncompressed but whole).
 * Frees c. */
int ms_trace_compact_finish(ms_trace_compactor *c, char *err, size_t errlen);

/* The name of c's copy while it has one beside the trace (a file system without O_TMPFILE, or
 * /proc not mounted), else NULL: what an interrupted caller removes on its way out. */
const char *ms_trace_compact_named_copy(const ms_trace_compactor *c);

/* Stops following, leaves the trace as it is, and frees c (NULL is fine). */
void ms_trace_compact_discard(ms_trace_compactor *c);

#endif
