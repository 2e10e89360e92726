/* The top entries of a ranking: call sites, hotspots (site_rank.h, hotspots.h). */
#ifndef MS_RANK_H
#define MS_RANK_H

#include <stddef.h>
#include <stdint.h>

struct ms_ranked {
    double value;
    uint32_t stack; /* ties: the smaller stack id first, so that the output is stable */
    size_t index;
};

/* Sorts r[0..n) by value, largest first, and writes the indices of the first top (0: all) into
 * a new array *out, the caller's to free; frees r. Returns how many (0 and *out NULL when out
 * of memory). */
size_t ms_rank_top(struct ms_ranked *r, size_t n, size_t top, size_t **out);

#endif
