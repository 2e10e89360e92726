/* On-demand leak scans in the replay (leak_checks.h). */
#include "leak_checks.h"

#include "../common/errors.h"
#include "../common/trace_format.h"
#include "grow.h"

#include <stdlib.h>
#include <string.h>

static const struct ms_leak_check_result *result_of(const struct ms_leak_checks *c, uint64_t seq)
{
    for (size_t i = 0; i < c->nresults; i++)
        if (c->results[i].seq == seq)
            return &c->results[i];
    return NULL;
}

static int by_group(const void *a, const void *b)
{
    const struct ms_leak_check_group *x = a, *y = b;
    if (x->stack != y->stack)
        return x->stack < y->stack ? -1 : 1;
    return x->kind - y->kind;
}

static int by_bytes(const void *a, const void *b)
{
    const struct ms_leak_check_group *x = a, *y = b;
    if (x->bytes != y->bytes)
        return x->bytes > y->bytes ? -1 : 1;
    return by_group(a, b);
}

/* The kinds' totals from the groups that are not suppressed. */
static void totals(struct ms_leak_check *k)
{
    memset(k->kind_bytes, 0, sizeof k->kind_bytes);
    memset(k->kind_blocks, 0, sizeof k->kind_blocks);
    k->suppressed_bytes = k->suppressed_blocks = 0;
    for (size_t i = 0; i < k->ngroups; i++) {
        const struct ms_leak_check_group *g = &k->groups[i];
        if (g->suppressed) {
            k->suppressed_bytes += g->bytes;
            k->suppressed_blocks += g->blocks;
        } else {
            k->kind_bytes[g->kind] += g->bytes;
            k->kind_blocks[g->kind] += g->blocks;
        }
    }
}

static int by_index(const void *a, const void *b)
{
    size_t x = ((const struct ms_graph_block *)a)->k, y = ((const struct ms_graph_block *)b)->k;
    return x < y ? -1 : x > y;
}

/* The blocks the graph of scan s names (its retainers and its cycles' members), as they are
 * now. Returns 0 or MS_ENOMEM. */
static int resolve_graph(struct ms_leak_check *k, const struct ms_leak_scan_info *s,
                         ms_live_block_fn fn, const void *ctx)
{
    size_t n = s->nretainers;
    for (size_t c = 0; c < s->ncycles; c++)
        n += s->cycles[c].listed;
    struct ms_graph_block *h = n ? malloc(n * sizeof *h) : NULL;
    if (n && !h)
        return MS_ENOMEM;
    size_t m = 0;
    for (size_t i = 0; i < s->nretainers; i++)
        h[m++].k = s->retainers[i].block;
    for (size_t c = 0; c < s->ncycles; c++)
        for (size_t i = 0; i < s->cycles[c].listed; i++)
            h[m++].k = s->member[s->cycles[c].first + i];
    if (m)
        qsort(h, m, sizeof *h, by_index);
    size_t u = 0;
    for (size_t i = 0; i < m; i++) {
        if (u && h[u - 1].k == h[i].k)
            continue;
        h[u].k = h[i].k;
        h[u].b = (struct ms_check_block){0, 0, 0};
        h[u].known = h[i].k < s->n && fn(ctx, s->addr[h[i].k], &h[u].b);
        u++;
    }
    k->graph = s;
    k->held = h;
    k->nheld = u;
    return 0;
}

const struct ms_graph_block *ms_leak_check_block(const struct ms_leak_check *c, size_t k)
{
    struct ms_graph_block key = {.k = k};
    return c->nheld ? bsearch(&key, c->held, c->nheld, sizeof key, by_index) : NULL;
}

/* The check's kinds from the scan r: its blocks by stack and kind, and the totals. */
static int resolve(struct ms_leak_check *k, const struct ms_leak_check_result *r,
                   ms_live_block_fn fn, const void *ctx)
{
    const struct ms_leak_scan_info *s = &r->scan;
    k->scanned = true;
    k->status = s->status;
    k->error = s->error;
    k->scan_ns = s->scan_ns;
    if (s->status != MS_SCAN_DONE || !s->n)
        return 0;
    struct ms_leak_check_group *g = malloc(s->n * sizeof *g);
    if (!g)
        return MS_ENOMEM;
    size_t ng = 0;
    for (size_t i = 0; i < s->n; i++) {
        struct ms_check_block b;
        if (fn(ctx, s->addr[i], &b)) /* else not live then: a damaged trace */
            g[ng++] =
                (struct ms_leak_check_group){b.stack, s->kind[i] & MS_LEAK_KIND_MASK, b.size, 1, 0};
    }
    k->unscanned_blocks = k->live_blocks > ng ? k->live_blocks - ng : 0;
    qsort(g, ng, sizeof *g, by_group);
    size_t n = 0;
    for (size_t i = 0; i < ng; i++) {
        if (n && g[n - 1].stack == g[i].stack && g[n - 1].kind == g[i].kind) {
            g[n - 1].bytes += g[i].bytes;
            g[n - 1].blocks++;
        } else {
            g[n++] = g[i];
        }
    }
    qsort(g, n, sizeof *g, by_bytes);
    struct ms_leak_check_group *fit = n ? realloc(g, n * sizeof *g) : NULL;
    k->groups = fit ? fit : g;
    k->ngroups = n;
    if (!n)
        free(g), k->groups = NULL;
    totals(k);
    return s->graph ? resolve_graph(k, s, fn, ctx) : 0;
}

void ms_leak_checks_suppress(struct ms_leak_checks *c, uint32_t (*which)(void *ctx, uint32_t stack),
                             void *ctx)
{
    for (size_t i = 0; i < c->n; i++) {
        struct ms_leak_check *k = &c->v[i];
        for (size_t j = 0; j < k->ngroups; j++)
            k->groups[j].suppressed = which(ctx, k->groups[j].stack);
        if (k->scanned)
            totals(k);
    }
}

int ms_leak_checks_add(struct ms_leak_checks *c, const struct ms_event *ev, uint64_t live_bytes,
                       uint64_t live_blocks, ms_live_block_fn fn, const void *ctx)
{
    c->total++;
    c->peaks += ev->x[1] == MS_CHECK_PEAK;
    if (c->n >= MS_LEAK_CHECK_EVENTS)
        return 0;
    if (ms_grow(&c->v, &c->cap, c->n + 1, sizeof *c->v, 16) != 0)
        return MS_ENOMEM;
    /* x: seq, cause, handshake, pid, skipped, threads */
    struct ms_leak_check *k = &c->v[c->n++];
    *k = (struct ms_leak_check){.seq = ev->x[0],
                                .tsc = ev->tsc,
                                .cause = ev->x[1] < MS_CHECK_CAUSES ? (int)ev->x[1] : 0,
                                .skipped = ev->x[4] < MS_CHECK_SKIPS ? (int)ev->x[4] : -1,
                                .threads = ev->x[5],
                                .live_bytes = live_bytes,
                                .live_blocks = live_blocks};
    /* A result is the scan of the snapshot one check made: none for a check that made none,
     * and one check only (a damaged or crafted trace may repeat a seq: each would resolve the
     * same result anew). */
    if (!k->seq || k->skipped != MS_CHECK_MADE || !ev->x[3])
        return 0;
    for (size_t i = 0; i + 1 < c->n; i++)
        if (c->v[i].seq == k->seq)
            return 0;
    const struct ms_leak_check_result *r = result_of(c, k->seq);
    return r ? resolve(k, r, fn, ctx) : 0;
}

void ms_leak_checks_free(struct ms_leak_checks *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->v[i].groups);
        free(c->v[i].held);
    }
    free(c->v);
    *c = (struct ms_leak_checks){0};
}
