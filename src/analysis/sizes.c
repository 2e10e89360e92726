/* Sizes by call site (sizes.h). A realloc reaches the analyses as the old block's end (why:
 * MS_PASS_REALLOCED) followed at once by the new block's allocation (kind MS_REC_REALLOC): the
 * pair tells the old size and address from the new. */
#include "sizes.h"

#include "common/errors.h"
#include "common/trace_format.h"
#include "grow.h"
#include "heap_model.h"

#include <stdbool.h>
#include <stdlib.h>

static const uint64_t size_bounds[MS_SIZE_BUCKETS] = {
    16, 32, 64, 128, 256, 512, 1024, 4096, 16384, 65536, 1048576, UINT64_MAX};
static const uint64_t growth_bounds[MS_GROWTH_BUCKETS] = {100, 125, 150, 200, 400, UINT64_MAX};

uint64_t ms_size_bound(int k)
{
    return size_bounds[k];
}

uint64_t ms_growth_bound(int k)
{
    return growth_bounds[k];
}

uint64_t ms_glibc_usable(uint64_t n)
{
    if (n >= UINT64_MAX - 64)
        return n;
    uint64_t chunk = (n + 8 + 15) & ~(uint64_t)15; /* glibc's request2size */
    return (chunk < 32 ? 32 : chunk) - 8;
}

struct sizes {
    struct ms_site_sizes *sites;
    size_t nsites, cap;
    /* the old block of the realloc whose new block comes next */
    bool pending;
    uint64_t old_ptr, old_size;
};

static void *create(const struct ms_pass_env *env)
{
    (void)env;
    return calloc(1, sizeof(struct sizes));
}

static struct ms_site_sizes *site_of(struct sizes *z, uint32_t i)
{
    return ms_grow_at(&z->sites, &z->nsites, &z->cap, i, sizeof *z->sites);
}

static int bucket(const uint64_t *bounds, int n, uint64_t v, bool inclusive)
{
    int k = 0;
    while (k < n - 1 && (inclusive ? v > bounds[k] : v >= bounds[k]))
        k++;
    return k;
}

static int on_alloc(void *state, const struct ms_pass_alloc *a)
{
    struct sizes *z = state;
    bool realloc_ = a->kind == MS_REC_REALLOC && z->pending;
    z->pending = false;
    if (a->baseline)
        return 0; /* allocated before the report's window */
    struct ms_site_sizes *s = site_of(z, a->block.site);
    if (!s)
        return MS_ENOMEM;
    uint64_t w = a->block.weight, n = a->block.size;
    if (!s->allocs || n < s->min)
        s->min = n;
    if (n > s->max)
        s->max = n;
    s->allocs += w;
    s->requested += (double)n * (double)w;
    s->slack += (double)(ms_glibc_usable(n) - n) * (double)w;
    s->by_size[bucket(size_bounds, MS_SIZE_BUCKETS, n, true)] += w;
    if (realloc_) {
        s->reallocs += w;
        if (a->block.ptr != z->old_ptr) {
            s->moved += w;
            s->copied += (double)(n < z->old_size ? n : z->old_size) * (double)w;
        }
        if (n > z->old_size && n - z->old_size < MS_SMALL_STEP)
            s->small_steps += w;
        uint64_t pct =
            z->old_size ? (n >= UINT64_MAX / 100 ? UINT64_MAX : n * 100 / z->old_size) : UINT64_MAX;
        s->by_growth[bucket(growth_bounds, MS_GROWTH_BUCKETS, pct, false)] += w;
    }
    return 0;
}

static int on_free(void *state, const struct ms_pass_free *f)
{
    struct sizes *z = state;
    z->pending = f->why == MS_PASS_REALLOCED;
    z->old_ptr = f->block.ptr;
    z->old_size = f->block.size;
    return 0;
}

static int on_event(void *state, const struct ms_event *ev)
{
    (void)ev;
    ((struct sizes *)state)->pending = false;
    return 0;
}

static void destroy(void *state)
{
    struct sizes *z = state;
    if (z)
        free(z->sites);
    free(z);
}

const struct ms_analysis_pass ms_sizes_pass = {
    .name = "sizes",
    .create = create,
    .on_alloc = on_alloc,
    .on_free = on_free,
    .on_event = on_event,
    .destroy = destroy,
};

const struct ms_site_sizes *ms_sizes_of(const struct ms_heap_model *m, size_t site)
{
    const struct sizes *z = ms_heap_model_pass(m, &ms_sizes_pass);
    if (!z || site >= ms_heap_model_site_count(m))
        return NULL;
    static const struct ms_site_sizes none;
    return site < z->nsites ? &z->sites[site] : &none;
}
