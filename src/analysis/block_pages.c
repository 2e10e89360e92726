/* The pages blocks cover (block_pages.h). */
#include "block_pages.h"

#include "common/errors.h"

#include <stdlib.h>

#define SMALL_PAGES 64        /* up to 256 KiB: by pages */
#define MAX_KEYS (1ull << 26) /* beyond: no filter */

static void add_page(uint64_t *t, size_t mask, uint64_t key)
{
    for (size_t i = ms__block_pages_slot(key, mask);; i = (i + 1) & mask) {
        if (t[i] == key + 1)
            return;
        if (!t[i]) {
            t[i] = key + 1;
            return;
        }
    }
}

static void add_region(uint64_t *t, size_t mask, uint64_t key, bool whole)
{
    for (size_t i = ms__block_pages_slot(key, mask);; i = (i + 1) & mask) {
        if (!t[i] || (t[i] - 1) >> 1 == key) {
            t[i] = ((t[i] ? t[i] - 1 : key << 1) | whole) + 1;
            return;
        }
    }
}

/* A table of at least twice want slots, a power of two. */
static uint64_t *table(uint64_t want, size_t *mask)
{
    size_t n = 16;
    while (n < 2 * want)
        n *= 2;
    *mask = n - 1;
    return calloc(n, sizeof(uint64_t));
}

int ms_block_pages_init(struct ms_block_pages *p, const struct ms_leak_block *b, size_t n)
{
    *p = (struct ms_block_pages){0};
    uint64_t npages = 0, nregions = 0;
    for (size_t i = 0; i < n && !p->all; i++) {
        uint64_t last = b[i].size ? b[i].size - 1 : 0;
        if (last > UINT64_MAX - b[i].addr) {
            p->all = true; /* a block that wraps: a damaged trace */
            break;
        }
        uint64_t pages = ((b[i].addr + last) >> 12) - (b[i].addr >> 12) + 1;
        if (pages <= SMALL_PAGES)
            npages += pages;
        nregions += ((b[i].addr + last) >> 20) - (b[i].addr >> 20) + 1;
        p->all = npages > MAX_KEYS || nregions > MAX_KEYS;
    }
    if (p->all)
        return 0;
    p->pages = table(npages, &p->pages_mask);
    p->regions = table(nregions, &p->regions_mask);
    if (!p->pages || !p->regions) {
        ms_block_pages_free(p);
        return MS_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t last = b[i].addr + (b[i].size ? b[i].size - 1 : 0);
        bool small = (last >> 12) - (b[i].addr >> 12) + 1 <= SMALL_PAGES;
        for (uint64_t k = b[i].addr >> 20; k <= last >> 20; k++)
            add_region(p->regions, p->regions_mask, k, !small);
        for (uint64_t k = b[i].addr >> 12; small && k <= last >> 12; k++)
            add_page(p->pages, p->pages_mask, k);
    }
    return 0;
}

void ms_block_pages_free(struct ms_block_pages *p)
{
    free(p->pages);
    free(p->regions);
    *p = (struct ms_block_pages){0};
}
