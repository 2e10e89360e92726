/* Compresses a trace while it is being written: `memscope run` has the program write its own
 * trace's chunks uncompressed (MEMSCOPE_PACKED_BY_RUN) and compresses them on its own core as
 * the trace grows, into a copy that takes the trace's place once the run is over. The copy holds
 * the same chunks in the same order, with the payloads of EVENTS chunks compressed: every
 * reader sees exactly what it would in the uncompressed trace. Anything unexpected (a chunk that
 * fails its checksum, a header that does not parse) is copied byte for byte from there on; a
 * copy that cannot be written is dropped, and the uncompressed trace stays. */
#ifndef MS_TRACE_PACK_H
#define MS_TRACE_PACK_H

#include <stdbool.h>
#include <stddef.h>

typedef struct ms_trace_pack ms_trace_pack;

/* Starts packing the trace at path (which may not exist yet) at zstd level; NULL when out of
 * memory. */
ms_trace_pack *ms_trace_pack_new(const char *path, int level);

/* Packs the whole chunks that are in the trace now. Returns true when it packed any. */
bool ms_trace_pack_step(ms_trace_pack *p);

/* The trace is finished: packs the rest and puts the copy in the trace's place. Returns 0, or
 * -1 with a phrase saying why the trace stays uncompressed in why[0..cap). Frees p. */
int ms_trace_pack_finish(ms_trace_pack *p, char *why, size_t cap);

/* Drops the copy (the trace stays as it is) and frees p. */
void ms_trace_pack_discard(ms_trace_pack *p);

#endif
