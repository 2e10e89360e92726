/* Sampling by bytes (MEMSCOPE_SAMPLE_BYTES=N, issue 7): the event path records an allocation with
 * its stack only when it holds one of the points of a Poisson process of mean N bytes over the
 * allocation stream (common/sampling.h), as tcmalloc does. What stays exact is counted:
 *   - every allocation, sampled or not, by its call site (the hook's return address), in a
 *     table in the slot's spool head (so that a killed process leaves it behind), written out as
 *     CALL_COUNTS records when an entry is evicted, when the thread exits and when the process
 *     finishes;
 *   - the frees of blocks not sampled and every realloc call, in the same table's entry 0
 *     (SAMPLE_FREES records).
 * A free is recorded only when its block was sampled: the sampled set, a process-wide hash set
 * of the sampled blocks' addresses, answers without a lock (a seqlock guards its rare changes). */
#ifndef MS_CAPTURE_SAMPLER_H
#define MS_CAPTURE_SAMPLER_H

#include "thread_state.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* N, from MEMSCOPE_SAMPLE_BYTES at start-up (0: every event is recorded); constant afterwards. */
extern uint64_t ms__sample_mean;
/* Reads it from the configuration (lifecycle's start-up). */
void ms__sample_init(void);

/* ---- the call counts (trace_format.h, MS_SPOOL_COUNTS_AT) ---- */

/* Entry 0's ip once used: the frees not sampled and realloc calls (SAMPLE_FREES records). */
#define MS__COUNTS_FREES 1u

struct ms__call_count {
    uint64_t ip; /* 0: unused; entry 0: MS__COUNTS_FREES once used */
    uint64_t bytes;
    uint32_t allocs;
    _Atomic uint32_t emitted; /* see MS_SPOOL_COUNTS_AT */
};
_Static_assert(sizeof(struct ms__call_count) == MS_SPOOL_COUNT_SIZE, "the spool's count entry");
_Static_assert(MS_SPOOL_COUNTS_AT + MS_SPOOL_COUNTS * MS_SPOOL_COUNT_SIZE <= MS_SPOOL_HEAD_SIZE,
               "the counts fit in the spool head page");

static inline struct ms__call_count *ms__call_counts(struct ms__slot *s)
{
    return (struct ms__call_count *)((uint8_t *)s->b.head + MS_SPOOL_COUNTS_AT);
}

/* Writes entry e (of any slot's table, or a copy) as a record into the slot to (SAMPLE_FREES for
 * entry 0, CALL_COUNTS for the others), and empties it. */
void ms__call_count_emit(struct ms__slot *to, struct ms__call_count *e);

/* The entry of call site ip's hash: a site's entry is one of the four from there (1-128). */
static inline uint32_t ms__call_hash(uintptr_t ip)
{
    return (uint32_t)((ip * 0x9E3779B97F4A7C15ull) >> 57); /* 0..127 */
}
/* Finds or makes ip's entry among the others (or evicts the first), and counts the allocation. */
void ms__count_call_slow(struct ms__slot *s, uintptr_t ip, uint64_t size);

/* One allocation of size bytes from the call site ip: one compare when the site has its hash's
 * entry, as a program's hottest sites soon do. */
static inline __attribute__((always_inline)) void ms__count_call(struct ms__slot *s, uintptr_t ip,
                                                                 uint64_t size)
{
    struct ms__call_count *e = &ms__call_counts(s)[1 + ms__call_hash(ip)];
    if (MS_LIKELY(e->ip == ip)) {
        e->bytes += size;
        if (MS_UNLIKELY(++e->allocs == UINT32_MAX))
            ms__call_count_emit(s, e);
        return;
    }
    ms__count_call_slow(s, ip, size);
}

/* A free of a block not sampled (realloc: also a realloc call). */
static inline void ms__count_unsampled(struct ms__slot *s, uint32_t frees, uint64_t reallocs)
{
    struct ms__call_count *e = ms__call_counts(s);
    e->bytes += reallocs;
    e->allocs += frees;
    e->ip = MS__COUNTS_FREES;
    if (MS_UNLIKELY(e->allocs >= UINT32_MAX - 1))
        ms__call_count_emit(s, e);
}

/* Writes out every count of slot s into its records. */
void ms__call_counts_flush(struct ms__slot *s);

/* A fork: before it, every slot's counts are copied (the program's other threads go on
 * counting); after it, the child writes the copies into its slot s (its first records), the
 * parent drops them. */
void ms__counts_fork_prepare(void);
void ms__counts_fork_parent(void);
void ms__counts_fork_child(struct ms__slot *s);

/* ---- the sampled set ---- */

struct ms__sampled_table {
    size_t mask;
    _Atomic uintptr_t keys[];
};
extern struct ms__sampled_table *_Atomic ms__sampled_cur;
extern atomic_uint ms__sampled_seq; /* odd while the set changes */

static inline size_t ms__sampled_hash(uintptr_t p)
{
    return (size_t)(((uint64_t)(p >> 4) * 0x9E3779B97F4A7C15ull) >> 32);
}

/* Adds the block p (just allocated and sampled). Returns false when out of memory: the block is
 * then not sampled. */
bool ms__sampled_add(uintptr_t p);
/* Removes p under the lock; returns whether it was there. */
bool ms__sampled_remove(uintptr_t p);
/* In a forked child: the set stays as it was at the fork, its lock free. */
void ms__sampled_after_fork_child(void);

/* Whether the block p (about to be freed or resized) was sampled; if so it leaves the set. Only
 * the block's own release may ask (its insertion happened before, its address cannot come back
 * meanwhile): a miss is certain when no change to the set overlapped the search. */
static inline __attribute__((always_inline)) bool ms__sampled_take(uintptr_t p)
{
    unsigned seq = atomic_load_explicit(&ms__sampled_seq, memory_order_acquire);
    struct ms__sampled_table *t = atomic_load_explicit(&ms__sampled_cur, memory_order_acquire);
    if (MS_UNLIKELY(!t))
        return false; /* nothing was ever sampled */
    size_t i = ms__sampled_hash(p) & t->mask;
    for (;;) {
        uintptr_t k = atomic_load_explicit(&t->keys[i], memory_order_relaxed);
        if (k == p)
            return ms__sampled_remove(p);
        if (!k)
            break;
        i = (i + 1) & t->mask;
    }
    atomic_thread_fence(memory_order_acquire);
    if (MS_LIKELY(!(seq & 1) &&
                  atomic_load_explicit(&ms__sampled_seq, memory_order_relaxed) == seq))
        return false;
    return ms__sampled_remove(p);
}

/* ---- the decision ---- */

/* The allocation of size bytes reached the slot's next sample point (or the slot has drawn
 * none yet): draws the next one and returns whether this allocation is sampled. */
bool ms__sample_reached(struct ms__slot *s, uint64_t size);

/* The allocation of the block p of size bytes from the call site ip: counted, and sampled or
 * not. A sampled block is in the sampled set. */
static inline __attribute__((always_inline)) bool ms__sample_alloc(struct ms__slot *s, uintptr_t ip,
                                                                   uintptr_t p, uint64_t size)
{
    ms__count_call(s, ip, size);
    if (MS_LIKELY(size < s->sample_left)) {
        s->sample_left -= size;
        return false;
    }
    return ms__sample_reached(s, size) && ms__sampled_add(p);
}

#endif
