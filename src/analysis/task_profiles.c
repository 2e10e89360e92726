/* Task profiles (task_profiles.h). While the replay runs the curves' widths are powers of two
 * of the trace's ticks; the finish turns them into nanoseconds. */
#include "task_profiles.h"

#include "common/errors.h"
#include "grow.h"
#include "heap_model.h"
#include "histogram.h"
#include "id_map.h"

#include <stdlib.h>

struct profile {
    struct ms_task_profile out;
    uint64_t id;
    uint64_t live; /* bytes of its blocks live now */
    uint64_t t0;   /* its first allocation (the curve's origin), in ticks */
    uint8_t shift; /* the curve's width: 1 << shift ticks */
    bool started;
};

struct task_profiles {
    const ms_trace *trace;
    double ns_per_tick;
    uint64_t start_tsc; /* the process's start: a forked child's inherited blocks' birth */
    uint8_t first_shift;
    uint64_t tick_bounds[MS_LIFETIME_TIME_BUCKETS];
    struct ms_buckets by_time;
    struct ms_id_map of_id; /* task id -> index + 1 */
    struct profile *p;
    size_t n, cap;
};

static void *create(const struct ms_pass_env *env)
{
    struct task_profiles *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->trace = env->trace;
    t->ns_per_tick = ms_trace_ns_per_tick(env->trace);
    if (!(t->ns_per_tick > 0))
        t->ns_per_tick = 1.0;
    t->start_tsc = ms_trace_process(env->trace)->start_tsc;
    for (int k = 0; k < MS_LIFETIME_TIME_BUCKETS; k++) {
        uint64_t b = ms_lifetime_time_bound(k);
        t->tick_bounds[k] = b == UINT64_MAX ? UINT64_MAX : ms_ticks_of(t->ns_per_tick, b);
    }
    ms_buckets_init(&t->by_time, t->tick_bounds, MS_LIFETIME_TIME_BUCKETS);
    /* a first width of a microsecond or more, as the timeline's */
    while ((double)(1ull << t->first_shift) * t->ns_per_tick < 1000.0 && t->first_shift < 40)
        t->first_shift++;
    return t;
}

/* Task id's profile (made at its first block), or NULL: none (id 0, or beyond the ids the map
 * takes), or out of memory (*err set). */
static struct profile *profile_of(struct task_profiles *t, uint64_t id, int *err)
{
    uint32_t k;
    if (!id || id >= UINT32_MAX)
        return NULL;
    if (ms_id_map_get(&t->of_id, (uint32_t)id, &k))
        return &t->p[k - 1];
    if (ms_grow(&t->p, &t->cap, t->n + 1, sizeof *t->p, 16) ||
        ms_id_map_put(&t->of_id, (uint32_t)id, (uint32_t)t->n + 1)) {
        *err = MS_ENOMEM;
        return NULL;
    }
    t->p[t->n] = (struct profile){.id = id, .shift = t->first_shift};
    return &t->p[t->n++];
}

/* The task's live bytes are now p->live, at tsc: the curve's bucket of tsc holds the most. */
static void curve(struct profile *p, uint64_t tsc)
{
    struct ms_task_profile *o = &p->out;
    if (!p->started) {
        p->started = true;
        p->t0 = tsc;
    }
    uint64_t x = tsc > p->t0 ? tsc - p->t0 : 0;
    while (p->shift < 63 && x >> p->shift >= MS_TASK_CURVE) {
        /* halve: each pair of buckets becomes one of twice the width */
        uint32_t n = (o->n + 1) / 2;
        for (uint32_t i = 0; i < n; i++) {
            uint64_t a = o->live_max[2 * i], b = 2 * i + 1 < o->n ? o->live_max[2 * i + 1] : 0;
            o->live_max[i] = a > b ? a : b;
        }
        for (uint32_t i = n; i < o->n; i++)
            o->live_max[i] = 0;
        o->n = n;
        p->shift++;
    }
    uint32_t k = (uint32_t)(x >> p->shift);
    if (k >= MS_TASK_CURVE)
        k = MS_TASK_CURVE - 1;
    if (k + 1 < o->n) /* an event dated before the last one's bucket (times are lower bounds) */
        k = o->n - 1;
    /* the buckets in between held what was live before (the last bucket's end) */
    uint64_t carry = o->n ? p->live : 0;
    for (uint32_t i = o->n; i < k; i++)
        o->live_max[i] = carry;
    if (k + 1 > o->n) {
        o->live_max[k] = 0;
        o->n = k + 1;
    }
    if (p->live > o->live_max[k])
        o->live_max[k] = p->live;
}

/* p's blocks' live bytes change by bytes (alloc: up, else down) at tsc: the buckets up to it
 * hold what was live before, its own the most either side. */
static void live_change(struct profile *p, uint64_t tsc, uint64_t bytes, bool alloc)
{
    curve(p, tsc);
    p->live = alloc ? p->live + bytes : p->live > bytes ? p->live - bytes : 0;
    curve(p, tsc);
}

static int on_alloc(void *state, const struct ms_pass_alloc *a)
{
    if (!a->block.task)
        return 0; /* most blocks: no task's */
    struct task_profiles *t = state;
    int err = 0;
    struct profile *p = profile_of(t, a->block.task, &err);
    if (!p)
        return err;
    uint64_t bytes = a->block.size * a->block.weight;
    if (a->baseline) /* live as a report's window opened: where its curve starts */
        p->live += bytes;
    else
        live_change(p, a->block.alloc_tsc, bytes, true);
    return 0;
}

static int on_free(void *state, const struct ms_pass_free *f)
{
    if (!f->block.task)
        return 0;
    struct task_profiles *t = state;
    int err = 0;
    struct profile *p = profile_of(t, f->block.task, &err);
    if (!p)
        return err;
    live_change(p, f->tsc, f->block.size * f->block.weight, false);
    uint64_t from = f->block.alloc_tsc >= t->start_tsc ? f->block.alloc_tsc : t->start_tsc;
    p->out.ended += f->block.weight;
    p->out.by_time[ms_bucket(&t->by_time, f->tsc > from ? f->tsc - from : 0)] += f->block.weight;
    return 0;
}

static int at_end(void *state, const struct ms_pass_block *b)
{
    if (!b->task)
        return 0;
    struct task_profiles *t = state;
    int err = 0;
    struct profile *p = profile_of(t, b->task, &err);
    if (p)
        p->out.live_at_end += b->weight;
    return err;
}

static int finish(void *state, const struct ms_heap_model *m)
{
    (void)m;
    struct task_profiles *t = state;
    for (size_t i = 0; i < t->n; i++) {
        struct profile *p = &t->p[i];
        p->out.origin_ns = ms_trace_ns_since_start(t->trace, p->t0);
        double w = (double)(1ull << p->shift) * t->ns_per_tick;
        p->out.width_ns = w >= 1 ? ms_count_of(w) : 1;
    }
    return 0;
}

static void destroy(void *state)
{
    struct task_profiles *t = state;
    if (!t)
        return;
    ms_id_map_free(&t->of_id);
    free(t->p);
    free(t);
}

const struct ms_analysis_pass ms_task_profiles_pass = {
    .name = "task_profiles",
    .create = create,
    .on_alloc = on_alloc,
    .on_free = on_free,
    .at_end = at_end,
    .finish = finish,
    .destroy = destroy,
};

const struct ms_task_profile *ms_task_profile_of(const struct ms_heap_model *m, uint64_t task)
{
    const struct task_profiles *t = ms_heap_model_pass(m, &ms_task_profiles_pass);
    uint32_t k;
    if (!t || !task || task >= UINT32_MAX || !ms_id_map_get(&t->of_id, (uint32_t)task, &k))
        return NULL;
    return &t->p[k - 1].out;
}
