/* The trace file of this process: created on first use with a name that never overwrites
 * anything, then written chunk by chunk (zstd-compressed) with one write(2) per chunk. */
#ifndef MS_CAPTURE_TRACE_WRITER_H
#define MS_CAPTURE_TRACE_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Information for the PROCESS chunk of a forked child: the parent's trace holds its history. */
struct ms__fork_origin {
    int parent_pid;
    uint64_t fork_tsc;
    uint32_t node_limit; /* stack node ids below this were defined by the parent */
    char parent_trace[4096];
};

/* Remembers the start-of-process clock readings; called once by start-up. */
void ms__writer_init(void);
/* Writes one EVENTS chunk for thread tid, inside the caller's output operation
 * (ms__writer_enter). Opens the trace first if needed. Returns whether the chunk was written. */
bool ms__writer_events(uint32_t tid, uint64_t first_tsc, const uint8_t *raw, size_t len);
/* Writes a MODULES chunk if libraries were loaded or unloaded since the last one. */
void ms__writer_modules_if_changed(void);
/* Writes the END chunk (reason, exit code or signal, events dropped, threads still running at
 * exit or 0 if unknown, the leak scan's handshake address and snapshot pid or NULL: exit_scan.h)
 * and closes the trace. The spool is removed only when flushed (every buffer was written, see
 * ms__slot_flush_all) and every chunk reached the trace. */
/* frozen: the module list is brought up to date, and then not looked at (no dl_iterate_phdr)
 * until unfrozen: the other threads are about to be stopped, and one may hold the loader's lock. */
void ms__writer_modules_freeze(bool frozen);
void ms__writer_finish(int reason, int code, uint64_t dropped, unsigned threads,
                       const uint64_t scan[4], bool flushed);
/* In a forked child: forget the parent's file; the child's own trace records `origin`. */
void ms__writer_after_fork_child(const struct ms__fork_origin *origin);
/* Creates the trace file and its spool (spool.h), without writing to them yet: at start-up,
 * before any buffer exists. */
void ms__writer_create(void);
/* Opens the trace now if it is not open yet; returns its path ("" if it cannot be created). */
const char *ms__writer_open(void);
/* The path of the trace being written ("" before it is opened). */
const char *ms__writer_path(void);
/* Brackets one output operation (a buffer's flush; the entry points here are one each). In a
 * child forked by a signal handler in the middle of one, what the rest of it writes is dropped,
 * as the parent's; an operation begun after the fork (the fork handler, the signal handler's
 * own allocations, exit) writes to the child's trace. */
void ms__writer_enter(void);
void ms__writer_leave(void);
/* Lock around fork so the child never inherits a half-written chunk. */
bool ms__writer_lock(void);
void ms__writer_unlock(void);

#endif
