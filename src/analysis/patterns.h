/* Patterns (docs/analyses.md): each call site classified from its series — allocations and live
 * bytes over time, from its first event to the end of the trace, in at most
 * MS_PATTERN_BUCKETS buckets of equal width that double as the site's life goes on — as
 * sporadic, growing (live bytes keep rising to the end: unbounded growth), periodic, bursty or
 * steady, with the figures behind the verdict. Growth that levels off (a cache) is told apart
 * from growth that does not. Memory per site: a list of the buckets it was active in (at most
 * MS_PATTERN_BUCKETS), never per event. */
#ifndef MS_PATTERNS_H
#define MS_PATTERNS_H

#include "analysis_pass.h"

#include <stdint.h>

extern const struct ms_analysis_pass ms_patterns_pass;

#define MS_PATTERN_BUCKETS 64
/* Fewer allocations recorded than this (samples, in a sampled trace) make a site sporadic: too
 * few to show a pattern. A forked child's inherited blocks are where its live bytes start, not
 * its allocations. */
#define MS_PATTERN_MIN_ALLOCS 16

enum ms_pattern {
    MS_PATTERN_SPORADIC,
    MS_PATTERN_STEADY,
    MS_PATTERN_BURSTY,
    MS_PATTERN_PERIODIC,
    MS_PATTERN_GROWING,
};

enum ms_growth {
    MS_GROWTH_NONE,      /* live bytes did not rise and stay */
    MS_GROWTH_BOUNDED,   /* they rose, then held level (a cache that fills) */
    MS_GROWTH_UNBOUNDED, /* they rose until the site's last allocation, at the end of the run */
};

struct ms_site_pattern {
    enum ms_pattern pattern;
    enum ms_growth growth;
    uint64_t allocs;      /* the site's allocations (each sample's weight in a sampled trace) */
    uint64_t samples;     /* of them recorded: in a sampled trace, those the verdict reads */
    uint64_t bucket_ns;   /* the series' bucket width */
    uint32_t buckets;     /* from the site's first event to the end of the trace */
    uint32_t active;      /* buckets with allocations */
    double cv;            /* coefficient of variation of the allocations per bucket */
    double busiest_share; /* of the allocations, in the busiest eighth of the buckets */
    uint32_t bursts;      /* runs of buckets busier than the mean */
    /* The mean of the regular intervals between bursts' starts (0: fewer than 2 bursts). */
    uint64_t period_ns;
    double period_regularity; /* the share of intervals within 25% of the median */
    /* Least-squares line through the live bytes (the most of each bucket) from the first bucket
     * to the one of the site's last allocation. */
    double slope_bytes_per_s, r2;
    uint64_t growth_ns; /* that window's length */
    uint64_t live_max_bytes, live_end_bytes;
    double live_mean_bytes; /* over the series' buckets (each its most): 0 for a sporadic site */
    uint64_t first_alloc_ns, last_alloc_ns; /* from the process's start */
};

/* The pattern of site i (ms_heap_model_site), or NULL (no such site, or the analysis did not
 * run: a totals-only model). A sporadic site's is made for the call and valid until the next. */
const struct ms_site_pattern *ms_patterns_of(const struct ms_heap_model *m, size_t site);
const char *ms_pattern_name(enum ms_pattern p);
const char *ms_growth_name(enum ms_growth g);

#endif
