/* Lifetimes by call site (lifetimes.h). */
#include "lifetimes.h"

#include "common/count_of.h"
#include "common/errors.h"
#include "grow.h"
#include "heap_model.h"
#include "histogram.h"

#include <stdlib.h>

/* While the replay runs, times are in the trace's TSC ticks (the bounds below too, converted
 * once); the finish turns the sums into nanoseconds. */
struct lifetimes {
    const struct ms_heap_model *model;
    double ns_per_tick;
    uint64_t start_tsc;  /* the process's start: a forked child's inherited blocks' birth */
    uint64_t end_tsc;    /* the trace's end, as far as known */
    uint64_t long_ticks; /* lived longer than this: long-lived (half the trace's duration) */
    uint64_t short_ticks;
    uint64_t tick_bounds[MS_LIFETIME_TIME_BUCKETS];
    struct ms_buckets by_time, by_seq;
    struct ms_site_lifetimes *sites;
    size_t nsites, cap;
};

static const uint64_t time_bounds[MS_LIFETIME_TIME_BUCKETS] = {
    1000ull,      10000ull,      100000ull,      1000000ull, 10000000ull,
    100000000ull, 1000000000ull, 10000000000ull, UINT64_MAX};
static const uint64_t seq_bounds[MS_LIFETIME_SEQ_BUCKETS] = {1,     10,     100,     1000,
                                                             10000, 100000, 1000000, UINT64_MAX};

uint64_t ms_lifetime_time_bound(int k)
{
    return time_bounds[k];
}

uint64_t ms_lifetime_seq_bound(int k)
{
    return seq_bounds[k];
}

/* The trace ends at tsc or later: long-lived is more than half of that. */
static void set_end(struct lifetimes *l, uint64_t tsc)
{
    if (tsc < l->end_tsc)
        return;
    l->end_tsc = tsc;
    l->long_ticks = tsc > l->start_tsc ? (tsc - l->start_tsc) / 2 : 0;
}

static void *create(const struct ms_pass_env *env)
{
    struct lifetimes *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->ns_per_tick = ms_trace_ns_per_tick(env->trace);
    if (!(l->ns_per_tick > 0))
        l->ns_per_tick = 1.0;
    l->model = env->model;
    l->start_tsc = ms_trace_process(env->trace)->start_tsc;
    set_end(l, env->end_tsc);
    l->short_ticks = ms_ticks_of(l->ns_per_tick, MS_SHORT_LIVED_NS);
    for (int k = 0; k < MS_LIFETIME_TIME_BUCKETS; k++)
        l->tick_bounds[k] =
            time_bounds[k] == UINT64_MAX ? UINT64_MAX : ms_ticks_of(l->ns_per_tick, time_bounds[k]);
    ms_buckets_init(&l->by_time, l->tick_bounds, MS_LIFETIME_TIME_BUCKETS);
    ms_buckets_init(&l->by_seq, seq_bounds, MS_LIFETIME_SEQ_BUCKETS);
    return l;
}

static struct ms_site_lifetimes *site_of(struct lifetimes *l, uint32_t site)
{
    return ms_grow_at(&l->sites, &l->nsites, &l->cap, site, sizeof *l->sites);
}

/* Whether b was allocated by this process, not inherited from the parent it forked from. */
static inline bool own(const struct lifetimes *l, const struct ms_pass_block *b)
{
    return b->alloc_tsc >= l->start_tsc;
}

/* The block's lifetime in ticks, from its allocation (an inherited block's: the process's
 * start) to tsc; 0 when the clock says earlier (its times are lower bounds, docs/analyses.md). */
static inline uint64_t lifetime(const struct lifetimes *l, const struct ms_pass_block *b,
                                uint64_t tsc)
{
    uint64_t from = own(l, b) ? b->alloc_tsc : l->start_tsc;
    return tsc > from ? tsc - from : 0;
}

static int on_free(void *state, const struct ms_pass_free *f)
{
    struct lifetimes *l = state;
    struct ms_site_lifetimes *s = site_of(l, f->block.site);
    if (!s)
        return MS_ENOMEM;
    /* A trace cut short (a process killed) ends after its last END time: the events say so. */
    if (f->tsc > l->end_tsc)
        set_end(l, f->tsc);
    uint64_t w = f->block.weight, t = lifetime(l, &f->block, f->tsc);
    uint64_t between = f->seq > f->block.alloc_seq ? f->seq - f->block.alloc_seq - 1 : 0;
    s->ended += w;
    s->by_time[ms_bucket(&l->by_time, t)] += w;
    s->by_seq[ms_bucket(&l->by_seq, between)] += w;
    s->total_ns += (double)t * (double)w; /* ticks until the finish */
    if (t > s->max_ns)
        s->max_ns = t;
    if (t < l->short_ticks)
        s->short_lived += w;
    if (t > l->long_ticks)
        s->long_lived += w;
    /* Not a lost free (the reallocating thread's doing), a thread's own frees after its
     * teardown (they come from the orphan stream, thread 0), nor a block the parent allocated. */
    if (f->thread != f->block.thread && f->why != MS_PASS_LOST && f->tid != 0 && own(l, &f->block))
        s->other_thread += w;
    return 0;
}

static int at_end(void *state, const struct ms_pass_block *b)
{
    struct lifetimes *l = state;
    struct ms_site_lifetimes *s = site_of(l, b->site);
    if (!s)
        return MS_ENOMEM;
    s->live_at_end += b->weight;
    set_end(l, ms_heap_model_summary(l->model)->last_tsc);
    if (lifetime(l, b, l->end_tsc) > l->long_ticks)
        s->long_lived += b->weight;
    return 0;
}

static int finish(void *state, const struct ms_heap_model *m)
{
    (void)m;
    struct lifetimes *l = state;
    for (size_t i = 0; i < l->nsites; i++) {
        struct ms_site_lifetimes *s = &l->sites[i];
        s->total_ns *= l->ns_per_tick;
        double max = (double)s->max_ns * l->ns_per_tick;
        s->max_ns = ms_count_of(max);
    }
    return 0;
}

static void destroy(void *state)
{
    struct lifetimes *l = state;
    if (l)
        free(l->sites);
    free(l);
}

const struct ms_analysis_pass ms_lifetimes_pass = {
    .name = "lifetimes",
    .create = create,
    .on_free = on_free,
    .at_end = at_end,
    .finish = finish,
    .destroy = destroy,
};

const struct ms_site_lifetimes *ms_lifetimes_of(const struct ms_heap_model *m, size_t site)
{
    const struct lifetimes *l = ms_heap_model_pass(m, &ms_lifetimes_pass);
    if (!l || site >= ms_heap_model_site_count(m))
        return NULL;
    static const struct ms_site_lifetimes none;
    return site < l->nsites ? &l->sites[site] : &none;
}
