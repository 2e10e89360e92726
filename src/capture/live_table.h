/* The core backend's table of live blocks (include/memscope.h, MEMSCOPE_BACKEND=core): every
 * block allocated while it is on, with its size, stack, task and allocating thread, so that
 * ms_stats is exact and ms_leaks_print can list what is live, in the process, with no trace.
 * 64 shards by address, each an open-addressing table behind a spinlock, in memory of its own
 * (mmap): about 40 bytes per live block at most half full. */
#ifndef MS_CAPTURE_LIVE_TABLE_H
#define MS_CAPTURE_LIVE_TABLE_H

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

/* Adds the block b (b->ptr not 0). False when it could not (out of memory): not counted. */
bool ms__live_add(const struct ms__live_block *b);
/* Removes the block at ptr into *out; false when the table does not have it. Both keep the
 * table's totals and the block's thread's figures. */
bool ms__live_remove(uintptr_t ptr, struct ms__live_block *out);
void ms__live_totals(struct ms__live_totals *t);
/* Calls fn for every live block, one shard locked at a time (fn must not allocate through the
 * hooks or touch the table). */
void ms__live_each(void (*fn)(const struct ms__live_block *b, void *ctx), void *ctx);
/* Fork: every shard's lock is held across fork, so that the child's table is whole; unlock
 * releases only those lock took. */
void ms__live_lock_all(void);
void ms__live_unlock_all(void);
/* Empties the table and its totals (the core backend stops: its entries would go stale). */
void ms__live_clear(void);

#endif
