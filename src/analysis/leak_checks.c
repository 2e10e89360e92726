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
    const struct ms_leak_check_lost *x = a, *y = b;
    if (x->stack != y->stack)
        return x->stack < y->stack ? -1 : 1;
    return x->kind - y->kind;
}

static int by_bytes(const void *a, const void *b)
{
    const struct ms_leak_check_lost *x = a, *y = b;
    if (x->bytes != y->bytes)
        return x->bytes > y->bytes ? -1 : 1;
    return by_group(a, b);
}

/* The check's kinds from the scan r: totals, and the lost blocks by stack and kind. */
static int resolve(struct ms_leak_check *k, const struct ms_leak_check_result *r,
                   ms_live_block_fn fn, const void *ctx)
{
    const struct ms_leak_scan_info *s = &r->scan;
    k->scanned = true;
    k->status = s->status;
    k->error = s->error;
    k->scan_ns = s->scan_ns;
    if (s->status != MS_SCAN_DONE)
        return 0;
    struct ms_leak_check_lost *g = s->n ? malloc(s->n * sizeof *g) : NULL;
    if (s->n && !g)
        return MS_ENOMEM;
    size_t ng = 0;
    uint64_t listed = 0;
    for (size_t i = 0; i < s->n; i++) {
        uint64_t size;
        uint32_t stack;
        if (!fn(ctx, s->addr[i], &size, &stack))
            continue; /* not live then: a damaged trace */
        listed++;
        int kind = s->kind[i] & MS_LEAK_KIND_MASK;
        k->kind_bytes[kind] += size;
        k->kind_blocks[kind]++;
        if (kind != MS_LEAK_REACHABLE)
            g[ng++] = (struct ms_leak_check_lost){stack, kind, size, 1};
    }
    k->unscanned_blocks = k->live_blocks > listed ? k->live_blocks - listed : 0;
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
    k->lost_groups = n;
    k->nlost = n < MS_LEAK_CHECK_TOP ? n : MS_LEAK_CHECK_TOP;
    if (k->nlost)
        memcpy(k->lost, g, k->nlost * sizeof *g);
    free(g);
    return 0;
}

int ms_leak_checks_add(struct ms_leak_checks *c, const struct ms_event *ev, uint64_t live_bytes,
                       uint64_t live_blocks, ms_live_block_fn fn, const void *ctx)
{
    c->total++;
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
    const struct ms_leak_check_result *r = k->seq ? result_of(c, k->seq) : NULL;
    return r ? resolve(k, r, fn, ctx) : 0;
}

void ms_leak_checks_free(struct ms_leak_checks *c)
{
    free(c->v);
    *c = (struct ms_leak_checks){0};
}
