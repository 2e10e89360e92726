/* Sampling by bytes (sampler.h). */
#include "sampler.h"
#include "own_memory.h"

#include "config.h"
#include "spinlock.h"
#include "../common/record_codec.h"
#include "../common/sampling.h"
#include "trace_writer.h"

#include <string.h>
#include <sys/mman.h>

uint64_t ms__sample_mean;

void ms__sample_init(void)
{
    ms__sample_mean = ms__config.sample_bytes > 0 ? (uint64_t)ms__config.sample_bytes : 0;
}

/* ---- the call counts ---- */

/* Writes entry e (of to's table, or of a copy) as a record into the slot to, then empties it.
 * When e is to's own, a killed process must leave the counts exactly once: e says where its record
 * ends before the record is committed, and is emptied after (trace_format.h, MS_SPOOL_COUNTS_AT).
 */
void ms__call_count_emit(struct ms__slot *to, struct ms__call_count *e)
{
    if (!e->ip)
        return;
    bool frees = e->ip == MS__COUNTS_FREES; /* entry 0's: no return address is 1 */
    struct ms__buffer *b = &to->b;
    uint8_t *kb;
    /* Timed: a forked child's history (its parent's records before the fork's time) must not
     * take counts written after it. */
    uint8_t *p = ms__rec_begin_at(b, &kb, ms__now());
    p = frees ? ms_ext_put_SAMPLE_FREES(kb, p, e->allocs, e->bytes)
              : ms_ext_put_CALL_COUNTS(kb, p, e->ip, e->allocs, e->bytes);
    uint32_t end = (uint32_t)(p - b->buf);
    /* What a killed process leaves is this thread's stores in program order: the compiler must
     * keep them so (signal fences), the CPU does for one thread. */
    atomic_store_explicit(&e->emitted, end, memory_order_relaxed);
    atomic_signal_fence(memory_order_seq_cst);
    b->pos = p;
    atomic_store_explicit(&b->head->committed, end, memory_order_release);
    atomic_signal_fence(memory_order_seq_cst);
    e->allocs = 0;
    e->bytes = 0;
    e->ip = 0;
    atomic_signal_fence(memory_order_seq_cst);
    atomic_store_explicit(&e->emitted, 0, memory_order_relaxed);
    if (MS_UNLIKELY(p >= b->limit))
        b->full(b);
}

__attribute__((noinline)) void ms__count_call_slow(struct ms__slot *s, uintptr_t ip, uint64_t size)
{
    struct ms__call_count *t = ms__call_counts(s) + 1;
    uint32_t h = ms__call_hash(ip);
    struct ms__call_count *e = NULL;
    for (uint32_t k = 0; k < 4; k++) {
        struct ms__call_count *c = &t[(h + k) & (MS_SPOOL_COUNTS - 2)];
        if (c->ip == ip) {
            c->bytes += size;
            if (++c->allocs == UINT32_MAX)
                ms__call_count_emit(s, c);
            return;
        }
        if (!c->ip && !e)
            e = c; /* the first free one, once ip is not in the others */
    }
    if (!e) { /* no room: the hash's own entry goes out as a record */
        e = &t[h];
        ms__call_count_emit(s, e);
    }
    e->bytes = size;
    e->allocs = 1;
    e->ip = ip;
}

void ms__call_counts_flush(struct ms__slot *s)
{
    struct ms__call_count *t = ms__call_counts(s);
    for (uint32_t i = 0; i < MS_SPOOL_COUNTS; i++)
        ms__call_count_emit(s, &t[i]);
}

/* ---- the counts at a fork ---- */

/* At a fork, every slot's counts not yet written, copied: the child writes them as its first
 * records (its history is its parent's records before the fork, and these), while the parent's
 * threads write theirs later, after the fork's time, for the parent alone. */
static struct ms__call_count *fork_copy;
static size_t fork_copy_slots, fork_copy_cap;

static void count_slot(struct ms__slot *s, void *n)
{
    (void)s;
    ++*(size_t *)n;
}

static void copy_slot(struct ms__slot *s, void *arg)
{
    (void)arg;
    if (fork_copy_slots < fork_copy_cap)
        memcpy(fork_copy + MS_SPOOL_COUNTS * fork_copy_slots++, ms__call_counts(s),
               MS_SPOOL_COUNTS * sizeof *fork_copy);
}

static size_t fork_copy_bytes(void)
{
    return fork_copy_cap * MS_SPOOL_COUNTS * sizeof *fork_copy;
}

void ms__counts_fork_prepare(void)
{
    fork_copy = NULL;
    fork_copy_slots = fork_copy_cap = 0;
    if (!ms__sample_mean)
        return;
    size_t n = 0;
    ms__slots_each_in_use(count_slot, &n);
    fork_copy_cap = n + 8; /* threads that start meanwhile */
    void *m = ms__own_map(NULL, fork_copy_bytes(), PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        fork_copy_cap = 0;
        return;
    }
    fork_copy = m;
    ms__slots_each_in_use(copy_slot, NULL);
}

void ms__counts_fork_parent(void)
{
    if (fork_copy)
        ms__own_unmap(fork_copy, fork_copy_bytes());
    fork_copy = NULL;
}

/* The copies as chunks of their own (CLOCK, then the counts), for a child with no slot to write
 * them into: forked by a signal handler that interrupted a hook (whose slot may be mid-record). */
static void fork_copy_chunks(void)
{
    static struct ms__counts_chunk c; /* the child has one thread */
    for (size_t k = 0; k < fork_copy_slots; k++) {
        ms__counts_chunk_take(&c, fork_copy + k * MS_SPOOL_COUNTS, 0);
        if (c.len)
            ms__writer_events((uint32_t)ms__self_tid(), c.tsc, c.bytes, c.len);
    }
}

void ms__counts_fork_child(struct ms__slot *s)
{
    if (fork_copy && !s)
        fork_copy_chunks();
    for (size_t i = 0; s && fork_copy && i < fork_copy_slots * MS_SPOOL_COUNTS; i++)
        ms__call_count_emit(s, &fork_copy[i]);
    ms__counts_fork_parent();
}

/* ---- the sampled set: open addressing, linear probing, backward-shift deletion ---- */

struct ms__sampled_table *_Atomic ms__sampled_cur;
atomic_uint ms__sampled_seq;
static ms__spinlock set_lock;
static size_t set_used;

#define SET_FIRST_SLOTS 1024u

static struct ms__sampled_table *table_new(size_t slots)
{
    size_t bytes = sizeof(struct ms__sampled_table) + slots * sizeof(uintptr_t);
    void *m = ms__own_map(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    struct ms__sampled_table *t = m;
    t->mask = slots - 1;
    return t;
}

static void table_put(struct ms__sampled_table *t, uintptr_t p)
{
    size_t i = ms__sampled_hash(p) & t->mask;
    while (atomic_load_explicit(&t->keys[i], memory_order_relaxed))
        i = (i + 1) & t->mask;
    atomic_store_explicit(&t->keys[i], p, memory_order_relaxed);
}

/* The writers' side of the seqlock (under set_lock). */
static void write_begin(void)
{
    atomic_fetch_add_explicit(&ms__sampled_seq, 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
}

static void write_end(void)
{
    atomic_fetch_add_explicit(&ms__sampled_seq, 1, memory_order_release);
}

bool ms__sampled_add(uintptr_t p)
{
    if (!ms__spin_lock(&set_lock))
        return false; /* a signal handler interrupted this thread's change of the set */
    struct ms__sampled_table *t = atomic_load_explicit(&ms__sampled_cur, memory_order_relaxed);
    bool ok = true;
    if (!t || (set_used + 1) * 2 > t->mask + 1) {
        /* Grown to twice the size; the old table stays mapped (a reader may still be in it):
         * the tables add up to less than twice the last one. */
        struct ms__sampled_table *n = table_new(t ? 2 * (t->mask + 1) : SET_FIRST_SLOTS);
        if (!n) {
            ok = false;
        } else {
            for (size_t i = 0; t && i <= t->mask; i++) {
                uintptr_t k = atomic_load_explicit(&t->keys[i], memory_order_relaxed);
                if (k)
                    table_put(n, k);
            }
            write_begin();
            atomic_store_explicit(&ms__sampled_cur, n, memory_order_release);
            t = n;
        }
    } else {
        write_begin();
    }
    if (ok) {
        table_put(t, p);
        set_used++;
        write_end();
    }
    ms__spin_unlock(&set_lock);
    return ok;
}

bool ms__sampled_remove(uintptr_t p)
{
    if (!ms__spin_lock(&set_lock))
        return false;
    struct ms__sampled_table *t = atomic_load_explicit(&ms__sampled_cur, memory_order_relaxed);
    bool found = false;
    size_t i = t ? ms__sampled_hash(p) & t->mask : 0;
    for (; t; i = (i + 1) & t->mask) {
        uintptr_t k = atomic_load_explicit(&t->keys[i], memory_order_relaxed);
        if (!k)
            break;
        if (k == p) {
            found = true;
            break;
        }
    }
    if (found) {
        write_begin();
        /* Backward shift: each later key of the run whose home is not between the hole and it
         * moves into the hole. */
        for (size_t j = i;;) {
            j = (j + 1) & t->mask;
            uintptr_t k = atomic_load_explicit(&t->keys[j], memory_order_relaxed);
            if (!k)
                break;
            size_t home = ms__sampled_hash(k) & t->mask;
            if (((j - home) & t->mask) >= ((j - i) & t->mask)) {
                atomic_store_explicit(&t->keys[i], k, memory_order_relaxed);
                i = j;
            }
        }
        atomic_store_explicit(&t->keys[i], 0, memory_order_relaxed);
        set_used--;
        write_end();
    }
    ms__spin_unlock(&set_lock);
    return found;
}

void ms__sampled_after_fork_child(void)
{
    ms__spin_init(&set_lock);
    unsigned seq = atomic_load(&ms__sampled_seq);
    if (seq & 1)
        atomic_store(&ms__sampled_seq, seq + 1); /* a change the fork interrupted is done */
}

/* ---- the decision ---- */

__attribute__((noinline)) bool ms__sample_reached(struct ms__slot *s, uint64_t size)
{
    if (MS_UNLIKELY(!s->sample_rng)) {
        /* The slot's first allocation: its first interval, drawn as every other, so the first
         * allocation is not always sampled. */
        s->sample_rng =
            ms_sample_seed(ms__now() ^ ((uint64_t)ms__self_tid() << 32) ^ (uint64_t)(uintptr_t)s);
        s->sample_left = ms_sample_next(&s->sample_rng, ms__sample_mean);
        if (size < s->sample_left) {
            s->sample_left -= size;
            return false;
        }
    }
    /* Memoryless: the next point is an exponential interval away, wherever this one was. */
    s->sample_left = ms_sample_next(&s->sample_rng, ms__sample_mean);
    return true;
}
