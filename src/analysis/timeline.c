/* The timeline (timeline.h). While the replay runs the time axis counts in TSC ticks; the finish
 * turns its width into nanoseconds. */
#include "timeline.h"

#include "common/errors.h"
#include "common/trace_format.h"
#include "grow.h"
#include "heap_model.h"

#include <stdlib.h>
#include <string.h>

struct timeline {
    struct ms_timeline out;
    const ms_trace *trace;
    uint64_t start_tsc; /* the time axis's origin (env->origin_tsc) */
    uint64_t end_tsc;   /* a report's window's end; UINT64_MAX: none */
    double ns_per_tick;
    uint64_t heap, allocated;
    uint64_t seq; /* the allocations replayed so far (ms_pass_block.alloc_seq + 1 of the last) */
    /* The allocator samples met (their time_ns a TSC reading until the finish), at most
     * MAX_SAMPLES: every other one goes when they reach it, so that they still span the run. */
    struct ms_allocator_sample *samples;
    size_t nsamples, capsamples;
};

#define MAX_SAMPLES 4096

static void *create(const struct ms_pass_env *env)
{
    struct timeline *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->trace = env->trace;
    t->start_tsc = env->origin_tsc;
    t->out.origin_ns = ms_trace_ns_since_start(env->trace, env->origin_tsc);
    t->end_tsc = env->end_tsc < ms_trace_last_tsc(env->trace) ? env->end_tsc : UINT64_MAX;
    t->ns_per_tick = ms_trace_ns_per_tick(env->trace);
    if (!(t->ns_per_tick > 0))
        t->ns_per_tick = 1.0;
    /* A first width: a microsecond or more (a power of two of ticks: a shift, not a division,
     * per event), a kilobyte; each doubling halves the buckets in use. */
    while ((double)(1ull << t->out.time.shift) * t->ns_per_tick < 1000.0 && t->out.time.shift < 40)
        t->out.time.shift++;
    t->out.allocated.shift = 10;
    t->seq = UINT64_MAX; /* no event yet: the heap is where the report's window opened */
    return t;
}

/* Halves the buckets of a: each pair becomes one of twice the width. */
static void fold(struct ms_timeline_axis *a)
{
    size_t n = (a->n + 1) / 2;
    for (size_t i = 0; i < n; i++) {
        struct ms_timeline_bucket x = a->b[2 * i];
        if (2 * i + 1 < a->n) {
            const struct ms_timeline_bucket *y = &a->b[2 * i + 1];
            x.heap_end = y->heap_end;
            if (y->heap_max > x.heap_max) {
                x.heap_max = y->heap_max;
                x.max_tsc = y->max_tsc;
                x.max_seq = y->max_seq;
            }
            x.allocs += y->allocs;
            x.frees += y->frees;
            x.bytes_allocated += y->bytes_allocated;
        }
        a->b[i] = x;
    }
    memset(&a->b[n], 0, (a->n - n) * sizeof *a->b);
    a->n = n;
    a->shift++;
}

/* The bucket of a for position x (the axis's units from its start), the buckets between the
 * last one used and it carrying the heap as it was. */
static __attribute__((noinline)) struct ms_timeline_bucket *
at_slow(struct ms_timeline_axis *a, uint64_t x, uint64_t heap_before, uint64_t seq)
{
    while (a->shift < 63 && x >> a->shift >= MS_TIMELINE_BUCKETS)
        fold(a);
    size_t k = (size_t)(x >> a->shift);
    if (k >= MS_TIMELINE_BUCKETS)
        k = MS_TIMELINE_BUCKETS - 1;
    if (k + 1 < a->n) /* an event earlier than the last one's bucket (times are lower bounds) */
        k = a->n - 1;
    /* The new buckets start with the heap as it was (max_tsc 0: had at their start). */
    for (size_t i = a->n; i <= k; i++)
        a->b[i] = (struct ms_timeline_bucket){
            .heap_end = heap_before, .heap_max = heap_before, .max_seq = seq};
    if (k + 1 > a->n)
        a->n = k + 1;
    return &a->b[k];
}

/* at_slow's answer when x falls in the last bucket used, as most events' do. */
static inline struct ms_timeline_bucket *at(struct ms_timeline_axis *a, uint64_t x,
                                            uint64_t heap_before, uint64_t seq)
{
    if (a->n && x >> a->shift == a->n - 1)
        return &a->b[a->n - 1];
    return at_slow(a, x, heap_before, seq);
}

/* The heap changes by +bytes (alloc) or -bytes at tsc, after seq allocations (the allocation
 * number of this one, or of the last one before the free). */
static inline void change(struct timeline *t, uint64_t tsc, uint64_t bytes, bool alloc,
                          uint64_t seq)
{
    uint64_t before = t->heap, seq_before = t->seq;
    t->seq = seq;
    t->heap = alloc ? t->heap + bytes : t->heap - bytes;
    uint64_t x = tsc > t->start_tsc ? tsc - t->start_tsc : 0;
    struct ms_timeline_bucket *b[2] = {at(&t->out.time, x, before, seq_before),
                                       at(&t->out.allocated, t->allocated, before, seq_before)};
    for (int i = 0; i < 2; i++) {
        b[i]->heap_end = t->heap;
        if (t->heap > b[i]->heap_max) {
            b[i]->heap_max = t->heap;
            b[i]->max_tsc = tsc;
            b[i]->max_seq = seq;
        }
        if (alloc) {
            b[i]->allocs++;
            b[i]->bytes_allocated += bytes;
        } else {
            b[i]->frees++;
        }
    }
    if (alloc)
        t->allocated += bytes;
}

static int on_alloc(void *state, const struct ms_pass_alloc *a)
{
    struct timeline *t = state;
    if (a->baseline) /* live when the report's window opened: where the heap starts */
        t->heap += a->block.size * a->block.weight;
    else
        change(t, a->block.alloc_tsc, a->block.size * a->block.weight, true,
               a->block.alloc_seq + a->block.weight);
    return 0;
}

static int on_free(void *state, const struct ms_pass_free *f)
{
    change(state, f->tsc, f->block.size * f->block.weight, false, f->seq);
    return 0;
}

static int on_event(void *state, const struct ms_event *ev)
{
    struct timeline *t = state;
    if (ev->kind != MS_REC_EXTENDED || ev->value != MS_EXT_ALLOCATOR_STATS)
        return 0;
    if (t->nsamples == MAX_SAMPLES) {
        for (size_t i = 0; 2 * i < t->nsamples; i++)
            t->samples[i] = t->samples[2 * i];
        t->nsamples = (t->nsamples + 1) / 2;
    }
    if (ms_grow(&t->samples, &t->capsamples, t->nsamples + 1, sizeof *t->samples, 64))
        return MS_ENOMEM;
    t->samples[t->nsamples++] = (struct ms_allocator_sample){ev->tsc,  t->heap,  ev->x[0], ev->x[1],
                                                             ev->x[2], ev->x[3], ev->x[4]};
    return 0;
}

/* The allocator samples into the time axis's buckets (the last of each), and the gap between
 * heap and RSS at the bucket with the most resident memory. */
static void place_allocator(struct timeline *t)
{
    struct ms_timeline *o = &t->out;
    struct ms_timeline_axis *a = &o->time;
    for (size_t i = 0; i < t->nsamples; i++) {
        struct ms_allocator_sample *s = &t->samples[i];
        uint64_t x = s->time_ns > t->start_tsc ? s->time_ns - t->start_tsc : 0;
        size_t k = (size_t)(x >> a->shift);
        s->time_ns = ms_trace_ns_since_start(t->trace, s->time_ns);
        if (k < a->n)
            o->allocator[k] = (struct ms_timeline_allocator){true, *s};
    }
    /* the bucket with both whose RSS is the highest (the latest of equals: the most settled) */
    size_t most = SIZE_MAX;
    for (size_t k = 0; k < a->n; k++)
        if (o->rss[k] && o->allocator[k].present && (most == SIZE_MAX || o->rss[k] >= o->rss[most]))
            most = k;
    if (most == SIZE_MAX)
        return;
    const struct ms_allocator_sample *s = &o->allocator[most].s;
    struct ms_memory_gap *g = &o->gap;
    g->present = true;
    g->time_ns = s->time_ns;
    g->rss = o->rss[most];
    g->at = *s;
    g->overhead = (int64_t)(s->in_use + s->mmapped) - (int64_t)s->heap;
    g->other = (int64_t)g->rss - (int64_t)(s->arena + s->mmapped);
}

static int by_height(const void *x, const void *y)
{
    const struct ms_timeline_peak *a = x, *b = y;
    if (a->heap_bytes != b->heap_bytes)
        return a->heap_bytes < b->heap_bytes ? 1 : -1;
    return a->time_ns < b->time_ns ? -1 : a->time_ns > b->time_ns; /* the earlier first */
}

/* The time axis's position of the RSS sample taken at mono (CLOCK_MONOTONIC ns), in ticks. */
static uint64_t rss_x(const struct timeline *t, uint64_t mono, uint64_t start)
{
    double ticks = (double)(mono - start) / t->ns_per_tick;
    return ticks < 1.8e19 ? (uint64_t)ticks : UINT64_MAX;
}

/* The resident-memory samples into the time axis's buckets (which first reach the last sample,
 * folded as they must, the heap as it was carried on): the most of each bucket. Samples are in
 * time order; those before the process's start or after its image ended are not its (an exec'd
 * program has the same pid), but a killed process's END is memscope run's guess and its samples
 * up to the death are real. */
static void place_rss(struct timeline *t)
{
    size_t n;
    const struct ms_rss_sample *s = ms_trace_rss(t->trace, &n);
    uint64_t start = ms_trace_process(t->trace)->start_mono_ns + t->out.origin_ns;
    const struct ms_end_info *e = ms_trace_end(t->trace);
    uint64_t end = e->present && e->reason != MS_END_KILLED && e->mono_ns ? e->mono_ns : UINT64_MAX;
    if (t->end_tsc != UINT64_MAX) /* a report's window ends before the trace */
        end = ms_trace_process(t->trace)->start_mono_ns +
              ms_trace_ns_since_start(t->trace, t->end_tsc);
    while (n && s[n - 1].mono_ns > end)
        n--;
    if (!n || s[n - 1].mono_ns < start)
        return;
    struct ms_timeline_axis *a = &t->out.time;
    (void)at(a, rss_x(t, s[n - 1].mono_ns, start), t->heap, t->seq);
    for (size_t i = 0; i < n; i++) {
        if (s[i].mono_ns < start)
            continue;
        size_t k = (size_t)(rss_x(t, s[i].mono_ns, start) >> a->shift);
        if (k < a->n && s[i].bytes > t->out.rss[k])
            t->out.rss[k] = s[i].bytes;
        t->out.has_rss = true;
    }
}

static int finish(void *state, const struct ms_heap_model *m)
{
    (void)m;
    struct timeline *t = state;
    struct ms_timeline *o = &t->out;
    place_rss(t);
    place_allocator(t);
    o->time.width = (uint64_t)((double)(1ull << o->time.shift) * t->ns_per_tick);
    if (!o->time.width)
        o->time.width = 1;
    o->allocated.width = 1ull << o->allocated.shift;
    /* The peaks: buckets higher than the ones beside them (a plateau counts once, at its
     * start), highest first. */
    struct ms_timeline_peak all[MS_TIMELINE_BUCKETS];
    size_t n = 0;
    const struct ms_timeline_axis *a = &o->time;
    for (size_t i = 0; i < a->n; i++) {
        uint64_t h = a->b[i].heap_max;
        bool left = i == 0 || a->b[i - 1].heap_max < h;
        size_t j = i + 1;
        while (j < a->n && a->b[j].heap_max == h)
            j++;
        bool right = j == a->n || a->b[j].heap_max < h;
        if (h && left && right)
            all[n++] = (struct ms_timeline_peak){
                a->b[i].max_tsc ? ms_trace_ns_since_start(t->trace, a->b[i].max_tsc)
                                : o->origin_ns + i * a->width,
                h, a->b[i].max_seq};
    }
    qsort(all, n, sizeof *all, by_height);
    o->npeaks = n < MS_TIMELINE_PEAKS ? n : MS_TIMELINE_PEAKS;
    memcpy(o->peaks, all, o->npeaks * sizeof *all);
    return 0;
}

static void destroy(void *state)
{
    struct timeline *t = state;
    if (t)
        free(t->samples);
    free(t);
}

const struct ms_analysis_pass ms_timeline_pass = {
    .name = "timeline",
    .create = create,
    .on_alloc = on_alloc,
    .on_free = on_free,
    .on_event = on_event,
    .finish = finish,
    .destroy = destroy,
};

const struct ms_timeline *ms_timeline_of(const struct ms_heap_model *m)
{
    const struct timeline *t = ms_heap_model_pass(m, &ms_timeline_pass);
    return t ? &t->out : NULL;
}
