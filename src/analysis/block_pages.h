/* The pages that a set of blocks covers, for the leak scan's quick "no": most words a scan reads
 * (in a garbage-collected heap, nearly all of them pointers) lie in no block, and a hash probe
 * costs less than a binary search among the blocks. Every block enters its 1 MiB regions, which
 * are probed first; a region that only blocks of up to 256 KiB touch also has their 4 KiB pages
 * entered, probed next. */
#ifndef MS_BLOCK_PAGES_H
#define MS_BLOCK_PAGES_H

#include "leak_scan.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ms_block_pages {
    /* open addressing, 0 empty: pages hold page + 1; regions hold (region << 1 | whole) + 1,
     * whole when a larger block covers the region (its pages are then not entered) */
    uint64_t *pages, *regions;
    size_t pages_mask, regions_mask;
    bool all; /* no filter (blocks too large to enter): every word may be in one */
};

/* Builds the set for the n blocks. Returns 0 or MS_ENOMEM. */
int ms_block_pages_init(struct ms_block_pages *p, const struct ms_leak_block *b, size_t n);
void ms_block_pages_free(struct ms_block_pages *p);

/* False when no block covers the page (or region) of address w. */
static inline bool ms_block_pages_may_hold(const struct ms_block_pages *p, uint64_t w);

static inline size_t ms__block_pages_slot(uint64_t key, size_t mask)
{
    return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 17) & mask;
}

static inline bool ms_block_pages_may_hold(const struct ms_block_pages *p, uint64_t w)
{
    if (p->all)
        return true;
    uint64_t r = w >> 20, v;
    for (size_t i = ms__block_pages_slot(r, p->regions_mask);; i = (i + 1) & p->regions_mask) {
        v = p->regions[i];
        if (!v)
            return false;
        if ((v - 1) >> 1 == r)
            break;
    }
    if ((v - 1) & 1)
        return true;
    uint64_t pg = w >> 12;
    for (size_t i = ms__block_pages_slot(pg, p->pages_mask);; i = (i + 1) & p->pages_mask) {
        if (p->pages[i] == pg + 1)
            return true;
        if (!p->pages[i])
            return false;
    }
}

#endif
