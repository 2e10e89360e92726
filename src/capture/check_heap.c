/* The check heap of --check (check_heap.h): red zones, the quarantine, and the checks. */
#define _GNU_SOURCE
#include "check_heap.h"
#include "event_path.h"
#include "live_table.h"
#include "own_memory.h"
#include "real_fns.h"
#include "spinlock.h"
#include "thread_state.h"

#include "../common/trace_format.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

/* ---- a block's layout: [base, base + lo) red zone, [ptr, ptr + n) the program's bytes,
 * [ptr + n, ptr + n + hi) red zone ---- */

static inline size_t hi_of(size_t n)
{
    return ((16 - (n & 15)) & 15) + MS_CHECK_REDZONE;
}

static inline size_t footprint(const struct ms__live_block *b)
{
    return b->lo + (size_t)b->size + hi_of((size_t)b->size);
}

/* The first byte of p[0..n) that is not c, or n. */
static size_t first_not(const uint8_t *p, size_t n, uint8_t c)
{
    size_t i = 0;
    uint64_t w = 0x0101010101010101ull * c, v;
    while (i < n && ((uintptr_t)(p + i) & 7))
        if (p[i] != c)
            return i;
        else
            i++;
    for (; i + 8 <= n; i += 8) {
        memcpy(&v, p + i, 8);
        if (v != w)
            break;
    }
    for (; i < n; i++)
        if (p[i] != c)
            return i;
    return n;
}

/* The last byte of p[0..n) that is not c, or n when there is none. */
static size_t last_not(const uint8_t *p, size_t n, uint8_t c)
{
    for (size_t i = n; i-- > 0;)
        if (p[i] != c)
            return i;
    return n;
}

/* Whether p[0..n) is all c: 64 bytes at a time in vector registers (SSE2's, which every x86-64
 * has; the compiler's generic vectors elsewhere), then a word at a time. */
typedef uint64_t ms__v2 __attribute__((vector_size(16)));

static inline bool all_of(const uint8_t *p, size_t n, uint8_t c)
{
    const uint64_t w = 0x0101010101010101ull * c;
    const ms__v2 wv = {w, w};
    ms__v2 d0 = {0, 0}, d1 = {0, 0};
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        ms__v2 a, b, e, f;
        memcpy(&a, p + i, 16);
        memcpy(&b, p + i + 16, 16);
        memcpy(&e, p + i + 32, 16);
        memcpy(&f, p + i + 48, 16);
        d0 |= (a ^ wv) | (b ^ wv);
        d1 |= (e ^ wv) | (f ^ wv);
    }
    d0 |= d1;
    uint64_t diff = d0[0] | d0[1], v;
    for (; i + 8 <= n; i += 8) {
        memcpy(&v, p + i, 8);
        diff |= v ^ w;
    }
    if (i < n && n >= 8) { /* the last word, overlapping the one before */
        memcpy(&v, p + n - 8, 8);
        diff |= v ^ w;
        i = n;
    }
    for (; i < n; i++)
        diff |= p[i] ^ c;
    return diff == 0;
}

/* Whether the red zones of the block of n bytes at p are whole: six words, with no loop (the
 * zone after it, of 16 to 31 bytes, is read as two overlapping halves). */
static inline bool zones_whole(const uint8_t *p, size_t n)
{
    const uint64_t w = 0x0101010101010101ull * MS_CHECK_REDZONE_BYTE;
    uint64_t v[6];
    const uint8_t *end = p + n + hi_of(n);
    memcpy(&v[0], p - 16, 16);
    memcpy(&v[2], p + n, 16);
    memcpy(&v[4], end - 16, 16);
    return ((v[0] ^ w) | (v[1] ^ w) | (v[2] ^ w) | (v[3] ^ w) | (v[4] ^ w) | (v[5] ^ w)) == 0;
}

/* The damaged red-zone byte of b nearest to it, as an offset from its start (before: the one
 * just before it first); false when both zones are whole. */
static bool redzone_damage(const struct ms__live_block *b, int64_t *offset)
{
    const uint8_t *ptr = (const uint8_t *)b->ptr;
    size_t n = (size_t)b->size;
    if (MS_LIKELY(zones_whole(ptr, n)))
        return false;
    size_t lo = last_not(ptr - MS_CHECK_REDZONE, MS_CHECK_REDZONE, MS_CHECK_REDZONE_BYTE);
    if (lo < MS_CHECK_REDZONE) {
        *offset = (int64_t)lo - MS_CHECK_REDZONE;
        return true;
    }
    size_t hi = first_not(ptr + n, hi_of(n), MS_CHECK_REDZONE_BYTE);
    *offset = (int64_t)(n + hi);
    return hi < hi_of(n);
}

static void report(int kind, const struct ms__live_block *b, int64_t offset, int found)
{
    ms__on_heap_error(kind, b->ptr, b->size, offset, found,
                      found == MS_FOUND_FREE || found == MS_FOUND_REALLOC);
}

/* ---- allocation ---- */

/* The red zones of the block of n bytes at base + lo: the 16 bytes before it (the rest of lo,
 * an alignment's, is left as it is) and those after it. */
static void *guard(uint8_t *base, size_t n, size_t lo)
{
    uint8_t *p = base + lo;
    const uint64_t w[2] = {0x0101010101010101ull * MS_CHECK_REDZONE_BYTE,
                           0x0101010101010101ull * MS_CHECK_REDZONE_BYTE};
    memcpy(p - 16, w, 16);
    memcpy(p + n, w, 16); /* with the last 16 bytes, the whole zone after (16 to 31 bytes) */
    memcpy(p + n + hi_of(n) - 16, w, 16);
    return p;
}

/* The allocator's block for n bytes with lo before them: NULL when it has none. */
static uint8_t *base_alloc(size_t n, size_t lo, size_t align, bool zero)
{
    if (n >> 47 || n > SIZE_MAX / 2 - lo - 64) /* none such: the table keeps 48 bits of size */
        return NULL;
    size_t total = lo + n + hi_of(n);
    if (align > 16) {
        void *b = ms__real.memalign(align, total);
        if (b && zero)
            memset((uint8_t *)b + lo, 0, n);
        return b;
    }
    return zero ? ms__real.calloc(1, total) : ms__real.malloc(total);
}

void *ms__check_alloc(size_t n, size_t align, bool zero)
{
    if (align >= MS_CHECK_ALIGN_MAX) {
        /* An alignment of 2 GiB or more: the allocator's own block, with no red zones. */
        void *p = ms__real.memalign(align, n ? n : 1);
        if (p && zero)
            memset(p, 0, n);
        if (p && !ms__check_adopt(p, n, MS_FAMILY_MALLOC)) {
            ms__real.free(p);
            errno = ENOMEM;
            return NULL;
        }
        return p;
    }
    size_t lo = align > MS_CHECK_REDZONE ? align : MS_CHECK_REDZONE;
    /* A signal handler that interrupted this thread inside the table cannot use the shard the
     * interrupted code holds: another block lands in another shard (63 times out of 64). */
    uint8_t *refused[4];
    int nrefused = 0;
    void *p = NULL;
    for (;;) {
        uint8_t *base = base_alloc(n, lo, align, zero);
        if (!base) {
            errno = ENOMEM;
            break;
        }
        /* Its red zones first: the exit's check may read them as soon as it is in the table. */
        uint8_t *q = guard(base, n, lo);
        struct ms__live_block b = {
            .ptr = (uintptr_t)q, .size = n, .lo = (uint32_t)lo, .guarded = 1};
        if (ms__live_add(&ms__check_table, &b)) {
            p = q;
            break;
        }
        if (nrefused == 4) {
            ms__real.free(base); /* out of memory for the table */
            errno = ENOMEM;
            break;
        }
        refused[nrefused++] = base;
    }
    while (nrefused > 0)
        ms__real.free(refused[--nrefused]);
    return p;
}

bool ms__check_adopt(void *p, size_t n, int family)
{
    struct ms__live_block b = {
        .ptr = (uintptr_t)p, .size = n, .family = family == MS_FAMILY_OTHER ? MS_FAMILY_OTHER : 0};
    return ms__live_add(&ms__check_table, &b);
}

void (*ms__check_other_free)(void *p);

void ms__check_release_adopted(void *p, int family)
{
    void (*other)(void *) = __atomic_load_n(&ms__check_other_free, __ATOMIC_ACQUIRE);
    if (family == MS_FAMILY_OTHER && other)
        other(p);
    else if (family != MS_FAMILY_OTHER)
        ms__real.free(p);
    /* else no deallocator known for it: kept (glibc's would abort on it) */
}

/* ---- the quarantine: a ring of freed blocks, oldest first, which each thread's last freed
 * blocks enter 32 at a time (thread_state.h, struct ms__check_stage) ---- */

typedef struct ms__held_block held_t;

/* One ring for the process: the fills and checks are made outside its lock, which guards a
 * few loads and stores of the ring, and the taking of what threads' stages hold. */
static ms__spinlock quarantine_lock;
static held_t *ring;
static size_t ring_cap, ring_head, ring_used;
static uint64_t volume; /* the footprints of the blocks held */
static bool ring_failed, fork_took_quarantine;

/* A block enters a thread's stage when its footprint is no more than this: a stage holds at
 * most 32 blocks and 128 KiB on top of the quarantine's bytes. */
#define STAGE_BLOCK_MAX 4096

/* The freed block a ring entry holds. */
static inline struct ms__live_block held_block(const held_t *h)
{
    return (struct ms__live_block){.ptr = h->ptr, .size = h->size, .lo = h->lo, .guarded = 1};
}

static inline size_t held_footprint(const held_t *h)
{
    struct ms__live_block b = held_block(h);
    return footprint(&b);
}

/* Takes the oldest block out of the ring (not empty; under its lock). */
static held_t pop_oldest(void)
{
    held_t h = ring[ring_head];
    __atomic_store_n(&volume, volume - held_footprint(&h), __ATOMIC_RELAXED);
    __atomic_store_n(&ring_head, (ring_head + 1) % ring_cap, __ATOMIC_RELAXED);
    ring_used--;
    return h;
}

static void release(const struct ms__live_block *b)
{
    ms__real.free((void *)(b->ptr - b->lo));
}

/* What was written over the freed block b since its free: MS_HEAP_USE_AFTER_FREE (in the
 * block) or MS_HEAP_OVERFLOW (in its red zones) at *offset, or -1 for nothing. */
static int damage_after_free(const struct ms__live_block *b, int64_t *offset)
{
    size_t n = (size_t)b->size;
    const uint8_t *p = (const uint8_t *)b->ptr;
    if (!all_of(p, n, MS_CHECK_FREED_BYTE)) {
        *offset = (int64_t)first_not(p, n, MS_CHECK_FREED_BYTE);
        return MS_HEAP_USE_AFTER_FREE;
    }
    return redzone_damage(b, offset) ? MS_HEAP_OVERFLOW : -1;
}

/* The block leaves the quarantine: anything written over it since its free is reported. */
static void leave(const held_t *h, int found, bool free_it)
{
    struct ms__live_block b = held_block(h);
    int64_t offset;
    int kind = damage_after_free(&b, &offset);
    if (kind >= 0)
        report(kind, &b, offset, found);
    if (free_it)
        release(&b);
}

/* The blocks let go under the lock, checked and released once it is released: cap of them in
 * h (the stage's out, or a few on the stack). */
struct evicted {
    held_t *h;
    int n, cap;
};

/* Inlined: on the free path its frame would be one more on the program's stack. */
static inline __attribute__((always_inline)) void evicted_leave(struct evicted *e)
{
    for (int i = 0; i < e->n; i++)
        leave(&e->h[i], MS_FOUND_QUARANTINE, true);
    e->n = 0;
}

/* The ring, made at the first use (under its lock): false when there is none. */
static bool ring_ready(void)
{
    if (!ring && !ring_failed) {
        /* Each block takes 32 bytes at least (16 before, 16 after): the ring never fills
         * before the bytes do. */
        size_t cap = (size_t)(ms__config.quarantine_bytes / 32) + 16;
        void *m = ms__own_map(NULL, cap * sizeof *ring, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (m == MAP_FAILED) {
            ring_failed = true;
        } else {
            /* Atomic: prefetch_leaving reads it without the lock, before it knows of a ring. */
            __atomic_store_n(&ring_cap, cap, __ATOMIC_RELAXED);
            __atomic_store_n(&ring, (held_t *)m, __ATOMIC_RELEASE); /* after its size */
        }
    }
    return ring != NULL;
}

/* Under the lock: h enters the ring, after the oldest blocks leave it into e until the
 * quarantine holds no more than its bytes. False when e filled first: h is not in yet. (The
 * stores prefetch_leaving reads without the lock are atomic.) */
static bool admit(const held_t *h, struct evicted *e)
{
    uint64_t fp = held_footprint(h), cap_bytes = (uint64_t)ms__config.quarantine_bytes;
    while (ring_used > 0 && (ring_used == ring_cap || volume + fp > cap_bytes)) {
        if (e->n == e->cap)
            return false;
        e->h[e->n++] = pop_oldest();
    }
    held_t *slot = &ring[(ring_head + ring_used) % ring_cap];
    __atomic_store_n(&slot->ptr, h->ptr, __ATOMIC_RELAXED);
    __atomic_store_n(&slot->size, h->size, __ATOMIC_RELAXED);
    slot->lo = h->lo;
    ring_used++;
    __atomic_store_n(&volume, volume + fp, __ATOMIC_RELAXED);
    return true;
}

/* The k-th block to leave the ring, read ahead of its leaving (from memory: it was freed long
 * ago). Without the lock: a stale entry is only a useless read, which cannot fault. */
static void prefetch_leaving(size_t k)
{
    const held_t *r = __atomic_load_n(&ring, __ATOMIC_ACQUIRE); /* never unmapped once made */
    size_t cap = __atomic_load_n(&ring_cap, __ATOMIC_RELAXED);
    if (!r || !cap ||
        __atomic_load_n(&volume, __ATOMIC_RELAXED) < (uint64_t)ms__config.quarantine_bytes / 8 * 7)
        return;
    const held_t *next = &r[(__atomic_load_n(&ring_head, __ATOMIC_RELAXED) + k) % cap];
    uintptr_t p = __atomic_load_n(&next->ptr, __ATOMIC_RELAXED);
    uint64_t n = __atomic_load_n(&next->size, __ATOMIC_RELAXED);
    for (uint64_t o = 0; o < n + 16 && o < 1024; o += 64)
        __builtin_prefetch((const char *)p - 16 + o);
}

/* The thread's stage, when it may use it now: not in a signal handler that interrupted its
 * thread in here, nor a thread past its TLS destructors (the orphan slot's). */
static struct ms__check_stage *stage_mine(void)
{
    struct ms__slot *s = ms__tls.slot;
    if (!s || s == ms__orphan_slot ||
        atomic_load_explicit(&s->check_stage.busy, memory_order_relaxed))
        return NULL;
    return &s->check_stage;
}

/* The blocks of the stage st (NULL: none; its owner's, busy), then h (NULL: none), enter the
 * ring, oldest first, under its lock, taken here. False when it could not be taken (a signal
 * handler in this thread's own): nothing done. */
static bool enter(struct ms__check_stage *st, const held_t *h)
{
    if (!ms__spin_lock_plain(&quarantine_lock))
        return false;
    /* Out of the stage before the lock may be let go (in admit): the exit's check then reads
     * none of them, and none is written again while the stage is busy. */
    uint32_t n = st ? atomic_load_explicit(&st->n, memory_order_relaxed) : 0;
    if (n)
        atomic_store_explicit(&st->n, 0, memory_order_relaxed);
    held_t few[4];
    struct evicted e = st ? (struct evicted){.h = st->out, .cap = MS_STAGE_BLOCKS}
                          : (struct evicted){.h = few, .cap = 4};
    bool ready = ring_ready();
    for (uint32_t i = 0; ready && i <= n; i++) {
        const held_t *g = i < n ? &st->held[i] : h;
        while (g && !admit(g, &e)) { /* e is full: checked outside the lock, then on */
            ms__spin_unlock_plain(&quarantine_lock);
            evicted_leave(&e);
            (void)ms__spin_lock_plain(&quarantine_lock); /* not held by this thread: it waits */
        }
    }
    ms__spin_unlock_plain(&quarantine_lock);
    evicted_leave(&e);
    for (uint32_t i = 0; !ready && i <= n; i++) { /* no ring: every block goes back */
        const held_t *g = i < n ? &st->held[i] : h;
        if (g) {
            struct ms__live_block b = held_block(g);
            release(&b);
        }
    }
    return true;
}

static inline void stage_busy(struct ms__check_stage *st, int busy)
{
    if (!st)
        return;
    if (!busy)
        atomic_signal_fence(memory_order_seq_cst);
    atomic_store_explicit(&st->busy, busy, memory_order_relaxed);
    if (busy)
        atomic_signal_fence(memory_order_seq_cst);
}

/* Puts the freed block b (checked) into the quarantine, and lets the oldest go until the
 * quarantine holds no more than its bytes. */
static void quarantine(const struct ms__live_block *b)
{
    held_t h = {.ptr = b->ptr, .size = b->size, .lo = b->lo};
    size_t fp = footprint(b);
    if (fp > (uint64_t)ms__config.quarantine_bytes) {
        release(b); /* too large to hold */
        return;
    }
    struct ms__check_stage *st = stage_mine();
    stage_busy(st, 1);
    uint32_t n = st ? atomic_load_explicit(&st->n, memory_order_relaxed) : 0;
    if (st && fp <= STAGE_BLOCK_MAX && n < MS_STAGE_BLOCKS) {
        st->held[n++] = h;
        atomic_store_explicit(&st->n, n, memory_order_release);
        prefetch_leaving(n - 1); /* this stage's next emptying lets about n blocks go */
        if (n == MS_STAGE_BLOCKS)
            (void)enter(st, NULL); /* or it stays full: this thread holds the ring's lock */
    } else if (!enter(st, &h)) {
        release(b); /* a handler interrupted this thread in here */
    }
    stage_busy(st, 0);
}

void ms__check_thread_exit(void)
{
    struct ms__check_stage *st = stage_mine();
    if (!st || !atomic_load_explicit(&st->n, memory_order_relaxed))
        return;
    stage_busy(st, 1);
    (void)enter(st, NULL);
    stage_busy(st, 0);
}

/* ---- free and realloc ---- */

/* Checks the live block b as it is freed (found: by free or realloc) and hands it on. */
static void retire(const struct ms__live_block *b, int found)
{
    if (!b->guarded) {
        ms__check_release_adopted((void *)b->ptr, b->family);
        return;
    }
    int64_t offset;
    if (redzone_damage(b, &offset)) {
        report(MS_HEAP_OVERFLOW, b, offset, found);
        guard((uint8_t *)b->ptr - b->lo, (size_t)b->size, b->lo); /* reported once */
    }
    memset((void *)b->ptr, MS_CHECK_FREED_BYTE, (size_t)b->size);
    quarantine(b);
}

enum ms_check_free ms__check_free(void *p)
{
    struct ms__live_block b;
    switch (ms__live_take(&ms__check_table, (uintptr_t)p, &b)) {
    case MS_LIVE_FOUND:
        if (!b.guarded)
            return b.family == MS_FAMILY_OTHER ? MS_CHECK_OTHER : MS_CHECK_PLAIN;
        retire(&b, MS_FOUND_FREE);
        return MS_CHECK_FREED;
    case MS_LIVE_BUSY:
        return MS_CHECK_KEPT;
    default:
        return MS_CHECK_UNKNOWN;
    }
}

void *ms__check_realloc(void *old, size_t n, size_t align, bool zero, bool *unknown)
{
    *unknown = false;
    struct ms__live_block b;
    int got = ms__live_take(&ms__check_table, (uintptr_t)old, &b);
    if (got != MS_LIVE_FOUND) {
        *unknown = got == MS_LIVE_ABSENT;
        if (!*unknown)
            errno = ENOMEM; /* BUSY: a handler's realloc of a block its thread is busy with */
        return NULL;
    }
    void *p = ms__check_alloc(n, align, zero);
    if (!p) {
        (void)ms__live_add(&ms__check_table, &b); /* still live, as after a failed realloc */
        errno = ENOMEM;
        return NULL;
    }
    memcpy(p, old, n < b.size ? n : (size_t)b.size);
    retire(&b, MS_FOUND_REALLOC);
    return p;
}

size_t ms__check_resize(void *p, size_t n, size_t extra)
{
    struct ms__live_block b;
    if (ms__live_take(&ms__check_table, (uintptr_t)p, &b) != MS_LIVE_FOUND)
        return 0;
    int64_t offset;
    if (redzone_damage(&b, &offset))
        report(MS_HEAP_OVERFLOW, &b, offset, MS_FOUND_REALLOC);
    /* The most bytes the allocator's block has room for, red zone after them kept whole. */
    size_t room = ms__real.malloc_usable_size((void *)(b.ptr - b.lo));
    size_t most =
        room > b.lo + MS_CHECK_REDZONE ? (room - b.lo - MS_CHECK_REDZONE) & ~(size_t)15 : 0;
    if (n > b.size && n <= most) {
        size_t want = extra > most - n ? most : n + extra;
        b.size = want;
        guard((uint8_t *)b.ptr - b.lo, want, b.lo);
    }
    (void)ms__live_add(&ms__check_table, &b);
    return (size_t)b.size;
}

void ms__check_set_size(void *p, size_t n)
{
    struct ms__live_block b;
    if (ms__live_take(&ms__check_table, (uintptr_t)p, &b) == MS_LIVE_FOUND) {
        b.size = n;
        (void)ms__live_add(&ms__check_table, &b);
    }
}

void ms__check_refused_realloc(void *old)
{
    ms__on_heap_error(MS_HEAP_REFUSED_REALLOC, (uintptr_t)old, 0, 0, MS_FOUND_REALLOC, true);
}

int ms__check_guarded(void *p, size_t *size)
{
    struct ms__live_block b;
    int got = ms__live_find(&ms__check_table, (uintptr_t)p, &b);
    if (got == MS_LIVE_FOUND && !b.guarded)
        return MS_LIVE_ABSENT; /* the allocator's own block */
    *size = (size_t)b.size;
    return got;
}

size_t ms__check_usable_size(void *p)
{
    size_t n;
    switch (ms__check_guarded(p, &n)) {
    case MS_LIVE_FOUND:
        return n;
    case MS_LIVE_BUSY:
        return 0; /* a handler asking about a block its thread is busy with */
    default:
        return ms__real.malloc_usable_size(p);
    }
}

void *ms__check_passthrough_realloc(void *old, size_t n)
{
    size_t had;
    switch (ms__check_guarded(old, &had)) {
    case MS_LIVE_FOUND:
        break;
    case MS_LIVE_BUSY:
        errno = ENOMEM; /* a handler's realloc of a block its thread is busy with */
        return NULL;
    default:
        return ms__real.realloc(old, n);
    }
    void *p = n ? ms__real.malloc(n) : NULL;
    if (p || !n) {
        if (p)
            memcpy(p, old, had < n ? had : n);
        ms__check_release_mine(old);
    }
    return p;
}

bool ms__check_release_mine(void *p)
{
    struct ms__live_block b;
    switch (ms__live_take(&ms__check_table, (uintptr_t)p, &b)) {
    case MS_LIVE_FOUND:
        if (!b.guarded && b.family == MS_FAMILY_OTHER) {
            ms__check_release_adopted(p, MS_FAMILY_OTHER); /* whoever's free was called */
            return true;
        }
        if (!b.guarded)
            return false;
        release(&b);
        return true;
    case MS_LIVE_BUSY:
        return true; /* a handler's free of a block its thread is busy with: left as it is */
    default:
        return false;
    }
}

/* ---- at exit ---- */

/* The damage found at exit, collected under the table's and the quarantine's locks and reported
 * once they are released (a record may flush the buffer, which takes the writer's lock: fork
 * takes that one first). The first EXIT_DAMAGED are reported, the others counted in none. */
#define EXIT_DAMAGED 1024

struct damaged {
    struct ms__live_block b[EXIT_DAMAGED];
    int64_t offset[EXIT_DAMAGED];
    int kind[EXIT_DAMAGED];
    size_t n;
};

static void damaged_add(struct damaged *d, const struct ms__live_block *b, int kind, int64_t offset)
{
    d->b[d->n] = *b;
    d->kind[d->n] = kind;
    d->offset[d->n++] = offset;
}

static void exit_check(const struct ms__live_block *b, void *ctx)
{
    struct damaged *d = ctx;
    int64_t offset;
    if (b->guarded && d->n < EXIT_DAMAGED && redzone_damage(b, &offset))
        damaged_add(d, b, MS_HEAP_OVERFLOW, offset);
}

static void freed_check(const held_t *h, struct damaged *d)
{
    struct ms__live_block b = held_block(h);
    int64_t offset;
    int kind = d->n < EXIT_DAMAGED ? damage_after_free(&b, &offset) : -1;
    if (kind >= 0)
        damaged_add(d, &b, kind, offset);
}

/* The blocks a thread's stage holds (under the ring's lock, which they leave only under). */
static void stage_check(struct ms__slot *s, void *ctx)
{
    struct ms__check_stage *st = &s->check_stage;
    uint32_t n = atomic_load_explicit(&st->n, memory_order_acquire);
    for (uint32_t i = 0; i < n && i < MS_STAGE_BLOCKS; i++)
        freed_check(&st->held[i], ctx);
}

void ms__check_at_finish(void)
{
    static struct damaged d;
    d.n = 0;
    ms__live_each(&ms__check_table, exit_check, &d);
    if (ms__spin_lock_plain(&quarantine_lock)) {
        for (size_t i = 0; i < ring_used; i++)
            freed_check(&ring[(ring_head + i) % ring_cap], &d);
        ms__slots_each(stage_check, &d);
        ms__spin_unlock_plain(&quarantine_lock);
    }
    for (size_t i = 0; i < d.n; i++)
        report(d.kind[i], &d.b[i], d.offset[i], MS_FOUND_EXIT);
}

void ms__check_quarantine_flush(void)
{
    ms__check_thread_exit();
    held_t out[32];
    struct evicted e = {.h = out, .cap = 32};
    for (;;) {
        if (!ms__spin_lock_plain(&quarantine_lock))
            return;
        while (ring_used > 0 && e.n < e.cap)
            e.h[e.n++] = pop_oldest();
        ms__spin_unlock_plain(&quarantine_lock);
        if (!e.n)
            return;
        evicted_leave(&e);
    }
}

void ms__check_fork_prepare(void)
{
    ms__live_lock_all(&ms__check_table);
    fork_took_quarantine = ms__spin_lock_plain(&quarantine_lock);
}

/* Lets go of what ms__check_fork_prepare took, and of nothing when it did not run (the table
 * releases only the shards it took). */
void ms__check_fork_done(void)
{
    if (fork_took_quarantine)
        ms__spin_unlock_plain(&quarantine_lock);
    fork_took_quarantine = false;
    ms__live_unlock_all(&ms__check_table);
}
