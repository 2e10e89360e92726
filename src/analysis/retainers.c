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
