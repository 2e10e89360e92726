/* The spool: a file beside the trace (TRACE.spool) that holds every thread's event buffer,
 * mapped shared, so that the kernel keeps the events a thread has recorded but not yet written
 * as a chunk when the process is killed (SIGKILL, the OOM killer) or overflows its stack. A
 * process that finishes normally removes its spool; `memscope report` recovers the events from
 * the spool of one that did not (docs/trace-format.md, "Spool"). */
#ifndef MS_CAPTURE_SPOOL_H
#define MS_CAPTURE_SPOOL_H

#include "../common/trace_format.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* Region r of the spool file starts at r * (MS_SPOOL_HEAD + buffer size): one page with this
 * head (its layout is the format's, trace_format.h), then the buffer. Region 0 is the orphan
 * buffer. */
#define MS_SPOOL_HEAD MS_SPOOL_HEAD_SIZE

struct ms__spool_head {
    uint64_t magic;
    uint32_t tid;               /* the thread recording into this buffer (0: orphan buffer) */
    uint32_t size;              /* bytes of buffer after the head page */
    _Atomic uint32_t committed; /* bytes of whole records at the start of the buffer */
};

/* Creates path + ".spool" next to the trace (never over an existing file) and keeps its
 * descriptor out of the program's way. Returns false (and the buffers stay in private memory)
 * when it cannot: events then survive everything but SIGKILL. */
bool ms__spool_create(const char *trace_path);

/* Maps region r for a buffer of size bytes, its head first; the blocks are allocated on disk
 * first (a full disk would otherwise kill the program with SIGBUS), and the file size limit is
 * respected. Returns the head, or NULL when there is no spool or no room: the caller then uses
 * private memory. At fixed (not NULL), the mapping replaces what is mapped there. */
struct ms__spool_head *ms__spool_map(unsigned r, uint32_t size, void *fixed);

/* Removes the spool file: the trace holds everything (normal exit, exec). */
void ms__spool_remove(void);

/* In a forked child: the parent's spool stays the parent's (the child maps its own). */
void ms__spool_after_fork_child(void);

#endif
