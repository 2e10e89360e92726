/* Patterns by call site (patterns.h). While the replay runs, each site keeps the buckets it was
 * active in, on an axis of its own from its first event, in TSC ticks; the finish extends each to
 * the end of the trace, reads it at two resolutions (the finest kept, for the intervals between
 * bursts; at most MS_PATTERN_BUCKETS buckets, for the rate's spread and the live bytes' line)
 * and gives the verdict. The thresholds are documented in docs/analyses.md, "Patterns". */
#include "patterns.h"

#include "common/count_of.h"
#include "common/errors.h"
#include "grow.h"
#include "heap_model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A site keeps at most SPAN buckets of its axis, and at most ENTRIES of them with events; when
 * either would be exceeded every pair of buckets becomes one of twice the width. */
#define SPAN 512
#define ENTRIES 128

/* The verdict's thresholds (docs/analyses.md). */
/* Bursty: allocations per bucket spread more than their mean, and more than chance would
 * spread them (a steady rate of m recorded per bucket varies by about sqrt(m): a coefficient of
 * variation of 1 / sqrt(m)), so that a few allocations, or samples, are not called bursty. */
#define BURSTY_CV 1.0
#define PERIODIC_MIN_BURSTS 4   /* at least 3 intervals */
#define PERIODIC_TOLERANCE 0.25 /* an interval within a quarter of the median is regular, */
#define PERIODIC_REGULARITY 0.8 /* and so are this share of them */
#define PERIODIC_MIN_FINE_CV 0.5
/* A quiet thread's events are timed once in 10 ms (docs/analyses.md, "Times"): their times
 * make a comb of that step, which is no period of the program's. */
#define PERIODIC_MIN_NS 40000000.0
#define GROWTH_MIN_R2 0.8
#define GROWTH_MIN_BLOCKS                                                                          \
    8 /* a rise of fewer blocks than this (of the site's mean size) is noise */
#define GROWTH_TAIL_SLOPE 0.5 /* the last quarter still rises at half the mean slope */
/* and the growth spans a tenth of the run or more (a batch built at once is no growth) */
#define GROWTH_MIN_SPAN 0.1
#define ACTIVE_SHARE 0.99 /* the program allocates until 99% of its allocations are made */
#define GROWTH_END_SHARE                                                                           \
    0.9                   /* the last allocation in the last tenth of that, from the site's        \
                             first event */
#define LEVEL_SHARE 0.9   /* bounded: reached 90% of the most, */
#define PLATEAU_SHARE 0.8 /* and stayed above 80% of it for a quarter of the site's life */

struct entry {
    uint32_t idx, allocs; /* allocs saturate */
    uint64_t live_max, live_end;
};

struct site {
    uint64_t t0;      /* the first event's time: the axis's start */
    uint64_t live;    /* bytes live now */
    uint64_t allocs;  /* weighted */
    uint64_t bytes;   /* allocated, weighted */
    uint64_t samples; /* allocations recorded (in a sampled trace each stands for weight) */
    uint64_t live_most;
    uint64_t base; /* bytes live when its series began (a forked child's inheritance) */
    uint64_t first_alloc, last_alloc; /* times */
    uint32_t last_alloc_idx;
    uint8_t shift;
    bool started, has_alloc;
    uint32_t n, cap;
    struct entry *e;
};

struct patterns {
    double ns_per_tick;
    uint64_t start_tsc; /* where the series start: the process's start, or the report's window's */
    uint64_t process_tsc; /* the process's start, the origin of the times reported */
    uint8_t first_shift;
    struct site *sites;
    size_t nsites, cap;
    struct site all; /* every allocation: when the program's allocating ends */
    /* After the finish: the patterns of the sites with a series (MS_PATTERN_MIN_ALLOCS samples
     * or more), and for each site 1 + its index there (0: sporadic, told from its site). */
    struct ms_site_pattern *out;
    size_t nout, capout;
    uint32_t *slot;
    bool finished;
    struct ms_site_pattern scratch; /* ms_patterns_of's answer for a sporadic site */
};

static void *create(const struct ms_pass_env *env)
{
    struct patterns *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->ns_per_tick = ms_trace_ns_per_tick(env->trace);
    if (!(p->ns_per_tick > 0))
        p->ns_per_tick = 1.0;
    p->start_tsc = env->origin_tsc;
    p->process_tsc = ms_trace_process(env->trace)->start_tsc;
    /* A microsecond or more, a power of two of ticks (a shift per event, not a division). */
    while ((double)(1ull << p->first_shift) * p->ns_per_tick < 1000.0 && p->first_shift < 40)
        p->first_shift++;
    return p;
}

static struct site *site_of(struct patterns *p, uint32_t i)
{
    return ms_grow_at(&p->sites, &p->nsites, &p->cap, i, sizeof *p->sites);
}

/* Each pair of s's buckets becomes one of twice the width. */
static void fold(struct site *s)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->n; i++) {
        struct entry x = s->e[i];
        x.idx >>= 1;
        if (n && s->e[n - 1].idx == x.idx) {
            struct entry *y = &s->e[n - 1];
            y->allocs = y->allocs + x.allocs < y->allocs ? UINT32_MAX : y->allocs + x.allocs;
            if (x.live_max > y->live_max)
                y->live_max = x.live_max;
            y->live_end = x.live_end;
        } else {
            s->e[n++] = x;
        }
    }
    s->n = n;
    s->last_alloc_idx >>= 1;
    s->shift++;
}

/* The entry of s's bucket for time tsc (made if need be, the buckets folded as they must); an
 * event earlier than the last entry's bucket counts there (times are lower bounds). NULL: out of
 * memory. */
static struct entry *at(struct patterns *p, struct site *s, uint64_t tsc)
{
    if (!s->started) {
        s->started = true;
        s->base = s->live;
        s->t0 = tsc > p->start_tsc ? tsc : p->start_tsc;
        s->shift = p->first_shift;
    }
    uint64_t x = tsc > s->t0 ? tsc - s->t0 : 0;
    while (s->shift < 63 && x >> s->shift >= SPAN)
        fold(s);
    uint32_t k = (uint32_t)(x >> s->shift);
    if (s->n && k <= s->e[s->n - 1].idx)
        return &s->e[s->n - 1];
    if (s->n == ENTRIES && s->shift < 63) {
        fold(s);
        return at(p, s, tsc);
    }
    if (s->n == ENTRIES)
        return &s->e[s->n - 1];
    if (s->n == s->cap) {
        uint32_t cap = s->cap ? s->cap * 2 : 4;
        struct entry *e = realloc(s->e, cap * sizeof *e);
        if (!e)
            return NULL;
        s->e = e;
        s->cap = cap;
    }
    s->e[s->n] = (struct entry){.idx = k, .live_max = s->live, .live_end = s->live};
    return &s->e[s->n++];
}

static int on_alloc(void *state, const struct ms_pass_alloc *a)
{
    struct patterns *p = state;
    struct site *s = site_of(p, a->block.site);
    if (!s)
        return MS_ENOMEM;
    uint64_t w = a->block.weight, bytes = a->block.size * w;
    if (a->block.alloc_tsc < p->start_tsc) {
        /* A forked child's inheritance (the parent's history replayed): where its live bytes
         * start, not its own allocations. */
        s->live += bytes;
        s->live_most = s->live > s->live_most ? s->live : s->live_most;
        return 0;
    }
    struct entry *e = at(p, s, a->block.alloc_tsc);
    if (!e)
        return MS_ENOMEM;
    s->live += bytes;
    s->live_most = s->live > s->live_most ? s->live : s->live_most;
    s->samples++;
    s->allocs += w;
    s->bytes += bytes;
    e->allocs = e->allocs + w < e->allocs || w > UINT32_MAX ? UINT32_MAX : e->allocs + (uint32_t)w;
    if (s->live > e->live_max)
        e->live_max = s->live;
    e->live_end = s->live;
    s->last_alloc_idx = e->idx;
    if (!s->has_alloc) {
        s->has_alloc = true;
        s->first_alloc = a->block.alloc_tsc;
    }
    if (a->block.alloc_tsc > s->last_alloc)
        s->last_alloc = a->block.alloc_tsc;
    struct entry *g = at(p, &p->all, a->block.alloc_tsc);
    if (!g)
        return MS_ENOMEM;
    g->allocs = g->allocs + w < g->allocs || w > UINT32_MAX ? UINT32_MAX : g->allocs + (uint32_t)w;
    p->all.allocs += w;
    return 0;
}

static int on_free(void *state, const struct ms_pass_free *f)
{
    struct patterns *p = state;
    struct site *s = site_of(p, f->block.site);
    struct entry *e = s ? at(p, s, f->tsc) : NULL;
    if (!e)
        return MS_ENOMEM;
    uint64_t bytes = f->block.size * f->block.weight;
    s->live = s->live > bytes ? s->live - bytes : 0;
    e->live_end = s->live;
    return 0;
}

/* Nanoseconds from the process's start to tsc (0 for an inherited block's time). */
static uint64_t ns_since_start(const struct patterns *p, uint64_t tsc)
{
    return tsc > p->process_tsc ? ms_count_of((double)(tsc - p->process_tsc) * p->ns_per_tick) : 0;
}

/* A least-squares line through y[0..n) at x = 0..n-1: its slope per step and R² (0 when y is
 * flat). */
static double fit(const double *y, size_t n, double *r2)
{
    double mx = (double)(n - 1) / 2, my = 0;
    for (size_t i = 0; i < n; i++)
        my += y[i];
    my /= (double)n;
    double sxy = 0, sxx = 0, syy = 0;
    for (size_t i = 0; i < n; i++) {
        double dx = (double)i - mx, dy = y[i] - my;
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    double slope = sxx > 0 ? sxy / sxx : 0;
    *r2 = sxx > 0 && syy > 0 ? sxy * sxy / (sxx * syy) : 0;
    return slope;
}

/* Mean and coefficient of variation of v[0..n). */
static double spread(const double *v, size_t n, double *mean)
{
    double m = 0, ss = 0;
    for (size_t i = 0; i < n; i++)
        m += v[i];
    m /= (double)(n ? n : 1);
    for (size_t i = 0; i < n; i++)
        ss += (v[i] - m) * (v[i] - m);
    *mean = m;
    return m > 0 ? sqrt(ss / (double)(n ? n : 1)) / m : 0;
}

/* The series read at the finish: allocations and live bytes (the most) per bucket. */
struct series {
    double allocs[SPAN], live[SPAN];
    size_t n;
};

/* s's buckets, those without events carrying the live bytes as they were. */
static void expand(const struct site *s, struct series *out)
{
    uint64_t live = 0;
    size_t n = s->n ? s->e[s->n - 1].idx + 1 : 0, j = 0;
    for (size_t k = 0; k < n; k++) {
        if (j < s->n && s->e[j].idx == k) {
            out->allocs[k] = s->e[j].allocs;
            out->live[k] = (double)s->e[j].live_max;
            live = s->e[j].live_end;
            j++;
        } else {
            out->allocs[k] = 0;
            out->live[k] = (double)live;
        }
    }
    out->n = n;
}

/* f folded until it has at most MS_PATTERN_BUCKETS buckets; returns the factor. */
static size_t coarsen(const struct series *f, struct series *c)
{
    size_t by = 1;
    while ((f->n + by - 1) / by > MS_PATTERN_BUCKETS)
        by *= 2;
    c->n = (f->n + by - 1) / by;
    for (size_t k = 0; k < c->n; k++) {
        c->allocs[k] = 0;
        c->live[k] = 0;
        for (size_t i = k * by; i < f->n && i < (k + 1) * by; i++) {
            c->allocs[k] += f->allocs[i];
            c->live[k] = fmax(c->live[k], f->live[i]);
        }
    }
    return by;
}

static int by_value(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* Bursts in the fine series: runs of buckets with more allocations than the mean; the share of
 * the intervals between their starts within PERIODIC_TOLERANCE of the median one, and those
 * intervals' mean (in buckets). */
static void bursts(const struct series *f, double mean, struct ms_site_pattern *o, double *interval)
{
    size_t nb = 0, prev = 0;
    double gaps[SPAN];
    for (size_t k = 0; k < f->n; k++)
        if (f->allocs[k] > mean && (k == 0 || !(f->allocs[k - 1] > mean))) {
            if (nb)
                gaps[nb - 1] = (double)(k - prev);
            prev = k;
            nb++;
        }
    o->bursts = (uint32_t)nb;
    *interval = 0;
    o->period_regularity = 0;
    if (nb < 2)
        return;
    qsort(gaps, nb - 1, sizeof *gaps, by_value);
    double median = gaps[(nb - 1) / 2];
    size_t near = 0;
    double sum = 0;
    for (size_t i = 0; i < nb - 1; i++)
        if (fabs(gaps[i] - median) <= PERIODIC_TOLERANCE * median) {
            near++;
            sum += gaps[i];
        }
    o->period_regularity = (double)near / (double)(nb - 1);
    *interval = sum / (double)near; /* the regular intervals' mean: finer than a bucket */
}

/* The growth of the live bytes in the coarse series c from base (before its first event),
 * whose last allocation is in bucket last, the program's allocating having ended in bucket
 * active; mean_size is the bytes a recorded allocation of the site stands for. */
static void growth(const struct series *c, double base, size_t last, size_t active,
                   double mean_size, double bucket_s, double run_s, struct ms_site_pattern *o)
{
    double most = 0;
    for (size_t k = 0; k < c->n; k++)
        most = fmax(most, c->live[k]);
    size_t w = last + 1;
    double r2 = 0, slope = w >= 2 ? fit(c->live, w, &r2) : 0;
    o->slope_bytes_per_s = bucket_s > 0 ? slope / bucket_s : 0;
    o->r2 = r2;
    o->growth_ns = ms_count_of((double)w * bucket_s * 1e9);
    o->growth = MS_GROWTH_NONE;
    if (!(most - base >= GROWTH_MIN_BLOCKS * mean_size))
        return;
    size_t tail = w / 4 > 2 ? w / 4 : 2;
    double tail_r2, tail_slope = w >= 4 ? fit(c->live + (w - tail), tail, &tail_r2) : 0;
    if (w >= 4 && slope > 0 && r2 >= GROWTH_MIN_R2 && c->live[w - 1] >= LEVEL_SHARE * most &&
        tail_slope >= GROWTH_TAIL_SLOPE * slope &&
        (double)last >= GROWTH_END_SHARE * (double)active &&
        (double)w * bucket_s >= GROWTH_MIN_SPAN * run_s) {
        o->growth = MS_GROWTH_UNBOUNDED;
        return;
    }
    /* Bounded: the live bytes rose to most and held near it. */
    size_t h = 0;
    while (h < c->n && c->live[h] < LEVEL_SHARE * most)
        h++;
    size_t end = h;
    while (end < c->n && c->live[end] >= PLATEAU_SHARE * most)
        end++;
    if ((double)(end - h) >= (double)c->n / 4)
        o->growth = MS_GROWTH_BOUNDED;
}

/* What is known of s without its series: a sporadic site's whole pattern. */
static void basic(const struct patterns *p, const struct site *s, struct ms_site_pattern *o)
{
    *o = (struct ms_site_pattern){.allocs = s->allocs,
                                  .samples = s->samples,
                                  .live_end_bytes = s->live,
                                  .live_max_bytes = s->live_most};
    if (s->has_alloc) {
        o->first_alloc_ns = ns_since_start(p, s->first_alloc);
        o->last_alloc_ns = ns_since_start(p, s->last_alloc);
    }
}

static int classify(struct patterns *p, struct site *s, uint64_t end_tsc, uint64_t active_tsc,
                    struct series *fine, struct series *coarse, struct ms_site_pattern *o)
{
    basic(p, s, o);
    if (s->samples < MS_PATTERN_MIN_ALLOCS)
        return 0;           /* sporadic: too few to read a series */
    if (!at(p, s, end_tsc)) /* the series reaches the end of the trace */
        return MS_ENOMEM;
    expand(s, fine);
    size_t by = coarsen(fine, coarse);
    double fine_ns = (double)(1ull << s->shift) * p->ns_per_tick, bucket_ns = fine_ns * (double)by;
    o->bucket_ns = ms_count_of(bucket_ns);
    o->buckets = (uint32_t)coarse->n;
    double mean, fine_mean;
    o->cv = spread(coarse->allocs, coarse->n, &mean);
    double sorted[MS_PATTERN_BUCKETS], top = 0;
    memcpy(sorted, coarse->allocs, coarse->n * sizeof *sorted);
    for (size_t k = 0; k < coarse->n; k++)
        o->live_mean_bytes += coarse->live[k] / (double)coarse->n;
    for (size_t k = 0; k < coarse->n; k++) {
        o->active += coarse->allocs[k] > 0;
        o->live_max_bytes = ms_count_of(fmax((double)o->live_max_bytes, coarse->live[k]));
    }
    /* the busiest eighth (at least one bucket) */
    size_t eighth = (coarse->n + 7) / 8;
    for (size_t i = 0; i < eighth; i++) {
        size_t best = i;
        for (size_t k = i + 1; k < coarse->n; k++)
            if (sorted[k] > sorted[best])
                best = k;
        double t = sorted[i];
        sorted[i] = sorted[best];
        sorted[best] = t;
        top += sorted[i];
    }
    double total = 0;
    for (size_t k = 0; k < coarse->n; k++)
        total += coarse->allocs[k];
    o->busiest_share = total > 0 ? top / total : 0;
    double fine_cv = spread(fine->allocs, fine->n, &fine_mean), interval;
    bursts(fine, fine_mean, o, &interval);
    o->period_ns = ms_count_of(interval * fine_ns);
    uint64_t active = active_tsc > s->t0 ? ((active_tsc - s->t0) >> s->shift) / by : 0;
    growth(coarse, (double)s->base, s->last_alloc_idx / by,
           active < coarse->n ? active : coarse->n - 1,
           s->samples ? (double)s->bytes / (double)s->samples : 0, bucket_ns / 1e9,
           end_tsc > p->start_tsc ? (double)(end_tsc - p->start_tsc) * p->ns_per_tick / 1e9 : 0, o);
    /* the allocations recorded per bucket (a sample stands for its weight) */
    double recorded = s->allocs ? mean * (double)s->samples / (double)s->allocs : 0;
    if (o->growth == MS_GROWTH_UNBOUNDED)
        o->pattern = MS_PATTERN_GROWING;
    else if (o->bursts >= PERIODIC_MIN_BURSTS && o->period_regularity >= PERIODIC_REGULARITY &&
             fine_cv >= PERIODIC_MIN_FINE_CV && o->period_ns >= PERIODIC_MIN_NS)
        o->pattern = MS_PATTERN_PERIODIC;
    else if (o->cv > BURSTY_CV + (recorded > 0 ? 1 / sqrt(recorded) : 0))
        o->pattern = MS_PATTERN_BURSTY;
    else
        o->pattern = MS_PATTERN_STEADY;
    return 0;
}

/* When the program's allocating ended: the end of the bucket where its allocations reach
 * ACTIVE_SHARE (a teardown that frees what the run built allocates little). */
static uint64_t active_end(const struct patterns *p, struct series *f)
{
    expand(&p->all, f);
    double total = 0, sum = 0;
    for (size_t k = 0; k < f->n; k++)
        total += f->allocs[k];
    for (size_t k = 0; k < f->n; k++) {
        sum += f->allocs[k];
        if (sum >= ACTIVE_SHARE * total) {
            uint64_t span = (uint64_t)(k + 1) << p->all.shift;
            if (p->all.shift >= 63 || span >> p->all.shift != (uint64_t)(k + 1) ||
                p->all.t0 + span < p->all.t0)
                return UINT64_MAX; /* a hostile clock's */
            return p->all.t0 + span;
        }
    }
    return UINT64_MAX;
}

static int finish(void *state, const struct ms_heap_model *m)
{
    struct patterns *p = state;
    p->slot = calloc(p->nsites ? p->nsites : 1, sizeof *p->slot);
    struct series *fine = malloc(sizeof *fine), *coarse = malloc(sizeof *coarse);
    int err = 0;
    if (!p->slot || !fine || !coarse) {
        err = MS_ENOMEM;
        goto out;
    }
    uint64_t end = ms_heap_model_summary(m)->last_tsc, active = active_end(p, fine);
    for (size_t i = 0; i < p->nsites && !err; i++) {
        struct site *site = &p->sites[i];
        if (site->samples >= MS_PATTERN_MIN_ALLOCS && p->nout < UINT32_MAX - 1) {
            err = ms_grow(&p->out, &p->capout, p->nout + 1, sizeof *p->out, 64);
            if (!err)
                err = classify(p, site, end, active, fine, coarse, &p->out[p->nout]);
            if (!err)
                p->slot[i] = (uint32_t)++p->nout;
        }
        free(site->e); /* the series are read */
        site->e = NULL;
        site->n = site->cap = 0;
    }
    p->finished = !err;
out:
    free(fine);
    free(coarse);
    return err;
}

static void destroy(void *state)
{
    struct patterns *p = state;
    if (!p)
        return;
    for (size_t i = 0; i < p->nsites; i++)
        free(p->sites[i].e);
    free(p->sites);
    free(p->all.e);
    free(p->out);
    free(p->slot);
    free(p);
}

const struct ms_analysis_pass ms_patterns_pass = {
    .name = "patterns",
    .create = create,
    .on_alloc = on_alloc,
    .on_free = on_free,
    .finish = finish,
    .destroy = destroy,
};

const struct ms_site_pattern *ms_patterns_of(const struct ms_heap_model *m, size_t site)
{
    struct patterns *p = (struct patterns *)ms_heap_model_pass(m, &ms_patterns_pass);
    if (!p || !p->finished || site >= ms_heap_model_site_count(m))
        return NULL;
    if (site < p->nsites && p->slot[site])
        return &p->out[p->slot[site] - 1];
    static const struct site none;
    basic(p, site < p->nsites ? &p->sites[site] : &none, &p->scratch);
    return &p->scratch;
}

const char *ms_pattern_name(enum ms_pattern p)
{
    static const char *const names[] = {"sporadic", "steady", "bursty", "periodic", "growing"};
    return (unsigned)p < sizeof names / sizeof *names ? names[p] : "?";
}

const char *ms_growth_name(enum ms_growth g)
{
    static const char *const names[] = {"none", "bounded", "unbounded"};
    return (unsigned)g < sizeof names / sizeof *names ? names[g] : "?";
}
