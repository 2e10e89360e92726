/* The JSON report (docs/json-report.md): the same content as the text report, with every
 * stack in full. */
#include "report.h"

#include "analysis/bottlenecks.h"
#include "analysis/entity_rank.h"
#include "analysis/lifetimes.h"
#include "analysis/patterns.h"
#include "analysis/scores.h"
#include "analysis/sizes.h"
#include "analysis/task_profiles.h"
#include "analysis/timeline.h"

#include "analysis/call_sites.h"

#include "analysis/annotations.h"
#include "analysis/misuse.h"
#include "analysis/passports.h"
#include "common/trace_format.h"
#include "json_writer.h"
#include "report_notes.h"
#include "site_rank.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The stack under key (its frames, innermost first). */
/* A frame's fields, in the object open. */
static void frame_fields(struct ms_json *j, const ms_frame *f)
{
    ms_json_str(j, "function", f->function);
    ms_json_str(j, "file", f->file);
    ms_json_u64(j, "line", f->line);
    ms_json_str(j, "module", f->module);
    ms_json_u64(j, "address", f->address);
    ms_json_bool(j, "inlined", f->inlined);
}

static void stack_json_as(struct ms_json *j, struct ms_analysis *a, const char *key, uint32_t stack)
{
    ms_frame frames[MS_MAX_STACK_DEPTH * 2];
    int n = ms_analysis_stack(a, stack, frames, (int)(sizeof frames / sizeof *frames));
    ms_json_begin_array(j, key);
    for (int i = 0; i < n; i++) {
        ms_json_begin_object(j, NULL);
        frame_fields(j, &frames[i]);
        ms_json_end_object(j);
    }
    ms_json_end_array(j);
}

static void stack_json(struct ms_json *j, struct ms_analysis *a, uint32_t stack)
{
    stack_json_as(j, a, "stack", stack);
}

/* The first name the C API gave a block of the site (null: none) and its type. */
static void site_variable_json(struct ms_json *j, struct ms_analysis *a, const struct ms_site *s)
{
    const struct ms_annotations *an = ms_heap_model_annotations(a->model);
    ms_json_str(j, "variable", an ? ms_annotations_string(an, s->var_name) : NULL);
    ms_json_str(j, "type", an ? ms_annotations_string(an, s->var_type) : NULL);
}

/* A count of temporary allocations: null in a sampled trace, which cannot tell them. */
static void temporary_json(struct ms_json *j, struct ms_analysis *a, uint64_t n)
{
    if (ms_heap_model_summary(a->model)->sample_bytes)
        ms_json_str(j, "temporary_allocs", NULL);
    else
        ms_json_u64(j, "temporary_allocs", n);
}

/* key: [{below: bound(k) or null for the last, count_key: counts[k]}, ...] */
static void histogram_json(struct ms_json *j, const char *key, const char *below,
                           const uint64_t *counts, int n, uint64_t (*bound)(int),
                           const char *count_key)
{
    ms_json_begin_array(j, key);
    for (int k = 0; k < n; k++) {
        ms_json_begin_object(j, NULL);
        if (bound(k) == UINT64_MAX)
            ms_json_str(j, below, NULL);
        else
            ms_json_u64(j, below, bound(k));
        ms_json_u64(j, count_key, counts[k]);
        ms_json_end_object(j);
    }
    ms_json_end_array(j);
}

/* The report's time window (memscope report --since/--until/--at), null without one. */
static void window_json(struct ms_json *j, struct ms_analysis *a)
{
    const struct ms_window *w = &a->window;
    if (!w->since && !w->until && !w->after_alloc) {
        ms_json_str(j, "window", NULL);
        return;
    }
    const struct ms_summary *s = ms_heap_model_summary(a->model);
    ms_json_begin_object(j, "window");
    if (w->since)
        ms_json_u64(j, "since_ns", w->since_ns);
    else
        ms_json_str(j, "since_ns", NULL);
    if (w->until)
        ms_json_u64(j, "until_ns", w->until_ns);
    else
        ms_json_str(j, "until_ns", NULL);
    ms_json_bool(j, "at", w->at);
    if (w->after_alloc)
        ms_json_u64(j, "at_alloc", w->at_alloc);
    else
        ms_json_str(j, "at_alloc", NULL);
    ms_json_bool(j, "ends_before_trace", w->cut);
    ms_json_str(j, "ended_by", !w->cut ? NULL : w->cut_by_allocs ? "at_alloc" : "time");
    if (w->cut)
        ms_json_u64(j, "end_ns", w->end_ns);
    else
        ms_json_str(j, "end_ns", NULL);
    ms_json_u64(j, "start_live_bytes", s->window_live_bytes);
    ms_json_u64(j, "start_live_blocks", s->window_live_blocks);
    ms_json_end_object(j);
}

/* profile: the task's blocks' live bytes over time and lifetimes (task_profiles.h); null when
 * it allocated nothing, or the analysis did not run. */
static void task_profile_json(struct ms_json *j, struct ms_analysis *a, uint64_t id)
{
    const struct ms_task_profile *p = ms_task_profile_of(a->model, id);
    if (!p) {
        ms_json_str(j, "profile", NULL);
        return;
    }
    ms_json_begin_object(j, "profile");
    ms_json_u64(j, "ended", p->ended);
    ms_json_u64(j, "live_at_end", p->live_at_end);
    ms_json_begin_array(j, "lifetime_by_time");
    for (int k = 0; k < MS_LIFETIME_TIME_BUCKETS; k++) {
        ms_json_begin_object(j, NULL);
        uint64_t bound = ms_lifetime_time_bound(k);
        if (bound == UINT64_MAX)
            ms_json_str(j, "below_ns", NULL);
        else
            ms_json_u64(j, "below_ns", bound);
        ms_json_u64(j, "blocks", p->by_time[k]);
        ms_json_end_object(j);
    }
    ms_json_end_array(j);
    ms_json_u64(j, "live_origin_ns", p->origin_ns);
    ms_json_u64(j, "live_bucket_ns", p->width_ns);
    ms_json_begin_array(j, "live_max_bytes");
    for (uint32_t k = 0; k < p->n; k++)
        ms_json_u64(j, NULL, p->live_max[k]);
    ms_json_end_array(j);
    ms_json_end_object(j);
}

/* glibc's figures sampled at a moment (timeline.h). */
static void allocator_json(struct ms_json *j, const char *key, const struct ms_allocator_sample *s)
{
    ms_json_begin_object(j, key);
    ms_json_u64(j, "time_ns", s->time_ns);
    ms_json_u64(j, "heap_bytes", s->heap);
    ms_json_u64(j, "in_use_bytes", s->in_use);
    ms_json_u64(j, "free_bytes", s->free);
    ms_json_u64(j, "arena_bytes", s->arena);
    ms_json_u64(j, "mmapped_bytes", s->mmapped);
    ms_json_u64(j, "top_bytes", s->top);
    ms_json_end_object(j);
}

/* The timeline's buckets on one axis: pos names the bucket's start (time_ns, allocated_bytes),
 * origin + i * width. */
static void timeline_axis_json(struct ms_json *j, const char *key, const char *pos,
                               const struct ms_timeline_axis *x, uint64_t origin,
                               const uint64_t *rss, const struct ms_timeline_allocator *alloc)
{
    ms_json_begin_array(j, key);
    for (size_t i = 0; i < x->n; i++) {
        const struct ms_timeline_bucket *b = &x->b[i];
        ms_json_begin_object(j, NULL);
        ms_json_u64(j, pos, origin + i * x->width);
        ms_json_u64(j, "heap_bytes", b->heap_end);
        ms_json_u64(j, "heap_max_bytes", b->heap_max);
        if (rss && rss[i])
            ms_json_u64(j, "rss_bytes", rss[i]);
        else if (rss)
            ms_json_str(j, "rss_bytes", NULL); /* no sample in it */
        if (alloc && alloc[i].present)
            allocator_json(j, "allocator", &alloc[i].s);
        else if (alloc)
            ms_json_str(j, "allocator", NULL);
        ms_json_u64(j, "allocs", b->allocs);
        ms_json_u64(j, "frees", b->frees);
        ms_json_u64(j, "bytes_allocated", b->bytes_allocated);
        ms_json_end_object(j);
    }
    ms_json_end_array(j);
}

/* timeline, timeline_bucket_ns, timeline_by_allocated, timeline_bucket_bytes, peaks
 * (timeline.h, docs/analyses.md); null each when the analysis did not run. */
static void timeline_json(struct ms_json *j, struct ms_analysis *a)
{
    const struct ms_timeline *t = ms_timeline_of(a->model);
    if (!t) {
        ms_json_str(j, "timeline", NULL);
        ms_json_str(j, "memory_gap", NULL);
        ms_json_str(j, "peaks", NULL);
        return;
    }
    ms_json_u64(j, "timeline_bucket_ns", t->time.width);
    timeline_axis_json(j, "timeline", "time_ns", &t->time, t->origin_ns, t->rss, t->allocator);
    ms_json_u64(j, "timeline_bucket_bytes", t->allocated.width);
    timeline_axis_json(j, "timeline_by_allocated", "allocated_bytes", &t->allocated, 0, NULL, NULL);
    if (t->gap.present) {
        ms_json_begin_object(j, "memory_gap");
        ms_json_u64(j, "rss_bytes", t->gap.rss);
        allocator_json(j, "allocator", &t->gap.at);
        ms_json_i64(j, "overhead_bytes", t->gap.overhead);
        ms_json_u64(j, "free_bytes", t->gap.at.free);
        ms_json_i64(j, "other_bytes", t->gap.other);
        ms_json_end_object(j);
    } else {
        ms_json_str(j, "memory_gap", NULL);
    }
    ms_json_begin_array(j, "peaks");
    for (size_t i = 0; i < t->npeaks; i++) {
        ms_json_begin_object(j, NULL);
        ms_json_u64(j, "time_ns", t->peaks[i].time_ns);
        ms_json_u64(j, "heap_bytes", t->peaks[i].heap_bytes);
        if (t->peaks[i].at_alloc != UINT64_MAX)
            ms_json_u64(j, "at_alloc", t->peaks[i].at_alloc);
        else
            ms_json_str(j, "at_alloc", NULL); /* the heap as the window opened */
        ms_json_end_object(j);
    }
    ms_json_end_array(j);
}

/* The site's lifetimes (lifetimes.h, docs/analyses.md). */
static void lifetime_json(struct ms_json *j, const struct ms_site_lifetimes *l)
{
    if (!l) {
        ms_json_str(j, "lifetime", NULL);
        return;
    }
    ms_json_begin_object(j, "lifetime");
    ms_json_u64(j, "ended", l->ended);
    ms_json_u64(j, "live_at_end", l->live_at_end);
    if (l->ended) {
        ms_json_u64(j, "mean_ns", ms_lifetime_mean_ns(l));
        ms_json_u64(j, "max_ns", l->max_ns);
    } else {
        ms_json_str(j, "mean_ns", NULL);
        ms_json_str(j, "max_ns", NULL);
    }
    ms_json_u64(j, "short_lived", l->short_lived);
    ms_json_u64(j, "long_lived", l->long_lived);
    ms_json_u64(j, "freed_by_other_thread", l->other_thread);
    histogram_json(j, "by_time", "below_ns", l->by_time, MS_LIFETIME_TIME_BUCKETS,
                   ms_lifetime_time_bound, "blocks");
    histogram_json(j, "by_allocations_between", "below", l->by_seq, MS_LIFETIME_SEQ_BUCKETS,
                   ms_lifetime_seq_bound, "blocks");
    ms_json_end_object(j);
}

/* The site's pattern and the figures behind it (patterns.h, docs/analyses.md). */
static void pattern_json(struct ms_json *j, const struct ms_site_pattern *p)
{
    ms_json_str(j, "pattern", p ? ms_pattern_name(p->pattern) : NULL);
    if (!p) {
        ms_json_str(j, "pattern_evidence", NULL);
        return;
    }
    ms_json_begin_object(j, "pattern_evidence");
    ms_json_u64(j, "allocs", p->allocs);
    ms_json_u64(j, "samples", p->samples);
    ms_json_u64(j, "bucket_ns", p->bucket_ns);
    ms_json_u64(j, "buckets", p->buckets);
    ms_json_u64(j, "active_buckets", p->active);
    ms_json_f64(j, "allocs_cv", p->cv);
    ms_json_f64(j, "busiest_eighth_share", p->busiest_share);
    ms_json_u64(j, "bursts", p->bursts);
    if (p->bursts >= 2) {
        ms_json_u64(j, "period_ns", p->period_ns);
        ms_json_f64(j, "period_regularity", p->period_regularity);
    } else {
        ms_json_str(j, "period_ns", NULL);
        ms_json_str(j, "period_regularity", NULL);
    }
    ms_json_str(j, "growth", ms_growth_name(p->growth));
    ms_json_f64(j, "slope_bytes_per_s", p->slope_bytes_per_s);
    ms_json_f64(j, "r2", p->r2);
    ms_json_u64(j, "growth_window_ns", p->growth_ns);
    ms_json_u64(j, "live_max_bytes", p->live_max_bytes);
    ms_json_u64(j, "live_end_bytes", p->live_end_bytes);
    ms_json_end_object(j);
}

/* An efficiency score (scores.h): its value and the parts known, with their weights. */
static void score_json(struct ms_json *j, const struct ms_score *s)
{
    if (s->value < 0) {
        ms_json_str(j, "score", NULL);
        return;
    }
    ms_json_begin_object(j, "score");
    ms_json_u64(j, "value", (uint64_t)s->value);
    ms_json_begin_array(j, "parts");
    for (int p = 0; p < MS_SCORE_PARTS; p++) {
        if (!s->part[p].known)
            continue;
        ms_json_begin_object(j, NULL);
        ms_json_str(j, "name", ms_score_part_name(p));
        ms_json_f64(j, "waste", s->part[p].waste);
        ms_json_f64(j, "weight", s->part[p].weight);
        ms_json_end_object(j);
    }
    ms_json_end_array(j);
    ms_json_end_object(j);
}

/* The site's sizes and reallocs (sizes.h, docs/analyses.md). */
static void sizes_json(struct ms_json *j, const struct ms_site_sizes *z, bool sampled)
{
    if (!z || !z->allocs) {
        ms_json_str(j, "sizes", NULL);
        return;
    }
    ms_json_begin_object(j, "sizes");
    ms_json_u64(j, "min", z->min);
    ms_json_u64(j, "max", z->max);
    ms_json_f64(j, "mean", z->requested / (double)z->allocs);
    ms_json_f64(j, "slack_bytes", z->slack);
    ms_json_f64(j, "slack_share", z->slack / (z->requested + z->slack));
    histogram_json(j, "by_size", "up_to", z->by_size, MS_SIZE_BUCKETS, ms_size_bound, "allocs");
    if (sampled) { /* a realloc is one only when both its blocks are sampled */
        ms_json_str(j, "reallocs", NULL);
        ms_json_end_object(j);
        return;
    }
    ms_json_begin_object(j, "reallocs");
    ms_json_u64(j, "count", z->reallocs);
    ms_json_u64(j, "moved", z->moved);
    ms_json_f64(j, "bytes_copied", z->copied);
    ms_json_u64(j, "small_steps", z->small_steps);
    histogram_json(j, "by_growth", "below_percent", z->by_growth, MS_GROWTH_BUCKETS,
                   ms_growth_bound, "reallocs");
    ms_json_end_object(j);
    ms_json_end_object(j);
}

static void site_json(struct ms_json *j, struct ms_analysis *a, size_t i)
{
    const struct ms_site *s = ms_heap_model_site(a->model, i);
    ms_json_begin_object(j, NULL);
    ms_json_u64(j, "stack_id", s->stack);
    ms_json_u64(j, "allocs", s->allocs);
    ms_json_u64(j, "bytes_allocated", s->bytes);
    ms_json_u64(j, "peak_bytes", s->peak_bytes);
    ms_json_u64(j, "leaked_bytes", s->live_bytes);
    ms_json_u64(j, "leaked_blocks", s->live_blocks);
    temporary_json(j, a, s->temporary);
    site_variable_json(j, a, s);
    lifetime_json(j, ms_lifetimes_of(a->model, i));
    pattern_json(j, ms_patterns_of(a->model, i));
    sizes_json(j, ms_sizes_of(a->model, i), ms_heap_model_summary(a->model)->sample_bytes != 0);
    struct ms_score sc;
    ms_score_site(a->model, i, &sc);
    score_json(j, &sc);
    stack_json(j, a, s->stack);
    ms_json_end_object(j);
}

/* The sites in any top-N ranking, each once, with the rankings they are in. */
static void sites_json(struct ms_json *j, struct ms_analysis *a, size_t top)
{
    static const enum ms_rank_key keys[] = {MS_RANK_ALLOCS, MS_RANK_PEAK, MS_RANK_BYTES,
                                            MS_RANK_TEMPORARY, MS_RANK_GROWTH};
    static const char *names[] = {"by_allocs", "by_peak", "by_bytes_allocated", "by_temporary",
                                  "by_growth"};
    size_t nsites = ms_heap_model_site_count(a->model);
    char *chosen = calloc(nsites ? nsites : 1, 1);
    ms_json_begin_object(j, "rankings");
    for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
        size_t *idx;
        size_t n = ms_rank_sites(a->model, keys[k], top, &idx);
        ms_json_begin_array(j, names[k]);
        for (size_t i = 0; i < n; i++) {
            ms_json_u64(j, NULL, ms_heap_model_site(a->model, idx[i])->stack);
            if (chosen)
                chosen[idx[i]] = 1;
        }
        ms_json_end_array(j);
        free(idx);
    }
    ms_json_end_object(j);
    ms_json_begin_array(j, "sites");
    for (size_t i = 0; i < nsites && chosen; i++)
        if (chosen[i])
            site_json(j, a, i);
    ms_json_end_array(j);
    free(chosen);
}

/* The bottlenecks (bottlenecks.h): kind, severity, the site with its stack or the task, the
 * evidence by name, the suggestion. */
static void bottlenecks_json(struct ms_json *j, struct ms_analysis *a)
{
    struct ms_bottlenecks bs;
    if (!ms_patterns_of(a->model, 0) || ms_bottlenecks_find(a->model, &bs)) {
        ms_json_str(j, "bottlenecks", NULL);
        return;
    }
    const struct ms_annotations *an = ms_heap_model_annotations(a->model);
    ms_json_begin_array(j, "bottlenecks");
    for (size_t i = 0; i < bs.n; i++) {
        const struct ms_bottleneck *b = &bs.b[i];
        ms_json_begin_object(j, NULL);
        ms_json_str(j, "kind", ms_bottleneck_name(b->kind));
        ms_json_str(j, "severity", ms_severity_name(b->severity));
        if (b->site != SIZE_MAX) {
            uint32_t stack = ms_heap_model_site(a->model, b->site)->stack;
            ms_json_begin_object(j, "site");
            ms_json_u64(j, "stack_id", stack);
            stack_json(j, a, stack);
            ms_json_end_object(j);
        } else {
            ms_json_str(j, "site", NULL);
        }
        if (b->task != SIZE_MAX && an) {
            const struct ms_task_stats *t = ms_annotations_task(an, b->task);
            ms_json_begin_object(j, "task");
            ms_json_u64(j, "id", t->id);
            ms_json_str(j, "name", ms_annotations_string(an, t->name));
            ms_json_end_object(j);
        } else {
            ms_json_str(j, "task", NULL);
        }
        ms_json_begin_object(j, "evidence");
        for (int e = 0; e < b->nevidence; e++)
            ms_json_f64(j, b->evidence[e].name, b->evidence[e].value);
        ms_json_end_object(j);
        ms_json_str(j, "suggestion", ms_bottleneck_suggestion(b->kind));
        ms_json_end_object(j);
    }
    ms_json_end_array(j);
    ms_bottlenecks_free(&bs);
}

/* The hotspots (hotspots.h): the groups in any top-N ranking, each once, and the rankings as
 * indices into them. */
static void hotspots_json(struct ms_json *j, struct ms_analysis *a,
                          const struct ms_report_options *o)
{
    struct ms_hotspots h;
    if (!ms_patterns_of(a->model, 0) || ms_hotspots_build(a, o->group_by, o->alloc_fns, &h)) {
        ms_json_str(j, "hotspots", NULL);
        return;
    }
    static const enum ms_hotspot_key keys[] = {MS_HOT_ALLOCS, MS_HOT_BYTES, MS_HOT_PEAK,
                                               MS_HOT_RATE};
    static const char *names[] = {"by_allocs", "by_bytes_allocated", "by_peak",
                                  "by_allocation_rate"};
    size_t *idx[4], n[4], listed = 0;
    size_t *pos = calloc(h.n ? h.n : 1, sizeof *pos),
           *order = malloc((h.n ? h.n : 1) * sizeof *order);
    if (!order) {
        free(pos);
        pos = NULL;
    }
    for (int k = 0; k < 4; k++) {
        n[k] = ms_hotspots_rank(&h, a->model, keys[k], o->top, &idx[k]);
        for (size_t i = 0; i < n[k] && pos; i++)
            if (!pos[idx[k][i]]) {
                order[listed] = idx[k][i];
                pos[idx[k][i]] = ++listed; /* its place in groups, + 1 */
            }
    }
    ms_json_begin_object(j, "hotspots");
    ms_json_str(j, "group_by", ms_group_by_name(o->group_by));
    ms_json_begin_array(j, "groups");
    for (size_t i = 0; i < listed; i++) {
        const struct ms_hotspot *x = &h.g[order[i]];
        uint32_t stack = ms_heap_model_site(a->model, x->site)->stack;
        ms_json_begin_object(j, NULL);
        ms_json_str(j, "name", x->name);
        ms_json_begin_object(j, "frame");
        frame_fields(j, &x->frame);
        ms_json_end_object(j);
        ms_json_u64(j, "stacks", x->stacks);
        ms_json_u64(j, "allocs", x->allocs);
        ms_json_u64(j, "bytes_allocated", x->bytes);
        ms_json_u64(j, "peak_bytes", x->peak_bytes);
        ms_json_u64(j, "leaked_bytes", x->live_bytes);
        ms_json_u64(j, "leaked_blocks", x->live_blocks);
        temporary_json(j, a, x->temporary);
        ms_json_f64(j, "allocs_per_s", x->rate >= 0 ? x->rate : NAN);
        ms_json_u64(j, "stack_id", stack);
        stack_json(j, a, stack);
        ms_json_end_object(j);
    }
    ms_json_end_array(j);
    for (int k = 0; k < 4; k++) {
        ms_json_begin_array(j, names[k]);
        for (size_t i = 0; i < n[k] && pos; i++)
            ms_json_u64(j, NULL, pos[idx[k][i]] - 1);
        ms_json_end_array(j);
        free(idx[k]);
    }
    ms_json_end_object(j);
    free(pos);
    free(order);
    ms_hotspots_free(&h);
}

/* Sampling (MEMSCOPE_SAMPLE_BYTES, docs/json-report.md): the mean, which figures are estimates,
 * and the exact counts by call site (the top ones, 0: all). */
/* key: {bytes, blocks}. */
static void bytes_blocks_json(struct ms_json *j, const char *key, uint64_t bytes, uint64_t blocks)
{
    ms_json_begin_object(j, key);
    ms_json_u64(j, "bytes", bytes);
    ms_json_u64(j, "blocks", blocks);
    ms_json_end_object(j);
}

/* summary.leak_kinds: each kind's {bytes, blocks} and the heuristics' share of the still
 * reachable ones, or null with leak_kinds_missing saying why. */
static void leak_kinds_json(struct ms_json *j, struct ms_analysis *a)
{
    const struct ms_summary *s = ms_heap_model_summary(a->model);
    char why[512];
    const char *missing = ms_report_no_leak_kinds(a, why, sizeof why);
    bytes_blocks_json(j, "suppressed", s->suppressed_bytes, s->suppressed_blocks);
    if (missing) {
        ms_json_str(j, "leak_kinds", NULL);
        ms_json_str(j, "leak_kinds_missing", missing);
        return;
    }
    ms_json_begin_object(j, "leak_kinds");
    for (int k = 0; k < MS_LEAK_KINDS; k++)
        bytes_blocks_json(j, ms_leak_kind_name(k), s->kind_bytes[k], s->kind_blocks[k]);
    bytes_blocks_json(j, "suppressed", s->suppressed_bytes, s->suppressed_blocks);
    ms_json_begin_object(j, "reachable_via_heuristic");
    for (int h = 0; h < MS_LEAK_HEURISTICS; h++)
        bytes_blocks_json(j, ms_leak_heuristic_name(h), s->heuristic_bytes[h],
                          s->heuristic_blocks[h]);
    ms_json_end_object(j);
    bytes_blocks_json(j, "not_scanned", s->unscanned_bytes, s->unscanned_blocks);
    ms_json_u64(j, "root_bytes", s->scan_root_bytes);
    ms_json_u64(j, "unreadable_bytes", s->scan_unreadable_bytes);
    ms_json_u64(j, "scan_ns", s->scan_ns);
    ms_json_end_object(j);
}

/* kind: an enum ms_leak_kind, MS_LEAK_KINDS for suppressed, -1 for none known. */
static void leak_json(struct ms_json *j, struct ms_analysis *a, const struct ms_site *site,
                      int kind, uint64_t bytes, uint64_t blocks)
{
    ms_json_begin_object(j, NULL);
    if (kind >= 0)
        ms_json_str(j, "kind", kind < MS_LEAK_KINDS ? ms_leak_kind_name(kind) : "suppressed");
    if (site->suppressed && a->supp)
        ms_json_str(j, "suppression", a->supp->v[site->suppressed - 1].pattern);
    ms_json_u64(j, "bytes", bytes);
    ms_json_u64(j, "blocks", blocks);
    ms_json_u64(j, "stack_id", site->stack);
    site_variable_json(j, a, site);
    stack_json(j, a, site->stack);
    ms_json_end_object(j);
}

/* leaks[]: every site with blocks live at the end, by bytes; with the scan, one entry per site
 * and kind, definitely lost first. */
static void leaks_json(struct ms_json *j, struct ms_analysis *a)
{
    const struct ms_summary *s = ms_heap_model_summary(a->model);
    bool kinds = s->leak_scan && s->scan_status == MS_SCAN_DONE;
    size_t *idx;
    size_t n = ms_rank_sites(a->model, MS_RANK_LEAKED, 0, &idx);
    ms_json_begin_array(j, "leaks");
    for (int k = kinds ? 0 : -1; k < (kinds ? MS_LEAK_KINDS : 0); k++)
        for (size_t i = 0; i < n; i++) {
            const struct ms_site *site = ms_heap_model_site(a->model, idx[i]);
            if (site->suppressed)
                continue;
            if (k < 0)
                leak_json(j, a, site, k, site->live_bytes, site->live_blocks);
            else if (site->kind_blocks[k])
                leak_json(j, a, site, k, site->kind_bytes[k], site->kind_blocks[k]);
        }
    /* the suppressed ones last, one entry per stack */
    for (size_t i = 0; i < n; i++) {
        const struct ms_site *site = ms_heap_model_site(a->model, idx[i]);
        if (site->suppressed)
            leak_json(j, a, site, MS_LEAK_KINDS, site->live_bytes, site->live_blocks);
    }
    ms_json_end_array(j);
    free(idx);
    /* suppressions[]: each suppression and what it took, as LeakSanitizer's "Suppressions
     * used" */
    ms_json_begin_array(j, "suppressions");
    for (size_t i = 0; a->supp && i < a->supp->n; i++) {
        const struct ms_suppression *x = &a->supp->v[i];
        ms_json_begin_object(j, NULL);
        ms_json_str(j, "pattern", x->pattern);
        ms_json_str(j, "file", x->file);
        ms_json_u64(j, "line", x->line);
        ms_json_u64(j, "stacks", x->groups);
        ms_json_u64(j, "blocks", x->blocks);
        ms_json_u64(j, "bytes", x->bytes);
        ms_json_end_object(j);
    }
    ms_json_end_array(j);
}

static void scanned_block_json(struct ms_json *j, struct ms_analysis *a,
                               const struct ms_scanned_block *b)
{
    ms_json_u64(j, "address", b->address);
    ms_json_u64(j, "size", b->size);
    ms_json_u64(j, "stack_id", b->stack);
    stack_json(j, a, b->stack);
}

/* Who keeps what alive (docs/json-report.md), from view g: leak_graph's totals, retainers[] and
 * unreachable_cycles[] (the first top of each; 0: all the scan listed). */
static void who_keeps_json(struct ms_json *j, struct ms_analysis *a, const struct ms_graph_view *g,
                           size_t top)
{
    const struct ms_leak_scan_info *s = g->scan;
    if (!s) {
        ms_json_str(j, "leak_graph", NULL);
    } else {
        ms_json_begin_object(j, "leak_graph");
        ms_json_u64(j, "blocks", s->n);
        ms_json_u64(j, "edges", s->edges);
        ms_json_u64(j, "top_level_blocks", s->top_level);
        ms_json_u64(j, "unreachable_cycles", s->all_cycles);
        ms_json_u64(j, "cycle_blocks", s->cycle_blocks);
        ms_json_u64(j, "cycle_bytes", s->cycle_bytes);
        ms_json_end_object(j);
    }
    ms_json_begin_array(j, "retainers");
    for (size_t i = 0; s && i < s->nretainers && (!top || i < top); i++) {
        const struct ms_leak_retainer *r = &s->retainers[i];
        struct ms_scanned_block b = ms_analysis_graph_block(a, g, r->block);
        ms_json_begin_object(j, NULL);
        scanned_block_json(j, a, &b);
        ms_json_u64(j, "retained_bytes", r->bytes);
        ms_json_u64(j, "retained_blocks", r->blocks);
        ms_json_str(j, "name", b.name);
        ms_json_end_object(j);
    }
    ms_json_end_array(j);
    ms_json_begin_array(j, "unreachable_cycles");
    for (size_t c = 0; s && c < s->ncycles && (!top || c < top); c++) {
        const struct ms_leak_cycle *y = &s->cycles[c];
        ms_json_begin_array(j, NULL);
        for (size_t k = 0; k < y->listed; k++) {
            struct ms_scanned_block b = ms_analysis_graph_block(a, g, s->member[y->first + k]);
            ms_json_begin_object(j, NULL);
            scanned_block_json(j, a, &b);
            ms_json_end_object(j);
        }
        ms_json_end_array(j);
    }
    ms_json_end_array(j);
}

/* at_peak (docs/json-report.md): the scan at the peak that memscope run made
 * (MEMSCOPE_SCAN_AT_PEAK), with who kept what alive then; null when there is none. */
static void at_peak_json(struct ms_json *j, struct ms_analysis *a, size_t top)
{
    struct ms_graph_view g = ms_analysis_graph(a, true);
    if (!g.check) {
        ms_json_str(j, "at_peak", NULL);
        return;
    }
    ms_json_begin_object(j, "at_peak");
    ms_json_u64(j, "leak_check", g.check->seq);
    ms_json_u64(j, "time_ns", ms_analysis_ns(a, g.check->tsc));
    ms_json_u64(j, "live_bytes", g.check->live_bytes);
    ms_json_u64(j, "live_blocks", g.check->live_blocks);
    ms_json_u64(j, "peak_bytes", ms_heap_model_summary(a->model)->peak_bytes);
    who_keeps_json(j, a, &g, top);
    ms_json_end_object(j);
}

/* leak_checks[] (docs/json-report.md): each on-demand scan, its kinds when it was scanned, and
 * its lost blocks by stack (the top of them; 0: all the model kept). */
static void leak_checks_json(struct ms_json *j, struct ms_analysis *a, size_t top)
{
    const struct ms_leak_checks *c = ms_heap_model_leak_checks(a->model);
    ms_json_u64(j, "leak_checks_asked", c->total);
    ms_json_begin_array(j, "leak_checks");
    for (size_t i = 0; i < c->n; i++) {
        const struct ms_leak_check *k = &c->v[i];
        ms_json_begin_object(j, NULL);
        ms_json_u64(j, "seq", k->seq);
        ms_json_u64(j, "time_ns", ms_analysis_ns(a, k->tsc));
        ms_json_str(j, "cause", ms_check_cause_name((unsigned)k->cause));
        bytes_blocks_json(j, "live", k->live_bytes, k->live_blocks);
        bool done = k->scanned && k->status == MS_SCAN_DONE;
        const char *why = NULL;
        if (k->skipped)
            why = k->skipped > 0 ? ms_check_skip_reason((unsigned)k->skipped) : NULL;
        else if (!k->scanned)
            why = "memscope run kept no scan of its snapshot";
        else if (!done)
            why = k->status == MS_SCAN_NO_ACCESS ? "its memory could not be read"
                                                 : "memscope run ran out of memory";
        ms_json_str(j, "not_scanned", done ? NULL : why ? why : "unknown");
        if (k->skipped == MS_CHECK_THREADS)
            ms_json_u64(j, "threads", k->threads);
        if (done) {
            ms_json_begin_object(j, "leak_kinds");
            for (int n = 0; n < MS_LEAK_KINDS; n++)
                bytes_blocks_json(j, ms_leak_kind_name(n), k->kind_bytes[n], k->kind_blocks[n]);
            bytes_blocks_json(j, "suppressed", k->suppressed_bytes, k->suppressed_blocks);
            ms_json_u64(j, "not_scanned_blocks", k->unscanned_blocks);
            ms_json_u64(j, "scan_ns", k->scan_ns);
            ms_json_end_object(j);
            ms_json_begin_array(j, "lost");
            size_t listed = 0;
            for (size_t l = 0; l < k->ngroups && (!top || listed < top); l++) {
                const struct ms_leak_check_group *g = &k->groups[l];
                if (g->kind == MS_LEAK_REACHABLE || g->suppressed)
                    continue;
                listed++;
                ms_json_begin_object(j, NULL);
                ms_json_str(j, "kind", ms_leak_kind_name(g->kind));
                ms_json_u64(j, "bytes", g->bytes);
                ms_json_u64(j, "blocks", g->blocks);
                ms_json_u64(j, "stack_id", g->stack);
                stack_json(j, a, g->stack);
                ms_json_end_object(j);
            }
            ms_json_end_array(j);
        }
        ms_json_end_object(j);
    }
    ms_json_end_array(j);
}

static void sampling_json(struct ms_json *j, struct ms_analysis *a, size_t top)
{
    const struct ms_summary *s = ms_heap_model_summary(a->model);
    static const char *estimated[] = {"summary.peak_bytes",
                                      "summary.peak_low_bytes",
                                      "summary.peak_high_bytes",
                                      "summary.leaked_bytes",
                                      "summary.leaked_blocks",
                                      "leaks",
                                      "rankings",
                                      "sites",
                                      "threads",
                                      "tasks",
                                      "scopes"};
    ms_json_begin_object(j, "sampling");
    ms_json_u64(j, "mean_bytes", s->sample_bytes);
    ms_json_u64(j, "sampled_allocs", s->sample_bytes ? s->sampled_allocs : s->allocs);
    ms_json_begin_array(j, "estimated");
    for (size_t i = 0; s->sample_bytes && i < sizeof estimated / sizeof *estimated; i++)
        ms_json_str(j, NULL, estimated[i]);
    ms_json_end_array(j);
    const struct ms_call_sites *c = ms_heap_model_call_sites(a->model);
    ms_json_begin_array(j, "call_sites");
    for (size_t i = 0; c && i < c->n && (!top || i < top); i++) {
        ms_frame f = ms_analysis_call_site(a, c->items[i].ip);
        ms_json_begin_object(j, NULL);
        ms_json_u64(j, "address", c->items[i].ip);
        ms_json_str(j, "function", f.function);
        ms_json_str(j, "file", f.file);
        ms_json_u64(j, "line", f.line);
        ms_json_str(j, "module", f.module);
        ms_json_u64(j, "allocs", c->items[i].allocs);
        ms_json_u64(j, "bytes_allocated", c->items[i].bytes);
        ms_json_end_object(j);
    }
    ms_json_end_array(j);
    ms_json_end_object(j);
}

/* Passports (docs/json-report.md): every block kept that crossed modules or was stamped, and
 * the blocks and bytes of each status. */
static void passports_json(struct ms_json *j, struct ms_analysis *a)
{
    const struct ms_passports *pp = ms_heap_model_passports(a->model);
    const struct ms_annotations *an = ms_heap_model_annotations(a->model);
    const struct ms_module_owner *o = pp ? ms_passports_owners(pp) : NULL;
    /* The first 1,000 (each has two stacks: more would make the report hundreds of MB); the
     * statuses count them all. */
    size_t listed = pp ? ms_passports_count(pp) : 0;
    listed = listed < 1000 ? listed : 1000;
    ms_json_begin_array(j, "passports");
    for (size_t i = 0; i < listed; i++) {
        const struct ms_passport *q = ms_passports_get(pp, i);
        ms_json_begin_object(j, NULL);
        ms_json_u64(j, "address", q->address);
        ms_json_u64(j, "size", q->size);
        ms_json_str(j, "owner", ms_module_owner_path(o, q->owner));
        ms_json_str(j, "freed_by", ms_module_owner_path(o, q->freed_by));
        ms_json_str(j, "custodian", q->handed ? ms_annotations_string(an, q->custodian) : NULL);
        ms_json_str(j, "status", ms_passport_status_key(q->status));
        ms_json_begin_array(j, "stamps");
        for (uint32_t k = 0; k < q->nstamps; k++) {
            ms_json_begin_object(j, NULL);
            ms_json_str(j, "action", ms_passport_action_key(q->stamps[k].action));
            ms_json_str(j, "module", ms_annotations_string(an, q->stamps[k].module));
            ms_json_str(j, "note", ms_annotations_string(an, q->stamps[k].note));
            ms_json_u64(j, "time_ns", ms_analysis_ns(a, q->stamps[k].tsc));
            ms_json_end_object(j);
        }
        ms_json_end_array(j);
        ms_json_u64(j, "stamps_total", q->stamps_total);
        stack_json_as(j, a, "alloc_stack", q->alloc_stack);
        if (q->free_stack)
            stack_json_as(j, a, "free_stack", q->free_stack);
        else
            ms_json_str(j, "free_stack", NULL);
        ms_json_end_object(j);
    }
    ms_json_end_array(j);
    ms_json_u64(j, "passports_not_listed",
                pp ? ms_passports_forgotten(pp) + ms_passports_count(pp) - listed : 0);
    uint64_t blocks[MS_PASSPORT_STATUS_MAX], bytes[MS_PASSPORT_STATUS_MAX];
    ms_passports_status_totals(pp, blocks, bytes);
    ms_json_begin_object(j, "passport_statuses");
    for (int s = 0; s < MS_PASSPORT_STATUS_MAX; s++) {
        ms_json_begin_object(j, ms_passport_status_key((enum ms_passport_status)s));
        ms_json_u64(j, "blocks", blocks[s]);
        ms_json_u64(j, "bytes", bytes[s]);
        ms_json_end_object(j);
    }
    ms_json_end_object(j);
}

/* The C API's sections (docs/json-report.md): variables, scopes, tasks, api_errors. */
/* thread_rankings (tids) and task_rankings (ids): entity_rank.h. */
static void entity_rankings_json(struct ms_json *j, struct ms_analysis *a, size_t top)
{
    const struct ms_annotations *an = ms_heap_model_annotations(a->model);
    for (int which = 0; which < 2; which++) {
        ms_json_begin_object(j, which ? "task_rankings" : "thread_rankings");
        for (int k = 0; k < MS_ENTITY_KEYS; k++) {
            if (!which && (k == MS_BY_RATE || k == MS_BY_CPU))
                continue; /* not kept for threads */
            size_t *idx;
            size_t n = which ? ms_rank_tasks(a->model, k, top, ms_analysis_task_ns, a, &idx)
                             : ms_rank_threads(a->model, k, top, &idx);
            ms_json_begin_array(j, ms_entity_key_name(k));
            for (size_t i = 0; i < n; i++)
                ms_json_u64(j, NULL,
                            which ? ms_annotations_task(an, idx[i])->id
                                  : ms_heap_model_thread(a->model, idx[i])->tid);
            ms_json_end_array(j);
            free(idx);
        }
        ms_json_end_object(j);
    }
}

static void api_json(struct ms_json *j, struct ms_analysis *a)
{
    const struct ms_annotations *an = ms_heap_model_annotations(a->model);
    ms_json_begin_array(j, "variables");
    for (size_t i = 0; an && i < ms_annotations_variable_count(an); i++) {
        const struct ms_variable *v = ms_annotations_variable(an, i);
        if (!v)
            continue;
        ms_json_begin_object(j, NULL);
        ms_json_str(j, "name", ms_annotations_string(an, v->name));
        ms_json_str(j, "type", ms_annotations_string(an, v->type));
        ms_json_u64(j, "type_size", v->type_size);
        ms_json_str(j, "file", ms_annotations_string(an, v->file));
        ms_json_u64(j, "line", v->line);
        ms_json_str(j, "func", ms_annotations_string(an, v->func));
        ms_json_u64(j, "address", v->address);
        ms_json_u64(j, "size", v->size);
        ms_json_bool(j, "freed", v->freed);
        stack_json(j, a, v->stack);
        ms_json_end_object(j);
    }
    ms_json_end_array(j);
    ms_json_u64(j, "variables_not_listed", an ? ms_annotations_variables_forgotten(an) : 0);
    ms_json_begin_array(j, "scopes");
    for (size_t i = 0; an && i < ms_annotations_scope_count(an); i++) {
        const struct ms_scope_stats *sc = ms_annotations_scope(an, i);
        ms_json_begin_object(j, NULL);
        ms_json_str(j, "name", ms_annotations_string(an, sc->name));
        ms_json_str(j, "file", ms_annotations_string(an, sc->file));
        ms_json_u64(j, "line", sc->line);
        ms_json_u64(j, "entries", sc->entries);
        ms_json_u64(j, "allocs", sc->allocs);
        ms_json_u64(j, "bytes_allocated", sc->bytes_allocated);
        ms_json_u64(j, "outlived_bytes", sc->outlived_bytes);
        ms_json_u64(j, "outlived_blocks", sc->outlived_blocks);
        ms_json_end_object(j);
    }
    ms_json_end_array(j);
    ms_json_begin_array(j, "tasks");
    for (size_t i = 0; an && i < ms_annotations_task_count(an); i++) {
        const struct ms_task_stats *t = ms_annotations_task(an, i);
        ms_json_begin_object(j, NULL);
        ms_json_u64(j, "id", t->id);
        ms_json_str(j, "name", ms_annotations_string(an, t->name));
        ms_json_u64(j, "parent", t->root ? 0 : t->parent);
        ms_json_u64(j, "allocs", t->allocs);
        ms_json_u64(j, "bytes_allocated", t->bytes_allocated);
        ms_json_u64(j, "live_bytes", t->live_bytes);
        ms_json_u64(j, "peak_bytes", t->peak_bytes);
        ms_json_u64(j, "duration_ns", ms_analysis_elapsed_ns(a, t->begin_tsc, t->stop_tsc));
        ms_json_bool(j, "ended", t->end_tsc != 0);
        ms_json_u64(j, "cpu_ns", t->cpu_ns);
        struct ms_score sc;
        ms_score_task(a->model, i, &sc);
        score_json(j, &sc);
        unsigned kinds = ms_task_kinds(
            t->cpu_ns, ms_analysis_elapsed_ns(a, t->begin_tsc, t->stop_tsc), t->allocs);
        ms_json_begin_array(j, "kinds");
        for (unsigned k = 1; k <= MS_TASK_ALLOC_HEAVY; k <<= 1)
            if (kinds & k)
                ms_json_str(j, NULL, ms_task_kind_name(k));
        ms_json_end_array(j);
        ms_json_begin_array(j, "threads");
        for (uint32_t k = 0; k < t->nthreads && k < MS_TASK_THREADS_KEPT; k++)
            ms_json_u64(j, NULL, t->threads[k]);
        ms_json_end_array(j);
        ms_json_u64(j, "thread_count", t->nthreads);
        ms_json_begin_array(j, "children");
        for (uint32_t c = t->child; c; c = ms_annotations_task(an, c - 1)->sibling)
            ms_json_u64(j, NULL, ms_annotations_task(an, c - 1)->id);
        ms_json_end_array(j);
        task_profile_json(j, a, t->id);
        ms_json_end_object(j);
    }
    ms_json_end_array(j);
    ms_json_begin_object(j, "references");
    ms_json_u64(j, "storm_threshold", an ? ms_annotations_storm_threshold(an) : MS_STORM_DEFAULT);
    ms_json_begin_array(j, "objects");
    for (size_t i = 0; an && i < ms_annotations_object_count(an); i++) {
        const struct ms_ref_object *o = ms_annotations_object(an, i);
        if (!o)
            continue;
        ms_json_begin_object(j, NULL);
        ms_json_u64(j, "address", o->address);
        ms_json_u64(j, "size", o->size);
        ms_json_u64(j, "acquires", o->acquires);
        ms_json_u64(j, "releases", o->releases);
        ms_json_u64(j, "max_holders", o->max_held);
        ms_json_u64(j, "references_at_exit", o->held);
        ms_json_bool(j, "held_at_exit", o->held != 0 && !o->freed);
        ms_json_bool(j, "freed", o->freed);
        ms_json_bool(j, "freed_while_held", o->freed_while_held);
        ms_json_begin_array(j, "history");
        for (size_t h = 0; h < o->nhistory; h++) {
            ms_json_begin_object(j, NULL);
            ms_json_u64(j, "time_ns", ms_analysis_ns(a, o->history[h].tsc));
            ms_json_u64(j, "holder", o->history[h].holder);
            ms_json_i64(j, "change", o->history[h].delta);
            ms_json_u64(j, "references", o->history[h].held);
            ms_json_end_object(j);
        }
        ms_json_end_array(j);
        ms_json_u64(j, "changes", o->changes);
        ms_json_begin_array(j, "holders_at_exit");
        for (size_t h = 0; h < o->nholders; h++)
            for (uint64_t k = 0; k < o->holders[h].count && k < 64; k++)
                ms_json_u64(j, NULL, o->holders[h].holder);
        ms_json_end_array(j);
        ms_json_end_object(j);
    }
    ms_json_end_array(j);
    ms_json_u64(j, "objects_not_listed", an ? ms_annotations_objects_forgotten(an) : 0);
    ms_json_begin_array(j, "storms");
    for (size_t i = 0; an && i < ms_annotations_object_count(an); i++) {
        const struct ms_ref_object *o = ms_annotations_object(an, i);
        if (!o || o->max_held <= ms_annotations_storm_threshold(an))
            continue;
        ms_json_begin_object(j, NULL);
        ms_json_u64(j, "address", o->address);
        ms_json_u64(j, "max_holders", o->max_held);
        stack_json(j, a, o->stack);
        ms_json_end_object(j);
    }
    ms_json_end_array(j);
    ms_json_begin_array(j, "cycles");
    for (size_t i = 0; an && i < ms_annotations_cycle_count(an); i++) {
        size_t n;
        const uint32_t *c = ms_annotations_cycle(an, i, &n);
        ms_json_begin_array(j, NULL);
        for (size_t k = 0; k < n; k++)
            ms_json_u64(j, NULL, ms_annotations_object(an, c[k])->address);
        ms_json_end_array(j);
    }
    ms_json_end_array(j);
    ms_json_end_object(j);
    passports_json(j, a);
    ms_json_begin_object(j, "api_errors");
    for (int k = 1; k < MS_API_ERROR_MAX; k++)
        ms_json_u64(j, ms_api_error_key(k),
                    an ? ms_annotations_errors(an, (enum ms_api_error)k) : 0);
    ms_json_end_object(j);
}

/* A stack that may not have been recorded (null then). */
static void maybe_stack_json(struct ms_json *j, struct ms_analysis *a, const char *key,
                             uint32_t stack)
{
    if (stack)
        stack_json_as(j, a, key, stack);
    else
        ms_json_str(j, key, NULL);
}

static void misuse_counts_json(struct ms_json *j, const struct ms_misuse_log *l)
{
    ms_json_begin_object(j, "errors");
    for (int k = 0; k < MS_MISUSE_KINDS; k++)
        ms_json_u64(j, ms_misuse_kind_key((enum ms_misuse_kind)k), l->count[k]);
    ms_json_u64(j, "total", l->total);
    ms_json_end_object(j);
}

/* null under each of the n keys. */
static void nulls_json(struct ms_json *j, const char *const *keys, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ms_json_str(j, keys[i], NULL);
}

/* errors[]: the allocator misuse the replay found (docs/json-report.md). */
static void errors_json(struct ms_json *j, struct ms_analysis *a)
{
    const struct ms_misuse_log *l = ms_heap_model_misuse(a->model);
    ms_json_begin_array(j, "errors");
    for (size_t i = 0; i < l->n; i++) {
        const struct ms_misuse *e = &l->err[i];
        ms_json_begin_object(j, NULL);
        ms_json_str(j, "kind", ms_misuse_kind_key(e->kind));
        bool damage = e->kind == MS_MISUSE_OVERFLOW || e->kind == MS_MISUSE_USE_AFTER_FREE;
        /* damage found at exit or as the block left the quarantine: in no call */
        ms_json_str(j, "call",
                    damage && e->found >= MS_FOUND_QUARANTINE ? NULL
                                                              : ms_misuse_call_name(e->call));
        ms_json_u64(j, "address", e->address);
        ms_json_u64(j, "thread", e->tid);
        ms_json_u64(j, "time_ns", ms_analysis_ns(a, e->tsc));
        ms_json_i64(j, "signal", e->signal);
        maybe_stack_json(j, a, "stack", e->stack);
        if (e->block) {
            ms_json_u64(j, "block_address", e->block_ptr);
            ms_json_u64(j, "size", e->size);
            ms_json_i64(j, "offset", e->offset);
            ms_json_str(j, "alloc_call", ms_misuse_alloc_name(e->alloc_family));
            stack_json_as(j, a, "alloc_stack", e->alloc_stack);
        } else {
            static const char *const none[] = {"block_address", "size", "offset", "alloc_call",
                                               "alloc_stack"};
            nulls_json(j, none, sizeof none / sizeof *none);
        }
        if (damage) {
            static const char *const found[] = {"free", "realloc", "quarantine", "exit"};
            ms_json_str(j, "found", (unsigned)e->found < 4 ? found[e->found] : NULL);
        } else {
            ms_json_str(j, "found", NULL);
        }
        ms_json_bool(j, "refused",
                     l->check &&
                         (e->kind == MS_MISUSE_DOUBLE_FREE || e->kind == MS_MISUSE_INVALID_FREE ||
                          e->kind == MS_MISUSE_REALLOC_FREED));
        ms_json_bool(j, "freed_before", e->freed);
        if (e->freed) {
            ms_json_str(j, "free_call", ms_misuse_call_name(e->free_call));
            ms_json_u64(j, "free_thread", e->free_tid);
            ms_json_u64(j, "free_time_ns", ms_analysis_ns(a, e->free_tsc));
            maybe_stack_json(j, a, "free_stack", e->free_stack);
        } else {
            static const char *const none[] = {"free_call", "free_thread", "free_time_ns",
                                               "free_stack"};
            nulls_json(j, none, sizeof none / sizeof *none);
        }
        ms_json_end_object(j);
    }
    ms_json_end_array(j);
}

int ms_report_json(FILE *out, struct ms_analysis *a, const struct ms_report_options *o)
{
    struct ms_json j = {.out = out};
    const struct ms_process_info *p = ms_trace_process(a->trace);
    const struct ms_summary *s = ms_heap_model_summary(a->model);
    const struct ms_end_info *e = ms_trace_end(a->trace);
    ms_json_begin_object(&j, NULL);
    ms_json_str(&j, "format", "memscope-report");
    ms_json_u64(&j, "version", 1);
    ms_json_str(&j, "trace", ms_trace_path(a->trace));

    ms_json_begin_object(&j, "process");
    ms_json_u64(&j, "pid", p->pid);
    ms_json_u64(&j, "ppid", p->ppid);
    ms_json_str(&j, "exe", p->exe);
    ms_json_begin_array(&j, "argv");
    for (int i = 0; i < p->argc; i++)
        ms_json_str(&j, NULL, p->argv[i]);
    ms_json_end_array(&j);
    ms_json_u64(&j, "fork_parent_pid", p->fork_parent_pid);
    static const char *unwinds[] = {"none", "fp", "libunwind"};
    ms_json_str(&j, "unwind", p->unwind >= 0 && p->unwind < 3 ? unwinds[p->unwind] : NULL);
    ms_json_u64(&j, "depth", (uint64_t)(p->depth > 0 ? p->depth : 0));
    ms_json_str(&j, "backend", ms_backend_name(ms_heap_model_summary(a->model)->backend));
    ms_json_str(&j, "backend_reason",
                ms_backend_reason(ms_heap_model_summary(a->model)->backend_reason));
    static const char *ends[] = {"exit", "signal", "exec", "_exit", "tracking stopped", "killed"};
    ms_json_str(&j, "ended_by",
                e->present && e->reason >= 0 && e->reason < 6 ? ends[e->reason] : NULL);
    ms_json_i64(&j, "exit_signal",
                e->present && (e->reason == MS_END_SIGNAL || e->reason == MS_END_KILLED) ? e->code
                                                                                         : 0);
    /* Whether glibc's and libstdc++'s exit-time freeing ran, as it does under valgrind. */
    ms_json_str(&j, "exit_freeing",
                ms_heap_model_summary(a->model)->freeres_tsc ? "ran"
                : e->present && e->reason == MS_END_EXIT     ? "skipped: threads still running"
                                                             : "not run");
    ms_json_end_object(&j);

    window_json(&j, a);

    uint64_t end_tsc = e->present ? e->tsc : s->last_tsc;
    ms_json_begin_object(&j, "summary");
    ms_json_u64(&j, "allocs", s->allocs);
    ms_json_u64(&j, "frees", s->frees);
    ms_json_u64(&j, "realloc_calls", s->realloc_calls);
    ms_json_u64(&j, "bytes_allocated", s->bytes_allocated);
    ms_json_u64(&j, "peak_bytes", s->peak_bytes);
    ms_json_u64(&j, "peak_time_ns", ms_analysis_ns(a, s->peak_tsc));
    ms_json_u64(&j, "peak_low_bytes", s->peak_low);
    ms_json_u64(&j, "peak_high_bytes", s->peak_high);
    ms_json_u64(&j, "leaked_bytes", s->live_bytes);
    ms_json_u64(&j, "leaked_blocks", s->live_blocks);
    temporary_json(&j, a, s->temporary_allocs);
    ms_json_u64(&j, "threads", s->threads);
    ms_json_u64(&j, "duration_ns", ms_analysis_ns(a, end_tsc));
    ms_json_u64(&j, "events", s->events);
    ms_json_u64(&j, "unknown_frees", s->unknown_frees);
    leak_kinds_json(&j, a);
    misuse_counts_json(&j, ms_heap_model_misuse(a->model));
    ms_json_end_object(&j);

    sampling_json(&j, a, o->top);

    leaks_json(&j, a);
    errors_json(&j, a);

    struct ms_graph_view at_exit = ms_analysis_graph(a, false);
    who_keeps_json(&j, a, &at_exit, o->top);
    leak_checks_json(&j, a, o->top);
    at_peak_json(&j, a, o->top);

    bottlenecks_json(&j, a);
    hotspots_json(&j, a, o);
    sites_json(&j, a, o->top);
    timeline_json(&j, a);

    api_json(&j, a);
    entity_rankings_json(&j, a, o->top);

    ms_json_begin_array(&j, "threads");
    for (size_t i = 0; i < ms_heap_model_thread_count(a->model); i++) {
        const struct ms_thread_stats *t = ms_heap_model_thread(a->model, i);
        if (!t->allocs && !t->frees)
            continue;
        ms_json_begin_object(&j, NULL);
        ms_json_u64(&j, "tid", t->tid);
        ms_json_str(&j, "name", t->tid ? t->name : "(exited)");
        ms_json_u64(&j, "created_by_tid", t->creator_tid);
        ms_json_u64(&j, "allocs", t->allocs);
        ms_json_u64(&j, "frees", t->frees);
        ms_json_u64(&j, "bytes_allocated", t->bytes);
        ms_json_u64(&j, "peak_bytes", t->peak_bytes);
        ms_json_u64(&j, "leaked_bytes", t->live_bytes);
        ms_json_u64(&j, "leaked_blocks", t->leaked_blocks);
        temporary_json(&j, a, t->temporary);
        struct ms_score sc;
        ms_score_thread(a->model, i, &sc);
        score_json(&j, &sc);
        ms_json_end_object(&j);
    }
    ms_json_end_array(&j);

    struct ms_notes notes;
    ms_report_notes(a, &notes);
    ms_json_begin_array(&j, "notes");
    for (int i = 0; i < notes.n; i++)
        ms_json_str(&j, NULL, notes.text[i]);
    ms_json_end_array(&j);
    ms_json_end_object(&j);
    fputc('\n', out);
    return ferror(out) ? -1 : 0;
}
