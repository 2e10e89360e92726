/* A tiny spinlock for the capture library's rare slow paths, usable before libc's own locks
 * are safe to use and reset trivially in a forked child. It remembers its owner, so that a
 * fatal-signal handler interrupting the owner can tell and back off instead of deadlocking. */
#ifndef MS_CAPTURE_SPINLOCK_H
#define MS_CAPTURE_SPINLOCK_H

#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/syscall.h>
#include <unistd.h>

typedef atomic_int ms__spinlock; /* 0 when free, else the owner's thread id */

/* The calling thread's id, cached (gettid is a system call). A forked child resets it. */
extern __thread int ms__cached_tid __attribute__((tls_model("initial-exec")));
static inline int ms__self_tid(void)
{
    if (__builtin_expect(ms__cached_tid == 0, 0))
        ms__cached_tid = (int)syscall(SYS_gettid);
    return ms__cached_tid;
}

/* How many threads hold or wait for one of these locks (the live table's excepted): none, while
 * memscope run has the other threads stopped for a snapshot, means that none of them was
 * stopped inside memscope's locked code (exit_scan.c, others_quiet). Counted before the lock is
 * taken and after it is released, so that a thread stopped in between counts. */
extern atomic_int ms__spin_held;

/* Takes the lock and returns true, or returns false at once if this thread already holds it:
 * a signal handler interrupted the holder, which the handler must then not disturb. The plain
 * form is not counted in ms__spin_held (the live table's, taken at every event). */
static inline bool ms__spin_lock_plain(ms__spinlock *l)
{
    int me = ms__self_tid();
    if (atomic_load_explicit(l, memory_order_relaxed) == me)
        return false;
    int unlocked = 0;
    while (!atomic_compare_exchange_weak_explicit(l, &unlocked, me, memory_order_acquire,
                                                  memory_order_relaxed)) {
        unlocked = 0;
        sched_yield();
    }
    return true;
}

static inline void ms__spin_unlock_plain(ms__spinlock *l)
{
    atomic_store_explicit(l, 0, memory_order_release);
}

static inline bool ms__spin_lock(ms__spinlock *l)
{
    atomic_fetch_add_explicit(&ms__spin_held, 1, memory_order_relaxed);
    if (ms__spin_lock_plain(l))
        return true;
    atomic_fetch_sub_explicit(&ms__spin_held, 1, memory_order_relaxed);
    return false;
}

static inline void ms__spin_unlock(ms__spinlock *l)
{
    ms__spin_unlock_plain(l);
    atomic_fetch_sub_explicit(&ms__spin_held, 1, memory_order_relaxed);
}

static inline void ms__spin_init(ms__spinlock *l)
{
    atomic_store_explicit(l, 0, memory_order_relaxed);
}

#endif
