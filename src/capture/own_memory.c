/* The list of memscope's own mappings (own_memory.h): a fixed array under a spinlock. Mappings
 * are rare (a table that grows, a thread's buffer), never on the hook's fast path. */
#define _GNU_SOURCE
#include "own_memory.h"

#include "spinlock.h"

#include <stdatomic.h>
#include <sys/mman.h>

#define RANGES 4096

static struct ms__own_range ranges[RANGES];
static size_t nranges;
static bool overflow;
static ms__spinlock lock;

/* Removes [lo, hi) from the list, cutting ranges that overlap it (the lock held). */
static void forget(uintptr_t lo, uintptr_t hi)
{
    for (size_t i = 0; i < nranges;) {
        struct ms__own_range *r = &ranges[i];
        if (r->hi <= lo || r->lo >= hi) {
            i++;
        } else if (r->lo < lo && r->hi > hi) { /* a hole in the middle: two ranges */
            if (nranges == RANGES) {
                overflow = true;
                r->hi = lo;
            } else {
                ranges[nranges++] = (struct ms__own_range){hi, r->hi};
                r->hi = lo;
            }
            i++;
        } else if (r->lo < lo) {
            r->hi = lo;
            i++;
        } else if (r->hi > hi) {
            r->lo = hi;
            i++;
        } else {
            *r = ranges[--nranges];
        }
    }
}

void *ms__own_map(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    void *p = mmap(addr, len, prot, flags, fd, off);
    if (p == MAP_FAILED)
        return p;
    uintptr_t lo = (uintptr_t)p, hi = lo + len;
    bool locked = ms__spin_lock(&lock);
    if (!locked) {
        overflow = true; /* a signal handler interrupted this thread's own update */
        return p;
    }
    forget(lo, hi);
    if (nranges < RANGES)
        ranges[nranges++] = (struct ms__own_range){lo, hi};
    else
        overflow = true;
    ms__spin_unlock(&lock);
    return p;
}

int ms__own_unmap(void *addr, size_t len)
{
    int rc = munmap(addr, len);
    if (rc != 0)
        return rc;
    if (!ms__spin_lock(&lock)) {
        overflow = true; /* the range stays listed: the list is no longer exact */
        return rc;
    }
    forget((uintptr_t)addr, (uintptr_t)addr + len);
    ms__spin_unlock(&lock);
    return rc;
}

bool ms__own_ranges_try(struct ms__own_range *out, size_t max, size_t *count, bool *lost)
{
    int unlocked = 0;
    atomic_fetch_add_explicit(&ms__spin_held, 1, memory_order_relaxed); /* as ms__spin_lock */
    if (!atomic_compare_exchange_strong_explicit(&lock, &unlocked, ms__self_tid(),
                                                 memory_order_acquire, memory_order_relaxed)) {
        atomic_fetch_sub_explicit(&ms__spin_held, 1, memory_order_relaxed);
        return false;
    }
    size_t n = nranges < max ? nranges : max;
    for (size_t i = 0; i < n; i++)
        out[i] = ranges[i];
    size_t all = nranges;
    *lost = overflow;
    ms__spin_unlock(&lock);
    /* Insertion sort: the list is short and this runs once, at exit. */
    for (size_t i = 1; i < n; i++) {
        struct ms__own_range r = out[i];
        size_t j = i;
        for (; j > 0 && out[j - 1].lo > r.lo; j--)
            out[j] = out[j - 1];
        out[j] = r;
    }
    *count = all;
    return true;
}

static bool held_for_fork;

void ms__own_memory_lock(void)
{
    held_for_fork = ms__spin_lock(&lock);
}

void ms__own_memory_unlock(void)
{
    if (held_for_fork)
        ms__spin_unlock(&lock);
    held_for_fork = false;
}

void ms__own_memory_fork_child(void)
{
    /* Not taken for the fork: a signal handler forked while this thread was inside an update
     * (the lock holds the parent's id of this thread, which the child no longer has). The
     * interrupted update finishes later; until then the list may be half-changed. */
    if (!held_for_fork && atomic_load_explicit(&lock, memory_order_relaxed) != 0)
        overflow = true;
    held_for_fork = false;
    ms__spin_init(&lock);
}
