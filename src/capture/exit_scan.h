/* The capture library's side of memscope run's leak scan at exit (common/leak_handshake.h):
 * asked for with MEMSCOPE_LEAK_SCAN=<memscope run's pid>, in the root process, when it exits
 * with no other thread left and every allocation recorded (not sampled). */
#ifndef MS_CAPTURE_EXIT_SCAN_H
#define MS_CAPTURE_EXIT_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ms__exit_scan {
    uint64_t handshake; /* its address, the same in the process and in the snapshot */
    uint64_t pid;       /* the snapshot's */
};

/* Fills the handshake (memscope's own memory as it is now; the exiting thread's stack below
 * exit()'s caller is left out, or else below stack_lo, memscope's frames) and makes the
 * snapshot memscope run scans while the process goes on exiting. Returns both for the END
 * chunk (a pid of 0 when the snapshot could not be made), or zeros when no scan is to be
 * made. Allocates nothing through the program's
 * allocator. */
struct ms__exit_scan ms__exit_scan_snapshot(uintptr_t stack_lo);
/* The same for an on-demand check while the process goes on (leak_check.h), with this thread's
 * stack from stack_lo up: the madvise flags are given back after the clone. Returns 0
 * (MS_CHECK_MADE) with *out set, or an enum ms_check_skip with *out as the LEAK_CHECK record
 * gives it (a handshake and no pid: sandboxed). One snapshot at a time: while the last one is
 * alive (memscope run has not scanned it), MS_CHECK_PENDING; but a check at the peak (at_peak)
 * waits for none and makes no other wait. */
int ms__exit_scan_check(uintptr_t stack_lo, bool at_peak, struct ms__exit_scan *out);
/* The process's threads that have not begun to exit (from /proc/self/task, without allocating),
 * or -1 when it cannot be read: a snapshot is made only when this thread is the only one. */
int ms__exit_scan_threads(void);
/* The program called madvise(addr, len, MADV_DONTFORK or MADV_WIPEONFORK): the snapshot copies
 * that memory as it is. */
void ms__exit_scan_fork_flags_asked(void *addr, size_t len, int advice);
/* Lifts those flags, on the ranges the program gave only (ms__exit_scan_snapshot does, before
 * the clone; for tests). */
void ms__exit_scan_lift_fork_flags(void);

#endif
