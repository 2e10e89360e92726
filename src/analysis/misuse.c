/* Allocator misuse found in the replay (misuse.h). */
#include "misuse.h"

#include "grow.h"
#include "common/trace_format.h"

#include <stdlib.h>
#include <string.h>

void ms_misuse_free_log(struct ms_misuse_log *l)
{
    free(l->err);
    free(l->ring);
    memset(l, 0, sizeof *l);
}

void ms_misuse_forget_errors(struct ms_misuse_log *l)
{
    l->n = 0;
    l->total = 0;
    l->failed = false;
    memset(l->count, 0, sizeof l->count);
}

static enum ms_misuse_call call_of(int family)
{
    if (family & MS_MISUSE_BY_REALLOC)
        return (family & 3) == MS_FAMILY_OTHER ? MS_CALL_LIB_REALLOC : MS_CALL_REALLOC;
    switch (family) {
    case MS_FAMILY_NEW:
        return MS_CALL_DELETE;
    case MS_FAMILY_NEW_ARRAY:
        return MS_CALL_DELETE_ARRAY;
    case MS_FAMILY_OTHER:
        return MS_CALL_LIB_FREE;
    default:
        return MS_CALL_FREE;
    }
}

/* The ring's i-th slot from its head (its capacity is a power of two). */
static inline size_t slot(const struct ms_misuse_log *l, size_t i)
{
    return (l->head + i) & (l->ring_cap - 1);
}

/* Makes room for one more freed block: the ring doubles until it holds MS_MISUSE_FREED_MAX
 * (laid out oldest first again). Returns false when it cannot grow (the oldest is then
 * forgotten by the caller). */
static bool ring_grow(struct ms_misuse_log *l)
{
    if (l->ring_cap >= (l->freed_max ? l->freed_max : MS_MISUSE_FREED_MAX))
        return false;
    size_t cap = l->ring_cap ? l->ring_cap * 2 : 1024;
    struct ms_misuse_freed *r = malloc(cap * sizeof *r);
    if (!r)
        return false;
    for (size_t i = 0; i < l->used; i++)
        r[i] = l->ring[slot(l, i)];
    free(l->ring);
    l->ring = r;
    l->ring_cap = cap;
    l->head = 0;
    return true;
}

static void ring_drop_oldest(struct ms_misuse_log *l)
{
    l->volume -= l->ring[l->head].size;
    l->head = slot(l, 1);
    l->used--;
}

void ms_misuse_freed(struct ms_misuse_log *l, const struct ms_misuse_block *b, int family,
                     uint32_t stack, uint64_t tsc, uint32_t tid)
{
    if (l->used == l->ring_cap && !ring_grow(l)) {
        if (!l->used)
            return; /* no memory for a ring at all */
        ring_drop_oldest(l);
    }
    /* A block larger than the whole volume is remembered alone, as valgrind's queue keeps the
     * latest block whatever its size. */
    uint64_t max = l->volume_max ? l->volume_max : MS_MISUSE_FREED_VOLUME;
    uint64_t size = b->size < max ? b->size : max;
    while (l->used && l->volume + size > max)
        ring_drop_oldest(l);
    l->ring[slot(l, l->used)] = (struct ms_misuse_freed){
        .ptr = b->ptr,
        .size = size,
        .tsc = tsc,
        .alloc_stack = b->stack,
        .free_stack = stack,
        .tid = tid,
        .alloc_family = (uint8_t)b->family,
        .free_call = (uint8_t)call_of(family),
    };
    l->used++;
    l->volume += size;
}

/* The latest freed block that contains address (a block of 0 bytes: that starts there). */
static const struct ms_misuse_freed *freed_containing(const struct ms_misuse_log *l,
                                                      uint64_t address)
{
    for (size_t i = l->used; i-- > 0;) {
        const struct ms_misuse_freed *f = &l->ring[slot(l, i)];
        if (address == f->ptr || (address > f->ptr && address - f->ptr < f->size))
            return f;
    }
    return NULL;
}

/* Counts an error of kind; returns the entry to describe it in (zeroed), or NULL when the log
 * keeps no more. */
static struct ms_misuse *add(struct ms_misuse_log *l, enum ms_misuse_kind kind, int family,
                             uint64_t address, uint32_t stack, uint64_t tsc, uint32_t tid)
{
    l->count[kind]++;
    l->total++;
    if (l->n >= MS_MISUSE_KEPT)
        return NULL;
    if (ms_grow(&l->err, &l->cap, l->n + 1, sizeof *l->err, 16) != 0) {
        l->failed = true;
        return NULL;
    }
    struct ms_misuse *e = &l->err[l->n++];
    *e = (struct ms_misuse){.kind = kind,
                            .call = call_of(family),
                            .address = address,
                            .tsc = tsc,
                            .tid = tid,
                            .stack = stack};
    return e;
}

static void describe_live(struct ms_misuse *e, const struct ms_misuse_block *b)
{
    e->block = true;
    e->block_ptr = b->ptr;
    e->size = b->size;
    e->offset = (int64_t)(e->address - b->ptr);
    e->alloc_family = b->family;
    e->alloc_stack = b->stack;
}

static void describe_freed(struct ms_misuse *e, const struct ms_misuse_freed *f)
{
    e->block = e->freed = true;
    e->block_ptr = f->ptr;
    e->size = f->size;
    e->offset = (int64_t)(e->address - f->ptr);
    e->alloc_family = f->alloc_family;
    e->alloc_stack = f->alloc_stack;
    e->free_tsc = f->tsc;
    e->free_tid = f->tid;
    e->free_stack = f->free_stack;
    e->free_call = (enum ms_misuse_call)f->free_call;
}

struct ms_misuse *ms_misuse_bad_free(struct ms_misuse_log *l, uint64_t address, int family,
                                     uint32_t stack, uint64_t tsc, uint32_t tid,
                                     const struct ms_misuse_block *in)
{
    /* valgrind's order: a live block holding the address first, then the freed ones. */
    const struct ms_misuse_freed *f = in ? NULL : freed_containing(l, address);
    enum ms_misuse_kind kind = MS_MISUSE_INVALID_FREE;
    if (f && f->ptr == address)
        kind = family & MS_MISUSE_BY_REALLOC ? MS_MISUSE_REALLOC_FREED : MS_MISUSE_DOUBLE_FREE;
    struct ms_misuse *e = add(l, kind, family, address, stack, tsc, tid);
    if (e && in)
        describe_live(e, in);
    else if (e && f)
        describe_freed(e, f);
    return e;
}

struct ms_misuse *ms_misuse_mismatch(struct ms_misuse_log *l, const struct ms_misuse_block *b,
                                     int family, uint32_t stack, uint64_t tsc, uint32_t tid)
{
    struct ms_misuse *e = add(l, MS_MISUSE_MISMATCHED_FREE, family, b->ptr, stack, tsc, tid);
    if (e)
        describe_live(e, b);
    return e;
}

void ms_misuse_fault(struct ms_misuse_log *l, uint64_t address, bool realloc, int signal,
                     uint32_t stack, uint64_t tsc, uint32_t tid, const struct ms_misuse_block *live)
{
    if (!realloc) {
        /* The FREE record came first, on the same thread: its error, if it was one, is among
         * the latest. */
        for (size_t i = l->n, looked = 0; i-- > 0 && looked < 64; looked++) {
            struct ms_misuse *e = &l->err[i];
            if (e->tid == tid && e->address == address && !ms_misuse_call_is_realloc(e->call) &&
                !e->signal) {
                e->signal = signal;
                if (!e->stack)
                    e->stack = stack;
                return;
            }
        }
        if (l->n >= MS_MISUSE_KEPT && l->total > l->n)
            return; /* its error may be one of those only counted */
        /* A free of a live block: glibc found its heap damaged. */
        const struct ms_misuse_freed *f = freed_containing(l, address);
        struct ms_misuse *e =
            add(l, MS_MISUSE_ALLOCATOR_ABORT, MS_FAMILY_MALLOC, address, stack, tsc, tid);
        if (e) {
            e->signal = signal;
            if (f && f->ptr == address && f->tid == tid) {
                describe_freed(e, f);
                e->freed = false; /* it is the call itself, not an earlier free */
                e->call = (enum ms_misuse_call)f->free_call;
            }
        }
        return;
    }
    /* A realloc that did not return is not in the trace: the error is made here. */
    struct ms_misuse *e;
    if (live && live->ptr == address) {
        e = add(l, MS_MISUSE_ALLOCATOR_ABORT, MS_MISUSE_BY_REALLOC, address, stack, tsc, tid);
        if (e)
            describe_live(e, live);
    } else {
        e = ms_misuse_bad_free(l, address, MS_MISUSE_BY_REALLOC, stack, tsc, tid, live);
    }
    if (e)
        e->signal = signal;
}

void ms_misuse_quarantine(struct ms_misuse_log *l, uint64_t quarantine)
{
    l->check = true;
    l->volume_max = MS_MISUSE_FREED_VOLUME + quarantine;
    l->freed_max = MS_MISUSE_FREED_MAX + (size_t)(quarantine / 32);
}

/* The latest freed block that starts at ptr. */
static const struct ms_misuse_freed *freed_at(const struct ms_misuse_log *l, uint64_t ptr)
{
    for (size_t i = l->used; i-- > 0;) {
        const struct ms_misuse_freed *f = &l->ring[slot(l, i)];
        if (f->ptr == ptr)
            return f;
    }
    return NULL;
}

void ms_misuse_heap_error(struct ms_misuse_log *l, enum ms_misuse_kind kind, uint64_t ptr,
                          uint64_t size, int64_t offset, int found, uint32_t stack, uint64_t tsc,
                          uint32_t tid, const struct ms_misuse_block *live)
{
    const struct ms_misuse_freed *f = live ? NULL : freed_at(l, ptr);
    int call = MS_FAMILY_MALLOC; /* found at exit or in the quarantine: no call made */
    if (found == MS_FOUND_REALLOC)
        call = MS_MISUSE_BY_REALLOC;
    else if (f && f->free_call == MS_CALL_DELETE)
        call = MS_FAMILY_NEW;
    else if (f && f->free_call == MS_CALL_DELETE_ARRAY)
        call = MS_FAMILY_NEW_ARRAY;
    else if (f && f->free_call == MS_CALL_LIB_FREE)
        call = MS_FAMILY_OTHER;
    struct ms_misuse *e = add(l, kind, call, ptr + (uint64_t)offset, stack, tsc, tid);
    if (!e)
        return;
    if (live)
        describe_live(e, live);
    else if (f)
        describe_freed(e, f);
    if (found == MS_FOUND_FREE || found == MS_FOUND_REALLOC)
        e->freed = false; /* that free is the call itself, not an earlier one */
    e->block = true;
    e->block_ptr = ptr;
    e->size = size;
    e->offset = offset;
    e->found = found;
}

const char *ms_misuse_kind_key(enum ms_misuse_kind k)
{
    static const char *keys[MS_MISUSE_KINDS] = {
        "double_free",     "invalid_free", "mismatched_free", "realloc_freed",
        "allocator_abort", "overflow",     "use_after_free"};
    return (unsigned)k < MS_MISUSE_KINDS ? keys[k] : "unknown";
}

const char *ms_misuse_call_name(enum ms_misuse_call c)
{
    static const char *names[MS_MISUSE_CALLS] = {
        "free", "delete", "delete[]", "realloc", "tc_free/dallocx", "tc_realloc/rallocx"};
    return (unsigned)c < MS_MISUSE_CALLS ? names[c] : "free";
}

const char *ms_misuse_alloc_name(int family)
{
    static const char *names[] = {"malloc", "new", "new[]", "tc_malloc/mallocx"};
    return (unsigned)family < 4 ? names[family] : "malloc";
}
