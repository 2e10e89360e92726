/* The exact call counts of a sampled trace (call_sites.h). */
#include "call_sites.h"

#include "common/errors.h"
#include "grow.h"

#include <stdlib.h>

static size_t slot_of(uint64_t ip, size_t mask)
{
    return (size_t)((ip * 0x9E3779B97F4A7C15ull) >> 32) & mask;
}

static int reindex(struct ms_call_sites *c, size_t slots)
{
    uint32_t *index = calloc(slots, sizeof *index);
    if (!index)
        return MS_ENOMEM;
    free(c->index);
    c->index = index;
    c->mask = slots - 1;
    for (size_t i = 0; i < c->n; i++) {
        size_t j = slot_of(c->items[i].ip, c->mask);
        while (index[j])
            j = (j + 1) & c->mask;
        index[j] = (uint32_t)i + 1;
    }
    return 0;
}

int ms_call_sites_add(struct ms_call_sites *c, uint64_t ip, uint64_t allocs, uint64_t bytes)
{
    int err;
    if ((!c->index || (c->n + 1) * 2 > c->mask + 1) &&
        (err = reindex(c, c->index ? 2 * (c->mask + 1) : 256)) != 0)
        return err;
    size_t j = slot_of(ip, c->mask);
    for (; c->index[j]; j = (j + 1) & c->mask) {
        struct ms_call_site *s = &c->items[c->index[j] - 1];
        if (s->ip == ip) {
            s->allocs += allocs;
            s->bytes += bytes;
            return 0;
        }
    }
    if (c->n >= UINT32_MAX - 1 ||
        (err = ms_grow(&c->items, &c->cap, c->n + 1, sizeof *c->items, 64)) != 0)
        return MS_ENOMEM;
    c->items[c->n] = (struct ms_call_site){ip, allocs, bytes};
    c->index[j] = (uint32_t)++c->n;
    return 0;
}

static int by_bytes(const void *a, const void *b)
{
    const struct ms_call_site *x = a, *y = b;
    if (x->bytes != y->bytes)
        return x->bytes > y->bytes ? -1 : 1;
    if (x->allocs != y->allocs)
        return x->allocs > y->allocs ? -1 : 1;
    return x->ip < y->ip ? -1 : x->ip > y->ip;
}

void ms_call_sites_sort(struct ms_call_sites *c)
{
    free(c->index);
    c->index = NULL;
    c->mask = 0;
    if (c->n > 1)
        qsort(c->items, c->n, sizeof *c->items, by_bytes);
}

void ms_call_sites_free(struct ms_call_sites *c)
{
    free(c->items);
    free(c->index);
    *c = (struct ms_call_sites){0};
}
