/* Sorting of call sites for the rankings; ties are broken by stack id so output is stable. */
#include "site_rank.h"

#include "analysis/patterns.h"
#include "common/count_of.h"
#include "analysis/rank.h"

#include <stdlib.h>

/* The value site i is ranked by (0: not ranked). */
static uint64_t rank_value(const struct ms_heap_model *m, size_t i, enum ms_rank_key key)
{
    const struct ms_site *s = ms_heap_model_site(m, i);
    const struct ms_site_pattern *p;
    uint64_t v;
    switch (key) {
    case MS_RANK_ALLOCS:
        return s->allocs;
    case MS_RANK_PEAK:
        return s->peak_bytes;
    case MS_RANK_BYTES:
        return s->bytes;
    case MS_RANK_TEMPORARY:
        return s->temporary;
    case MS_RANK_LEAKED:
        return s->live_bytes ? s->live_bytes : s->live_blocks;
    case MS_RANK_GROWTH:
        p = ms_patterns_of(m, i);
        if (!p || p->pattern != MS_PATTERN_GROWING)
            return 0;
        v = ms_count_of(p->slope_bytes_per_s);
        return v < UINT64_MAX ? v + 1 : v; /* ranked: at least 1 */
    }
    return 0;
}

size_t ms_rank_sites(const struct ms_heap_model *m, enum ms_rank_key key, size_t top, size_t **out)
{
    size_t n = ms_heap_model_site_count(m), k = 0;
    struct ms_ranked *r = malloc((n ? n : 1) * sizeof *r);
    for (size_t i = 0; i < n && r; i++) {
        uint64_t v = rank_value(m, i, key);
        if (v)
            r[k++] = (struct ms_ranked){(double)v, ms_heap_model_site(m, i)->stack, i};
    }
    return ms_rank_top(r, k, top, out);
}
