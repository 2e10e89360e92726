/* A lock-free-read open-addressing hash table of stack tree nodes keyed by (parent id, ip).
 * Entries are written once and never removed; growing copies into a table twice the size and
 * leaves the old one mapped, so concurrent readers never see freed memory. */
#include "stack_intern.h"

#include "module_map.h"
#include "spinlock.h"
#include "unwind_verify.h"

#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>

/* An entry whose code was unloaded: never matches, keeps the probe chains whole. */
#define TOMBSTONE 1

struct entry {
    _Atomic uint64_t ip; /* 0 = empty, TOMBSTONE; written last, with release order */
    uint32_t parent;
    uint32_t id;
};

struct table {
    size_t mask;
    size_t used;
    struct entry e[];
};

static struct table *_Atomic table;
static ms__spinlock insert_lock;
static uint32_t next_id = 1;
static unsigned table_epoch; /* unloaded ranges (ms__unload_epoch) tombstoned so far */

static struct table *table_new(size_t cap)
{
    size_t size = sizeof(struct table) + cap * sizeof(struct entry);
    void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
        return NULL;
    struct table *t = mem;
    t->mask = cap - 1;
    return t;
}

static inline size_t hash(uint32_t parent, uint64_t ip)
{
    uint64_t h = (ip ^ ((uint64_t)parent << 32 | parent)) * 0x9E3779B97F4A7C15ull;
    return (size_t)(h ^ (h >> 29));
}

static uint32_t lookup(struct table *t, uint32_t parent, uint64_t ip)
{
    for (size_t i = hash(parent, ip) & t->mask;; i = (i + 1) & t->mask) {
        uint64_t k = atomic_load_explicit(&t->e[i].ip, memory_order_acquire);
        if (k == 0)
            return 0;
        if (k == ip && t->e[i].parent == parent)
            return t->e[i].id;
    }
}

static void put(struct table *t, uint32_t parent, uint64_t ip, uint32_t id)
{
    size_t i = hash(parent, ip) & t->mask;
    while (atomic_load_explicit(&t->e[i].ip, memory_order_relaxed) != 0)
        i = (i + 1) & t->mask;
    t->e[i].parent = parent;
    t->e[i].id = id;
    atomic_store_explicit(&t->e[i].ip, ip, memory_order_release);
    t->used++;
}

int ms__stack_intern_init(void)
{
    struct table *t = table_new(1u << 16);
    if (!t)
        return -1;
    atomic_store(&table, t);
    return 0;
}

/* Slow path: inserts (parent, ip) under the lock and records the new node in b. */
__attribute__((noinline)) static uint32_t insert(struct ms__buffer *b, uint32_t parent, uint64_t ip)
{
    if (!ms__spin_lock(&insert_lock))
        return 0; /* re-entered from a signal handler while inserting */
    struct table *t = atomic_load(&table);
    uint32_t id = lookup(t, parent, ip);
    if (id) {
        ms__spin_unlock(&insert_lock);
        return id;
    }
    if ((t->used + 1) * 2 > t->mask + 1) {
        struct table *bigger = table_new((t->mask + 1) * 2);
        if (!bigger) {
            ms__spin_unlock(&insert_lock);
            return 0;
        }
        for (size_t i = 0; i <= t->mask; i++) {
            uint64_t k = atomic_load_explicit(&t->e[i].ip, memory_order_relaxed);
            if (k && k != TOMBSTONE)
                put(bigger, t->e[i].parent, k, t->e[i].id);
        }
        atomic_store_explicit(&table, bigger, memory_order_release);
        t = bigger;
    }
    id = next_id++;
    put(t, parent, ip, id);
    ms__spin_unlock(&insert_lock);

    uint8_t *kind;
    uint8_t *p = ms__rec_begin_untimed(b, &kind);
    ms__rec_end(b, ms_rec_put_STACK_NODE(&b->base, kind, p, id, parent, ip));
    return id;
}

/* The node id of ips[0..n) found node by node (see ms__stack_intern). */
static uint32_t intern_nodes(struct ms__unwind_state *u, struct ms__buffer *b, const uintptr_t *ips,
                             int n)
{
    /* Compare outermost-first with the previous stack of this thread. */
    int m = 0;
    while (m < n && m < u->cache_n && u->cache_ips[m] == ips[n - 1 - m])
        m++;
    uint32_t node = m ? u->cache_ids[m - 1] : 0;
    struct table *t = atomic_load_explicit(&table, memory_order_acquire);
    for (int k = m; k < n; k++) {
        uint64_t ip = ips[n - 1 - k];
        size_t h = hash(node, ip);
        struct ms__node_entry *e = &u->node_cache[(h >> 7) & ((1u << MS_NODE_CACHE_BITS) - 1)];
        uint32_t id;
        if (e->ip == ip && e->parent == node) {
            id = e->id;
        } else {
            id = lookup(t, node, ip);
            if (!id) {
                id = insert(b, node, ip);
                if (!id) {
                    u->cache_n = 0;
                    return 0;
                }
            }
            *e = (struct ms__node_entry){ip, node, id};
        }
        node = id;
        u->cache_ips[k] = ip;
        u->cache_ids[k] = id;
    }
    u->cache_n = n;
    return node;
}

/* Modules were unloaded: their nodes must not be given to code loaded at the same addresses
 * later. The table's entries for the unloaded ranges become tombstones (once, whichever thread
 * gets here first), and this thread's caches, which may hold such nodes, are emptied. */
__attribute__((noinline)) static void forget_unloaded(struct ms__unwind_state *u, unsigned epoch)
{
    if (ms__spin_lock(&insert_lock)) {
        struct table *t = atomic_load_explicit(&table, memory_order_relaxed);
        for (; table_epoch < epoch; table_epoch++) {
            uintptr_t lo = 0, hi = UINTPTR_MAX; /* no longer kept: every node goes */
            ms__modules_unloaded(table_epoch, &lo, &hi);
            for (size_t i = 0; i <= t->mask; i++) {
                uint64_t k = atomic_load_explicit(&t->e[i].ip, memory_order_relaxed);
                if (k != TOMBSTONE && k >= lo && k < hi)
                    atomic_store_explicit(&t->e[i].ip, TOMBSTONE, memory_order_relaxed);
            }
        }
        ms__spin_unlock(&insert_lock);
    }
    memset(u->node_cache, 0, sizeof u->node_cache);
    memset(u->stack_cache, 0, sizeof u->stack_cache);
    u->cache_n = 0;
    ms__walk_forget(u);
    u->unload_epoch = epoch;
}

uint32_t ms__stack_intern(struct ms__unwind_state *u, struct ms__buffer *b, const uintptr_t *ips,
                          int n)
{
    unsigned epoch = atomic_load_explicit(&ms__unload_epoch, memory_order_acquire);
    if (MS_UNLIKELY(epoch != u->unload_epoch))
        forget_unloaded(u, epoch);
    /* Two different mixes of the addresses: a wrong stack would need both 64-bit hashes and
     * the depth to collide. */
    uint64_t h1 = 0x9E3779B97F4A7C15ull, h2 = (uint64_t)n;
    for (int i = 0; i < n; i++) {
        h1 = (h1 ^ ips[i]) * 0xff51afd7ed558ccdull;
        h2 = (h2 + ips[i]) * 0xc4ceb9fe1a85ec53ull;
        h2 ^= h2 >> 29;
    }
    h1 ^= h1 >> 32;
    struct ms__stack_entry *e = &u->stack_cache[h1 & ((1u << MS_STACK_CACHE_BITS) - 1)];
    if (e->id && e->h1 == h1 && e->h2 == h2 && e->n == (uint32_t)n) {
        if (MS_LIKELY(!ms__unwind_verify_on))
            return e->id;
        uint32_t slow = intern_nodes(u, b, ips, n);
        ms__unwind_verify_cached(e->id, slow);
        return slow;
    }
    uint32_t id = intern_nodes(u, b, ips, n);
    if (id)
        *e = (struct ms__stack_entry){h1, h2, (uint32_t)n, id};
    return id;
}

uint32_t ms__stack_next_id(void)
{
    return next_id;
}

bool ms__stack_intern_lock(void)
{
    return ms__spin_lock(&insert_lock);
}

void ms__stack_intern_unlock(void)
{
    ms__spin_unlock(&insert_lock);
}

void ms__stack_intern_reset_lock(void)
{
    ms__spin_init(&insert_lock);
}
