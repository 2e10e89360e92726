/* The registry of per-thread event buffers: attaching a buffer to a new thread, flushing full
 * buffers as EVENTS chunks, and flushing every buffer when the process finishes. */
#define _GNU_SOURCE
#include "thread_state.h"
#include "own_memory.h"

#include "config.h"
#include "own_stack.h"
#include "spinlock.h"
#include "trace_writer.h"

#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

__thread struct ms__tls ms__tls __attribute__((tls_model("initial-exec")));
static pthread_key_t exit_key;
static atomic_ullong dropped;

#define MAX_SLOTS 4096
static struct ms__slot *_Atomic slots[MAX_SLOTS];
struct ms__slot *ms__orphan_slot;
static ms__spinlock orphan_lock;

#define BUFFER_MAP (MS_SPOOL_HEAD + MS_SLOT_BUFFER)

/* Maps the buffer of region r: in the spool if there is one, else in private memory (at fixed
 * when not NULL, replacing what is there). */
static struct ms__spool_head *buffer_map(unsigned r, void *fixed)
{
    struct ms__spool_head *h = ms__spool_map(r, MS_SLOT_BUFFER, fixed);
    if (h)
        return h;
    void *p = ms__own_map(fixed, BUFFER_MAP, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | (fixed ? MAP_FIXED : 0), -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    h = p;
    h->size = MS_SLOT_BUFFER;
    return h;
}

/* Runs fn(arg) on the own stack of slot mine, the calling thread's (or where the thread is, for
 * NULL): flushing and attaching need more stack than the program may have left. */
static void on_own_stack(struct ms__slot *mine, void (*fn)(void *), void *arg)
{
    ms__on_own_stack(mine ? mine->u.own_stack : NULL, fn, arg);
}

static void flush_open(void *s)
{
    ms__slot_flush(s, false);
}

/* A slot's buffer is full (its owner is recording, or a thread holding the orphan slot's lock):
 * write it out, on the owner's own stack. */
static void slot_full(struct ms__buffer *b)
{
    struct ms__slot *s = (struct ms__slot *)b;
    on_own_stack(s == ms__tls.slot ? s : NULL, flush_open, s);
}

static struct ms__slot *slot_new(unsigned region)
{
    void *mem = ms__own_map(NULL, sizeof(struct ms__slot), PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
        return NULL;
    struct ms__slot *s = mem;
    s->region = region;
    struct ms__spool_head *head = buffer_map(region, NULL);
    if (!head) {
        ms__own_unmap(mem, sizeof(struct ms__slot));
        return NULL;
    }
    /* A valid (empty) chunk before the slot is published: a flush of all slots may read it
     * at any moment. */
    ms__buffer_init(&s->b, head, slot_full);
    /* No walk to reuse, stack bounds unknown (the orphan slot keeps them so: no safe walk). */
    ms__unwind_state_reset(&s->u, false);
    s->u.own_stack = ms__own_stack_new(); /* without one, flushes run on the thread's stack */
    return s;
}

/* Finds a free slot in the registry or adds a new one; the caller then owns it. */
static struct ms__slot *slot_acquire(void)
{
    for (int i = 0; i < MAX_SLOTS; i++) {
        struct ms__slot *s = atomic_load_explicit(&slots[i], memory_order_acquire);
        if (!s) {
            /* A region of its own even if another thread races for this registry entry: the
             * loser's mapping of a shared region would reset the winner's head. */
            static atomic_uint next_region = 1;
            struct ms__slot *fresh = slot_new(atomic_fetch_add(&next_region, 1));
            if (!fresh)
                return NULL;
            atomic_store(&fresh->in_use, 1);
            struct ms__slot *expected = NULL;
            if (atomic_compare_exchange_strong(&slots[i], &expected, fresh))
                return fresh;
            ms__own_unmap(fresh->b.head, BUFFER_MAP);
            ms__own_stack_free(fresh->u.own_stack);
            ms__own_unmap(fresh, sizeof(struct ms__slot));
            s = expected;
        }
        int free_flag = 0;
        if (!atomic_load(&s->sealed) && atomic_compare_exchange_strong(&s->in_use, &free_flag, 1)) {
            /* A forked child's first use of a slot of its parent's: its own buffer (the
             * parent's spool is mapped shared, and stays the parent's). */
            if (s->remap && buffer_map(s->region, s->b.head))
                s->remap = 0;
            if (s->remap) {
                atomic_store(&s->in_use, 0);
                return NULL;
            }
            return s;
        }
    }
    return NULL;
}

static void thread_name(char name[MS_THREAD_NAME_MAX + 1])
{
    memset(name, 0, MS_THREAD_NAME_MAX + 1);
    prctl(PR_GET_NAME, name, 0, 0, 0);
}

/* The first record of a thread's stream: its pthread_t and name. */
static void slot_thread_start(struct ms__slot *s)
{
    char name[MS_THREAD_NAME_MAX + 1];
    thread_name(name);
    uint8_t *kind;
    uint8_t *p = ms__rec_begin(&s->b, &kind);
    p = ms_rec_put_THREAD_START(&s->b.base, kind, p, (uint64_t)pthread_self(), name, strlen(name));
    ms__rec_end(&s->b, p);
}

static void attach_rest(void *arg);

struct ms__slot *ms__slot_attach(struct ms__tls *t)
{
    if (t->in_handler)
        return NULL; /* the handler's events are deferred (ms__defer) */
    if (t->dead) {
        if (!ms__orphan_slot || !ms__spin_lock(&orphan_lock))
            return NULL;
        /* Its every record is timed: its threads share it, and an untimed record would carry
         * the time of the chunk's start, which the merge places before the threads' own
         * earlier events (a main thread's pthread_exit then made a peak a third of the real). */
        ms__rec_time_next(&ms__orphan_slot->b);
        return ms__orphan_slot;
    }
    struct ms__slot *s = slot_acquire();
    if (!s) {
        ms__slots_drop();
        return NULL;
    }
    on_own_stack(s, attach_rest, s);
    t->slot = s;
    atomic_store(&s->owner_busy, &t->busy);
    slot_thread_start(s);
    return s;
}

static void live_reset(struct ms__slot *s)
{
    atomic_fetch_add(&s->stats.live.gen, 1);
    atomic_store(&s->stats.live.live_bytes, 0);
    atomic_store(&s->stats.live.live_blocks, 0);
}

/* The slot acquired for a new thread is made its own (on the slot's own stack: asking glibc for
 * the thread's stack bounds takes more than a small stack may have left). */
static void attach_rest(void *arg)
{
    struct ms__slot *s = arg;
    s->b.tid = (uint32_t)ms__self_tid();
    s->b.head->tid = s->b.tid;
    /* The bounds are for the fp and cached walks. */
    ms__unwind_state_reset(&s->u, ms__config.unwind != MS_UNWIND_NONE);
    s->b.task = 0; /* a new thread has no current task (C API), whatever the last one had */
    /* Its counts start from here; the last thread's live blocks count for nobody now. */
    s->stats.base_allocs = s->stats.allocs;
    s->stats.base_frees = s->stats.frees;
    s->stats.base_bytes = s->stats.bytes;
    live_reset(s);
    /* A reused slot's chunk began when its last thread left: restart it with a fresh clock,
     * excluding concurrent flushes of all slots while its pointers change. */
    bool locked = ms__spin_lock(&s->flushing);
    ms__buffer_begin_chunk(&s->b);
    if (locked)
        ms__spin_unlock(&s->flushing);
    pthread_setspecific(exit_key, (void *)1);
}

void ms__orphan_unlock(void)
{
    ms__spin_unlock(&orphan_lock);
}

void ms__counts_chunk_take(struct ms__counts_chunk *c, const void *t, uint32_t committed)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    c->tsc = ms__now();
    c->len = ms_spool_counts_chunk_put(c->bytes, c->tsc,
                                       (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec,
                                       (const uint8_t *)t, committed);
}

/* Flushes s; c: sampling's counts of its head page go with it, taken right after its records'
 * end is read (records and counts stop at nearly the same point), as a chunk of their own. */
static bool slot_flush_in_op(struct ms__slot *s, bool seal, struct ms__counts_chunk *c)
{
    /* Not taken: a fatal-signal handler that interrupted this thread's own flush of s; leave it
     * (its events are still in the spool). */
    if (!ms__spin_lock(&s->flushing))
        return false;
    if (!atomic_load(&s->sealed)) {
        struct ms__buffer *b = &s->b;
        uint32_t committed = atomic_load_explicit(&b->head->committed, memory_order_acquire);
        uint8_t *end = b->buf + committed;
        if (c)
            ms__counts_chunk_take(c, (const uint8_t *)s->b.head + MS_SPOOL_COUNTS_AT, committed);
        bool w = ms__writer_events(b->tid, b->first_tsc, b->buf, (size_t)(end - b->buf));
        if (seal)
            atomic_store(&s->sealed, 1);
        else
            ms__buffer_begin_chunk(b);
        /* The page forgets the counts only once they are in the trace (else the spool, which
         * stays, has them). A thread still running may count a few more meanwhile: lost, as
         * its records after the seal are. */
        if (c && c->len && w && ms__writer_events(s->b.tid, c->tsc, c->bytes, c->len))
            memset((uint8_t *)s->b.head + MS_SPOOL_COUNTS_AT, 0,
                   MS_SPOOL_COUNTS * MS_SPOOL_COUNT_SIZE);
    } else if (!seal) {
        /* Events after the final flush are dropped, but the owner keeps a valid buffer. */
        ms__buffer_begin_chunk(&s->b);
    }
    ms__spin_unlock(&s->flushing);
    return true;
}

/* One output operation from the read of the buffer's end to the last write (trace_writer.h). */
static bool slot_flush(struct ms__slot *s, bool seal, struct ms__counts_chunk *c)
{
    ms__writer_enter();
    bool flushed = slot_flush_in_op(s, seal, c);
    ms__writer_leave();
    return flushed;
}

bool ms__slot_flush(struct ms__slot *s, bool seal)
{
    return slot_flush(s, seal, NULL);
}

struct flush_all {
    struct ms__slot *keep_open;
    bool all;
};

static void flush_all(void *arg)
{
    static struct ms__counts_chunk snap; /* only the finishing thread flushes every slot */
    struct flush_all *f = arg;
    for (int i = 0; i < MAX_SLOTS; i++) {
        struct ms__slot *s = atomic_load_explicit(&slots[i], memory_order_acquire);
        if (!s)
            break;
        if (atomic_load(&s->in_use) && !atomic_load(&s->sealed))
            f->all &= slot_flush(s, s != f->keep_open, &snap);
    }
    if (ms__orphan_slot && !atomic_load(&ms__orphan_slot->sealed))
        f->all &= slot_flush(ms__orphan_slot, true, &snap);
}

bool ms__slot_flush_all(struct ms__slot *keep_open)
{
    struct flush_all f = {keep_open, true};
    on_own_stack(ms__tls.slot, flush_all, &f);
    return f.all;
}

bool ms__slots_quiet(bool (*stopped)(const void *ctx, uint32_t tid), const void *ctx)
{
    for (int i = 0; i < MAX_SLOTS; i++) {
        struct ms__slot *s = atomic_load_explicit(&slots[i], memory_order_acquire);
        if (!s)
            break;
        if (s == ms__tls.slot || !atomic_load(&s->in_use))
            continue;
        /* Its owner's flag is in the owner's TLS: read only while that thread is known to be
         * alive, stopped (a slot whose owner ended without giving it back points to memory
         * gone with the thread). */
        const int *busy = stopped && stopped(ctx, s->b.tid) ? atomic_load(&s->owner_busy) : NULL;
        if (busy && *busy)
            return false;
    }
    return true;
}

void ms__slots_sync_others(uint64_t check)
{
    for (int i = 0; i < MAX_SLOTS; i++) {
        struct ms__slot *s = atomic_load_explicit(&slots[i], memory_order_acquire);
        if (!s)
            break;
        if (s == ms__tls.slot || !atomic_load(&s->in_use) || atomic_load(&s->sealed))
            continue;
        uint8_t *kb;
        uint8_t *p = ms__rec_begin_at(&s->b, &kb, ms__now());
        ms__rec_end(&s->b, ms_ext_put_SYNC(kb, p, check));
        ms__slot_flush(s, false);
    }
}

void ms__slots_each_other(void (*fn)(struct ms__slot *s, void *ctx), void *ctx)
{
    for (int i = 0; i < MAX_SLOTS; i++) {
        struct ms__slot *s = atomic_load_explicit(&slots[i], memory_order_acquire);
        if (s && s != ms__tls.slot && s != ms__orphan_slot && atomic_load(&s->in_use))
            fn(s, ctx);
    }
}

void ms__slots_each_in_use(void (*fn)(struct ms__slot *s, void *ctx), void *ctx)
{
    for (int i = 0; i < MAX_SLOTS; i++) {
        struct ms__slot *s = atomic_load_explicit(&slots[i], memory_order_acquire);
        if (s && atomic_load(&s->in_use))
            fn(s, ctx);
    }
    if (ms__orphan_slot)
        fn(ms__orphan_slot, ctx);
}

void ms__slots_each(void (*fn)(struct ms__slot *s, void *ctx), void *ctx)
{
    for (int i = 0; i < MAX_SLOTS; i++) {
        struct ms__slot *s = atomic_load_explicit(&slots[i], memory_order_acquire);
        if (s)
            fn(s, ctx);
    }
}

void ms__slots_free_ranges_reset(void)
{
    for (int i = 0; i < MAX_SLOTS; i++) {
        struct ms__slot *s = atomic_load_explicit(&slots[i], memory_order_acquire);
        if (s)
            atomic_store_explicit(&s->b.free_span, 0, memory_order_relaxed);
    }
    if (ms__orphan_slot)
        atomic_store_explicit(&ms__orphan_slot->b.free_span, 0, memory_order_relaxed);
}

void ms__slots_live_reset(void)
{
    for (int i = 0; i < MAX_SLOTS; i++) {
        struct ms__slot *s = atomic_load_explicit(&slots[i], memory_order_acquire);
        if (s)
            live_reset(s);
    }
}

void ms__slots_totals(uint64_t *allocs, uint64_t *frees, uint64_t *bytes)
{
    *allocs = *frees = *bytes = 0;
    for (int i = 0; i < MAX_SLOTS; i++) {
        const struct ms__slot *s = atomic_load_explicit(&slots[i], memory_order_acquire);
        if (s) {
            *allocs += atomic_load_explicit(&s->stats.allocs, memory_order_relaxed);
            *frees += atomic_load_explicit(&s->stats.frees, memory_order_relaxed);
            *bytes += atomic_load_explicit(&s->stats.bytes, memory_order_relaxed);
        }
    }
    if (ms__orphan_slot) {
        const struct ms__slot_stats *o = &ms__orphan_slot->stats;
        *allocs += atomic_load_explicit(&o->allocs, memory_order_relaxed);
        *frees += atomic_load_explicit(&o->frees, memory_order_relaxed);
        *bytes += atomic_load_explicit(&o->bytes, memory_order_relaxed);
    }
}

void ms__slot_detach(struct ms__tls *t)
{
    struct ms__slot *s = t->slot;
    if (!s)
        return;
    char name[MS_THREAD_NAME_MAX + 1];
    thread_name(name);
    uint8_t *kind;
    uint8_t *p = ms__rec_begin(&s->b, &kind);
    ms__rec_end(&s->b, ms_rec_put_THREAD_NAME(&s->b.base, kind, p, name, strlen(name)));
    /* Timed: everything this thread did happened before this time, which a thread that joins
     * it orders its own later events after (see ms__rec_time_next). */
    p = ms__rec_begin_at(&s->b, &kind, ms__now());
    ms__rec_end(&s->b, ms_rec_put_THREAD_EXIT(&s->b.base, kind, p));
    on_own_stack(s, flush_open, s);
    t->slot = NULL;
    atomic_store(&s->owner_busy, NULL);
    atomic_store(&s->in_use, 0);
}

int ms__slots_init(void (*thread_exit)(void *))
{
    ms__orphan_slot = slot_new(0);
    if (!ms__orphan_slot || pthread_key_create(&exit_key, thread_exit) != 0)
        return -1;
    atomic_store(&ms__orphan_slot->in_use, 1);
    ms__orphan_slot->b.tid = 0;
    ms__buffer_begin_chunk(&ms__orphan_slot->b);
    return 0;
}

uint64_t ms__slots_dropped(void)
{
    return atomic_load(&dropped);
}

void ms__slots_drop(void)
{
    atomic_fetch_add_explicit(&dropped, 1, memory_order_relaxed);
}

/* In a forked child: the slot a signal handler that forked has set aside (ms__tls.held), whose
 * hook the handler interrupted and will let finish its record there. Its buffer is the parent's
 * (shared): the child gets a private copy to finish into, never written out (that one event is
 * lost, and the events the handler deferred), and the thread attaches a slot of its own at its
 * next event (the handler's return restores ms__tls.held, now NULL). */
static void abandon_held(struct ms__tls *t)
{
    struct ms__slot *s = t->held;
    void *copy =
        ms__own_map(NULL, BUFFER_MAP, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (copy != MAP_FAILED) {
        memcpy(copy, s->b.head, BUFFER_MAP);
        if (ms__own_map(s->b.head, BUFFER_MAP, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED)
            memcpy(s->b.head, copy, BUFFER_MAP);
        ms__own_unmap(copy, BUFFER_MAP);
    }
    atomic_store(&s->sealed, 1); /* never flushed, never given to another thread */
    s->remap = 0;
    for (int i = __atomic_exchange_n(&t->n_deferred, 0, __ATOMIC_RELAXED); i > 0; i--)
        ms__slots_drop();
    t->held = NULL;
}

void ms__slots_after_fork_child(void)
{
    struct ms__slot *mine = ms__tls.slot;
    for (int i = 0; i < MAX_SLOTS; i++) {
        struct ms__slot *s = atomic_load(&slots[i]);
        if (!s)
            break;
        ms__spin_init(&s->flushing);
        if (s != mine) {
            atomic_store(&s->in_use, 0);
            s->remap = 1;
            /* --check: no thread of the child is at this stage (its blocks stay in it, checked
             * at exit, and enter the quarantine with the next thread's) */
            atomic_store(&s->check_stage.busy, 0);
        }
    }
    if (!mine && ms__tls.in_handler && ms__tls.held)
        abandon_held(&ms__tls);
    ms__spin_init(&orphan_lock);
    if (ms__orphan_slot) {
        ms__spin_init(&ms__orphan_slot->flushing);
        if (!buffer_map(0, ms__orphan_slot->b.head))
            ms__orphan_slot = NULL; /* its memory may still be the parent's: never write it */
        else
            ms__buffer_begin_chunk(&ms__orphan_slot->b);
    }
    if (mine && !buffer_map(mine->region, mine->b.head)) {
        ms__tls.slot = NULL; /* no buffer of its own: the events of this thread are dropped */
        atomic_store(&mine->in_use, 0);
        mine->remap = 1;
        mine = NULL;
    }
    if (mine) {
        mine->b.head->tid = (uint32_t)ms__self_tid();
        mine->b.tid = (uint32_t)ms__self_tid();
        mine->u.cache_n = mine->u.cache_log = 0;
        ms__walk_forget(&mine->u);
        ms__buffer_begin_chunk(&mine->b);
        slot_thread_start(mine);
    }
}
