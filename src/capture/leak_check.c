/* On-demand leak scans (leak_check.h). */
#define _GNU_SOURCE
#include "leak_check.h"

#include "../common/trace_format.h"
#include "config.h"
#include "diag.h"
#include "event_path.h"
#include "exit_scan.h"
#include "runtime.h"
#include "thread_state.h"

#include <errno.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <string.h>
#include <unistd.h>

static atomic_uint_fast64_t checks;

/* Kept out of line, with every callee-saved register stored in its frame: the snapshot's scan
 * starts at this frame, so the caller's registers are among the roots, as memcheck scans a
 * thread's registers. */
static __attribute__((noinline)) int check(int cause)
{
    __builtin_unwind_init();
    int saved_errno = errno; /* from inside an allocation (at the peak) as from the program */
    volatile uintptr_t here = 0;
    uintptr_t stack_lo = (uintptr_t)&here;
    uint64_t seq = atomic_fetch_add(&checks, 1) + 1;
    struct ms__exit_scan snap = {0};
    int threads = 0, skipped;
    struct ms_leak_stop *stopped = NULL;
    if (!ms__config.output || ms__config.root_pid != (int)syscall(SYS_getpid))
        skipped = MS_CHECK_NOT_ROOT;
    else if (!ms__config.leak_scan)
        skipped = MS_CHECK_NO_SCANNER;
    else if ((threads = ms__exit_scan_threads()) < 1)
        skipped = MS_CHECK_THREADS; /* unreadable: they cannot be counted */
    else if (threads > 1 && cause == MS_CHECK_PEAK)
        /* Not stopped for a peak: the heap grows while threads allocate, which they seldom stop
         * doing all at once, and each try would cost the program up to 50 ms at every new high
         * (churn_mt: 2-3 s became 7-15 s, and no scan). */
        skipped = MS_CHECK_THREADS;
    else
        skipped = ms__exit_scan_check(stack_lo, cause == MS_CHECK_PEAK, threads, &snap, &stopped);
    /* Written while the other threads are stopped, then a SYNC in each of theirs: their events
     * before the check come before it in the trace, their later ones after (trace-format.md). */
    ms__on_LEAK_CHECK(seq, (uint64_t)cause, snap.handshake, snap.pid, (uint64_t)skipped,
                      threads > 0 ? (uint64_t)threads : 0);
    if (stopped) {
        ms__slots_sync_others(seq);
        ms__exit_scan_release(stopped);
    }
    /* memscope run scans the snapshot when its replay reaches this record: now. */
    if (ms__tls.slot)
        ms__slot_flush(ms__tls.slot, false);
    errno = saved_errno;
    return skipped;
}

/* Clears the stack below its caller, where earlier calls (the allocator's hooks, which handle
 * the program's pointers) left copies of them: check's frame, where the scan starts, is laid
 * over it, and a stale copy in a word of it that check does not write would keep a lost block
 * reachable. memcheck starts at the program's own stack pointer, where no such copy lies. */
static __attribute__((noinline)) void scrub_stack(void)
{
    unsigned char area[1024];
    memset(area, 0, sizeof area);
    __asm__ volatile("" : : "r"(area) : "memory"); /* the stores are not optimised away */
}

int ms__leak_check(int cause)
{
    scrub_stack();
    return check(cause);
}

/* From a signal that interrupted memscope itself: the thread's slot is not the handler's to
 * write, so the check waits, as the handler's allocations do, until the interrupted code leaves
 * memscope (ms__record_deferred). */
static void deferred_check(int cause)
{
    scrub_stack();
    check(cause);
}

void ms__leak_check_on_signal(int sig)
{
    (void)sig;
    if (!atomic_load_explicit(&ms__active, memory_order_relaxed))
        return;
    int saved = errno;
    if (ms__tls.in_handler) {
        ms__defer(MS_DEFERRED_LEAK_CHECK, 0, 0, 0, MS_CHECK_SIGNAL, 0, 0);
    } else if (!ms__tls.busy) {
        ms__tls.busy = 1;
        scrub_stack();
        check(MS_CHECK_SIGNAL);
        ms__unbusy();
    }
    errno = saved;
}

void ms__leak_check_init(void)
{
    ms__deferred_leak_check = deferred_check;
}

/* ---- at the peak ---- */

bool ms__peak_check_wanted(void)
{
    return ms__config.scan_at_peak && ms__config.output && ms__config.leak_scan &&
           !ms__config.sample_bytes && ms__config.root_pid == (int)syscall(SYS_getpid);
}

void ms__peak_check_start(void)
{
    atomic_store(&ms__peak_check_at, ms__peak_check_wanted() ? MS_PEAK_CHECK_FROM : 0);
}
