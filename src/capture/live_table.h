/* Tables of live blocks by address. Two instances: the core backend's (include/memscope.h,
 * MEMSCOPE_BACKEND=core), with every block allocated while it is on, its size, stack, task and
 * allocating thread, so that ms_stats is exact and ms_leaks_print can list what is live, in the
 * process, with no trace; and --check's (check_heap.h), the blocks it gave out with their red
 * zones. 64 shards by address, each an open-addressing table behind a spinlock, in memory of
 * its own (mmap): about 48 bytes per live block at most half full (16 in a compact table). */
#ifndef MS_CAPTURE_LIVE_TABLE_H
#define MS_CAPTURE_LIVE_TABLE_H

#include "spinlock.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What the table keeps of a block. owner is the allocating thread's counters (struct
 * ms__live_owner), gen the owner's generation then: a slot reused by another thread counts
 * anew. */
struct ms__live_block {
    uintptr_t ptr; /* 0: empty */
    uint64_t size;
    uint64_t task;
    struct ms__live_owner *owner;
    uint32_t stack;
    uint32_t gen;
    /* --check's table: the bytes before ptr that its allocation has (red zone and alignment:
     * the allocator's block starts at ptr - lo), the family, and whether it has red zones */
    uint32_t lo;
    uint8_t family, guarded;
};

/* A thread's live figures, which any thread's free lowers. */
struct ms__live_owner {
    _Atomic int64_t live_bytes, live_blocks;
    _Atomic uint32_t gen; /* bumped when the thread slot passes to another thread */
};

/* The whole table's figures (exact while the table was on from the start). */
struct ms__live_totals {
    int64_t live_bytes, live_blocks;
    uint64_t peak_bytes;
    uint64_t unknown_frees; /* frees of blocks the table never had (allocated before it was on) */
};

#define MS_LIVE_SHARDS 64
struct ms__live_shard {
    _Alignas(64) ms__spinlock lock; /* a cache line each: threads apart do not share */
    void *slots;                    /* struct ms__live_block, or the compact form (live_table.c) */
    size_t mask, used;
};
struct ms__live_table {
    struct ms__live_shard shards[MS_LIVE_SHARDS];
    _Atomic int64_t live_bytes, live_blocks;
    _Atomic uint64_t peak_bytes, unknown_frees;
    uint64_t fork_taken; /* the shards ms__live_lock_all took */
    /* No totals kept (--check's table, which needs none): no shared counter is written at
     * every add and remove, which threads on other cores would contend for. */
    bool no_totals;
    /* Only ptr, size, lo, guarded and family kept, in 16 bytes a slot (--check's table, which needs
     * no more): a third of the caches' room. Other fields must be 0, a size below 2^48, lo 0 or a
     * power of two; ms__live_add refuses any other block. */
    bool compact;
};
extern struct ms__live_table ms__core_table, ms__check_table;

/* Adds the block b (b->ptr not 0). False when it could not (out of memory, or a signal handler
 * interrupted this thread inside the same shard): not counted. */
bool ms__live_add(struct ms__live_table *t, const struct ms__live_block *b);
/* Removes the block at ptr into *out. Both keep the table's totals and the block's thread's
 * figures. BUSY: a signal handler interrupted this thread inside the shard (nothing done). */
enum { MS_LIVE_FOUND, MS_LIVE_ABSENT, MS_LIVE_BUSY };
int ms__live_take(struct ms__live_table *t, uintptr_t ptr, struct ms__live_block *out);
static inline bool ms__live_remove(struct ms__live_table *t, uintptr_t ptr,
                                   struct ms__live_block *out)
{
    return ms__live_take(t, ptr, out) == MS_LIVE_FOUND;
}
/* Copies the block at ptr into *out, leaving it (MS_LIVE_FOUND), or says why not. */
int ms__live_find(struct ms__live_table *t, uintptr_t ptr, struct ms__live_block *out);
void ms__live_totals(struct ms__live_table *t, struct ms__live_totals *out);
/* Calls fn for every live block, one shard locked at a time (fn must not allocate through the
 * hooks or touch the table). */
void ms__live_each(struct ms__live_table *t, void (*fn)(const struct ms__live_block *b, void *ctx),
                   void *ctx);
/* Fork: every shard's lock is held across fork, so that the child's table is whole; unlock
 * releases only those lock took (not those this thread held already: a fork from a signal
 * handler that interrupted a table update). */
void ms__live_lock_all(struct ms__live_table *t);
void ms__live_unlock_all(struct ms__live_table *t);
/* Empties the table and its totals (the core backend stops: its entries would go stale). */
void ms__live_clear(struct ms__live_table *t);

#endif
