/* A lock-free-read open-addressing hash table of stack tree nodes keyed by (parent id, ip).
 * Entries are written once and never removed; growing copies into a table twice the size and
 * leaves the old one mapped, so concurrent readers never see freed memory. */
#include "stack_intern.h"
#include "own_memory.h"

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
    void *mem = ms__own_map(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
        return NULL;
    struct table *t = mem;
    t->mask = cap - 1;
    return t;
}

/* The table is keyed by (parent id, ip), but a node's slot comes from a hash of its path: the
 * addresses from the outermost frame down to it (path_h1). The slots of all the nodes of a
 * stack are then known before any of them is found, so intern_nodes fetches them at once and
 * the cache misses of a big table (a compiler's) overlap instead of following one another. A
 * second, independent hash of the path (path_h2) is the other half of the whole-stack cache's
 * key. Both hashes of a prefix are kept with the thread's last stack. */
#define ROOT_H1 0x9E3779B97F4A7C15ull
#define ROOT_H2 0x2545F4914F6CDD1Dull

static inline uint64_t path_h1(uint64_t h, uint64_t ip)
{
    h = (h ^ ip) * 0xff51afd7ed558ccdull;
    return h ^ (h >> 32);
}

static inline uint64_t path_h2(uint64_t h, uint64_t ip)
{
    h = (h + ip) * 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 29);
}

/* A node's entry in this thread's node cache. */
static inline struct ms__node_entry *node_slot(struct ms__unwind_state *u, uint64_t h)
{
    return &u->node_cache[(h >> 40) & ((1u << MS_NODE_CACHE_BITS) - 1)];
}

static uint32_t lookup(struct table *t, uint64_t h, uint32_t parent, uint64_t ip)
{
    for (size_t i = h & t->mask;; i = (i + 1) & t->mask) {
        uint64_t k = atomic_load_explicit(&t->e[i].ip, memory_order_acquire);
        if (k == 0)
            return 0;
        if (k == ip && t->e[i].parent == parent)
            return t->e[i].id;
    }
}

static void put(struct table *t, uint64_t h, uint32_t parent, uint64_t ip, uint32_t id)
{
    size_t i = h & t->mask;
    while (atomic_load_explicit(&t->e[i].ip, memory_order_relaxed) != 0)
        i = (i + 1) & t->mask;
    t->e[i].parent = parent;
    t->e[i].id = id;
    atomic_store_explicit(&t->e[i].ip, ip, memory_order_release);
    t->used++;
}

/* A table twice the size of t with its nodes, or NULL. The table does not keep the path
 * hashes, so they are computed again from the root down, in id order (a node is younger than
 * its parent). A tombstone's descendants are left out: no walk can reach them any more. */
static struct table *grow(struct table *t)
{
    struct node_rec {
        uint64_t ip, h; /* ip 0: no such node (or under a tombstone) */
        uint32_t parent;
    } * byid;
    size_t nids = next_id, size = nids * sizeof *byid;
    void *mem = ms__own_map(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
        return NULL;
    byid = mem;
    struct table *bigger = table_new((t->mask + 1) * 2);
    if (bigger) {
        for (size_t i = 0; i <= t->mask; i++) {
            uint64_t k = atomic_load_explicit(&t->e[i].ip, memory_order_relaxed);
            if (k && k != TOMBSTONE && t->e[i].id < nids)
                byid[t->e[i].id] = (struct node_rec){k, 0, t->e[i].parent};
        }
        for (size_t id = 1; id < nids; id++) {
            struct node_rec *r = &byid[id];
            if (!r->ip)
                continue;
            if (r->parent && (r->parent >= id || !byid[r->parent].ip)) {
                r->ip = 0;
                continue;
            }
            r->h = path_h1(r->parent ? byid[r->parent].h : ROOT_H1, r->ip);
            put(bigger, r->h, r->parent, r->ip, (uint32_t)id);
        }
    }
    ms__own_unmap(mem, size);
    return bigger;
}

int ms__stack_intern_init(void)
{
    struct table *t = table_new(1u << 16);
    if (!t)
        return -1;
    atomic_store(&table, t);
    return 0;
}

/* Slow path: inserts (parent, ip), whose path hash is h, under the lock and records the new
 * node in b. */
__attribute__((noinline)) static uint32_t insert(struct ms__buffer *b, uint64_t h, uint32_t parent,
                                                 uint64_t ip)
{
    if (!ms__spin_lock(&insert_lock))
        return 0; /* re-entered from a signal handler while inserting */
    struct table *t = atomic_load(&table);
    uint32_t id = lookup(t, h, parent, ip);
    if (id) {
        ms__spin_unlock(&insert_lock);
        return id;
    }
    if ((t->used + 1) * 2 > t->mask + 1) {
        struct table *bigger = grow(t);
        if (!bigger) {
            ms__spin_unlock(&insert_lock);
            return 0;
        }
        atomic_store_explicit(&table, bigger, memory_order_release);
        t = bigger;
    }
    id = next_id++;
    put(t, h, parent, ip, id);
    ms__spin_unlock(&insert_lock);

    uint8_t *kind;
    uint8_t *p = ms__rec_begin_untimed(b, &kind);
    ms__rec_end(b, ms_rec_put_STACK_NODE(&b->base, kind, p, id, parent, ip));
    return id;
}

/* The node id of outer[0..n) (outermost frame first) found node by node, the first m frames
 * being those of the last stack (see ms__stack_intern_outer, which left the path hashes in
 * u->path_h1 and path_h2). */
static uint32_t intern_nodes(struct ms__unwind_state *u, struct ms__buffer *b,
                             const uintptr_t *outer, int n, int m)
{
    uint32_t node = m ? u->cache_ids[m - 1] : 0;
    struct table *t = atomic_load_explicit(&table, memory_order_acquire);
    /* The table's slots of the nodes this thread's cache does not have, fetched together. */
    for (int k = m; k < n; k++)
        if (node_slot(u, u->path_h1[k])->ip != outer[k])
            __builtin_prefetch(&t->e[u->path_h1[k] & t->mask]);
    for (int k = m; k < n; k++) {
        uint64_t ip = outer[k], h = u->path_h1[k];
        struct ms__node_entry *e = node_slot(u, h);
        uint32_t id;
        if (e->ip == ip && e->parent == node) {
            id = e->id;
        } else {
            id = lookup(t, h, node, ip);
            if (!id) {
                id = insert(b, h, node, ip);
                if (!id) {
                    u->cache_n = u->cache_log = 0;
                    return 0;
                }
                t = atomic_load_explicit(&table, memory_order_acquire); /* it may have grown */
            }
            *e = (struct ms__node_entry){ip, node, id};
        }
        node = id;
        u->cache_ips[k] = ip;
        u->cache_ids[k] = id;
        u->cache_h1[k] = h;
        u->cache_h2[k] = u->path_h2[k];
    }
    u->cache_n = n;
    u->cache_log = outer == ms__walk(u)->ra ? n : 0;
    u->cache_log_of = u->walk_i;
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
    ms__zero_memory(u->node_cache, sizeof u->node_cache);
    ms__zero_memory(u->stack_cache, sizeof u->stack_cache);
    u->cache_n = u->cache_log = 0;
    ms__walk_forget(u);
    u->unload_epoch = epoch;
}

/* The id of the stack outer (outermost first) in the shared table, from its root, touching no
 * thread's caches (0: not there): what the verify mode checks the shortcuts' ids against, so
 * that those run in it as they do in normal runs. */
static uint32_t find_outer(const uintptr_t *outer, int n)
{
    struct table *t = atomic_load_explicit(&table, memory_order_acquire);
    uint32_t node = 0;
    uint64_t h = ROOT_H1;
    for (int k = 0; k < n && (k == 0 || node); k++) {
        h = path_h1(h, outer[k]);
        node = lookup(t, h, node, outer[k]);
    }
    return node;
}

/* The verify mode's check of the caller's claim that the first known frames of outer are the
 * last stack's (u->cache_log as the walk keeps it): each wrong one counts as a difference. */
static void verify_known(const struct ms__unwind_state *u, const uintptr_t *outer, int known)
{
    for (int k = 0; k < known; k++)
        if (u->cache_ips[k] != outer[k]) {
            ms__unwind_verify_known(k, known);
            return;
        }
}

uint32_t ms__stack_intern_outer(struct ms__unwind_state *u, struct ms__buffer *b,
                                const uintptr_t *outer, int n, int known)
{
    unsigned epoch = atomic_load_explicit(&ms__unload_epoch, memory_order_acquire);
    if (MS_UNLIKELY(epoch != u->unload_epoch))
        forget_unloaded(u, epoch);
    if (n <= 0) {
        u->cache_log = 0;
        return 0;
    }
    /* The outermost frames shared with the last stack have their nodes and hashes already. */
    int m = known < u->cache_n ? known : u->cache_n;
    if (m > n)
        m = n;
    if (MS_UNLIKELY(ms__unwind_verify_on))
        verify_known(u, outer, m);
    while (m < n && m < u->cache_n && u->cache_ips[m] == outer[m])
        m++;
    /* What u->cache_log will say: only the walk log's own return addresses are followed. */
    bool from_log = outer == ms__walk(u)->ra;
    if (m == n && n == u->cache_n) {
        u->cache_log = from_log ? n : 0;
        u->cache_log_of = u->walk_i;
        if (MS_UNLIKELY(ms__unwind_verify_on))
            ms__unwind_verify_cached(u->cache_ids[n - 1], find_outer(outer, n));
        return u->cache_ids[n - 1]; /* the last stack again */
    }
    uint64_t h1 = m ? u->cache_h1[m - 1] : ROOT_H1, h2 = m ? u->cache_h2[m - 1] : ROOT_H2;
    for (int k = m; k < n; k++) {
        uint64_t ip = outer[k];
        u->path_h1[k] = h1 = path_h1(h1, ip);
        u->path_h2[k] = h2 = path_h2(h2, ip);
    }
    /* A wrong stack would need both 64-bit hashes and the depth to collide. */
    struct ms__stack_entry *e = &u->stack_cache[h1 & ((1u << MS_STACK_CACHE_BITS) - 1)];
    if (e->id && e->h1 == h1 && e->h2 == h2 && e->n == (uint32_t)n) {
        u->cache_log = from_log ? m : 0; /* the last stack is still the one interned before */
        u->cache_log_of = u->walk_i;
        if (MS_UNLIKELY(ms__unwind_verify_on))
            ms__unwind_verify_cached(e->id, find_outer(outer, n));
        return e->id;
    }
    uint32_t id = intern_nodes(u, b, outer, n, m);
    if (id)
        *e = (struct ms__stack_entry){h1, h2, (uint32_t)n, id};
    return id;
}

uint32_t ms__stack_intern(struct ms__unwind_state *u, struct ms__buffer *b, const uintptr_t *ips,
                          int n)
{
    uintptr_t *outer = u->outer;
    for (int k = 0; k < n; k++)
        outer[k] = ips[n - 1 - k];
    return ms__stack_intern_outer(u, b, outer, n, 0);
}

uint32_t ms__stack_find(const uintptr_t *ips, int n)
{
    struct table *t = atomic_load_explicit(&table, memory_order_acquire);
    uint32_t node = 0;
    uint64_t h = ROOT_H1;
    for (int k = n - 1; k >= 0; k--) {
        h = path_h1(h, ips[k]);
        node = lookup(t, h, node, ips[k]);
        if (!node)
            return 0;
    }
    return node;
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

struct ms__stack_node *ms__stack_snapshot(size_t *n)
{
    *n = 0;
    if (!ms__spin_lock(&insert_lock))
        return NULL;
    size_t nids = next_id, size = nids * sizeof(struct ms__stack_node);
    void *mem = ms__own_map(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    struct ms__stack_node *byid = mem == MAP_FAILED ? NULL : mem;
    const struct table *t = atomic_load_explicit(&table, memory_order_acquire);
    for (size_t i = 0; byid && t && i <= t->mask; i++) {
        uint64_t k = atomic_load_explicit(&t->e[i].ip, memory_order_relaxed);
        if (k && k != TOMBSTONE && t->e[i].id < nids)
            byid[t->e[i].id] = (struct ms__stack_node){k, t->e[i].parent};
    }
    ms__spin_unlock(&insert_lock);
    if (byid)
        *n = nids;
    return byid;
}

void ms__stack_snapshot_free(struct ms__stack_node *nodes, size_t n)
{
    if (nodes)
        ms__own_unmap(nodes, n * sizeof *nodes);
}
