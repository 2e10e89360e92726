/* memcheck's leak kinds from a conservative scan (leak_scan.h). */
#include "leak_scan.h"

#include "block_pages.h"
#include "common/errors.h"
#include "grow.h"

#include <pthread.h>
#include <unistd.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Block states while scanning; a block's kind is its state at the end. */
enum { UNREACHED, INDIRECT, POSSIBLE, REACHABLE };

#define PIECE (1u << 16) /* bytes read at a time */
#define PAGE 4096u       /* what a failed piece is read again by */

/* A pointer found in a root by a helper thread, delivered later in the order of the roots. */
struct hit {
    uint64_t w;
    size_t j;
    bool start;
};

/* A part of the roots searched by a helper thread: its pointers, and its unreadable bytes. */
struct piece {
    uint64_t lo, hi;
    size_t root;
    struct hit *hits;
    size_t nhits, cap;
    uint64_t unreadable;
    bool failed; /* out of memory: searched again on the scan's thread */
};

struct scan {
    const struct ms_leak_block *b;
    size_t n;
    uint64_t lo, hi; /* no block outside */
    ms_leak_read_fn read;
    void *ctx;
    const struct ms_leak_region *readable;
    size_t nreadable;
    const struct ms_leak_memory *mem;
    struct ms_block_pages pages; /* a quick no for words in no block */
    uint8_t *state;
    uint8_t *heur; /* 1 + the heuristic that made a block reachable, 0: a start pointer */
    size_t *leader;
    size_t *stack, depth;
    uint64_t *buf;
    uint64_t unreadable;
    struct piece *collect; /* a helper thread's: pointers are kept there, not followed */
    /* The graph's edges as found (ms_leak_graph): from the node being scanned (src; NO_SRC
     * when its edges are in already, or none are asked for) to each block it points to. */
    uint32_t src;
    uint8_t *edged; /* a block's edges are in: it is scanned again only for its kind */
    struct edge *edges;
    size_t nedges, edges_cap;
    bool edges_failed;
};

#define NO_SRC UINT32_MAX

struct edge {
    uint32_t from, to;
};

static void add_edge(struct scan *s, size_t j)
{
    if (s->src == NO_SRC || s->edges_failed)
        return;
    uint32_t to = (uint32_t)(j + 1);
    if (s->nedges && s->edges[s->nedges - 1].from == s->src && s->edges[s->nedges - 1].to == to)
        return;
    if (ms_grow(&s->edges, &s->edges_cap, s->nedges + 1, sizeof *s->edges, 1024) != 0)
        s->edges_failed = true;
    else
        s->edges[s->nedges++] = (struct edge){s->src, to};
}

const char *ms_leak_kind_name(enum ms_leak_kind k)
{
    static const char *const names[] = {"definitely_lost", "indirectly_lost", "possibly_lost",
                                        "still_reachable"};
    return k < MS_LEAK_KINDS ? names[k] : "unknown";
}

/* The end of a block, clamped to the address space. */
static uint64_t block_end(const struct ms_leak_block *b, uint64_t size)
{
    return size > UINT64_MAX - b->addr ? UINT64_MAX : b->addr + size;
}

const char *ms_leak_kind_label(enum ms_leak_kind k)
{
    static const char *const labels[] = {"definitely lost", "indirectly lost", "possibly lost",
                                         "still reachable"};
    return k < MS_LEAK_KINDS ? labels[k] : "unknown";
}

const char *ms_leak_heuristic_name(enum ms_leak_heuristic h)
{
    static const char *const names[] = {"stdstring", "length64", "newarray", "multipleinheritance"};
    return h < MS_LEAK_HEURISTICS ? names[h] : "unknown";
}

/* The block that word w points into, or SIZE_MAX. An empty block holds its start. */
static size_t find(const struct scan *s, uint64_t w, bool *start)
{
    if (w < s->lo || w >= s->hi || !ms_block_pages_may_hold(&s->pages, w))
        return SIZE_MAX;
    size_t lo = 0, hi = s->n; /* the last block starting at or below w is below hi */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->b[mid].addr <= w)
            lo = mid;
        else
            hi = mid;
    }
    const struct ms_leak_block *b = &s->b[lo];
    uint64_t size = b->size ? b->size : 1;
    if (w < b->addr || w - b->addr >= size)
        return SIZE_MAX;
    *start = w == b->addr;
    return lo;
}

size_t ms_leak_region_after(const struct ms_leak_region *r, size_t n, uint64_t addr)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r[mid].hi <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

const struct ms_leak_region *ms_leak_region_of(const struct ms_leak_region *r, size_t n,
                                               uint64_t addr)
{
    size_t i = ms_leak_region_after(r, n, addr);
    return i < n && r[i].lo <= addr ? &r[i] : NULL;
}

/* Whether a, 8-aligned and past the first page, looks like a vtable address (leak_scan.h). */
static bool vtable_like(struct scan *s, uint64_t a)
{
    const struct ms_leak_memory *m = s->mem;
    const struct ms_leak_region *f = ms_leak_region_of(m->files, m->nfiles, a);
    /* as memcheck: the words from a to 20 words on, none of them the mapping's last */
    if (a % 8 || a < 4096 || !f || f->hi - a < 16)
        return false;
    uint64_t w[21];
    size_t n = (f->hi - 16 - a) / 8 + 1 < 21 ? (size_t)((f->hi - 16 - a) / 8 + 1) : 21;
    if (s->read(s->ctx, a, w, n * 8) != 0)
        return false;
    int code = 0;
    for (size_t i = 0; i < n && code < 2; i++) {
        if (!w[i])
            continue;
        if (!ms_leak_region_of(m->code, m->ncode, w[i]))
            return false;
        code++;
    }
    return code == 2;
}

/* The heuristic that explains w, an interior pointer into block j, or -1 (leak_scan.h); tried
 * in memcheck's order. */
static int heuristic(struct scan *s, size_t j, uint64_t w)
{
    const struct ms_leak_block *b = &s->b[j];
    uint64_t head[2];
    if (w == b->addr + 24 && b->size >= 16 && s->read(s->ctx, b->addr, head, 16) == 0 &&
        24 + head[1] + 1 == b->size && head[0] <= head[1])
        return MS_LEAK_STDSTRING;
    if (w == b->addr + 8 && s->read(s->ctx, b->addr, head, 8) == 0 && head[0] > 0) {
        if (b->size - 8 == head[0])
            return MS_LEAK_LENGTH64;
        if ((b->size - 8) % head[0] == 0)
            return MS_LEAK_NEWARRAY;
    }
    uint64_t inner;
    if (s->mem->files && w % 8 == 0 && b->addr % 8 == 0 && s->read(s->ctx, w, &inner, 8) == 0 &&
        s->read(s->ctx, b->addr, head, 8) == 0 && vtable_like(s, inner) && vtable_like(s, head[0]))
        return MS_LEAK_MULTIPLEINHERITANCE;
    return -1;
}

/* What a pointer found while scanning does to block j. Phase 1 (clique == SIZE_MAX): a start
 * pointer from a reachable root or block makes j reachable, any other pointer makes an
 * unreached j possibly lost. Phase 2: an unreached j joins the clique. */
static void reach(struct scan *s, size_t j, uint64_t w, bool start, bool from_reachable,
                  size_t clique)
{
    uint8_t to;
    int h = -1;
    add_edge(s, j);
    if (clique == SIZE_MAX) {
        if (s->state[j] == REACHABLE) {
            if (start)
                s->heur[j] = 0; /* reached through its start after all */
            return;
        }
        if (!start)
            h = heuristic(s, j, w);
        to = (start || h >= 0) && from_reachable ? REACHABLE : POSSIBLE;
    } else if (s->state[j] == UNREACHED && j != clique) {
        to = INDIRECT;
    } else {
        return;
    }
    if (clique == SIZE_MAX && s->state[j] >= to)
        return;
    if (to == REACHABLE)
        s->heur[j] = (uint8_t)(h + 1);
    s->state[j] = to;
    if (clique != SIZE_MAX && s->leader)
        s->leader[j] = clique;
    s->stack[s->depth++] = j;
}

/* Looks for pointers in the len / 8 words read at s->buf. */
static void scan_words(struct scan *s, size_t len, bool from_reachable, size_t clique)
{
    for (size_t i = 0; i < len / 8; i++) {
        bool start;
        size_t j = find(s, s->buf[i], &start);
        if (j == SIZE_MAX)
            continue;
        struct piece *c = s->collect;
        if (!c) {
            reach(s, j, s->buf[i], start, from_reachable, clique);
        } else if (!c->failed) {
            if (ms_grow(&c->hits, &c->cap, c->nhits + 1, sizeof *c->hits, 64) != 0)
                c->failed = true;
            else
                c->hits[c->nhits++] = (struct hit){s->buf[i], j, start};
        }
    }
}

/* Scans the 8-aligned words inside [lo, hi), a piece at a time; a piece that cannot be read is
 * read again a page at a time, so that one bad page loses only itself. */
static void scan_readable(struct scan *s, uint64_t lo, uint64_t hi, bool from_reachable,
                          size_t clique)
{
    lo = lo > UINT64_MAX - 7 ? UINT64_MAX : (lo + 7) & ~(uint64_t)7;
    hi &= ~(uint64_t)7;
    for (uint64_t at = lo; at < hi;) {
        size_t len = hi - at < PIECE ? (size_t)(hi - at) : PIECE;
        if (s->read(s->ctx, at, s->buf, len) == 0) {
            scan_words(s, len, from_reachable, clique);
        } else {
            for (uint64_t p = at, end = at + len; p < end;) {
                uint64_t next = (p | (PAGE - 1)) + 1; /* the next page boundary */
                size_t plen = (size_t)((next < end ? next : end) - p);
                if (s->read(s->ctx, p, s->buf, plen) == 0)
                    scan_words(s, plen, from_reachable, clique);
                else
                    s->unreadable += plen;
                p += plen;
            }
        }
        at += len;
    }
}

/* Scans [lo, hi) where it lies in the readable ranges; the rest counts as unreadable. */
static void scan_range(struct scan *s, uint64_t lo, uint64_t hi, bool from_reachable, size_t clique)
{
    if (hi <= lo)
        return;
    if (!s->readable) {
        scan_readable(s, lo, hi, from_reachable, clique);
        return;
    }
    size_t a = ms_leak_region_after(s->readable, s->nreadable, lo);
    uint64_t covered = 0;
    for (size_t i = a; i < s->nreadable && s->readable[i].lo < hi; i++) {
        uint64_t from = lo > s->readable[i].lo ? lo : s->readable[i].lo;
        uint64_t to = hi < s->readable[i].hi ? hi : s->readable[i].hi;
        if (from < to) {
            scan_readable(s, from, to, from_reachable, clique);
            covered += to - from;
        }
    }
    s->unreadable += (hi - lo) - covered;
}

/* Scans the blocks on the stack until it is empty. */
static void drain(struct scan *s, size_t clique)
{
    while (s->depth) {
        size_t j = s->stack[--s->depth];
        s->src = NO_SRC;
        if (s->edged && !s->edged[j]) {
            s->edged[j] = 1;
            s->src = (uint32_t)(j + 1);
        }
        scan_range(s, s->b[j].addr, block_end(&s->b[j], s->b[j].size), s->state[j] == REACHABLE,
                   clique);
    }
}

#define PIECE_SPAN (1u << 20) /* the part of the roots a helper thread takes at a time */
#define MAX_HELPERS 4

struct helper {
    const struct scan *s;
    struct piece *pieces;
    size_t npieces, first, step;
    const struct ms_leak_memory *mem;
};

static void *helper_main(void *arg)
{
    struct helper *h = arg;
    struct scan local = *h->s;
    local.read = h->mem->read_shared;
    local.ctx = h->mem->shared_ctx;
    local.buf = malloc(PIECE);
    for (size_t i = h->first; i < h->npieces; i += h->step) {
        struct piece *p = &h->pieces[i];
        local.collect = p;
        local.unreadable = 0;
        if (!local.buf)
            p->failed = true;
        else
            scan_readable(&local, p->lo, p->hi, true, SIZE_MAX);
        p->unreadable = local.unreadable;
    }
    free(local.buf);
    return NULL;
}

/* The pieces of the roots that lie in the readable ranges (the rest counts as unreadable). */
static int root_pieces(struct scan *s, const struct ms_leak_region *roots, size_t nroots,
                       struct piece **out, size_t *nout)
{
    size_t cap = 0;
    *out = NULL;
    *nout = 0;
    for (size_t r = 0; r < nroots; r++) {
        uint64_t lo = roots[r].lo, hi = roots[r].hi, covered = 0;
        for (size_t i = ms_leak_region_after(s->readable, s->nreadable, lo);
             lo < hi && i < s->nreadable && s->readable[i].lo < hi; i++) {
            uint64_t from = lo > s->readable[i].lo ? lo : s->readable[i].lo;
            uint64_t to = hi < s->readable[i].hi ? hi : s->readable[i].hi;
            for (uint64_t at = from; at < to; at += PIECE_SPAN) {
                uint64_t end = to - at > PIECE_SPAN ? at + PIECE_SPAN : to;
                if (ms_grow(out, &cap, *nout + 1, sizeof **out, 64) != 0)
                    return MS_ENOMEM;
                (*out)[(*nout)++] = (struct piece){.lo = at, .hi = end, .root = r};
            }
            covered += from < to ? to - from : 0;
        }
        s->unreadable += lo < hi ? (hi - lo) - covered : 0;
    }
    return 0;
}

/* The first phase over the roots, each drained before the next: on this thread, or with large
 * roots, searched for pointers by helper threads first and followed here in the same order. */
static int scan_roots(struct scan *s, const struct ms_leak_region *roots, size_t nroots,
                      const struct ms_leak_memory *mem)
{
    uint64_t bytes = 0;
    for (size_t r = 0; r < nroots; r++)
        bytes += roots[r].hi > roots[r].lo ? roots[r].hi - roots[r].lo : 0;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t helpers = cpus > MAX_HELPERS ? MAX_HELPERS : cpus > 1 ? (size_t)cpus : 1;
    if (!mem->read_shared || !s->readable || helpers < 2 || bytes < 8 * (uint64_t)PIECE_SPAN) {
        for (size_t r = 0; r < nroots; r++) {
            s->src = s->edged ? 0 : NO_SRC;
            scan_range(s, roots[r].lo, roots[r].hi, true, SIZE_MAX);
            drain(s, SIZE_MAX);
        }
        return 0;
    }
    struct piece *p;
    size_t np;
    int rc = root_pieces(s, roots, nroots, &p, &np);
    struct helper h[MAX_HELPERS];
    pthread_t tid[MAX_HELPERS];
    bool started[MAX_HELPERS] = {false};
    for (size_t t = 0; !rc && t < helpers; t++) {
        h[t] = (struct helper){s, p, np, t, helpers, mem};
        started[t] = pthread_create(&tid[t], NULL, helper_main, &h[t]) == 0;
        if (!started[t])
            helper_main(&h[t]); /* no thread: its share on this one */
    }
    for (size_t t = 0; !rc && t < helpers; t++)
        if (started[t])
            pthread_join(tid[t], NULL);
    for (size_t i = 0; !rc && i < np; i++) {
        s->src = s->edged ? 0 : NO_SRC;
        if (p[i].failed) {
            scan_readable(s, p[i].lo, p[i].hi, true, SIZE_MAX);
        } else {
            for (size_t k = 0; k < p[i].nhits; k++)
                reach(s, p[i].hits[k].j, p[i].hits[k].w, p[i].hits[k].start, true, SIZE_MAX);
            s->unreadable += p[i].unreadable;
        }
        if (i + 1 == np || p[i + 1].root != p[i].root)
            drain(s, SIZE_MAX);
    }
    for (size_t i = 0; i < np; i++)
        free(p[i].hits);
    free(p);
    return rc;
}

void ms_leak_graph_free(struct ms_leak_graph *g)
{
    free(g->first);
    free(g->to);
    free(g->size);
    *g = (struct ms_leak_graph){0};
}

/* The edges found, grouped by node (a counting sort: each node's in the order found). */
static int make_graph(const struct scan *s, struct ms_leak_graph *g)
{
    size_t nodes = s->n + 1;
    g->n = nodes;
    g->first = calloc(nodes + 1, sizeof *g->first);
    g->to = malloc((s->nedges ? s->nedges : 1) * sizeof *g->to);
    g->size = malloc(nodes * sizeof *g->size);
    if (!g->first || !g->to || !g->size) {
        ms_leak_graph_free(g);
        return MS_ENOMEM;
    }
    for (size_t e = 0; e < s->nedges; e++)
        g->first[s->edges[e].from + 1]++;
    for (size_t k = 0; k < nodes; k++)
        g->first[k + 1] += g->first[k];
    for (size_t e = 0; e < s->nedges; e++) /* first[k] runs up to its end, then is put back */
        g->to[g->first[s->edges[e].from]++] = s->edges[e].to;
    for (size_t k = nodes; k > 0; k--)
        g->first[k] = g->first[k - 1];
    g->first[0] = 0;
    g->size[0] = 0;
    for (size_t i = 0; i < s->n; i++)
        g->size[i + 1] = s->b[i].size;
    return 0;
}

int ms_leak_scan(const struct ms_leak_block *blocks, size_t n, const struct ms_leak_region *roots,
                 size_t nroots, const struct ms_leak_memory *mem, uint8_t *kind, size_t *leader,
                 struct ms_leak_totals *totals, struct ms_leak_graph *graph)
{
    struct scan s = {.b = blocks,
                     .n = n,
                     .read = mem->read,
                     .ctx = mem->ctx,
                     .readable = mem->readable,
                     .nreadable = mem->nreadable,
                     .mem = mem,
                     .leader = leader,
                     .src = NO_SRC};
    memset(totals, 0, sizeof *totals);
    if (graph)
        *graph = (struct ms_leak_graph){0};
    /* Node numbers are 32 bits (retainers.h). */
    if (graph && (n >= NO_SRC - 1 || !(s.edged = calloc(n + 1, 1))))
        return MS_ENOMEM;
    if (n) {
        s.lo = blocks[0].addr;
        for (size_t i = 0; i < n; i++) {
            uint64_t end = block_end(&blocks[i], blocks[i].size ? blocks[i].size : 1);
            s.hi = end > s.hi ? end : s.hi;
        }
    }
    s.state = calloc(n + 1, 1);
    s.heur = calloc(n + 1, 1);
    /* A block is pushed at most twice in the first phase (possibly lost, then reachable) and
     * once in the second. */
    s.stack = malloc((2 * n + 1) * sizeof *s.stack);
    s.buf = malloc(PIECE);
    if (!s.state || !s.heur || !s.stack || !s.buf || ms_block_pages_init(&s.pages, blocks, n)) {
        free(s.edged);
        free(s.state);
        free(s.heur);
        free(s.stack);
        free(s.buf);
        return MS_ENOMEM;
    }
    for (size_t i = 0; leader && i < n; i++)
        leader[i] = SIZE_MAX;
    if (n && scan_roots(&s, roots, nroots, mem) != 0) {
        free(s.edged);
        free(s.edges);
        ms_block_pages_free(&s.pages);
        free(s.state);
        free(s.heur);
        free(s.stack);
        free(s.buf);
        return MS_ENOMEM;
    }
    /* The blocks not reached, in address order: each one no earlier clique took leads one. */
    for (size_t i = 0; i < n; i++) {
        if (s.state[i] != UNREACHED)
            continue;
        if (leader)
            leader[i] = i;
        s.stack[s.depth++] = i;
        drain(&s, i);
    }
    /* A leader that a later one took in is indirect now: its blocks go with the later one
     * (leaders only ever join a later leader, so this ends). */
    for (size_t i = 0; leader && i < n; i++) {
        size_t r = leader[i];
        while (r != SIZE_MAX && leader[r] != r)
            r = leader[r];
        leader[i] = r;
    }
    static const uint8_t to_kind[] = {[UNREACHED] = MS_LEAK_DEFINITE,
                                      [INDIRECT] = MS_LEAK_INDIRECT,
                                      [POSSIBLE] = MS_LEAK_POSSIBLE,
                                      [REACHABLE] = MS_LEAK_REACHABLE};
    for (size_t i = 0; i < n; i++) {
        uint8_t k = to_kind[s.state[i]];
        totals->bytes[k] += blocks[i].size;
        totals->blocks[k]++;
        kind[i] = k;
        if (k == MS_LEAK_REACHABLE && s.heur[i]) {
            totals->heuristic_bytes[s.heur[i] - 1] += blocks[i].size;
            totals->heuristic_blocks[s.heur[i] - 1]++;
            kind[i] |= (uint8_t)(s.heur[i] << MS_LEAK_HEURISTIC_SHIFT);
        }
    }
    totals->unreadable_bytes = s.unreadable;
    int rc = 0;
    if (graph)
        rc = s.edges_failed ? MS_ENOMEM : make_graph(&s, graph);
    free(s.edged);
    free(s.edges);
    ms_block_pages_free(&s.pages);
    free(s.state);
    free(s.heur);
    free(s.stack);
    free(s.buf);
    return rc;
}
