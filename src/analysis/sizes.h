/* Sizes and allocator efficiency by call site (docs/analyses.md): a histogram of the sizes asked
 * for; the slack (the bytes glibc's size classes hand out beyond them); and the site's reallocs:
 * how many, how many moved the block and how many bytes that copied, by how much each changed
 * the size, and how many grew it by a small step. Memory per site. */
#ifndef MS_SIZES_H
#define MS_SIZES_H

#include "analysis_pass.h"

#include <stdint.h>

extern const struct ms_analysis_pass ms_sizes_pass;

/* Size buckets: up to 16 bytes, 32, 64, 128, 256, 512, 1 KiB, 4 KiB, 16 KiB, 64 KiB, 1 MiB and
 * more. */
#define MS_SIZE_BUCKETS 12
/* Realloc factors (new size / old): below 1 (shrinks), 1.25, 1.5, 2, 4 and more. */
#define MS_GROWTH_BUCKETS 6
/* A realloc that grows a block by less than this is a small step. */
#define MS_SMALL_STEP 64

struct ms_site_sizes {
    uint64_t allocs;   /* each sample's weight in a sampled trace */
    uint64_t min, max; /* bytes asked for */
    double requested;  /* bytes asked for, summed */
    double slack;      /* usable minus asked for, summed (glibc's size classes) */
    uint64_t by_size[MS_SIZE_BUCKETS];
    uint64_t reallocs;    /* reallocs whose new block is the site's */
    uint64_t moved;       /* of them, to another address */
    double copied;        /* bytes those copied: the smaller of the old and new sizes */
    uint64_t small_steps; /* grew the block by less than MS_SMALL_STEP bytes */
    uint64_t by_growth[MS_GROWTH_BUCKETS];
};

/* The bytes glibc's malloc makes usable for a request of n (malloc_usable_size) from its heap:
 * chunks of 16 bytes with an 8-byte header, 24 usable at least. A block glibc maps on its own
 * (from 128 KiB, when the heap's top cannot serve it) has up to a page more: a lower bound
 * there. */
uint64_t ms_glibc_usable(uint64_t n);

/* The sizes of site i, or NULL (no such site, or the analysis did not run). */
const struct ms_site_sizes *ms_sizes_of(const struct ms_heap_model *m, size_t site);
/* The upper bound of size bucket k (inclusive; UINT64_MAX for the last), of growth bucket k
 * (exclusive, in hundredths; UINT64_MAX for the last). */
uint64_t ms_size_bound(int k);
uint64_t ms_growth_bound(int k);

#endif
