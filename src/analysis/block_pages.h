/* The pages that a set of blocks covers, for the leak scan's quick "no": most words a scan reads
 * (in a garbage-collected heap, nearly all of them pointers) lie in no block, and a hash probe
 * on their page costs less than a binary search among the blocks. Blocks of up to 256 KiB are
 * entered by their 4 KiB pages, larger ones by their 1 MiB regions. */
#ifndef MS_BLOCK_PAGES_H
#define MS_BLOCK_PAGES_H

#include "leak_scan.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ms_block_pages {
    uint64_t *pages, *regions; /* open addressing: key + 1, 0 empty */
    size_t pages_mask, regions_mask;
    bool all; /* no filter (blocks too large to enter): every word may be in one */
};

/* Builds the set for the n blocks. Returns 0 or MS_ENOMEM. */
int ms_block_pages_init(struct ms_block_pages *p, const struct ms_leak_block *b, size_t n);
void ms_block_pages_free(struct ms_block_pages *p);

/* False when no block covers the page (or region) of address w. */
static inline bool ms_block_pages_may_hold(const struct ms_block_pages *p, uint64_t w);

static inline bool ms__block_pages_has(const uint64_t *t, size_t mask, uint64_t key)
{
    for (size_t i = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 17) & mask;; i = (i + 1) & mask) {
        if (t[i] == key + 1)
            return true;
        if (!t[i])
            return false;
    }
}

static inline bool ms_block_pages_may_hold(const struct ms_block_pages *p, uint64_t w)
{
    return p->all || ms__block_pages_has(p->pages, p->pages_mask, w >> 12) ||
           ms__block_pages_has(p->regions, p->regions_mask, w >> 20);
}

#endif
