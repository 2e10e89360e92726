/* Rankings (rank.h). */
#include "rank.h"

#include <stdlib.h>

static int by_value_desc(const void *a, const void *b)
{
    const struct ms_ranked *x = a, *y = b;
    if (x->value != y->value)
        return x->value > y->value ? -1 : 1;
    return x->stack < y->stack ? -1 : x->stack > y->stack;
}

size_t ms_rank_top(struct ms_ranked *r, size_t n, size_t top, size_t **out)
{
    *out = r ? malloc((n ? n : 1) * sizeof **out) : NULL;
    if (!*out) {
        free(r);
        return 0;
    }
    qsort(r, n, sizeof *r, by_value_desc);
    if (top && n > top)
        n = top;
    for (size_t i = 0; i < n; i++)
        (*out)[i] = r[i].index;
    free(r);
    return n;
}
