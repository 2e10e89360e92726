/* The core backend's live table (live_table.h): shards of linear-probing tables with
 * backward-shift deletion, grown by doubling into a new mapping under the shard's lock. */
#include "live_table.h"
#include "own_memory.h"

#include "spinlock.h"

#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>

/* A shard's first table: small, so that a thousand live blocks fit in the caches (64 of these
 * are 200 KB); it doubles as it fills. */
#define FIRST_SLOTS 64

struct ms__live_table ms__core_table, ms__check_table = {.no_totals = true, .compact = true};

/* ---- a slot: the whole block, or in a compact table 16 bytes: the address, then the size
 * (48 bits), lo's logarithm plus one (6 bits; 0: lo is 0), guarded (bit 55) and the family
 * (bits 56 and 57) ---- */

struct compact {
    uintptr_t ptr;
    uint64_t packed;
};

#define COMPACT_SIZE_BITS 48

static inline size_t slot_bytes(const struct ms__live_table *t)
{
    return t->compact ? sizeof(struct compact) : sizeof(struct ms__live_block);
}

static inline void *slot_at(const struct ms__live_table *t, const struct ms__live_shard *s,
                            size_t i)
{
    return (char *)s->slots + i * slot_bytes(t);
}

/* The address a slot holds (0: empty): the first word of both forms. */
static inline uintptr_t slot_ptr(const struct ms__live_table *t, const struct ms__live_shard *s,
                                 size_t i)
{
    uintptr_t p;
    memcpy(&p, slot_at(t, s, i), sizeof p);
    return p;
}

/* Whether a compact table can hold b: no field but those it keeps, a size below 2^48 and lo 0
 * or a power of two. */
static bool compact_fits(const struct ms__live_block *b)
{
    return !b->task && !b->owner && !b->stack && !b->gen && b->family < 4 &&
           b->size >> COMPACT_SIZE_BITS == 0 && (b->lo & (b->lo - 1)) == 0;
}

static void slot_store(const struct ms__live_table *t, void *slot, const struct ms__live_block *b)
{
    if (!t->compact) {
        memcpy(slot, b, sizeof *b);
        return;
    }
    uint64_t lo_code = b->lo ? (uint64_t)__builtin_ctz(b->lo) + 1 : 0;
    struct compact c = {.ptr = b->ptr,
                        .packed = b->size | lo_code << COMPACT_SIZE_BITS |
                                  (uint64_t)(b->guarded != 0) << (COMPACT_SIZE_BITS + 7) |
                                  (uint64_t)b->family << (COMPACT_SIZE_BITS + 8)};
    memcpy(slot, &c, sizeof c);
}

static void slot_load(const struct ms__live_table *t, const void *slot, struct ms__live_block *out)
{
    if (!t->compact) {
        memcpy(out, slot, sizeof *out);
        return;
    }
    struct compact c;
    memcpy(&c, slot, sizeof c);
    uint64_t lo_code = (c.packed >> COMPACT_SIZE_BITS) & 0x3f;
    *out = (struct ms__live_block){
        .ptr = c.ptr,
        .size = c.packed & ((1ull << COMPACT_SIZE_BITS) - 1),
        .lo = lo_code ? 1u << (lo_code - 1) : 0,
        .guarded = (uint8_t)((c.packed >> (COMPACT_SIZE_BITS + 7)) & 1),
        .family = (uint8_t)((c.packed >> (COMPACT_SIZE_BITS + 8)) & 3),
    };
}

/* Blocks are 16-byte aligned: the bits above spread them over shards and slots. */
static inline size_t shard_of(uintptr_t p)
{
    return (size_t)((p >> 4) ^ (p >> 12)) & (MS_LIVE_SHARDS - 1);
}

static inline size_t home_of(uintptr_t p, size_t mask)
{
    return (size_t)((p >> 10) ^ (p >> 24) ^ (p >> 40)) & mask;
}

static void *slots_new(const struct ms__live_table *t, size_t n)
{
    void *m = ms__own_map(NULL, n * slot_bytes(t), PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return m == MAP_FAILED ? NULL : m;
}

static inline size_t probe(const struct ms__live_table *t, const struct ms__live_shard *s,
                           uintptr_t ptr)
{
    size_t i = home_of(ptr, s->mask);
    for (uintptr_t p; (p = slot_ptr(t, s, i)) && p != ptr;)
        i = (i + 1) & s->mask;
    return i;
}

/* Doubles the shard's table (or makes its first). */
static bool grow(const struct ms__live_table *t, struct ms__live_shard *s)
{
    size_t n = s->slots ? (s->mask + 1) * 2 : FIRST_SLOTS;
    void *fresh = slots_new(t, n);
    if (!fresh)
        return false;
    /* The old slots alone (not the lock, which other threads are trying to take). */
    struct ms__live_shard old = {.slots = s->slots, .mask = s->mask};
    size_t old_n = old.slots ? old.mask + 1 : 0;
    s->slots = fresh;
    s->mask = n - 1;
    for (size_t i = 0; i < old_n; i++) {
        uintptr_t p = slot_ptr(t, &old, i);
        if (p)
            memcpy(slot_at(t, s, probe(t, s, p)), slot_at(t, &old, i), slot_bytes(t));
    }
    if (old.slots)
        ms__own_unmap(old.slots, old_n * slot_bytes(t));
    return true;
}

/* The block's thread counts it (d = 1) or no longer (d = -1), unless that thread is gone. */
static inline void owner_count(const struct ms__live_block *b, int64_t d)
{
    if (b->owner && atomic_load_explicit(&b->owner->gen, memory_order_relaxed) == b->gen) {
        atomic_fetch_add_explicit(&b->owner->live_bytes, d * (int64_t)b->size,
                                  memory_order_relaxed);
        atomic_fetch_add_explicit(&b->owner->live_blocks, d, memory_order_relaxed);
    }
}

static void peak_raise(struct ms__live_table *t, int64_t now)
{
    uint64_t peak = atomic_load_explicit(&t->peak_bytes, memory_order_relaxed);
    while (now > 0 && (uint64_t)now > peak &&
           !atomic_compare_exchange_weak_explicit(&t->peak_bytes, &peak, (uint64_t)now,
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
}

bool ms__live_add(struct ms__live_table *t, const struct ms__live_block *b)
{
    if (t->compact && !compact_fits(b))
        return false;
    struct ms__live_shard *s = &t->shards[shard_of(b->ptr)];
    if (!ms__spin_lock_plain(&s->lock))
        return false; /* a signal handler interrupted this thread inside the table */
    bool ok = true;
    if ((s->used + 1) * 2 > (s->slots ? s->mask + 1 : 0))
        ok = grow(t, s);
    int64_t size = (int64_t)b->size, blocks = 1;
    if (ok) {
        size_t i = probe(t, s, b->ptr);
        void *slot = slot_at(t, s, i);
        if (slot_ptr(t, s, i)) {
            /* Still here: its free was not seen (a block freed by a path memscope does not
             * hook). The new block replaces it. */
            struct ms__live_block was;
            slot_load(t, slot, &was);
            size -= (int64_t)was.size;
            blocks = 0;
            owner_count(&was, -1);
        } else {
            s->used++;
        }
        slot_store(t, slot, b);
        owner_count(b, 1);
    }
    ms__spin_unlock_plain(&s->lock);
    if (!ok)
        return false;
    if (t->no_totals)
        return true;
    atomic_fetch_add_explicit(&t->live_blocks, blocks, memory_order_relaxed);
    peak_raise(t, atomic_fetch_add_explicit(&t->live_bytes, size, memory_order_relaxed) + size);
    return true;
}

/* Copies the block at ptr into *out, and removes it when take is set: both under its shard's
 * lock. */
static int lookup(struct ms__live_table *t, uintptr_t ptr, struct ms__live_block *out, bool take)
{
    struct ms__live_shard *s = &t->shards[shard_of(ptr)];
    if (!ms__spin_lock_plain(&s->lock))
        return MS_LIVE_BUSY;
    bool found = false;
    if (s->slots) {
        size_t i = probe(t, s, ptr);
        found = slot_ptr(t, s, i) != 0;
        if (found)
            slot_load(t, slot_at(t, s, i), out);
        if (found && take) {
            /* Backward-shift deletion: pull later members of the cluster into the hole unless
             * their home lies cyclically in (i, j]. */
            size_t j = i;
            for (;;) {
                j = (j + 1) & s->mask;
                uintptr_t p = slot_ptr(t, s, j);
                if (!p)
                    break;
                size_t home = home_of(p, s->mask);
                if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
                    memcpy(slot_at(t, s, i), slot_at(t, s, j), slot_bytes(t));
                    i = j;
                }
            }
            memset(slot_at(t, s, i), 0, sizeof(uintptr_t));
            s->used--;
            owner_count(out, -1);
        }
    }
    ms__spin_unlock_plain(&s->lock);
    return found ? MS_LIVE_FOUND : MS_LIVE_ABSENT;
}

int ms__live_take(struct ms__live_table *t, uintptr_t ptr, struct ms__live_block *out)
{
    int got = lookup(t, ptr, out, true);
    if (got == MS_LIVE_ABSENT)
        atomic_fetch_add_explicit(&t->unknown_frees, 1, memory_order_relaxed);
    if (got != MS_LIVE_FOUND || t->no_totals)
        return got;
    atomic_fetch_sub_explicit(&t->live_blocks, 1, memory_order_relaxed);
    atomic_fetch_sub_explicit(&t->live_bytes, (int64_t)out->size, memory_order_relaxed);
    return MS_LIVE_FOUND;
}

int ms__live_find(struct ms__live_table *t, uintptr_t ptr, struct ms__live_block *out)
{
    return lookup(t, ptr, out, false);
}

void ms__live_totals(struct ms__live_table *t, struct ms__live_totals *out)
{
    out->live_bytes = atomic_load_explicit(&t->live_bytes, memory_order_relaxed);
    out->live_blocks = atomic_load_explicit(&t->live_blocks, memory_order_relaxed);
    out->peak_bytes = atomic_load_explicit(&t->peak_bytes, memory_order_relaxed);
    out->unknown_frees = atomic_load_explicit(&t->unknown_frees, memory_order_relaxed);
}

void ms__live_each(struct ms__live_table *t, void (*fn)(const struct ms__live_block *b, void *ctx),
                   void *ctx)
{
    for (size_t k = 0; k < MS_LIVE_SHARDS; k++) {
        struct ms__live_shard *s = &t->shards[k];
        if (!ms__spin_lock_plain(&s->lock))
            continue;
        for (size_t i = 0; s->slots && i <= s->mask; i++)
            if (slot_ptr(t, s, i)) {
                struct ms__live_block b;
                slot_load(t, slot_at(t, s, i), &b);
                fn(&b, ctx);
            }
        ms__spin_unlock_plain(&s->lock);
    }
}

void ms__live_lock_all(struct ms__live_table *t)
{
    uint64_t taken = 0;
    for (size_t k = 0; k < MS_LIVE_SHARDS; k++)
        if (ms__spin_lock_plain(&t->shards[k].lock))
            taken |= 1ull << k;
    t->fork_taken = taken;
}

void ms__live_unlock_all(struct ms__live_table *t)
{
    for (size_t k = 0; k < MS_LIVE_SHARDS; k++)
        if (t->fork_taken & (1ull << k))
            ms__spin_unlock_plain(&t->shards[k].lock);
    t->fork_taken = 0;
}

void ms__live_clear(struct ms__live_table *t)
{
    for (size_t k = 0; k < MS_LIVE_SHARDS; k++) {
        struct ms__live_shard *s = &t->shards[k];
        if (!ms__spin_lock_plain(&s->lock))
            continue;
        if (s->slots)
            ms__own_unmap(s->slots, (s->mask + 1) * slot_bytes(t));
        s->slots = NULL;
        s->mask = s->used = 0;
        ms__spin_unlock_plain(&s->lock);
    }
    atomic_store(&t->live_bytes, 0);
    atomic_store(&t->live_blocks, 0);
    atomic_store(&t->peak_bytes, 0);
    atomic_store(&t->unknown_frees, 0);
}
