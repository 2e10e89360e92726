/* Dominators, retained sizes and unreachable cycles of the live-block graph (retainers.h). */
#include "retainers.h"

#include "common/errors.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct frame {
    uint32_t v;
    size_t next; /* the next edge of v to follow */
};

/* The nodes reached from node 0 in reverse postorder (rpo, *nr of them) and each one's
 * postorder number (po; unreached: none). */
static int reverse_postorder(const struct ms_graph *g, uint32_t *rpo, size_t *nr, uint32_t *po,
                             bool *seen)
{
    struct frame *st = malloc(g->n * sizeof *st);
    if (!st)
        return MS_ENOMEM;
    size_t depth = 0, count = 0;
    st[depth++] = (struct frame){0, g->first[0]};
    seen[0] = true;
    while (depth) {
        struct frame *f = &st[depth - 1];
        if (f->next < g->first[f->v + 1]) {
            uint32_t w = g->to[f->next++];
            if (w < g->n && !seen[w]) {
                seen[w] = true;
                st[depth++] = (struct frame){w, g->first[w]};
            }
        } else {
            po[f->v] = (uint32_t)count;
            rpo[count++] = f->v; /* postorder for now */
            depth--;
        }
    }
    for (size_t i = 0; i < count / 2; i++) {
        uint32_t t = rpo[i];
        rpo[i] = rpo[count - 1 - i];
        rpo[count - 1 - i] = t;
    }
    *nr = count;
    free(st);
    return 0;
}

static uint32_t intersect(const uint32_t *idom, const uint32_t *po, uint32_t a, uint32_t b)
{
    while (a != b) {
        while (po[a] < po[b])
            a = idom[a];
        while (po[b] < po[a])
            b = idom[b];
    }
    return a;
}

int ms_dominators(const struct ms_graph *g, uint32_t *idom, uint64_t *retained_bytes,
                  uint64_t *retained_blocks)
{
    size_t n = g->n;
    for (size_t i = 0; i < n; i++) {
        idom[i] = MS_NO_NODE;
        retained_bytes[i] = retained_blocks[i] = 0;
    }
    if (!n)
        return 0;
    uint32_t *rpo = malloc(n * sizeof *rpo), *po = malloc(n * sizeof *po);
    bool *seen = calloc(n, sizeof *seen);
    size_t *pfirst = calloc(n + 1, sizeof *pfirst);
    uint32_t *pred = NULL;
    int rc = MS_ENOMEM;
    size_t nr = 0;
    if (!rpo || !po || !seen || !pfirst || reverse_postorder(g, rpo, &nr, po, seen) != 0)
        goto out;
    /* The predecessors of each reached node, among reached nodes. */
    for (size_t v = 0; v < n; v++)
        for (size_t e = g->first[v]; seen[v] && e < g->first[v + 1]; e++)
            if (g->to[e] < n)
                pfirst[g->to[e] + 1]++;
    for (size_t v = 0; v < n; v++)
        pfirst[v + 1] += pfirst[v];
    pred = malloc((pfirst[n] ? pfirst[n] : 1) * sizeof *pred);
    size_t *fill = calloc(n, sizeof *fill);
    if (!pred || !fill) {
        free(fill);
        goto out;
    }
    for (size_t v = 0; v < n; v++)
        for (size_t e = g->first[v]; seen[v] && e < g->first[v + 1]; e++)
            if (g->to[e] < n)
                pred[pfirst[g->to[e]] + fill[g->to[e]]++] = (uint32_t)v;
    free(fill);
    idom[0] = 0;
    for (bool changed = true; changed;) {
        changed = false;
        for (size_t i = 1; i < nr; i++) {
            uint32_t v = rpo[i], d = MS_NO_NODE;
            for (size_t k = pfirst[v]; k < pfirst[v + 1]; k++) {
                uint32_t p = pred[k];
                if (idom[p] != MS_NO_NODE)
                    d = d == MS_NO_NODE ? p : intersect(idom, po, p, d);
            }
            if (idom[v] != d) {
                idom[v] = d;
                changed = true;
            }
        }
    }
    /* A node's dominator comes before it in reverse postorder: summed from the end. */
    for (size_t i = 0; i < nr; i++) {
        retained_bytes[rpo[i]] = rpo[i] ? g->size[rpo[i]] : 0;
        retained_blocks[rpo[i]] = rpo[i] ? 1 : 0;
    }
    for (size_t i = nr; i-- > 1;) {
        uint32_t v = rpo[i];
        retained_bytes[idom[v]] += retained_bytes[v];
        retained_blocks[idom[v]] += retained_blocks[v];
    }
    rc = 0;
out:
    free(rpo);
    free(po);
    free(seen);
    free(pfirst);
    free(pred);
    return rc;
}

int ms_unreachable_cycles(const struct ms_graph *g, const uint32_t *idom, uint32_t *cycle,
                          size_t *ncycles)
{
    size_t n = g->n;
    *ncycles = 0;
    uint32_t *index = malloc(n * sizeof *index), *low = malloc(n * sizeof *low);
    uint32_t *stack = malloc(n * sizeof *stack), *comp = malloc(n * sizeof *comp);
    bool *on = calloc(n, sizeof *on);
    struct frame *call = malloc(n * sizeof *call);
    int rc = MS_ENOMEM;
    if (n && (!index || !low || !stack || !comp || !on || !call))
        goto out;
    for (size_t i = 0; i < n; i++) {
        index[i] = MS_NO_NODE;
        comp[i] = cycle[i] = MS_NO_NODE;
    }
    uint32_t next_index = 0, ncomp = 0;
    size_t sp = 0;
    for (size_t root = 0; root < n; root++) {
        if (idom[root] != MS_NO_NODE || index[root] != MS_NO_NODE)
            continue;
        size_t depth = 0;
        call[depth++] = (struct frame){(uint32_t)root, g->first[root]};
        index[root] = low[root] = next_index++;
        stack[sp++] = (uint32_t)root;
        on[root] = true;
        while (depth) {
            struct frame *f = &call[depth - 1];
            uint32_t v = f->v;
            if (f->next < g->first[v + 1]) {
                uint32_t w = g->to[f->next++];
                if (w >= n || idom[w] != MS_NO_NODE)
                    continue;
                if (index[w] == MS_NO_NODE) {
                    index[w] = low[w] = next_index++;
                    stack[sp++] = w;
                    on[w] = true;
                    call[depth++] = (struct frame){w, g->first[w]};
                } else if (on[w] && index[w] < low[v]) {
                    low[v] = index[w];
                }
                continue;
            }
            if (low[v] == index[v]) { /* v leads a component: pop it */
                uint32_t w;
                do {
                    w = stack[--sp];
                    on[w] = false;
                    comp[w] = ncomp;
                } while (w != v);
                ncomp++;
            }
            depth--;
            if (depth && low[v] < low[call[depth - 1].v])
                low[call[depth - 1].v] = low[v];
        }
    }
    /* A component is a cycle when it has two nodes or more, or one node pointing to itself;
     * numbered in the order of their lowest node. */
    uint32_t *size = calloc(ncomp ? ncomp : 1, sizeof *size),
             *id = malloc((ncomp ? ncomp : 1) * sizeof *id);
    if (!size || !id) {
        free(size);
        free(id);
        goto out;
    }
    for (size_t v = 0; v < n; v++)
        if (comp[v] != MS_NO_NODE)
            size[comp[v]]++;
    for (size_t v = 0; v < n; v++)
        for (size_t e = g->first[v]; comp[v] != MS_NO_NODE && e < g->first[v + 1]; e++)
            if (g->to[e] == v && size[comp[v]] == 1)
                size[comp[v]] = 2; /* a self-loop counts */
    for (uint32_t c = 0; c < ncomp; c++)
        id[c] = MS_NO_NODE;
    for (size_t v = 0; v < n; v++) {
        uint32_t c = comp[v];
        if (c == MS_NO_NODE || size[c] < 2)
            continue;
        if (id[c] == MS_NO_NODE)
            id[c] = (uint32_t)(*ncycles)++;
        cycle[v] = id[c];
    }
    free(size);
    free(id);
    rc = 0;
out:
    free(index);
    free(low);
    free(stack);
    free(comp);
    free(on);
    free(call);
    return rc;
}

/* Most bytes first; then the lower node. */
static int by_bytes(const void *a, const void *b)
{
    const struct ms_retainer *x = a, *y = b;
    if (x->bytes != y->bytes)
        return x->bytes < y->bytes ? 1 : -1;
    return x->node < y->node ? -1 : x->node > y->node;
}

/* The k entries of v[0..n) that come first by by_bytes, sorted, into v[0..k). */
static size_t top(struct ms_retainer *v, size_t n, size_t k)
{
    qsort(v, n, sizeof *v, by_bytes);
    return n < k ? n : k;
}

int ms_who_keeps(const struct ms_graph *g, struct ms_who_keeps *out)
{
    memset(out, 0, sizeof *out);
    size_t n = g->n;
    out->edges = n ? g->first[n] : 0;
    uint32_t *idom = malloc((n ? n : 1) * sizeof *idom);
    uint32_t *cycle = malloc((n ? n : 1) * sizeof *cycle);
    uint64_t *rb = malloc((n ? n : 1) * sizeof *rb);
    uint64_t *rk = malloc((n ? n : 1) * sizeof *rk);
    struct ms_retainer *cand = malloc((n ? n : 1) * sizeof *cand);
    size_t ncycles = 0;
    int rc = idom && cycle && rb && rk && cand ? 0 : MS_ENOMEM;
    if (!rc && n)
        rc = ms_dominators(g, idom, rb, rk);
    if (!rc && n)
        rc = ms_unreachable_cycles(g, idom, cycle, &ncycles);
    if (!rc) {
        size_t k = 0;
        for (size_t i = 1; i < n; i++)
            if (idom[i] == 0)
                cand[k++] = (struct ms_retainer){(uint32_t)i, rb[i], rk[i]};
        out->top_level = k;
        out->nretainers = top(cand, k, MS_RETAINERS_LISTED);
        memcpy(out->retainers, cand, out->nretainers * sizeof *cand);
    }
    /* The cycles' totals (cand reused: node = the cycle's number), then their members. */
    struct ms_retainer *cyc = !rc && ncycles ? calloc(ncycles, sizeof *cyc) : NULL;
    uint32_t *slot = !rc && ncycles ? malloc(ncycles * sizeof *slot) : NULL;
    if (!rc && ncycles && (!cyc || !slot))
        rc = MS_ENOMEM;
    if (!rc && ncycles) {
        for (size_t c = 0; c < ncycles; c++)
            cyc[c].node = (uint32_t)c;
        for (size_t i = 1; i < n; i++)
            if (cycle[i] != MS_NO_NODE) {
                cyc[cycle[i]].bytes += g->size[i];
                cyc[cycle[i]].blocks++;
                out->cycle_blocks++;
                out->cycle_bytes += g->size[i];
            }
        out->all_cycles = ncycles;
        out->ncycles = top(cyc, ncycles, MS_CYCLES_LISTED);
        for (size_t c = 0; c < ncycles; c++)
            slot[c] = MS_NO_NODE;
        for (size_t c = 0; c < out->ncycles; c++) {
            slot[cyc[c].node] = (uint32_t)c;
            out->cycles[c].bytes = cyc[c].bytes;
            out->cycles[c].blocks = cyc[c].blocks;
        }
        for (size_t i = 1; i < n; i++) {
            uint32_t c = cycle[i] != MS_NO_NODE ? slot[cycle[i]] : MS_NO_NODE;
            if (c != MS_NO_NODE && out->cycles[c].listed < MS_CYCLE_MEMBERS_LISTED)
                out->cycles[c].member[out->cycles[c].listed++] = (uint32_t)i;
        }
    }
    free(cyc);
    free(slot);
    free(idom);
    free(cycle);
    free(rb);
    free(rk);
    free(cand);
    return rc;
}
