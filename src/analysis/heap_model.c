/* Replays allocation events: a hash table of live blocks (linear probing with backward-shift
 * deletion), call sites indexed by stack id, and per-thread statistics.
 *
 * The table holds only what every model needs (address and size, 16 bytes a slot), so that
 * probing touches as little memory as it can; what the full model also keeps about a block
 * lives in a parallel array at the same index, moved with it. */
#include "heap_model.h"

#include "analysis_pass.h"
#include "pass_queue.h"
#include "annotations.h"
#include "call_sites.h"
#include "common/errors.h"
#include "grow.h"
#include "id_map.h"
#include "misuse.h"
#include "module_owner.h"
#include "passports.h"
#include "peak_order.h"
#include "common/sampling.h"
#include "common/trace_format.h"

#include <stdlib.h>
#include <string.h>

struct block {
    uint64_t ptr; /* 0 = empty slot */
    uint64_t size;
};

/* The full model's part of a live block. */
struct block_info {
    uint64_t alloc_tsc;   /* when it was allocated */
    uint64_t alloc_seq;   /* the allocations replayed before it (every thread's) */
    uint64_t task;        /* the allocating stream's task */
    uint32_t site;        /* index into sites */
    uint32_t thread : 30; /* index into threads */
    uint32_t family : 2;  /* enum ms_family of its allocation */
};

struct ms_heap_model {
    struct ms_summary sum;
    struct block *live;
    struct block_info *info; /* NULL in a totals-only model */
    /* The full model's C API annotations, and each live block's note at the same index as in
     * live (NULL until the trace has an annotation). */
    struct ms_annotations *ann;
    struct ms_block_note *notes;
    /* Passports (full model): the blocks that crossed modules or were stamped, and who owns
     * which stack (NULL until ms_heap_model_set_owners). */
    struct ms_passports *pp;
    struct ms_module_owner *owners;
    struct ms_call_sites calls; /* a sampled trace's exact counts by call site (full model) */
    const struct ms_leak_scan_info *scan;
    struct ms_leak_checks checks; /* the on-demand scans met so far (full model) */
    struct ms_misuse_log misuse;  /* allocator misuse (full model, not with sampling) */
    void (*check_hook)(void *ctx, const struct ms_event *ev);
    void *check_ctx;
    bool finished; /* ms_heap_model_finish ran: a scan set later is applied at once */
    /* A sampled trace's exact totals so far, from its call counts (the summary's at the end). */
    uint64_t counted_allocs, counted_bytes, unsampled_frees, counted_reallocs;
    size_t live_mask, live_used;
    struct ms_site *sites;
    size_t nsites, capsites;
    struct ms_id_map site_of_stack; /* stack id + 1 -> site index */
    uint32_t last_site;
    struct ms_thread_stats *threads;
    size_t nthreads, capthreads;
    uint32_t last_tid, last_thread;
    bool have_last;
    uint64_t epoch;     /* incremented at every new peak */
    uint64_t alloc_seq; /* allocations replayed (weighed: estimated when sampled) */
    /* The analyses the model feeds (pass_queue.h; NULL: none), the events they want
     * (MS_PASS_WANT_*), and the first error one returned. */
    struct ms_pass_queue *pq;
    unsigned pass_on, pass_wants; /* pass_on: pass_wants, or none before the window opens */
    int pass_err;
    /* The report's time window (ms_heap_model_set_window): until it opens at since_tsc the
     * events change the live blocks only (window_waiting); those after until_tsc are not
     * applied. */
    uint64_t since_tsc, until_tsc;
    uint64_t until_allocs; /* or after this many allocations (UINT64_MAX: no such end) */
    uint64_t end_hint;     /* when the window ends, if the caller knows (UINT64_MAX: not) */
    int window_end;        /* enum ms_window_end: what ended it (every event since is dropped) */
    bool window_ends;      /* until_tsc or until_allocs is set */
    bool window_waiting;
    bool totals_only;           /* ms_heap_model_new_totals: no per-site or per-thread statistics */
    bool pp_failed;             /* passports ran out of memory: the replay stops */
    struct ms_peak_order order; /* the peak's bounds over the interleavings the times allow */
    /* pthread_create records whose thread has not started yet: (pthread_t, creator tid). */
    struct {
        uint64_t pthread;
        uint32_t creator;
    } pending[64];
    unsigned npending;
};

/* Block addresses are 16-byte aligned and a heap's blocks lie close together: the low bits
 * spread neighbouring blocks over neighbouring slots without a collision, and the higher bits
 * folded in separate blocks a table size apart (mmap'd blocks, other arenas). Cheaper than a
 * multiplicative mix, and on the churn trace fewer collisions. */
static inline size_t hash_ptr(uint64_t p)
{
    return (size_t)((p >> 4) ^ (p >> 16) ^ (p >> 32));
}

static const char *annotation_text(const void *ann, uint32_t id)
{
    return ms_annotations_string(ann, id);
}

static struct ms_heap_model *model_new(bool totals_only)
{
    struct ms_heap_model *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->totals_only = totals_only;
    m->until_tsc = m->until_allocs = m->end_hint = UINT64_MAX;
    m->live_mask = 1023;
    m->live = calloc(m->live_mask + 1, sizeof *m->live);
    m->info = totals_only ? NULL : calloc(m->live_mask + 1, sizeof *m->info);
    m->ann = totals_only ? NULL : ms_annotations_new();
    m->pp = totals_only ? NULL : ms_passports_new(annotation_text, m->ann);
    if (!m->live || (!totals_only && (!m->info || !m->ann || !m->pp))) {
        free(m->live);
        free(m->info);
        ms_annotations_free(m->ann);
        ms_passports_free(m->pp);
        free(m);
        return NULL;
    }
    return m;
}

struct ms_heap_model *ms_heap_model_new(void)
{
    return model_new(false);
}

struct ms_heap_model *ms_heap_model_new_totals(void)
{
    return model_new(true);
}

struct ms_heap_model *ms_heap_model_clone_totals(const struct ms_heap_model *m)
{
    if (!m->totals_only)
        return NULL;
    struct ms_heap_model *c = malloc(sizeof *c);
    if (!c)
        return NULL;
    *c = *m;
    c->live = malloc((m->live_mask + 1) * sizeof *m->live);
    c->threads = m->capthreads ? malloc(m->capthreads * sizeof *m->threads) : NULL;
    if (!c->live || (m->capthreads && !c->threads)) {
        free(c->live);
        free(c->threads);
        free(c);
        return NULL;
    }
    memcpy(c->live, m->live, (m->live_mask + 1) * sizeof *m->live);
    if (m->capthreads)
        memcpy(c->threads, m->threads, m->capthreads * sizeof *m->threads);
    return c;
}

void ms_heap_model_free(struct ms_heap_model *m)
{
    if (!m)
        return;
    ms_pass_queue_free(m->pq);
    free(m->live);
    free(m->info);
    ms_annotations_free(m->ann);
    ms_passports_free(m->pp);
    free(m->notes);
    free(m->sites);
    ms_id_map_free(&m->site_of_stack);
    free(m->threads);
    ms_peak_order_free(&m->order);
    ms_call_sites_free(&m->calls);
    ms_leak_checks_free(&m->checks);
    ms_misuse_free_log(&m->misuse);
    free(m);
}

static int live_grow(struct ms_heap_model *m)
{
    size_t cap = (m->live_mask + 1) * 2;
    struct block *n = calloc(cap, sizeof *n);
    struct block_info *ni = m->info ? calloc(cap, sizeof *ni) : NULL;
    struct ms_block_note *nn = m->notes ? calloc(cap, sizeof *nn) : NULL;
    if (!n || (m->info && !ni) || (m->notes && !nn)) {
        free(n);
        free(ni);
        free(nn);
        return MS_ENOMEM;
    }
    for (size_t i = 0; i <= m->live_mask; i++) {
        if (!m->live[i].ptr)
            continue;
        size_t j = hash_ptr(m->live[i].ptr) & (cap - 1);
        while (n[j].ptr)
            j = (j + 1) & (cap - 1);
        n[j] = m->live[i];
        if (ni)
            ni[j] = m->info[i];
        if (nn)
            nn[j] = m->notes[i];
    }
    free(m->live);
    free(m->info);
    free(m->notes);
    m->live = n;
    m->info = ni;
    m->notes = nn;
    m->live_mask = cap - 1;
    return 0;
}

static inline __attribute__((always_inline)) struct block *live_find(struct ms_heap_model *m,
                                                                     uint64_t ptr)
{
    for (size_t i = hash_ptr(ptr) & m->live_mask;; i = (i + 1) & m->live_mask) {
        if (m->live[i].ptr == ptr)
            return &m->live[i];
        if (!m->live[i].ptr)
            return NULL;
    }
}

static inline void live_remove(struct ms_heap_model *m, struct block *b)
{
    size_t i = (size_t)(b - m->live);
    size_t j = i;
    for (;;) {
        j = (j + 1) & m->live_mask;
        if (!m->live[j].ptr)
            break;
        size_t home = hash_ptr(m->live[j].ptr) & m->live_mask;
        /* Move j back to i unless its home lies cyclically in (i, j]. */
        if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
            m->live[i] = m->live[j];
            if (m->info)
                m->info[i] = m->info[j];
            if (m->notes)
                m->notes[i] = m->notes[j];
            i = j;
        }
    }
    m->live[i].ptr = 0;
    if (m->notes)
        m->notes[i] = (struct ms_block_note){0};
    m->live_used--;
}

static int site_index(struct ms_heap_model *m, uint32_t stack, uint32_t *out)
{
    /* Consecutive allocations often come from the same call site. */
    if (m->nsites && m->sites[m->last_site].stack == stack) {
        *out = m->last_site;
        return 0;
    }
    uint32_t at;
    if (!ms_id_map_get(&m->site_of_stack, stack + 1, &at)) {
        int err = ms_grow(&m->sites, &m->capsites, m->nsites + 1, sizeof *m->sites, 256);
        if (err || (err = ms_id_map_put(&m->site_of_stack, stack + 1, (uint32_t)m->nsites)))
            return err;
        m->sites[m->nsites].stack = stack;
        at = (uint32_t)m->nsites++;
    }
    *out = m->last_site = at;
    return 0;
}

static int thread_new(struct ms_heap_model *m, uint32_t tid, uint32_t *out)
{
    if (m->nthreads >= (1u << 30))
        return MS_ECORRUPT; /* block_info's thread field */
    int err = ms_grow(&m->threads, &m->capthreads, m->nthreads + 1, sizeof *m->threads, 16);
    if (err)
        return err;
    m->threads[m->nthreads].tid = tid;
    *out = (uint32_t)m->nthreads++;
    m->last_tid = tid;
    m->last_thread = *out;
    m->have_last = true;
    return 0;
}

static inline int thread_index(struct ms_heap_model *m, uint32_t tid, uint32_t *out)
{
    if (m->have_last && m->last_tid == tid) {
        *out = m->last_thread;
        return 0;
    }
    for (size_t i = m->nthreads; i-- > 0;)
        if (m->threads[i].tid == tid) {
            *out = (uint32_t)i;
            m->last_tid = tid;
            m->last_thread = *out;
            m->have_last = true;
            return 0;
        }
    return thread_new(m, tid, out);
}

/* Whether one more block would fill the table beyond its load: a probe that does not end at
 * its first slot, or a removal that shifts a cluster back, ends where the CPU cannot predict,
 * and on the churn trace those mispredictions were most of the summary's model (about 8.8 ns
 * per event a third full, 3.4 a twelfth full: the totals replay less the reader's own time).
 * So tables of up to 2^16 slots (1 MiB; three times that with the full model's parallel array) stay
 * at most a twelfth full, up to 5,461 blocks, and larger ones, whose misses go to memory
 * anyway, a third full, to bound the memory per live block (the table that follows 2^16 slots
 * has 2^17). */
static inline bool live_full(const struct ms_heap_model *m)
{
    size_t slots = m->live_mask + 1;
    return (m->live_used + 1) * (slots <= (1u << 16) ? 12 : 3) > slots;
}

/* The slot of the live block at ptr, or else the empty slot where it would go: one probe. */
static inline __attribute__((always_inline)) size_t live_probe(const struct ms_heap_model *m,
                                                               uint64_t ptr)
{
    size_t i = hash_ptr(ptr) & m->live_mask;
    while (m->live[i].ptr && m->live[i].ptr != ptr)
        i = (i + 1) & m->live_mask;
    return i;
}

/* Before a site's live bytes change: remember its value at the last peak (see header). */
static inline void site_touch(struct ms_heap_model *m, struct ms_site *s)
{
    if (s->peak_epoch != m->epoch) {
        s->peak_bytes = s->live_bytes;
        s->peak_epoch = m->epoch;
    }
}

/* What a block stands for: one block of its size, or in a sampled trace (MEMSCOPE_SAMPLE_BYTES)
 * the n blocks of its size that its sampling represents, n the inverse of its probability of
 * being sampled (common/sampling.h) rounded up or down at random (by a hash of the block's
 * address and size, so that its allocation and its free agree), which keeps n and its bytes
 * unbiased and consistent with each other. */
struct weight {
    uint64_t n, bytes;
};

static __attribute__((noinline)) struct weight sampled_weight(uint64_t mean, uint64_t ptr,
                                                              uint64_t size)
{
    double w = ms_sample_weight(size, mean);
    if (!(w < 1e18))
        w = 1e18; /* a block of 0 bytes is never sampled; a trace that says so is wrong */
    uint64_t whole = (uint64_t)w;
    uint64_t h = ms_sample_seed(ptr ^ (size * 0x9E3779B97F4A7C15ull));
    double u = (double)(h >> 11) * (1.0 / 9007199254740992.0);
    uint64_t n = whole + (u < w - (double)whole);
    return (struct weight){n, n * size};
}

static inline __attribute__((always_inline)) struct weight weigh(const struct ms_heap_model *m,
                                                                 uint64_t ptr, uint64_t size)
{
    if (__builtin_expect(m->sum.sample_bytes == 0, 1))
        return (struct weight){1, size};
    return sampled_weight(m->sum.sample_bytes, ptr, size);
}

/* ---- the analyses' events (analysis_pass.h) ---- */

/* Block b as the analyses see it, into *out; weight: the blocks it stands for (weigh's n). */
static inline void pass_block(const struct ms_heap_model *m, const struct block *b, uint64_t weight,
                              struct ms_pass_block *out)
{
    const struct block_info *bi = &m->info[b - m->live];
    *out = (struct ms_pass_block){.ptr = b->ptr,
                                  .size = b->size,
                                  .alloc_tsc = bi->alloc_tsc,
                                  .alloc_seq = bi->alloc_seq,
                                  .task = bi->task,
                                  .weight = weight,
                                  .site = bi->site,
                                  .thread = bi->thread,
                                  .family = bi->family};
}

/* Block b ends (full model with analyses): why, by event ev of thread. */
static inline void pass_free(struct ms_heap_model *m, const struct block *b, uint64_t weight,
                             enum ms_pass_end why, const struct ms_event *ev, uint32_t thread)
{
    struct ms_pass_free *f = ms_pass_queue_free_slot(m->pq);
    pass_block(m, b, weight, &f->block);
    f->tsc = ev->tsc;
    f->seq = m->alloc_seq;
    f->why = why;
    f->thread = thread;
    f->tid = ev->tid;
}

static inline void pass_alloc(struct ms_heap_model *m, const struct block *b, uint64_t weight,
                              const struct ms_event *ev)
{
    struct ms_pass_alloc *a = ms_pass_queue_alloc_slot(m->pq);
    pass_block(m, b, weight, &a->block);
    a->kind = ev->kind;
    a->tid = ev->tid;
    a->baseline = false;
}

/* Releases block b (NULL: a free of a block the trace never saw allocated); the caller counts
 * the free. Returns the frees it stands for (1 but in a sampled trace), for the freeing thread's
 * count. */
static inline __attribute__((always_inline)) uint64_t
free_block(struct ms_heap_model *m, struct block *b, enum ms_pass_end why,
           const struct ms_event *ev, uint32_t thread)
{
    if (!b) {
        m->sum.unknown_frees++;
        return 1;
    }
    struct weight w = weigh(m, b->ptr, b->size);
    if (m->totals_only) {
        m->sum.live_bytes -= w.bytes;
        m->sum.live_blocks -= w.n;
        live_remove(m, b);
        return w.n;
    }
    if (__builtin_expect(m->pass_on & MS_PASS_WANT_FREE, 0))
        pass_free(m, b, w.n, why, ev, thread);
    const struct block_info *bi = &m->info[b - m->live];
    struct ms_site *s = &m->sites[bi->site];
    struct ms_thread_stats *t = &m->threads[bi->thread];
    if (t->alloc_seq == bi->alloc_seq + 1 && !m->sum.sample_bytes) {
        /* Not with sampling: the thread's allocations between two samples are not known. */
        s->temporary++;
        t->temporary++;
        m->sum.temporary_allocs++;
    }
    site_touch(m, s);
    s->live_bytes -= w.bytes;
    s->live_blocks -= w.n;
    t->live_bytes -= w.bytes;
    if (__builtin_expect(m->notes != NULL, 0))
        ms_annotations_on_free(m->ann, &m->notes[b - m->live], bi->thread, b->size);
    m->sum.live_bytes -= w.bytes;
    m->sum.live_blocks -= w.n;
    live_remove(m, b);
    return w.n;
}

/* The live block at ptr, or NULL. 0 marks empty slots; the reader never delivers a NULL block. */
static inline struct block *live_at(struct ms_heap_model *m, uint64_t ptr)
{
    return ptr ? live_find(m, ptr) : NULL;
}

/* The summary's share of an allocation (its block is in the table). */
static inline __attribute__((always_inline)) void
count_alloc(struct ms_heap_model *m, const struct ms_event *ev, struct weight w)
{
    m->sum.allocs += w.n;
    m->sum.bytes_allocated += w.bytes;
    m->sum.live_bytes += w.bytes;
    m->sum.live_blocks += w.n;
    if (m->sum.live_bytes > m->sum.peak_bytes) {
        m->sum.peak_bytes = m->sum.live_bytes;
        m->sum.peak_tsc = ev->tsc;
        m->epoch++;
    }
}

/* The owner of site s's blocks (module key + 1; 1: none). */
static uint32_t site_owner(struct ms_heap_model *m, struct ms_site *s, uint64_t tsc)
{
    if (!s->owner)
        s->owner = ms_module_owner_of(m->owners, s->stack, 0, tsc) + 1;
    return s->owner;
}

/* The passport of block b (full model), freed by thread t from its module t->freer: a block
 * stamped, or one whose owner is another module, has one. Frees at exit-time freeing belong to
 * the runtime. */
static __attribute__((noinline)) void passport_free(struct ms_heap_model *m,
                                                    struct ms_thread_stats *t, struct block *b,
                                                    uint32_t free_stack, uint64_t tsc)
{
    size_t i = (size_t)(b - m->live);
    uint32_t pp = m->notes ? m->notes[i].passport : 0;
    struct ms_site *s = &m->sites[m->info[i].site];
    if (m->sum.freeres_tsc || (!pp && !t->freer))
        return;
    uint32_t owner = site_owner(m, s, tsc) - 1;
    if (!pp && (!owner || owner == t->freer))
        return;
    if (ms_passports_on_free(m->pp, pp, b->ptr, b->size, s->stack, owner, t->freer, free_stack))
        m->pp_failed = true;
}

/* The module of the caller of the free ev made by thread t (its key, 0: unknown). */
static inline uint32_t freer_of(struct ms_heap_model *m, struct ms_thread_stats *t,
                                const struct ms_event *ev)
{
    if (ev->free_stack != t->free_stack || ev->free_ip != t->free_ip) {
        t->free_stack = ev->free_stack;
        t->free_ip = ev->free_ip;
        t->freer = ms_module_owner_of(m->owners, ev->free_stack, ev->free_ip, ev->tsc);
    }
    return t->freer;
}

static struct block *live_containing(struct ms_heap_model *m, uint64_t p);

/* What the misuse log is told of the live block b. */
static struct ms_misuse_block misuse_block(const struct ms_heap_model *m, const struct block *b)
{
    const struct block_info *bi = &m->info[b - m->live];
    return (struct ms_misuse_block){b->ptr, b->size, bi->family, m->sites[bi->site].stack};
}

/* The misuse log's part of a free by a call of family (MS_MISUSE_BY_REALLOC set for a realloc,
 * of family 0 or 3) of the block b
 * (NULL: none is live at ptr) from stack (0: not recorded), before the model applies it: a free
 * of no live block is an error (the block containing ptr, if any, is looked for: the errors
 * described are few), one of the wrong family is one too, and a block freed is remembered. */
static __attribute__((noinline)) void misuse_free(struct ms_heap_model *m, struct block *b,
                                                  uint64_t ptr, int family, uint32_t stack,
                                                  const struct ms_event *ev)
{
    if (!b) {
        struct block *in = m->misuse.n < MS_MISUSE_KEPT ? live_containing(m, ptr) : NULL;
        struct ms_misuse_block ib = in ? misuse_block(m, in) : (struct ms_misuse_block){0};
        ms_misuse_bad_free(&m->misuse, ptr, family, stack, ev->tsc, ev->tid, in ? &ib : NULL);
        return;
    }
    struct ms_misuse_block fb = misuse_block(m, b);
    int expected = family & ~MS_MISUSE_BY_REALLOC;
    if (fb.family != expected)
        ms_misuse_mismatch(&m->misuse, &fb, family, stack, ev->tsc, ev->tid);
    ms_misuse_freed(&m->misuse, &fb, family, stack, ev->tsc, ev->tid);
}

static inline bool misuse_on(const struct ms_heap_model *m)
{
    return m->info && !m->sum.sample_bytes;
}

/* --check's HEAP_ERROR (common/record_table.h). x: error, ptr, size, offset, found, stack */
static __attribute__((noinline)) int heap_error(struct ms_heap_model *m, const struct ms_event *ev)
{
    if (ev->x[0] == MS_HEAP_REFUSED_REALLOC)
        m->sum.unknown_frees++; /* a realloc of no block allocated */
    else
        m->sum.heap_errors++;
    if (!misuse_on(m) || ev->x[4] > MS_FOUND_EXIT || ev->x[5] > UINT32_MAX)
        return 0;
    uint64_t ptr = ev->x[1];
    struct block *b = live_at(m, ptr);
    if (ev->x[0] == MS_HEAP_REFUSED_REALLOC) {
        if (!b) /* else the capture's table and the trace disagree: nothing to say */
            misuse_free(m, NULL, ptr, MS_MISUSE_BY_REALLOC, (uint32_t)ev->x[5], ev);
        return 0;
    }
    if (ev->x[0] != MS_HEAP_OVERFLOW && ev->x[0] != MS_HEAP_USE_AFTER_FREE)
        return 0;
    struct ms_misuse_block lb = b ? misuse_block(m, b) : (struct ms_misuse_block){0};
    ms_misuse_heap_error(
        &m->misuse, ev->x[0] == MS_HEAP_OVERFLOW ? MS_MISUSE_OVERFLOW : MS_MISUSE_USE_AFTER_FREE,
        ptr, ev->x[2], (int64_t)ev->x[3], (int)ev->x[4], (uint32_t)ev->x[5], ev->tsc, ev->tid,
        b ? &lb : NULL);
    return 0;
}

/* A free (event ev) by thread of block b (NULL: never seen allocated), counted and applied;
 * full: the model may be a full one (false in the totals model's fast path). */
static inline __attribute__((always_inline)) void do_free(struct ms_heap_model *m, uint32_t thread,
                                                          struct block *b,
                                                          const struct ms_event *ev, bool full)
{
    m->sum.events++;
    struct ms_thread_stats *t = &m->threads[thread];
    m->sum.frees++;
    /* The FREE_CALLER record's stack is this free's own only right after it. */
    uint32_t free_stack = ev->free_own ? ev->free_stack : 0;
    if (full && misuse_on(m))
        misuse_free(m, b, ev->ptr, ev->family, free_stack, ev);
    if (full && m->pp) {
        uint64_t tsc = ev->tsc;
        freer_of(m, t, ev);
        size_t i = b ? (size_t)(b - m->live) : 0;
        if (b &&
            (m->sites[m->info[i].site].owner != t->freer + 1 || (m->notes && m->notes[i].passport)))
            passport_free(m, t, b, free_stack, tsc);
    }
    t->frees += free_block(m, b, MS_PASS_FREED, ev, thread);
}

static inline __attribute__((always_inline)) int
do_alloc(struct ms_heap_model *m, const struct ms_event *ev, uint32_t thread)
{
    if (!ev->ptr)
        return MS_ECORRUPT;
    uint32_t si = 0;
    int err = m->totals_only ? 0 : site_index(m, ev->stack, &si);
    if (err)
        return err;
    if (live_full(m) && (err = live_grow(m)) != 0)
        return err;
    /* One probe finds either the address (the trace lost its free: account the old block as
     * freed now) or the empty slot to insert into. */
    size_t i = live_probe(m, ev->ptr);
    if (m->live[i].ptr) {
        if (!ev->forced)
            return MS_REPLAY_WANT_FREE; /* nothing has changed yet */
        m->sum.reused_live++;
        free_block(m, &m->live[i], MS_PASS_LOST, ev, thread);
        i = live_probe(m, ev->ptr);
    }
    m->live_used++;
    struct weight w = weigh(m, ev->ptr, ev->size);
    if (__builtin_expect(m->sum.sample_bytes != 0, 0))
        m->sum.sampled_allocs++;
    if (!m->totals_only) {
        struct ms_site *s = &m->sites[si];
        struct ms_thread_stats *t = &m->threads[thread];
        s->allocs += w.n;
        s->bytes += w.bytes;
        t->allocs += w.n;
        t->bytes += w.bytes;
        t->alloc_seq = m->alloc_seq + 1;
        m->live[i] = (struct block){ev->ptr, ev->size};
        m->info[i] = (struct block_info){ev->tsc, m->alloc_seq, ev->task,
                                         si,      thread,       (uint32_t)ev->family & 3};
        if (__builtin_expect(m->notes != NULL, 0))
            ms_annotations_on_alloc(m->ann, ev, thread, &m->notes[i]);
        site_touch(m, s); /* before the change, and before a new peak's epoch */
        s->live_bytes += w.bytes;
        s->live_blocks += w.n;
        t->live_bytes += w.bytes;
        if (t->live_bytes > t->peak_bytes)
            t->peak_bytes = t->live_bytes;
        m->alloc_seq += w.n; /* in a sampled trace an estimate, as the other counts */
        if (__builtin_expect(m->pass_on & MS_PASS_WANT_ALLOC, 0))
            pass_alloc(m, &m->live[i], w.n, ev);
    } else {
        m->live[i] = (struct block){ev->ptr, ev->size};
    }
    count_alloc(m, ev, w);
    return 0;
}

static void set_name(struct ms_thread_stats *t, const struct ms_event *ev)
{
    size_t n = ev->name_len < sizeof t->name - 1 ? ev->name_len : sizeof t->name - 1;
    memcpy(t->name, ev->name, n);
    t->name[n] = 0;
}

/* Links the thread with handle pthread to its creator: the child may have started (and been
 * replayed) before the creator's record of pthread_create, or after it. */
static void link_creator(struct ms_heap_model *m, uint64_t pthread, uint32_t creator)
{
    for (size_t i = m->nthreads; i-- > 0;)
        if (m->threads[i].pthread == pthread && !m->threads[i].creator_tid &&
            m->threads[i].tid != creator) {
            m->threads[i].creator_tid = creator;
            return;
        }
    if (m->npending == sizeof m->pending / sizeof *m->pending)
        m->npending--; /* forget the oldest-but-one: a lost link only loses the column */
    m->pending[m->npending].pthread = pthread;
    m->pending[m->npending].creator = creator;
    m->npending++;
}

/* The live block that contains address p (an interior pointer too), or NULL. Interior pointers
 * are looked for through the whole table: the C API names blocks far less often than the
 * program allocates them. */
static struct block *live_containing(struct ms_heap_model *m, uint64_t p)
{
    struct block *b = live_at(m, p);
    for (size_t i = 0; !b && p && i <= m->live_mask; i++)
        if (m->live[i].ptr && m->live[i].ptr < p && p - m->live[i].ptr < m->live[i].size)
            b = &m->live[i];
    return b;
}

/* A record of the C API (full model only): the first one makes room for the blocks' notes. */
static __attribute__((noinline)) int annotation(struct ms_heap_model *m, const struct ms_event *ev,
                                                uint32_t thread)
{
    if (!m->notes && !(m->notes = calloc(m->live_mask + 1, sizeof *m->notes)))
        return MS_ENOMEM;
    if (ev->kind == MS_REC_EXTENDED && ev->value == MS_EXT_TASK_CPU) {
        /* x: tid, task, cpu_ns: a TASK record of that thread, as it would have written one */
        uint32_t other;
        if (ev->x[0] > UINT32_MAX || thread_index(m, (uint32_t)ev->x[0], &other) != 0)
            return 0;
        struct ms_event t = {.kind = MS_REC_TASK, .tid = (uint32_t)ev->x[0], .tsc = ev->tsc};
        t.value = t.task = ev->x[1];
        t.size = ev->x[2];
        return ms_annotations_event(m->ann, &t, other);
    }
    if (ev->kind != MS_REC_EXTENDED ||
        (ev->value != MS_EXT_VARIABLE && ev->value != MS_EXT_MOVE &&
         ev->value != MS_EXT_REF_ACQUIRE && ev->value != MS_EXT_REF_RELEASE &&
         ev->value != MS_EXT_PASSPORT))
        return ms_annotations_event(m->ann, ev, thread);
    /* VARIABLE x: ptr, ...; MOVE x: from, to; REF_* x: obj, holder; PASSPORT x: ptr, ... */
    struct block *b = live_containing(m, ev->x[0]);
    struct block *to = ev->value == MS_EXT_MOVE ? live_containing(m, ev->x[1]) : b;
    if (!b || !to) {
        /* In a sampled trace most blocks are not in it: their annotations are no error. */
        if (!m->sum.sample_bytes)
            ms_annotations_error(m->ann, MS_API_UNKNOWN_POINTER);
        return 0;
    }
    size_t i = (size_t)(b - m->live), j = (size_t)(to - m->live);
    struct ms_site *site = &m->sites[m->info[j].site];
    if (ev->value == MS_EXT_REF_ACQUIRE || ev->value == MS_EXT_REF_RELEASE) {
        /* The holder is named by its block's start (0: a root). */
        const struct block *h = ev->x[1] ? live_containing(m, ev->x[1]) : NULL;
        return ms_annotations_ref(m->ann, ev->value == MS_EXT_REF_ACQUIRE, &m->notes[i], b->ptr,
                                  b->size, site->stack, h ? h->ptr : ev->x[1], ev->tsc);
    }
    if (ev->value == MS_EXT_PASSPORT) {
        int err = ms_passports_stamp(m->pp, &m->notes[i].passport, b->ptr, b->size, site->stack,
                                     site_owner(m, site, ev->tsc) - 1, ev);
        if (err == MS_PASSPORT_NOT_HANDED)
            ms_annotations_error(m->ann, MS_API_NOT_HANDED_OVER);
        return err > 0 ? 0 : err;
    }
    if (ev->value == MS_EXT_MOVE) {
        ms_annotations_move(m->ann, &m->notes[i], &m->notes[j], to->size, to->ptr, site->stack);
        if (i != j && m->notes[i].passport && !m->notes[j].passport) {
            /* (A target with a passport of its own keeps it, and the source keeps its own.) */
            m->notes[j].passport = m->notes[i].passport;
            m->notes[i].passport = 0;
            ms_passports_moved(m->pp, m->notes[j].passport, to->ptr, to->size);
        }
        return 0;
    }
    if (!site->var_name) {
        site->var_name = ev->x[1] <= UINT32_MAX ? (uint32_t)ev->x[1] : 0;
        site->var_type = ev->x[2] <= UINT32_MAX ? (uint32_t)ev->x[2] : 0;
    }
    return ms_annotations_name(m->ann, ev, b->ptr, b->size, site->stack, &m->notes[i]);
}

/* The sampling records (x: their fields, record_table.h). */
/* The live block at ptr for an on-demand check: its size and allocation stack. */
/* The facts of the live block b (sites and names known only to a model that keeps them). */
static struct ms_block_facts facts_of(const struct ms_heap_model *m, const struct block *b)
{
    size_t i = (size_t)(b - m->live);
    const struct ms_block_note *note = m->notes ? &m->notes[i] : NULL;
    const struct ms_variable *v =
        note && note->var && m->ann ? ms_annotations_variable(m->ann, note->var - 1) : NULL;
    return (struct ms_block_facts){b->size, m->info ? m->info[i].site : 0, v ? v->name : 0};
}

static bool check_block(const void *ctx, uint64_t ptr, struct ms_check_block *out)
{
    const struct ms_heap_model *m = ctx;
    const struct block *b = ptr ? live_find((struct ms_heap_model *)m, ptr) : NULL;
    if (!b)
        return false;
    struct ms_block_facts f = facts_of(m, b);
    *out = (struct ms_check_block){f.size, m->info ? m->sites[f.site].stack : 0, f.name};
    return true;
}

/* An on-demand leak scan (LEAK_CHECK), with the heap as it is now. */
static __attribute__((noinline)) int leak_check(struct ms_heap_model *m, const struct ms_event *ev)
{
    return ms_leak_checks_add(&m->checks, ev, m->sum.live_bytes, m->sum.live_blocks, check_block,
                              m);
}

static __attribute__((noinline)) int sampling(struct ms_heap_model *m, const struct ms_event *ev)
{
    switch (ev->value) {
    case MS_EXT_CALL_COUNTS:
        m->counted_allocs += ev->x[1];
        m->counted_bytes += ev->x[2];
        return m->totals_only || !ev->x[0]
                   ? 0
                   : ms_call_sites_add(&m->calls, ev->x[0], ev->x[1], ev->x[2]);
    default: /* MS_EXT_SAMPLE_FREES */
        m->unsampled_frees += ev->x[0];
        m->counted_reallocs += ev->x[1];
        return 0;
    }
}

static inline __attribute__((always_inline)) int
apply_event(struct ms_heap_model *m, const struct ms_event *ev, uint32_t thread)
{
    int err;
    if (!m->sum.first_tsc)
        m->sum.first_tsc = ev->tsc;
    if (ev->tsc > m->sum.last_tsc)
        m->sum.last_tsc = ev->tsc;
    /* The two most frequent kinds first, before the jump table of the rest. */
    if (ev->kind == MS_REC_FREE) {
        struct block *b = live_at(m, ev->ptr);
        if (!b && !ev->forced)
            return MS_REPLAY_WANT_ALLOC;
        do_free(m, thread, b, ev, true);
        return 0;
    }
    if (ev->kind == MS_REC_ALLOC || ev->kind == MS_REC_ALLOC_ALIGNED) {
        if ((err = do_alloc(m, ev, thread)) == 0)
            m->sum.events++;
        return err;
    }
    switch (ev->kind) {
    case MS_REC_REALLOC: {
        struct block *b = live_at(m, ev->old_ptr);
        if (!ev->forced && !b)
            return MS_REPLAY_WANT_ALLOC_OLD;
        if (!ev->forced && ev->ptr != ev->old_ptr && live_at(m, ev->ptr))
            return MS_REPLAY_WANT_FREE;
        m->sum.events++;
        m->sum.realloc_calls++;
        m->sum.frees++;
        /* The old block's name and object go to the new block. */
        uint32_t var = 0, obj = 0, pp = 0;
        if (m->notes && b) {
            struct ms_block_note *n = &m->notes[b - m->live];
            var = n->var;
            obj = n->obj;
            pp = n->passport;
            n->var = n->obj = n->passport = 0;
        }
        if (misuse_on(m) && (b || ev->old_ptr))
            misuse_free(m, b, ev->old_ptr, MS_MISUSE_BY_REALLOC | (ev->family & 3), ev->stack, ev);
        m->threads[thread].frees += free_block(m, b, MS_PASS_REALLOCED, ev, thread);
        struct ms_event forced = *ev;
        forced.forced = true; /* the old block is gone: its address may be returned again */
        if ((err = do_alloc(m, &forced, thread)) != 0 || !(var | obj | pp))
            return err;
        b = live_find(m, ev->ptr);
        struct ms_block_note *n = &m->notes[b - m->live];
        n->var = var;
        n->obj = obj;
        n->passport = pp;
        ms_annotations_adopt(m->ann, n, b->ptr, b->size, m->sites[m->info[b - m->live].site].stack);
        return 0;
    }
    case MS_REC_THREAD_START:
        /* A thread id seen again after its thread exited belongs to a new thread. */
        if (m->threads[thread].exited || m->threads[thread].allocs || m->threads[thread].frees ||
            m->threads[thread].pthread) {
            if ((err = thread_new(m, ev->tid, &thread)) != 0)
                return err;
        }
        m->threads[thread].pthread = ev->value;
        set_name(&m->threads[thread], ev);
        for (unsigned i = 0; i < m->npending; i++)
            if (m->pending[i].pthread == ev->value) {
                m->threads[thread].creator_tid = m->pending[i].creator;
                m->pending[i] = m->pending[--m->npending];
                break;
            }
        if (ev->tid != 0)
            m->sum.threads++;
        return 0;
    case MS_REC_THREAD_NAME:
        set_name(&m->threads[thread], ev);
        return 0;
    case MS_REC_THREAD_CREATE:
        link_creator(m, ev->value, m->threads[thread].tid);
        return 0;
    case MS_REC_THREAD_EXIT:
        m->threads[thread].exited = true;
        return 0;
    case MS_REC_FREERES:
        m->sum.freeres_tsc = ev->tsc;
        return 0;
    case MS_REC_EXTENDED:
        if (ev->value == MS_EXT_BACKEND) {
            /* x: backend, reason */
            m->sum.backend = ev->x[0] <= MS_BACKEND_ASYNC ? (uint32_t)ev->x[0] : 0;
            m->sum.backend_reason = ev->x[1] <= MS_BACKEND_BY_SCAN_AT_PEAK ? (uint32_t)ev->x[1] : 0;
            return 0;
        }
        if (ev->value == MS_EXT_FREE_FAULT) {
            /* x: ptr, realloc, signal, stack */
            m->sum.free_faults++;
            if (misuse_on(m) && ev->x[2] < 65 && ev->x[3] <= UINT32_MAX) {
                struct block *b = live_at(m, ev->x[0]);
                struct ms_misuse_block lb = b ? misuse_block(m, b) : (struct ms_misuse_block){0};
                ms_misuse_fault(&m->misuse, ev->x[0], ev->x[1] != 0, (int)ev->x[2],
                                (uint32_t)ev->x[3], ev->tsc, ev->tid, b ? &lb : NULL);
            }
            return 0;
        }
        if (ev->value == MS_EXT_CHECK) {
            /* x: redzone, quarantine */
            if (misuse_on(m))
                ms_misuse_quarantine(&m->misuse, ev->x[1]);
            return 0;
        }
        if (ev->value == MS_EXT_HEAP_ERROR)
            return heap_error(m, ev);
        if (ev->value == MS_EXT_FREE_CALLER || ev->value == MS_EXT_SYNC)
            return 0; /* the reader gives each free its caller (ms_event.free_ip); SYNC orders */
        if (ev->value == MS_EXT_LEAK_CHECK) {
            if (m->check_hook)
                m->check_hook(m->check_ctx, ev);
            return m->totals_only ? 0 : leak_check(m, ev);
        }
        if (ev->value == MS_EXT_CALL_COUNTS || ev->value == MS_EXT_SAMPLE_FREES)
            return sampling(m, ev);
        /* fall through */
    case MS_REC_TASK:
    case MS_REC_STRING:
        return m->totals_only ? 0 : annotation(m, ev, thread);
    default:
        return 0;
    }
}

/* The totals model's allocations, frees and reallocs of the thread of the event before, when
 * they find the table as they expect (a free of a live block, an allocation at a free address,
 * room to insert): exactly what apply_event does for them, in few instructions, since `memscope
 * run`'s summary replays every event of the program while it runs. Returns 1 when it did the event,
 * 0 when the general path must (nothing changed then). */
static inline __attribute__((always_inline)) int totals_fast(struct ms_heap_model *m,
                                                             const struct ms_event *ev)
{
    if (!m->have_last || m->last_tid != ev->tid || !m->sum.first_tsc || ev->forced || !ev->ptr ||
        m->sum.sample_bytes)
        return 0;
    if (ev->kind == MS_REC_FREE) {
        struct block *b = live_find(m, ev->ptr);
        if (!b)
            return 0; /* not live: the general path asks for its allocation */
        do_free(m, m->last_thread, b, ev, false);
    } else if (ev->kind == MS_REC_ALLOC) {
        if (live_full(m))
            return 0; /* the general path grows the table */
        size_t i = live_probe(m, ev->ptr);
        if (m->live[i].ptr)
            return 0; /* still live: the general path asks for its free */
        m->live[i] = (struct block){ev->ptr, ev->size};
        m->live_used++;
        m->sum.events++;
        count_alloc(m, ev, (struct weight){1, ev->size});
    } else if (ev->kind == MS_REC_REALLOC) {
        /* The old block live, the new address free (or the same), room to insert. */
        struct block *b = ev->old_ptr ? live_find(m, ev->old_ptr) : NULL;
        if (!b || live_full(m) || (ev->ptr != ev->old_ptr && m->live[live_probe(m, ev->ptr)].ptr))
            return 0;
        m->sum.events++;
        m->sum.realloc_calls++;
        m->sum.frees++;
        m->threads[m->last_thread].frees += free_block(m, b, MS_PASS_REALLOCED, ev, m->last_thread);
        size_t i = live_probe(m, ev->ptr); /* the removal may have moved the slots */
        m->live[i] = (struct block){ev->ptr, ev->size};
        m->live_used++;
        count_alloc(m, ev, (struct weight){1, ev->size});
    } else {
        return 0;
    }
    if (ev->tsc > m->sum.last_tsc)
        m->sum.last_tsc = ev->tsc;
    return 1;
}

/* The report's time window opens before event ev: what counted before it starts again from the
 * heap as it is (the live blocks stay, with their sites' and threads' live bytes), and the
 * analyses are handed the live blocks as their baseline. Returns 0 or a pass's error. */
static __attribute__((noinline)) int window_open(struct ms_heap_model *m)
{
    m->window_waiting = false;
    struct ms_summary *s = &m->sum;
    s->allocs = s->frees = s->realloc_calls = s->bytes_allocated = s->temporary_allocs = 0;
    s->unknown_frees = s->reused_live = s->free_faults = s->heap_errors = s->events = 0;
    s->peak_bytes = s->window_live_bytes = s->live_bytes;
    s->window_live_blocks = s->live_blocks;
    s->peak_tsc = m->since_tsc;
    m->epoch++; /* every site's value at the peak is its value now */
    ms_peak_order_restart(&m->order);
    for (size_t i = 0; i < m->nsites; i++)
        m->sites[i].allocs = m->sites[i].bytes = m->sites[i].temporary = 0;
    for (size_t i = 0; i < m->nthreads; i++) {
        struct ms_thread_stats *t = &m->threads[i];
        t->allocs = t->frees = t->bytes = t->temporary = 0;
        t->peak_bytes = t->live_bytes;
    }
    ms_misuse_forget_errors(&m->misuse);
    m->pass_on = m->pass_wants;
    if (!m->pq || !(m->pass_on & MS_PASS_WANT_ALLOC))
        return 0;
    for (size_t i = 0; i <= m->live_mask; i++) {
        if (!m->live[i].ptr)
            continue;
        struct ms_pass_alloc *a = ms_pass_queue_alloc_slot(m->pq);
        pass_block(m, &m->live[i], weigh(m, m->live[i].ptr, m->live[i].size).n, &a->block);
        a->kind = MS_REC_ALLOC;
        a->tid = m->threads[m->info[i].thread].tid;
        a->baseline = true;
        if ((m->pass_err = ms_pass_queue_commit(m->pq)) != 0)
            return m->pass_err;
    }
    return 0;
}

/* Every other event, and every event of the full model. */
static __attribute__((noinline)) int apply_general(struct ms_heap_model *m,
                                                   const struct ms_event *ev)
{
    int err;
    if (__builtin_expect(m->window_waiting, 0) &&
        (ev->tsc >= m->since_tsc || ev->tsc > m->until_tsc || m->alloc_seq >= m->until_allocs) &&
        (err = window_open(m)) != 0)
        return err;
    /* The window ends at the first event of the replay past it: every later one is left out
     * too, whatever its time (the replay's order is not the times' where threads overlap), so
     * that the window is a stretch of the replay and a conflict's repair never straddles it. */
    if (__builtin_expect(m->window_ends, 0) &&
        (m->window_end || ev->tsc > m->until_tsc || m->alloc_seq >= m->until_allocs)) {
        if (!m->window_end) /* the first event after the report's window */
            m->window_end =
                m->alloc_seq >= m->until_allocs ? MS_WINDOW_END_ALLOCS : MS_WINDOW_END_TIME;
        return 0;
    }
    uint32_t thread;
    err = thread_index(m, ev->tid, &thread);
    if (err)
        return err;
    if (m->totals_only)
        return apply_event(m, ev, thread);
    uint64_t live = m->sum.live_bytes;
    if ((err = ms_peak_order_before(&m->order, thread, ev->tsc, ev->timed, live)) != 0)
        return err;
    err = apply_event(m, ev, thread);
    if (__builtin_expect(m->pp_failed, 0))
        return MS_ENOMEM;
    if (m->pq) {
        if (err == 0 && (m->pass_on & MS_PASS_WANT_EVENT) && ev->kind != MS_REC_ALLOC &&
            ev->kind != MS_REC_ALLOC_ALIGNED && ev->kind != MS_REC_FREE &&
            ev->kind != MS_REC_REALLOC && (m->pass_err = ms_pass_queue_event(m->pq, ev)) != 0) {
            ms_pass_queue_fail(m->pq, m->pass_err);
            return m->pass_err;
        }
        if ((m->pass_err = ms_pass_queue_commit(m->pq)) != 0)
            return m->pass_err;
    }
    if (err == 0)
        ms_peak_order_after(&m->order, thread, (int64_t)(m->sum.live_bytes - live));
    return err;
}

int ms_heap_model_apply(void *ctx, const struct ms_event *ev)
{
    struct ms_heap_model *m = ctx;
    if (m->totals_only && totals_fast(m, ev))
        return 0;
    return apply_general(m, ev);
}

/* A sampled trace's totals: the call counts, not the samples' estimates. */
static void sampled_totals(struct ms_heap_model *m)
{
    struct ms_summary *u = &m->sum;
    u->allocs = m->counted_allocs;
    u->bytes_allocated = m->counted_bytes;
    u->frees += m->unsampled_frees;
    u->realloc_calls = m->counted_reallocs;
    ms_call_sites_sort(&m->calls);
}

static int by_addr(const void *a, const void *b)
{
    const struct ms_leak_block *x = a, *y = b;
    return x->addr < y->addr ? -1 : x->addr > y->addr;
}

void ms_leak_blocks_sort(struct ms_leak_block *b, size_t n)
{
    if (n)
        qsort(b, n, sizeof *b, by_addr);
}

int ms_heap_model_live_blocks(const struct ms_heap_model *m, bool sorted,
                              struct ms_leak_block **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    size_t count = 0;
    for (size_t i = 0; i <= m->live_mask; i++)
        count += m->live[i].ptr != 0;
    if (!count)
        return 0;
    struct ms_leak_block *b = malloc(count * sizeof *b);
    if (!b)
        return MS_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i <= m->live_mask; i++)
        if (m->live[i].ptr)
            b[k++] = (struct ms_leak_block){m->live[i].ptr, m->live[i].size};
    if (sorted)
        ms_leak_blocks_sort(b, k);
    *out = b;
    *n = k;
    return 0;
}

bool ms_heap_model_block_at(const struct ms_heap_model *m, uint64_t ptr, struct ms_block_facts *out)
{
    const struct block *b = ptr ? live_find((struct ms_heap_model *)m, ptr) : NULL;
    if (!b || !m->info)
        return false;
    *out = facts_of(m, b);
    return true;
}

/* The kind byte the scan gave the block at ptr, or -1 when it did not list it. */
static int scanned_kind(const struct ms_leak_scan_info *s, uint64_t ptr)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->addr[mid] < ptr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->n && s->addr[lo] == ptr ? s->kind[lo] : -1;
}

/* Each live block's kind, into the summary and its site's figures. */
static void apply_leak_scan(struct ms_heap_model *m)
{
    const struct ms_leak_scan_info *s = m->scan;
    struct ms_summary *sum = &m->sum;
    /* a scan given again replaces the one before */
    memset(sum->kind_bytes, 0, sizeof sum->kind_bytes);
    memset(sum->kind_blocks, 0, sizeof sum->kind_blocks);
    memset(sum->heuristic_bytes, 0, sizeof sum->heuristic_bytes);
    memset(sum->heuristic_blocks, 0, sizeof sum->heuristic_blocks);
    sum->unscanned_bytes = sum->unscanned_blocks = 0;
    for (size_t i = 0; i < m->nsites; i++) {
        memset(m->sites[i].kind_bytes, 0, sizeof m->sites[i].kind_bytes);
        memset(m->sites[i].kind_blocks, 0, sizeof m->sites[i].kind_blocks);
    }
    sum->leak_scan = true;
    sum->scan_status = s->status;
    sum->scan_error = s->error;
    sum->scan_root_bytes = s->root_bytes;
    sum->scan_unreadable_bytes = s->unreadable_bytes;
    sum->scan_ns = s->scan_ns;
    if (s->status != MS_SCAN_DONE)
        return;
    for (size_t i = 0; i <= m->live_mask; i++) {
        const struct block *b = &m->live[i];
        if (!b->ptr)
            continue;
        int k = scanned_kind(s, b->ptr);
        if (k < 0) {
            sum->unscanned_bytes += b->size;
            sum->unscanned_blocks++;
            continue;
        }
        unsigned kind = (unsigned)k & MS_LEAK_KIND_MASK, h = (unsigned)k >> MS_LEAK_HEURISTIC_SHIFT;
        /* valgrind counts the heuristics' blocks suppressed or not, and a suppressed block
         * in no kind */
        if (h) {
            sum->heuristic_bytes[h - 1] += b->size;
            sum->heuristic_blocks[h - 1]++;
        }
        if (m->info && m->sites[m->info[i].site].suppressed)
            continue;
        sum->kind_bytes[kind] += b->size;
        sum->kind_blocks[kind]++;
        if (m->info) {
            struct ms_site *site = &m->sites[m->info[i].site];
            site->kind_bytes[kind] += b->size;
            site->kind_blocks[kind]++;
        }
    }
}

void ms_heap_model_suppress(struct ms_heap_model *m, const uint32_t *which)
{
    m->sum.suppressed_bytes = m->sum.suppressed_blocks = 0;
    for (size_t i = 0; i < m->nsites; i++) {
        m->sites[i].suppressed = which[i];
        if (which[i]) {
            m->sum.suppressed_bytes += m->sites[i].live_bytes;
            m->sum.suppressed_blocks += m->sites[i].live_blocks;
        }
    }
    if (m->finished && m->scan && !m->sum.sample_bytes)
        apply_leak_scan(m); /* the kinds without the suppressed blocks */
}

void ms_heap_model_set_leak_checks(struct ms_heap_model *m, const struct ms_leak_check_result *r,
                                   size_t n)
{
    ms_leak_checks_free(&m->checks); /* an ancestor's, met before its fork */
    m->checks.results = r;
    m->checks.nresults = n;
}

void ms_heap_model_set_check_hook(struct ms_heap_model *m,
                                  void (*fn)(void *ctx, const struct ms_event *ev), void *ctx)
{
    m->check_hook = fn;
    m->check_ctx = ctx;
}

void ms_heap_model_suppress_checks(struct ms_heap_model *m,
                                   uint32_t (*which)(void *ctx, uint32_t stack), void *ctx)
{
    ms_leak_checks_suppress(&m->checks, which, ctx);
}

const struct ms_misuse_log *ms_heap_model_misuse(const struct ms_heap_model *m)
{
    return &m->misuse;
}

const struct ms_leak_checks *ms_heap_model_leak_checks(const struct ms_heap_model *m)
{
    return &m->checks;
}

void ms_heap_model_set_leak_scan(struct ms_heap_model *m, const struct ms_leak_scan_info *s)
{
    m->scan = s && s->present ? s : NULL;
    if (m->finished && m->scan && !m->sum.sample_bytes)
        apply_leak_scan(m);
}

void ms_heap_model_finish(struct ms_heap_model *m)
{
    m->finished = true;
    if (m->window_waiting && !m->pass_err) /* no event from --since on: the window is empty */
        m->pass_err = window_open(m);
    if (m->scan && !m->sum.sample_bytes)
        apply_leak_scan(m);
    if (m->sum.sample_bytes)
        sampled_totals(m);
    ms_peak_order_finish(&m->order, m->sum.live_bytes);
    /* The replayed order is one the times allow: its peak lies between the bounds. */
    m->sum.peak_low = m->order.low < m->sum.peak_bytes ? m->order.low : m->sum.peak_bytes;
    m->sum.peak_high = m->order.high > m->sum.peak_bytes ? m->order.high : m->sum.peak_bytes;
    for (size_t i = 0; i < m->nsites; i++)
        site_touch(m, &m->sites[i]);
    /* site_touch stored the value at the last peak only for sites changed since it; the rest
     * have not changed since, so their current value is their value at the peak. */
    for (size_t i = 0; m->info && i <= m->live_mask; i++)
        if (m->live[i].ptr) {
            m->threads[m->info[i].thread].leaked_blocks +=
                weigh(m, m->live[i].ptr, m->live[i].size).n;
            if (m->notes)
                ms_annotations_live_at_end(m->ann, &m->notes[i], m->live[i].size);
        }
    if (m->ann)
        ms_annotations_finish(m->ann, m->sum.last_tsc);
    if (m->pp)
        ms_passports_finish(m->pp, m->owners);
    /* Drained even after an error: the analyses' thread is then idle. */
    int drained = m->pq ? ms_pass_queue_drain(m->pq) : 0;
    if (!m->pass_err)
        m->pass_err = drained;
    const struct ms_analysis_pass *p;
    void *state;
    for (int k = 0; m->pq && (p = ms_pass_queue_at(m->pq, k, &state)) && !m->pass_err; k++) {
        for (size_t i = 0; p->at_end && i <= m->live_mask && !m->pass_err; i++)
            if (m->live[i].ptr) {
                struct ms_pass_block b;
                pass_block(m, &m->live[i], weigh(m, m->live[i].ptr, m->live[i].size).n, &b);
                m->pass_err = p->at_end(state, &b);
            }
        if (p->finish && !m->pass_err)
            m->pass_err = p->finish(state, m);
    }
}

int ms_heap_model_add_pass(struct ms_heap_model *m, const struct ms_analysis_pass *p,
                           const ms_trace *trace)
{
    if (m->totals_only || m->sum.events)
        return MS_EINVAL;
    if (!m->pq && !(m->pq = ms_pass_queue_new()))
        return MS_ENOMEM;
    uint64_t start = trace ? ms_trace_process(trace)->start_tsc : 0;
    uint64_t last = trace ? ms_trace_last_tsc(trace) : UINT64_MAX;
    uint64_t end = m->until_tsc < last ? m->until_tsc : last;
    struct ms_pass_env env = {m, trace, m->since_tsc > start ? m->since_tsc : start,
                              m->end_hint < end ? m->end_hint : end};
    int err = ms_pass_queue_add(m->pq, p, &env);
    m->pass_wants = ms_pass_queue_wants(m->pq);
    m->pass_on = m->window_waiting ? 0 : m->pass_wants;
    return err;
}

int ms_heap_model_set_window(struct ms_heap_model *m, uint64_t since_tsc, uint64_t until_tsc,
                             uint64_t until_allocs, uint64_t end_hint)
{
    if (m->totals_only || m->pq || m->sum.events || m->sum.sample_bytes)
        return MS_EINVAL;
    m->since_tsc = since_tsc;
    m->until_tsc = until_tsc;
    m->until_allocs = until_allocs;
    m->end_hint = end_hint;
    m->window_ends = until_tsc != UINT64_MAX || until_allocs != UINT64_MAX;
    m->window_waiting = since_tsc != 0;
    return 0;
}

enum ms_window_end ms_heap_model_window_end(const struct ms_heap_model *m)
{
    return (enum ms_window_end)m->window_end;
}

int ms_heap_model_apply_allocs(void *ctx, const struct ms_event *ev)
{
    struct ms_heap_model *m = ctx;
    if (m->window_end || m->sum.allocs >= m->until_allocs) {
        m->window_end = MS_WINDOW_END_ALLOCS;
        return 0;
    }
    return ms_heap_model_apply(m, ev);
}

void ms_heap_model_set_until_allocs(struct ms_heap_model *m, uint64_t n)
{
    m->until_allocs = n;
}

void ms_heap_model_set_pass_batch(struct ms_heap_model *m, size_t records)
{
    if (!m->pq && !m->totals_only)
        m->pq = ms_pass_queue_new();
    if (m->pq)
        ms_pass_queue_set_batch(m->pq, records);
}

void *ms_heap_model_pass(const struct ms_heap_model *m, const struct ms_analysis_pass *p)
{
    const struct ms_analysis_pass *q;
    void *state;
    for (int k = 0; m->pq && (q = ms_pass_queue_at(m->pq, k, &state)); k++)
        if (q == p)
            return state;
    return NULL;
}

int ms_heap_model_pass_error(const struct ms_heap_model *m)
{
    return m->pass_err;
}

void ms_heap_model_set_owners(struct ms_heap_model *m, struct ms_module_owner *o)
{
    m->owners = o;
}

const struct ms_passports *ms_heap_model_passports(const struct ms_heap_model *m)
{
    return m->pp;
}

void ms_heap_model_set_sampling(struct ms_heap_model *m, uint64_t mean)
{
    if (!m->sum.events && !m->sum.allocs)
        m->sum.sample_bytes = mean <= (1ull << 40) ? mean : 0;
}

const struct ms_call_sites *ms_heap_model_call_sites(const struct ms_heap_model *m)
{
    return m->totals_only || !m->sum.sample_bytes ? NULL : &m->calls;
}

const struct ms_annotations *ms_heap_model_annotations(const struct ms_heap_model *m)
{
    return m->ann;
}

const struct ms_summary *ms_heap_model_summary(const struct ms_heap_model *m)
{
    return &m->sum;
}

size_t ms_heap_model_site_count(const struct ms_heap_model *m)
{
    return m->nsites;
}

const struct ms_site *ms_heap_model_site(const struct ms_heap_model *m, size_t i)
{
    return i < m->nsites ? &m->sites[i] : NULL;
}

size_t ms_heap_model_thread_count(const struct ms_heap_model *m)
{
    return m->nthreads;
}

const struct ms_thread_stats *ms_heap_model_thread(const struct ms_heap_model *m, size_t i)
{
    return i < m->nthreads ? &m->threads[i] : NULL;
}
