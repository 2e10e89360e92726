/* How far the order of concurrent events could move the peak.
 *
 * A thread's records carry their time only every so often (every 16th with threads, see the
 * capture's event_buffer.h); the records in between happened at some moment between the two
 * timed records around them, and the replay places them all at the first. Events of one thread
 * keep their order; events of threads whose untimed stretches overlap in time may have happened
 * in another interleaving than the one replayed, with another peak.
 *
 * A segment is a timed record of a thread and the untimed ones that follow it, until the
 * thread's next timed record: its window in time. At any moment each thread is somewhere inside
 * its current segment (past its first record when that one is timed), independently of the
 * other threads. With H the replayed heap (every segment applied whole) and, for each thread,
 * the lowest and highest heap change over the segment's prefixes, the heap at a moment t lies
 * between
 *     low(t)  = H(t) + sum over threads of (lowest prefix - whole segment)
 *     high(t) = H(t) + sum over threads of (highest prefix - whole segment).
 * - Upper bound: no interleaving the times allow has a peak above max high(t).
 * - Lower bound: every interleaving passes through low(t) or more at each t, and while a
 *   thread's segment is current it passes through the segment's highest prefix, with every
 *   other thread at its lowest or more: at least min over the window of low(t), plus the
 *   segment's highest prefix minus its lowest. The larger of the two is the bound.
 * The replayed peak lies between. With one thread, or threads whose windows never overlap, both
 * equal the peak. The state is evaluated where the replay moves from one segment to another
 * (each segment is delivered in one piece) and at the end. */
#ifndef MS_PEAK_ORDER_H
#define MS_PEAK_ORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Amounts of bytes with their sign: wider than any sum of 64-bit sizes a trace can make (a
 * hostile one's included), so that no sum overflows. */
__extension__ typedef __int128 ms_peak_amount;

struct ms_peak_order_seg {
    uint64_t tsc; /* the segment's time */
    /* the segment's change so far, its lowest and highest prefix */
    ms_peak_amount net, lowest, highest;
    uint64_t window; /* the evaluation before the segment began */
    bool started;
    bool first; /* the next event is the segment's timed first one: every prefix includes it */
};

/* The lowest low(t) since a given evaluation: evaluations whose low(t) no later one undercuts,
 * in order (so with rising low(t)). */
struct ms_peak_order_min {
    uint64_t eval;
    ms_peak_amount low;
};

struct ms_peak_order {
    struct ms_peak_order_seg *seg; /* by the heap model's thread index */
    size_t cap;
    ms_peak_amount sum_low, sum_high; /* over threads: lowest - net, highest - net */
    uint32_t last_thread;
    bool any;
    uint64_t evals;                 /* evaluations so far */
    struct ms_peak_order_min *mins; /* see struct ms_peak_order_min */
    size_t nmins, capmins;
    uint64_t forgotten; /* evaluations before this one were dropped from mins */
    uint64_t low, high; /* the bounds so far */
};

/* Before an event of thread (the heap model's index) with time tsc, timed or not, is applied
 * to a heap of live bytes. Returns 0 or MS_ENOMEM. */
int ms_peak_order_before(struct ms_peak_order *o, uint32_t thread, uint64_t tsc, bool timed,
                         uint64_t live);
/* After that event changed the heap by delta bytes. */
static inline void ms_peak_order_after(struct ms_peak_order *o, uint32_t thread, int64_t delta)
{
    struct ms_peak_order_seg *g = &o->seg[thread];
    ms_peak_amount was_low = g->lowest - g->net, was_high = g->highest - g->net;
    g->net += delta;
    if (g->first) {
        g->lowest = g->highest = g->net;
        g->first = false;
    } else if (g->net < g->lowest) {
        g->lowest = g->net;
    } else if (g->net > g->highest) {
        g->highest = g->net;
    }
    o->sum_low += (g->lowest - g->net) - was_low;
    o->sum_high += (g->highest - g->net) - was_high;
}
/* The bounds start again from now (a report's time window opens): each thread's segment
 * counts its prefixes from here, and the bounds so far are forgotten. */
static inline void ms_peak_order_restart(struct ms_peak_order *o)
{
    for (size_t i = 0; i < o->cap; i++)
        o->seg[i].lowest = o->seg[i].highest = o->seg[i].net;
    o->sum_low = o->sum_high = 0;
    o->low = o->high = 0;
}
/* After the last event: the final evaluation, at a heap of live bytes. Returns 0 or
 * MS_ENOMEM. */
int ms_peak_order_finish(struct ms_peak_order *o, uint64_t live);
void ms_peak_order_free(struct ms_peak_order *o);

#endif
