/* Bottlenecks (bottlenecks.h): each kind's test and thresholds, read after the replay. */
#include "bottlenecks.h"

#include "annotations.h"
#include "common/errors.h"
#include "grow.h"
#include "lifetimes.h"
#include "patterns.h"
#include "sizes.h"

#include <stdlib.h>

/* The thresholds (docs/analyses.md, "Bottlenecks"). */
#define HOT_MIN_ALLOCS 100000 /* a hot loop: this many allocations, */
#define HOT_MIN_RATE 100000.0 /* at this many a second or more over the site's span */
#define TINY_MIN_ALLOCS 10000
#define TINY_MAX_MEAN 64.0
#define CHURN_MIN_STEPS 100 /* small steps, and half the site's reallocs or more */
#define LARGE_MIN_MEAN 65536.0
#define LARGE_MIN_SHORT 100
#define CROSS_MIN_FREES 1000 /* and half the site's ended blocks or more */
#define SLACK_MIN_BYTES 1048576.0
#define SLACK_MIN_SHARE 0.25

static const char *const names[MS_BN_KINDS] = {
    "hot_loop",         "tiny_allocations", "realloc_churn",      "short_lived_large",
    "unbounded_growth", "task_held_memory", "cross_thread_frees", "slack",
};

static const char *const suggestions[MS_BN_KINDS] = {
    "hoist the allocation out of the loop, or keep and reuse one buffer",
    "allocate them together: a pool or arena, an array of objects, or small objects inline in "
    "their owner or on the stack",
    "grow the buffer geometrically (double it) or reserve the final size once",
    "keep the buffer and reuse it: glibc maps and unmaps a block this large at each malloc and "
    "free",
    "a missing free or a cache without a bound: free what is no longer used, or bound the cache",
    "free what the task allocated before it ends, or hand it over explicitly (ms_passport_*)",
    "free on the allocating thread, or use per-thread pools: a free from another thread goes "
    "through the allocating arena's lock",
    "ask for the size the allocator hands out (malloc_usable_size) and use it, or pack small "
    "objects together",
};

const char *ms_bottleneck_name(enum ms_bottleneck_kind k)
{
    return (unsigned)k < MS_BN_KINDS ? names[k] : "?";
}

const char *ms_bottleneck_suggestion(enum ms_bottleneck_kind k)
{
    return (unsigned)k < MS_BN_KINDS ? suggestions[k] : "?";
}

const char *ms_severity_name(enum ms_severity s)
{
    static const char *const sev[] = {"low", "medium", "high"};
    return (unsigned)s < 3 ? sev[s] : "?";
}

/* high at hi or more, medium at mid or more, low below. */
static enum ms_severity grade(double v, double mid, double hi)
{
    return v >= hi ? MS_SEVERITY_HIGH : v >= mid ? MS_SEVERITY_MEDIUM : MS_SEVERITY_LOW;
}

struct found {
    struct ms_bottlenecks *out;
    size_t cap;
    int err;
};

static struct ms_bottleneck *add(struct found *f, enum ms_bottleneck_kind kind,
                                 enum ms_severity sev, size_t site, size_t task)
{
    if (f->err || ms_grow(&f->out->b, &f->cap, f->out->n + 1, sizeof *f->out->b, 16)) {
        f->err = MS_ENOMEM;
        return NULL;
    }
    struct ms_bottleneck *b = &f->out->b[f->out->n++];
    *b = (struct ms_bottleneck){.kind = kind, .severity = sev, .site = site, .task = task};
    return b;
}

static void evidence(struct ms_bottleneck *b, const char *name, double value)
{
    if (b && b->nevidence < MS_BN_EVIDENCE)
        b->evidence[b->nevidence++] = (struct ms_bn_evidence){name, value};
}

static int by_severity(const void *x, const void *y)
{
    const struct ms_bottleneck *a = x, *b = y;
    if (a->severity != b->severity)
        return a->severity > b->severity ? -1 : 1;
    if (a->kind != b->kind)
        return a->kind < b->kind ? -1 : 1;
    double va = a->nevidence ? a->evidence[0].value : 0,
           vb = b->nevidence ? b->evidence[0].value : 0;
    if (va != vb)
        return va > vb ? -1 : 1;
    return (a->site > b->site) - (a->site < b->site);
}

/* One site's tests. */
static void site_bottlenecks(struct found *f, const struct ms_heap_model *m, size_t i,
                             double all_allocs, double peak)
{
    const struct ms_site *s = ms_heap_model_site(m, i);
    const struct ms_site_pattern *p = ms_patterns_of(m, i);
    const struct ms_site_lifetimes *l = ms_lifetimes_of(m, i);
    const struct ms_site_sizes *z = ms_sizes_of(m, i);
    if (!p || !l || !z || !s->allocs)
        return;
    double allocs = (double)s->allocs, share = all_allocs > 0 ? allocs / all_allocs : 0;
    double span = (double)(p->last_alloc_ns - p->first_alloc_ns) / 1e9;
    double rate = p->last_alloc_ns > p->first_alloc_ns ? allocs / span : 0;
    double mean = z->allocs ? z->requested / (double)z->allocs : 0;
    struct ms_bottleneck *b;
    if (allocs >= HOT_MIN_ALLOCS && rate >= HOT_MIN_RATE) {
        b = add(f, MS_BN_HOT_LOOP, grade(share, 0.1, 0.5), i, SIZE_MAX);
        evidence(b, "allocs", allocs);
        evidence(b, "allocs_per_s", rate);
        evidence(b, "share_of_allocs", share);
    }
    if (allocs >= TINY_MIN_ALLOCS && mean < TINY_MAX_MEAN) {
        b = add(f, MS_BN_TINY, grade(share, 0.1, 0.5), i, SIZE_MAX);
        evidence(b, "allocs", allocs);
        evidence(b, "mean_bytes", mean);
        evidence(b, "share_of_allocs", share);
    }
    bool sampled = ms_heap_model_summary(m)->sample_bytes != 0; /* reallocs not known */
    if (!sampled && z->small_steps >= CHURN_MIN_STEPS && 2 * z->small_steps >= z->reallocs) {
        b = add(f, MS_BN_REALLOC_CHURN, grade((double)z->small_steps, 1000, 10000), i, SIZE_MAX);
        evidence(b, "small_steps", (double)z->small_steps);
        evidence(b, "reallocs", (double)z->reallocs);
        evidence(b, "bytes_copied", z->copied);
    }
    if (mean >= LARGE_MIN_MEAN && l->short_lived >= LARGE_MIN_SHORT) {
        b = add(f, MS_BN_SHORT_LIVED_LARGE, grade((double)l->short_lived, 1000, 10000), i,
                SIZE_MAX);
        evidence(b, "short_lived", (double)l->short_lived);
        evidence(b, "mean_bytes", mean);
        evidence(b, "bytes_allocated", (double)s->bytes);
    }
    if (p->pattern == MS_PATTERN_GROWING) {
        double held = peak > 0 ? (double)p->live_max_bytes / peak : 0;
        b = add(f, MS_BN_UNBOUNDED_GROWTH, grade(held, 0.05, 0.25), i, SIZE_MAX);
        evidence(b, "slope_bytes_per_s", p->slope_bytes_per_s);
        evidence(b, "r2", p->r2);
        evidence(b, "live_max_bytes", (double)p->live_max_bytes);
        evidence(b, "share_of_peak", held);
    }
    if (l->other_thread >= CROSS_MIN_FREES && 2 * l->other_thread >= l->ended) {
        b = add(f, MS_BN_CROSS_THREAD, grade((double)l->other_thread, 10000, 100000), i, SIZE_MAX);
        evidence(b, "freed_by_other_thread", (double)l->other_thread);
        evidence(b, "ended", (double)l->ended);
    }
    double usable = z->requested + z->slack;
    if (z->slack >= SLACK_MIN_BYTES && usable > 0 && z->slack / usable >= SLACK_MIN_SHARE) {
        b = add(f, MS_BN_SLACK, grade(z->slack, 8.0 * 1048576, 64.0 * 1048576), i, SIZE_MAX);
        evidence(b, "slack_bytes", z->slack);
        evidence(b, "slack_share", z->slack / usable);
        evidence(b, "mean_bytes", mean);
    }
}

int ms_bottlenecks_find(const struct ms_heap_model *m, struct ms_bottlenecks *out)
{
    *out = (struct ms_bottlenecks){0};
    struct found f = {.out = out};
    const struct ms_summary *sum = ms_heap_model_summary(m);
    double all = (double)sum->allocs, peak = (double)sum->peak_bytes;
    for (size_t i = 0; i < ms_heap_model_site_count(m) && !f.err; i++)
        site_bottlenecks(&f, m, i, all, peak);
    const struct ms_annotations *an = ms_heap_model_annotations(m);
    for (size_t t = 0; an && t < ms_annotations_task_count(an) && !f.err; t++) {
        const struct ms_task_stats *k = ms_annotations_task(an, t);
        if (!k->end_tsc || !k->live_bytes)
            continue;
        double held = peak > 0 ? (double)k->live_bytes / peak : 0;
        struct ms_bottleneck *b = add(&f, MS_BN_TASK_HELD, grade(held, 0.01, 0.1), SIZE_MAX, t);
        evidence(b, "live_bytes", (double)k->live_bytes);
        evidence(b, "share_of_peak", held);
    }
    if (f.err) {
        ms_bottlenecks_free(out);
        return f.err;
    }
    if (out->n) /* none found: no array */
        qsort(out->b, out->n, sizeof *out->b, by_severity);
    return 0;
}

void ms_bottlenecks_free(struct ms_bottlenecks *b)
{
    free(b->b);
    b->b = NULL;
    b->n = 0;
}
