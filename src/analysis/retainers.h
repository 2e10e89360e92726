/* Who keeps what alive (issue 8, item 3): over the graph of live blocks that the leak scan
 * finds (node 0 stands for every root; an edge is a pointer from a root or a block to a block),
 * each block's immediate dominator (the one block, or the roots, that every chain from the roots
 * to it passes through), the bytes and blocks it retains (its dominator subtree: what would be
 * freed with it), and the cycles among blocks no root reaches (strongly connected components of
 * two blocks or more, or a block pointing to itself).
 *
 * Dominators by Cooper, Harvey and Kennedy's iterative algorithm ("A Simple, Fast Dominance
 * Algorithm", 2001) over the reverse postorder; components by Tarjan's algorithm. Both run
 * without recursion, in memory proportional to nodes and edges, so a heap of millions of blocks
 * in one long list is fine. */
#ifndef MS_RETAINERS_H
#define MS_RETAINERS_H

#include <stddef.h>
#include <stdint.h>

/* Nodes 0..n-1, node 0 the roots; node i's edges go to to[first[i]..first[i+1]). */
struct ms_graph {
    size_t n;
    const uint64_t *size; /* bytes of each node (node 0: 0) */
    const size_t *first;  /* n + 1 entries */
    const uint32_t *to;
};

#define MS_NO_NODE UINT32_MAX

/* idom[i]: node i's immediate dominator (idom[0] = 0; MS_NO_NODE when no chain from the roots
 * reaches i); retained_bytes[i] and retained_blocks[i]: what its dominator subtree holds,
 * itself included (0 for a node not reached). Returns 0 or MS_ENOMEM. */
int ms_dominators(const struct ms_graph *g, uint32_t *idom, uint64_t *retained_bytes,
                  uint64_t *retained_blocks);

/* The cycles among nodes the roots do not reach (idom[i] == MS_NO_NODE): cycle[i] gets the
 * number (0, 1, ...) of node i's cycle, or MS_NO_NODE when it is in none; *ncycles their count.
 * Cycles are numbered by their lowest node. Returns 0 or MS_ENOMEM. */
int ms_unreachable_cycles(const struct ms_graph *g, const uint32_t *idom, uint32_t *cycle,
                          size_t *ncycles);

/* What the report lists of them (docs/trace-format.md, 7a): the blocks no other block dominates
 * (their immediate dominator is the roots: freeing one frees everything below it) that retain
 * the most bytes, and the unreachable cycles that hold the most bytes, each with its members of
 * lowest node. Nodes as in g. */
#define MS_RETAINERS_LISTED 100
#define MS_CYCLES_LISTED 100
#define MS_CYCLE_MEMBERS_LISTED 64

struct ms_retainer {
    uint32_t node;
    uint64_t bytes, blocks; /* retained, its own included */
};

struct ms_cycle {
    uint64_t bytes, blocks;
    uint32_t listed;
    uint32_t member[MS_CYCLE_MEMBERS_LISTED]; /* ascending */
};

struct ms_who_keeps {
    uint64_t edges;
    uint64_t top_level; /* reached nodes whose immediate dominator is 0 */
    uint64_t all_cycles, cycle_blocks, cycle_bytes;
    size_t nretainers, ncycles; /* listed, most bytes first */
    struct ms_retainer retainers[MS_RETAINERS_LISTED];
    struct ms_cycle cycles[MS_CYCLES_LISTED];
};

/* Computes dominators and cycles over g and fills *out. Returns 0 or MS_ENOMEM. */
int ms_who_keeps(const struct ms_graph *g, struct ms_who_keeps *out);

#endif
