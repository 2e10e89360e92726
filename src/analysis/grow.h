/* Growing arrays for the analysis side (which, unlike the capture library, may allocate):
 * doubles the capacity until `need` elements fit. */
#ifndef MS_GROW_H
#define MS_GROW_H

#include "common/errors.h"

#include <stdlib.h>
#include <string.h>

/* Ensures *items (of elem bytes each, capacity *cap) holds at least need elements; new slots
 * are zeroed. Returns 0 or MS_ENOMEM (the array is then unchanged). */
static inline int ms_grow(void *items, size_t *cap, size_t need, size_t elem, size_t first)
{
    void **p = items;
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : first;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, n * elem);
    if (!q)
        return MS_ENOMEM;
    memset((char *)q + *cap * elem, 0, (n - *cap) * elem);
    *p = q;
    *cap = n;
    return 0;
}

/* The element i of *items (of elem bytes each; *n in use, capacity *cap), the array grown and
 * *n raised to reach it, new elements zeroed; NULL when out of memory (the array unchanged).
 * For tables indexed by an id that grows, as the analyses' per-site ones. */
static inline void *ms_grow_at(void *items, size_t *n, size_t *cap, size_t i, size_t elem)
{
    if (i >= *n) {
        if (ms_grow(items, cap, i + 1, elem, 64))
            return NULL;
        *n = i + 1;
    }
    return (char *)*(void **)items + i * elem;
}

#endif
