/* Orders call sites for the report's rankings (by allocations, by bytes live at the peak, by
 * bytes allocated, by temporary allocations, by leaked bytes, by unbounded growth). */
#ifndef MS_SITE_RANK_H
#define MS_SITE_RANK_H

#include "analysis/heap_model.h"

#include <stddef.h>
#include <stdint.h>

enum ms_rank_key {
    MS_RANK_ALLOCS,
    MS_RANK_PEAK,
    MS_RANK_BYTES,
    MS_RANK_TEMPORARY,
    MS_RANK_LEAKED,
    MS_RANK_GROWTH, /* live bytes per second, of the sites growing without bound (patterns.h) */
};

/* Writes into out (room for top entries) the indices of the sites with the largest non-zero
 * values of key, largest first; returns how many. top == 0 means all. The caller frees *out. */
size_t ms_rank_sites(const struct ms_heap_model *m, enum ms_rank_key key, size_t top, size_t **out);

#endif
