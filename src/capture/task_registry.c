/* The tasks' table (task_registry.h): pages of entries, mapped as ids reach them. */
#include "task_registry.h"
#include "own_memory.h"

#include <stdatomic.h>
#include <stddef.h>
#include <sys/mman.h>

#define PAGE_TASKS 4096u
#define PAGES 4096u /* 16 M tasks in all */

struct entry {
    _Atomic uint64_t parent;
    atomic_int state; /* enum ms__task_state */
    /* ms_stats's figures (async and core backends) */
    _Atomic uint64_t allocs, bytes;
    _Atomic int64_t live_bytes, live_blocks;
};

static _Atomic(struct entry *) pages[PAGES];
static _Atomic uint64_t last_id;

/* The entry of id, mapping its page when create is set; NULL when there is none. */
static struct entry *entry_of(uint64_t id, bool create)
{
    uint64_t i = id - 1;
    if (id == 0 || i / PAGE_TASKS >= PAGES)
        return NULL;
    _Atomic(struct entry *) *slot = &pages[i / PAGE_TASKS];
    struct entry *p = atomic_load_explicit(slot, memory_order_acquire);
    if (!p && create) {
        void *m = ms__own_map(NULL, PAGE_TASKS * sizeof *p, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED)
            return NULL;
        struct entry *none = NULL;
        if (atomic_compare_exchange_strong_explicit(slot, &none, (struct entry *)m,
                                                    memory_order_acq_rel, memory_order_acquire))
            p = m;
        else {
            ms__own_unmap(m, PAGE_TASKS * sizeof *p); /* another thread mapped it first */
            p = none;
        }
    }
    return p ? &p[i % PAGE_TASKS] : NULL;
}

uint64_t ms__task_new(uint64_t parent)
{
    uint64_t id = atomic_fetch_add_explicit(&last_id, 1, memory_order_relaxed) + 1;
    struct entry *e = entry_of(id, true);
    if (e) {
        atomic_store_explicit(&e->parent, parent, memory_order_relaxed);
        atomic_store_explicit(&e->state, MS__TASK_OPEN, memory_order_release);
    }
    /* Beyond the table the task still works; only its end cannot find the parent. */
    return id;
}

enum ms__task_state ms__task_state(uint64_t id)
{
    struct entry *e = entry_of(id, false);
    if (!e)
        return id && id <= atomic_load_explicit(&last_id, memory_order_relaxed) &&
                       (id - 1) / PAGE_TASKS >= PAGES
                   ? MS__TASK_OPEN
                   : MS__TASK_UNKNOWN;
    return (enum ms__task_state)atomic_load_explicit(&e->state, memory_order_acquire);
}

uint64_t ms__task_open_ancestor(uint64_t id)
{
    for (;;) {
        struct entry *e = entry_of(id, false);
        uint64_t parent = e ? atomic_load_explicit(&e->parent, memory_order_relaxed) : 0;
        if (!parent || parent >= id || ms__task_state(parent) == MS__TASK_OPEN)
            return parent < id ? parent : 0;
        id = parent;
    }
}

bool ms__task_end(uint64_t id, uint64_t *parent)
{
    struct entry *e = entry_of(id, false);
    if (!e) {
        *parent = 0;
        return ms__task_state(id) == MS__TASK_OPEN;
    }
    int open = MS__TASK_OPEN;
    if (!atomic_compare_exchange_strong_explicit(&e->state, &open, MS__TASK_ENDED,
                                                 memory_order_acq_rel, memory_order_acquire))
        return false;
    *parent = atomic_load_explicit(&e->parent, memory_order_relaxed);
    return true;
}

void ms__task_count(uint64_t id, uint64_t allocs, uint64_t bytes, int64_t live_bytes,
                    int64_t live_blocks)
{
    struct entry *e = entry_of(id, false);
    if (!e)
        return;
    if (allocs) {
        atomic_fetch_add_explicit(&e->allocs, allocs, memory_order_relaxed);
        atomic_fetch_add_explicit(&e->bytes, bytes, memory_order_relaxed);
    }
    if (live_blocks) {
        atomic_fetch_add_explicit(&e->live_bytes, live_bytes, memory_order_relaxed);
        atomic_fetch_add_explicit(&e->live_blocks, live_blocks, memory_order_relaxed);
    }
}

bool ms__task_counts(uint64_t id, struct ms__task_counts *out)
{
    struct entry *e = entry_of(id, false);
    *out = (struct ms__task_counts){0};
    if (!e)
        return false;
    out->allocs = atomic_load_explicit(&e->allocs, memory_order_relaxed);
    out->bytes = atomic_load_explicit(&e->bytes, memory_order_relaxed);
    out->live_bytes = atomic_load_explicit(&e->live_bytes, memory_order_relaxed);
    out->live_blocks = atomic_load_explicit(&e->live_blocks, memory_order_relaxed);
    return true;
}

void ms__task_live_reset(void)
{
    uint64_t last = atomic_load_explicit(&last_id, memory_order_relaxed);
    for (uint64_t id = 1; id <= last; id++) {
        struct entry *e = entry_of(id, false);
        if (!e) {
            id += PAGE_TASKS - 1 - (id - 1) % PAGE_TASKS; /* a page never mapped */
            continue;
        }
        atomic_store_explicit(&e->live_bytes, 0, memory_order_relaxed);
        atomic_store_explicit(&e->live_blocks, 0, memory_order_relaxed);
    }
}
