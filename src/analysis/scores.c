/* Efficiency scores (scores.h). */
#include "scores.h"

#include "annotations.h"
#include "patterns.h"
#include "sizes.h"

#include <math.h>

static const char *const part_names[MS_SCORE_PARTS] = {"temporary", "slack", "realloc_copies",
                                                       "leaked", "peak_over_average"};

const char *ms_score_part_name(enum ms_score_part p)
{
    return (unsigned)p < MS_SCORE_PARTS ? part_names[p] : "?";
}

static void set(struct ms_score *s, enum ms_score_part p, double num, double den)
{
    if (!(den > 0))
        return;
    double w = num / den;
    s->part[p].known = true;
    s->part[p].waste = w < 0 ? 0 : w > 1 ? 1 : w;
}

/* The parts known, weighted equally, into the score. */
static void total(struct ms_score *s)
{
    int known = 0;
    for (int p = 0; p < MS_SCORE_PARTS; p++)
        known += s->part[p].known;
    double waste = 0;
    for (int p = 0; p < MS_SCORE_PARTS; p++)
        if (s->part[p].known) {
            s->part[p].weight = 1.0 / known;
            waste += s->part[p].waste * s->part[p].weight;
        }
    s->value = known ? (int)lround(100 * (1 - waste)) : -1;
}

void ms_score_site(const struct ms_heap_model *m, size_t site, struct ms_score *out)
{
    *out = (struct ms_score){.value = -1};
    const struct ms_site *s = ms_heap_model_site(m, site);
    const struct ms_site_sizes *z = ms_sizes_of(m, site);
    const struct ms_site_pattern *p = ms_patterns_of(m, site);
    if (!s || !s->allocs)
        return;
    if (!ms_heap_model_summary(m)->sample_bytes) /* a sampled trace cannot tell them */
        set(out, MS_PART_TEMPORARY, (double)s->temporary, (double)s->allocs);
    if (z) {
        set(out, MS_PART_SLACK, z->slack, z->requested + z->slack);
        if (!ms_heap_model_summary(m)->sample_bytes) /* reallocs not known when sampled */
            set(out, MS_PART_REALLOC_COPIES, z->copied, (double)s->bytes);
    }
    set(out, MS_PART_LEAKED, (double)s->live_bytes, (double)s->bytes);
    if (p && p->live_mean_bytes > 0 && p->live_max_bytes)
        set(out, MS_PART_PEAK_OVER_AVERAGE, (double)p->live_max_bytes - p->live_mean_bytes,
            (double)p->live_max_bytes);
    total(out);
}

void ms_score_thread(const struct ms_heap_model *m, size_t thread, struct ms_score *out)
{
    *out = (struct ms_score){.value = -1};
    const struct ms_thread_stats *t = ms_heap_model_thread(m, thread);
    if (!t || !t->allocs)
        return;
    if (!ms_heap_model_summary(m)->sample_bytes)
        set(out, MS_PART_TEMPORARY, (double)t->temporary, (double)t->allocs);
    set(out, MS_PART_LEAKED, (double)t->live_bytes, (double)t->bytes);
    total(out);
}

void ms_score_task(const struct ms_heap_model *m, size_t task, struct ms_score *out)
{
    *out = (struct ms_score){.value = -1};
    const struct ms_annotations *an = ms_heap_model_annotations(m);
    const struct ms_task_stats *t = an ? ms_annotations_task(an, task) : NULL;
    if (!t || !t->allocs)
        return;
    set(out, MS_PART_LEAKED, (double)t->live_bytes, (double)t->bytes_allocated);
    total(out);
}

unsigned ms_task_kinds(uint64_t cpu_ns, uint64_t duration_ns, uint64_t allocs)
{
    if (!duration_ns)
        return 0;
    double busy = (double)cpu_ns / (double)duration_ns;
    double rate = (double)allocs / ((double)duration_ns / 1e9);
    unsigned k = 0;
    if (cpu_ns && busy >= 0.8)
        k |= MS_TASK_CPU_BOUND;
    if (cpu_ns && busy <= 0.2)
        k |= MS_TASK_WAITING;
    if (allocs >= 16 && rate >= 100000)
        k |= MS_TASK_ALLOC_HEAVY;
    return k;
}

const char *ms_task_kind_name(unsigned k)
{
    return k == MS_TASK_CPU_BOUND     ? "cpu_bound"
           : k == MS_TASK_WAITING     ? "waiting"
           : k == MS_TASK_ALLOC_HEAVY ? "allocation_heavy"
                                      : "?";
}
