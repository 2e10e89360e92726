/* Bounds of the peak over the interleavings the timestamps allow (peak_order.h). */
#include "peak_order.h"

#include "common/errors.h"
#include "grow.h"

/* mins is trimmed to the oldest window still open when it reaches this; above twice this the
 * oldest half is forgotten (the windows that began there then give no lower bound). */
#define MINS_TRIM 65536

static void raise_to(uint64_t *bound, ms_peak_amount v)
{
    if (v > (ms_peak_amount)UINT64_MAX)
        v = UINT64_MAX; /* only a hostile trace's sizes get here */
    if (v > 0 && (uint64_t)v > *bound)
        *bound = (uint64_t)v;
}

static void trim(struct ms_peak_order *o)
{
    uint64_t oldest = o->evals;
    for (size_t i = 0; i < o->cap; i++)
        if (o->seg[i].started && o->seg[i].window < oldest)
            oldest = o->seg[i].window;
    size_t keep = 0;
    while (keep < o->nmins && o->mins[keep].eval <= oldest)
        keep++;
    if (o->nmins - keep > 2 * MINS_TRIM)
        keep = o->nmins - MINS_TRIM;
    if (keep) {
        if (o->mins[keep - 1].eval > oldest)
            o->forgotten = o->mins[keep - 1].eval;
        memmove(o->mins, o->mins + keep, (o->nmins - keep) * sizeof *o->mins);
        o->nmins -= keep;
    }
}

static int evaluate(struct ms_peak_order *o, uint64_t live)
{
    ms_peak_amount low = (ms_peak_amount)live + o->sum_low;
    raise_to(&o->low, low);
    raise_to(&o->high, (ms_peak_amount)live + o->sum_high);
    uint64_t e = ++o->evals;
    while (o->nmins && o->mins[o->nmins - 1].low >= low)
        o->nmins--;
    if (o->nmins >= 3 * MINS_TRIM)
        trim(o);
    if (ms_grow(&o->mins, &o->capmins, o->nmins + 1, sizeof *o->mins, 256))
        return MS_ENOMEM;
    o->mins[o->nmins++] = (struct ms_peak_order_min){e, low};
    return 0;
}

/* The segment g ends: while it was current, its highest prefix was reached with every other
 * thread at its lowest or more. */
static void close_window(struct ms_peak_order *o, const struct ms_peak_order_seg *g)
{
    if (!g->started || g->window < o->forgotten)
        return;
    size_t lo = 0, hi = o->nmins; /* the first entry after the window's start */
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (o->mins[mid].eval > g->window)
            hi = mid;
        else
            lo = mid + 1;
    }
    if (lo < o->nmins)
        raise_to(&o->low, o->mins[lo].low + (g->highest - g->lowest));
}

int ms_peak_order_before(struct ms_peak_order *o, uint32_t thread, uint64_t tsc, bool timed,
                         uint64_t live)
{
    if (thread >= o->cap && ms_grow(&o->seg, &o->cap, (size_t)thread + 1, sizeof *o->seg, 16))
        return MS_ENOMEM;
    struct ms_peak_order_seg *g = &o->seg[thread];
    bool starts = !g->started || timed || tsc != g->tsc;
    if (o->any && (starts || thread != o->last_thread)) {
        int err = evaluate(o, live);
        if (err)
            return err;
    }
    o->any = true;
    o->last_thread = thread;
    if (starts) {
        close_window(o, g);
        o->sum_low -= g->lowest - g->net;
        o->sum_high -= g->highest - g->net;
        *g = (struct ms_peak_order_seg){
            .tsc = tsc, .window = o->evals, .started = true, .first = timed};
    }
    return 0;
}

int ms_peak_order_finish(struct ms_peak_order *o, uint64_t live)
{
    if (!o->any)
        return 0;
    int err = evaluate(o, live);
    for (size_t i = 0; i < o->cap; i++)
        close_window(o, &o->seg[i]);
    return err;
}

void ms_peak_order_free(struct ms_peak_order *o)
{
    free(o->seg);
    free(o->mins);
    *o = (struct ms_peak_order){0};
}
