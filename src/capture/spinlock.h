/* A tiny spinlock for the capture library's rare slow paths, usable before libc's own locks
 * are safe to use and reset trivially in a forked child. */
#ifndef MS_CAPTURE_SPINLOCK_H
#define MS_CAPTURE_SPINLOCK_H

#include <sched.h>
#include <stdatomic.h>

typedef atomic_int ms__spinlock;

static inline void ms__spin_lock(ms__spinlock *l)
{
    int unlocked = 0;
    while (!atomic_compare_exchange_weak_explicit(l, &unlocked, 1, memory_order_acquire,
                                                  memory_order_relaxed)) {
        unlocked = 0;
        sched_yield();
    }
}

static inline void ms__spin_unlock(ms__spinlock *l)
{
    atomic_store_explicit(l, 0, memory_order_release);
}

static inline void ms__spin_init(ms__spinlock *l)
{
    atomic_store_explicit(l, 0, memory_order_relaxed);
}

#endif
