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

#endif
