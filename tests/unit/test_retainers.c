/* Dominators, retained sizes and unreachable cycles of the live-block graph
 * (src/analysis/retainers.c), on graphs made up here: a diamond, two roots sharing a block, a
 * list of 300,000 blocks (no recursion), lost cycles and a block pointing to itself. */
#include "analysis/retainers.h"
#include "ms_test.h"

#include <stdbool.h>
#include <stdlib.h>

#define MAXN 300010
static uint64_t size[MAXN];
static size_t first[MAXN + 1];
static uint32_t to[2 * MAXN];
static size_t nedges, nnodes;
static uint32_t idom[MAXN], cyc[MAXN];
static uint64_t rb[MAXN], rk[MAXN];

/* Edges given as pairs, sorted by source. */
static struct ms_graph graph(size_t n, const uint32_t (*e)[2], size_t ne)
{
    nnodes = n;
    nedges = 0;
    for (size_t v = 0; v <= n; v++) {
        first[v] = nedges;
        for (size_t k = 0; v < n && k < ne; k++)
            if (e[k][0] == v)
                to[nedges++] = e[k][1];
    }
    return (struct ms_graph){n, size, first, to};
}

static void diamond_and_shared(void)
{
    /* 0 -> 1; 1 -> 2, 3; 2 -> 4; 3 -> 4; 0 -> 5, 0 -> 6, 5 -> 7, 6 -> 7 */
    static const uint32_t e[][2] = {{0, 1}, {0, 5}, {0, 6}, {1, 2}, {1, 3},
                                    {2, 4}, {3, 4}, {5, 7}, {6, 7}};
    for (int i = 1; i < 8; i++)
        size[i] = 10 * (uint64_t)i;
    struct ms_graph g = graph(8, e, sizeof e / sizeof *e);
    ASSERT_EQ(ms_dominators(&g, idom, rb, rk), 0);
    ASSERT_EQ(idom[1], 0);
    ASSERT_EQ(idom[2], 1);
    ASSERT_EQ(idom[3], 1);
    ASSERT_EQ(idom[4], 1); /* both ways pass through 1 */
    ASSERT_EQ(idom[7], 0); /* 5 and 6 each reach it: only the roots dominate it */
    ASSERT_EQ(rb[1], 10 + 20 + 30 + 40);
    ASSERT_EQ(rk[1], 4);
    ASSERT_EQ(rb[5], 50);
    ASSERT_EQ(rb[0], 10 + 20 + 30 + 40 + 50 + 60 + 70);
    ASSERT_EQ(rk[0], 7);
}

static void long_list(void)
{
    size_t n = 300001;
    nedges = 0;
    for (size_t v = 0; v <= n; v++) {
        first[v] = nedges;
        if (v + 1 < n)
            to[nedges++] = (uint32_t)(v + 1);
        size[v] = v ? 8 : 0;
    }
    struct ms_graph g = {n, size, first, to};
    ASSERT_EQ(ms_dominators(&g, idom, rb, rk), 0);
    ASSERT_EQ(idom[n - 1], n - 2);
    ASSERT_EQ(rb[1], 8 * (n - 1));
    ASSERT_EQ(rk[1], n - 1);
    ASSERT_EQ(rk[n - 1], 1);
    size_t nc = 99;
    ASSERT_EQ(ms_unreachable_cycles(&g, idom, cyc, &nc), 0);
    ASSERT_EQ(nc, 0);
}

static void lost_cycles(void)
{
    /* reached: 0 -> 1. lost: 2 <-> 3 (a cycle), 4 -> 4 (itself), 5 -> 2 (points into the cycle,
     * is in none), 6 -> 7 (a chain, no cycle), 8 -> 9 -> 10 -> 8 (a cycle of three) */
    static const uint32_t e[][2] = {{0, 1}, {2, 3}, {3, 2},  {4, 4}, {5, 2},
                                    {6, 7}, {8, 9}, {9, 10}, {10, 8}};
    for (int i = 1; i < 11; i++)
        size[i] = 16;
    struct ms_graph g = graph(11, e, sizeof e / sizeof *e);
    ASSERT_EQ(ms_dominators(&g, idom, rb, rk), 0);
    for (int i = 2; i < 11; i++) {
        ASSERT_EQ(idom[i], MS_NO_NODE);
        ASSERT_EQ(rb[i], 0);
    }
    size_t nc = 0;
    ASSERT_EQ(ms_unreachable_cycles(&g, idom, cyc, &nc), 0);
    ASSERT_EQ(nc, 3);
    ASSERT_EQ(cyc[2], 0);
    ASSERT_EQ(cyc[3], 0);
    ASSERT_EQ(cyc[4], 1);
    ASSERT_EQ(cyc[5], MS_NO_NODE);
    ASSERT_EQ(cyc[6], MS_NO_NODE);
    ASSERT_EQ(cyc[7], MS_NO_NODE);
    ASSERT_EQ(cyc[8], 2);
    ASSERT_EQ(cyc[9], 2);
    ASSERT_EQ(cyc[10], 2);
    ASSERT_EQ(cyc[1], MS_NO_NODE);
}

/* Whether w is reached from 0 in g without passing through node cut (MS_NO_NODE: none). */
static bool reached_without(const struct ms_graph *g, uint32_t w, uint32_t cut)
{
    bool seen[16] = {false};
    uint32_t st[16];
    size_t sp = 0;
    if (cut == 0)
        return false;
    st[sp++] = 0;
    seen[0] = true;
    while (sp) {
        uint32_t v = st[--sp];
        if (v == w)
            return true;
        for (size_t e = g->first[v]; e < g->first[v + 1]; e++)
            if (g->to[e] != cut && !seen[g->to[e]]) {
                seen[g->to[e]] = true;
                st[sp++] = g->to[e];
            }
    }
    return false;
}

/* Random graphs of 12 nodes against the definition: d dominates w when every chain from the
 * roots to w passes through d; the immediate dominator is the one the other dominators
 * dominate. And lost cycles: nodes in one are those that reach themselves. */
static void random_graphs(void)
{
    uint64_t rng = 12345;
    for (int round = 0; round < 400; round++) {
        uint32_t e[40][2];
        size_t ne = 0, n = 12;
        for (uint32_t v = 0; v < n; v++)
            for (int k = 0; k < 3; k++) {
                rng = rng * 6364136223846793005ull + 1442695040888963407ull;
                if ((rng >> 60) < 7 && ne < 40)
                    e[ne++][0] = v, e[ne - 1][1] = (uint32_t)((rng >> 33) % n);
            }
        for (uint32_t v = 0; v < n; v++)
            size[v] = v;
        struct ms_graph g = graph(n, (const uint32_t(*)[2])e, ne);
        ASSERT_EQ(ms_dominators(&g, idom, rb, rk), 0);
        for (uint32_t w = 1; w < n; w++) {
            bool reach = reached_without(&g, w, MS_NO_NODE);
            ASSERT_EQ(idom[w] != MS_NO_NODE, reach);
            if (!reach)
                continue;
            /* the dominators of w other than itself */
            bool dom[16] = {false};
            for (uint32_t d = 0; d < n; d++)
                dom[d] = d != w && !reached_without(&g, w, d);
            /* idom: a dominator that every other dominator dominates */
            uint32_t want = MS_NO_NODE;
            for (uint32_t d = 0; d < n; d++) {
                if (!dom[d])
                    continue;
                bool closest = true;
                for (uint32_t o = 0; o < n && closest; o++)
                    if (o != d && dom[o] && reached_without(&g, d, o))
                        closest = false; /* o does not dominate d */
                if (closest)
                    want = d;
            }
            ASSERT_EQ(idom[w], want);
        }
        size_t nc = 0;
        ASSERT_EQ(ms_unreachable_cycles(&g, idom, cyc, &nc), 0);
        for (uint32_t v = 0; v < n; v++) {
            /* v is in a lost cycle iff it is lost and reaches itself through lost nodes */
            bool self = false;
            if (idom[v] == MS_NO_NODE) {
                bool seen[16] = {false};
                uint32_t st[16];
                size_t sp = 0;
                for (size_t k = g.first[v]; k < g.first[v + 1]; k++)
                    if (idom[g.to[k]] == MS_NO_NODE && !seen[g.to[k]])
                        seen[g.to[k]] = true, st[sp++] = g.to[k];
                while (sp) {
                    uint32_t x = st[--sp];
                    if (x == v)
                        self = true;
                    for (size_t k = g.first[x]; k < g.first[x + 1]; k++)
                        if (idom[g.to[k]] == MS_NO_NODE && !seen[g.to[k]])
                            seen[g.to[k]] = true, st[sp++] = g.to[k];
                }
            }
            ASSERT_EQ(cyc[v] != MS_NO_NODE, self);
        }
    }
}

MS_TEST_MAIN(TEST(diamond_and_shared), TEST(long_list), TEST(lost_cycles), TEST(random_graphs))
