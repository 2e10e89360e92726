/* Lifetimes (docs/analyses.md): for each call site, how long its blocks lived — in wall time
 * by the trace's clock, and in allocations made in between (by every thread: an exact clock,
 * the same on every run of a deterministic program) — how many were short-lived or long-lived,
 * and how many another thread freed than the one that allocated them. DHAT's insight without
 * its cost: one pass over the replay, memory per site. */
#ifndef MS_LIFETIMES_H
#define MS_LIFETIMES_H

#include "analysis_pass.h"
#include "common/count_of.h"

#include <stdint.h>

extern const struct ms_analysis_pass ms_lifetimes_pass;

/* Wall-time buckets: below 1 us, 10 us, ... 10 s, and the rest. */
#define MS_LIFETIME_TIME_BUCKETS 9
/* Allocations in between: 0, below 10, 100, ... 1,000,000, and the rest. */
#define MS_LIFETIME_SEQ_BUCKETS 8
/* Short-lived: freed less than this after its allocation. */
#define MS_SHORT_LIVED_NS 1000000ull

struct ms_site_lifetimes {
    uint64_t ended;       /* blocks freed, reallocated or whose free the trace lost */
    uint64_t live_at_end; /* blocks still live at the end of the trace */
    uint64_t by_time[MS_LIFETIME_TIME_BUCKETS];
    uint64_t by_seq[MS_LIFETIME_SEQ_BUCKETS];
    uint64_t short_lived; /* ended less than MS_SHORT_LIVED_NS after their allocation */
    /* Lived more than half of the trace's duration (ended or not). */
    uint64_t long_lived;
    uint64_t other_thread; /* ended by another thread than the allocating one */
    double total_ns;       /* the ended blocks' lifetimes, summed (for the mean) */
    uint64_t max_ns;       /* the longest of them */
};

/* The mean lifetime of l's ended blocks in ns (0: none ended). */
static inline uint64_t ms_lifetime_mean_ns(const struct ms_site_lifetimes *l)
{
    double mean = l->ended ? l->total_ns / (double)l->ended : 0;
    return ms_count_of(mean);
}

/* The lifetimes of site i (ms_heap_model_site), or NULL (no such site, or the analysis did not
 * run: a totals-only model). */
const struct ms_site_lifetimes *ms_lifetimes_of(const struct ms_heap_model *m, size_t site);
/* The upper bound of bucket k (exclusive; UINT64_MAX for the last). */
uint64_t ms_lifetime_time_bound(int k);
uint64_t ms_lifetime_seq_bound(int k);

#endif
