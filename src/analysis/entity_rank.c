/* Rankings of threads and tasks (entity_rank.h). */
#include "entity_rank.h"

#include "annotations.h"
#include "rank.h"
#include "scores.h"

#include <stdlib.h>

static const char *const key_names[MS_ENTITY_KEYS] = {
    "by_peak",  "by_bytes_allocated", "by_allocs", "by_leaked",
    "by_score", "by_allocation_rate", "by_cpu"};

const char *ms_entity_key_name(enum ms_entity_key k)
{
    return (unsigned)k < MS_ENTITY_KEYS ? key_names[k] : "?";
}

/* A score as a rank value: the least efficient highest; 0 for none. */
static double score_value(const struct ms_score *s)
{
    return s->value < 0 ? 0 : 101 - s->value;
}

size_t ms_rank_threads(const struct ms_heap_model *m, enum ms_entity_key key, size_t top,
                       size_t **out)
{
    *out = NULL;
    if (key == MS_BY_RATE || key == MS_BY_CPU)
        return 0;
    size_t n = ms_heap_model_thread_count(m), k = 0;
    struct ms_ranked *r = malloc((n ? n : 1) * sizeof *r);
    for (size_t i = 0; i < n && r; i++) {
        const struct ms_thread_stats *t = ms_heap_model_thread(m, i);
        struct ms_score s;
        double v = key == MS_BY_PEAK     ? (double)t->peak_bytes
                   : key == MS_BY_BYTES  ? (double)t->bytes
                   : key == MS_BY_ALLOCS ? (double)t->allocs
                   : key == MS_BY_LEAKED ? (double)t->live_bytes
                                         : (ms_score_thread(m, i, &s), score_value(&s));
        if (v > 0)
            r[k++] = (struct ms_ranked){v, t->tid, i};
    }
    return ms_rank_top(r, k, top, out);
}

size_t ms_rank_tasks(const struct ms_heap_model *m, enum ms_entity_key key, size_t top,
                     uint64_t (*duration_ns)(const void *ctx, size_t task), const void *ctx,
                     size_t **out)
{
    *out = NULL;
    const struct ms_annotations *an = ms_heap_model_annotations(m);
    size_t n = an ? ms_annotations_task_count(an) : 0, k = 0;
    struct ms_ranked *r = malloc((n ? n : 1) * sizeof *r);
    for (size_t i = 0; i < n && r; i++) {
        const struct ms_task_stats *t = ms_annotations_task(an, i);
        struct ms_score s;
        double v = 0;
        switch (key) {
        case MS_BY_PEAK:
            v = (double)t->peak_bytes;
            break;
        case MS_BY_BYTES:
            v = (double)t->bytes_allocated;
            break;
        case MS_BY_ALLOCS:
            v = (double)t->allocs;
            break;
        case MS_BY_LEAKED:
            v = (double)t->live_bytes;
            break;
        case MS_BY_SCORE:
            ms_score_task(m, i, &s);
            v = score_value(&s);
            break;
        case MS_BY_RATE: {
            uint64_t d = duration_ns(ctx, i);
            v = d ? (double)t->allocs / ((double)d / 1e9) : 0;
            break;
        }
        case MS_BY_CPU:
        case MS_ENTITY_KEYS:
            v = (double)t->cpu_ns;
            break;
        }
        if (v > 0)
            r[k++] = (struct ms_ranked){v, (uint32_t)t->id, i};
    }
    return ms_rank_top(r, k, top, out);
}
