/* The capture library's side of memscope run's leak scan at exit (common/leak_handshake.h):
 * asked for with MEMSCOPE_LEAK_SCAN=<memscope run's pid>, in the root process, when it exits
 * with every allocation recorded (not sampled). */
#ifndef MS_CAPTURE_EXIT_SCAN_H
#define MS_CAPTURE_EXIT_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ms_leak_stop;

struct ms__exit_scan {
    uint64_t handshake; /* its address, the same in the process and in the snapshot */
    uint64_t pid;       /* the snapshot's */
    uint64_t refused;   /* at exit, no snapshot with other threads running: enum ms_scan_refused */
    uint64_t unstopped; /* other threads left running, blocked (MS_LEAK_THREAD_UNSTOPPED) */
};

/* At exit, from the root process with every allocation recorded (not sampled): fills the
 * handshake (memscope's own memory as it is now; the exiting thread's stack below exit()'s
 * caller is left out, or else below stack_lo, memscope's frames), makes the buffers' last flush
 * (flush: sets ms__active false, seals them; its result in *flushed) and makes the snapshot
 * memscope run scans while the process goes on exiting. threads is the process's count
 * (ms__exit_scan_threads): with others running, tracking stops first, memscope run stops them
 * (until none is inside memscope) for the flush and the clone, which holds their registers and
 * stack pointers; if one of them allocated or freed before it was stopped, or they could not
 * be stopped, no snapshot is made and its refused field says why. Returns the
 * handshake and the snapshot for the END chunk (a pid of 0 when the snapshot could not be
 * made), or zeros when no scan is to be made. Allocates nothing through the program's
 * allocator. */
struct ms__exit_scan ms__exit_scan_at_exit(uintptr_t stack_lo, int threads, bool (*flush)(void),
                                           bool *flushed);
/* The same for an on-demand check while the process goes on (leak_check.h), with this thread's
 * stack from stack_lo up (the madvise flags are not lifted: docs/leak-kinds.md). Returns 0
 * (MS_CHECK_MADE) with *out set, or an enum ms_check_skip with *out as the LEAK_CHECK record
 * gives it (a handshake and no pid: sandboxed). One snapshot at a time: while the last one is
 * alive (memscope run has not scanned it), MS_CHECK_PENDING; but a check at the peak (at_peak)
 * waits for none and makes no other wait. With other threads running (threads > 1), memscope
 * run stops them for the snapshot, as at exit but with tracking on: *stopped, which the caller
 * lets go (ms__exit_scan_release) once the check's record and their SYNC records are written;
 * when they could not be stopped outside memscope, MS_CHECK_THREADS. */
int ms__exit_scan_check(uintptr_t stack_lo, bool at_peak, int threads, struct ms__exit_scan *out,
                        struct ms_leak_stop **stopped);
void ms__exit_scan_release(struct ms_leak_stop *stopped);
/* The process's threads that have not begun to exit (from /proc/self/task, without allocating),
 * or -1 when it cannot be read (then no snapshot is made). */
int ms__exit_scan_threads(void);
/* The program called madvise(addr, len, MADV_DONTFORK or MADV_WIPEONFORK): the snapshot copies
 * that memory as it is. */
void ms__exit_scan_fork_flags_asked(void *addr, size_t len, int advice);
/* Lifts those flags, on the ranges the program gave only (ms__exit_scan_snapshot does, before
 * the clone; for tests). */
void ms__exit_scan_lift_fork_flags(void);

#endif
