/* The timeline (docs/analyses.md): heap bytes in use over the run, in at most
 * MS_TIMELINE_BUCKETS buckets of equal width that double as the run goes on (memory bounded,
 * whatever the trace's length), on two axes: wall time by the trace's clock, and bytes allocated
 * so far (massif's --time-unit=B: the same on every run of a deterministic program, so that runs
 * compare in CI). Then the run's highest peaks. */
#ifndef MS_TIMELINE_H
#define MS_TIMELINE_H

#include "analysis_pass.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

extern const struct ms_analysis_pass ms_timeline_pass;

#define MS_TIMELINE_BUCKETS 512
#define MS_TIMELINE_PEAKS 5

/* One bucket: [start, start + width) of its axis. */
struct ms_timeline_bucket {
    uint64_t heap_end; /* heap bytes in use after its last event (or the bucket's before) */
    uint64_t heap_max; /* the most in use at any moment in it */
    uint64_t max_tsc;  /* the first moment it was reached (the trace's clock; 0: its start) */
    /* The allocations replayed by then (ms_pass_block.alloc_seq + 1); UINT64_MAX: no event yet
     * (the heap as a report's window opened). */
    uint64_t max_seq;
    uint64_t allocs, frees, bytes_allocated;
};

struct ms_timeline_axis {
    uint64_t width; /* of a bucket: ns (time), bytes (allocated) */
    int shift;      /* while the replay runs: the width is 1 << shift (ticks, bytes) */
    size_t n;       /* buckets in use: the last holds the last event */
    struct ms_timeline_bucket b[MS_TIMELINE_BUCKETS];
};

struct ms_timeline_peak {
    uint64_t time_ns, heap_bytes; /* the moment its bucket's most in use was reached, and that */
    /* The allocations replayed up to that moment (memscope report --at-alloc N shows what was
     * live then: exact, where a time is not: the records between two timed ones share its time);
     * UINT64_MAX: the heap as the report's window opened. */
    uint64_t at_alloc;
};

/* glibc's own figures at a moment of the run (the trace's ALLOCATOR_STATS: mallinfo2, sampled
 * at memscope run's clock ticks), with the heap the replay had then. */
struct ms_allocator_sample {
    uint64_t time_ns;
    uint64_t heap;                              /* bytes the program had asked for, live then */
    uint64_t arena, mmapped, in_use, free, top; /* mallinfo2's arena, hblkhd, uordblks, ... */
};

/* What the resident memory was made of when the most was sampled (docs/analyses.md, "Heap and
 * RSS"): rss = heap + overhead + free + other, in the bucket of the time axis that has both an
 * RSS sample and an allocator sample with the highest RSS (the latest of equals), from its last
 * allocator sample. */
struct ms_memory_gap {
    bool present;
    uint64_t time_ns; /* the allocator sample's */
    uint64_t rss;     /* the bucket's most resident memory sampled */
    struct ms_allocator_sample at;
    int64_t overhead; /* in_use + mmapped - heap: chunk headers, rounding, the threads' caches */
    int64_t other;    /* rss - arena - mmapped: code, stacks, other mappings, memscope's own;
                         below 0 when free arena memory is not resident */
};

struct ms_timeline {
    /* Bucket i of the time axis starts at origin_ns + i * width ns since the process's start:
     * origin_ns is 0 but in a report's time window (memscope report --since), where it is the
     * window's start; the allocated axis counts the bytes allocated in the window. */
    uint64_t origin_ns;
    struct ms_timeline_axis time, allocated;
    /* The most resident memory memscope run sampled in each bucket of the time axis (its RSS
     * chunk; 0: no sample there), and whether the trace has samples at all. */
    uint64_t rss[MS_TIMELINE_BUCKETS];
    bool has_rss;
    /* The allocator's figures in each bucket of the time axis (the last sample in it; present
     * false: none), and the gap between heap and RSS. */
    struct ms_timeline_allocator {
        bool present;
        struct ms_allocator_sample s;
    } allocator[MS_TIMELINE_BUCKETS];
    struct ms_memory_gap gap;
    /* The highest buckets of the time axis that are above both neighbours, highest first. */
    struct ms_timeline_peak peaks[MS_TIMELINE_PEAKS];
    size_t npeaks;
};

/* The model's timeline (after the finish), or NULL (a totals-only model). */
const struct ms_timeline *ms_timeline_of(const struct ms_heap_model *m);

#endif
