/* Leak kinds by reachability, as valgrind's memcheck classifies them: a conservative scan from
 * a process's roots (its modules' writable data, thread stacks and registers, thread-local
 * storage) through its live heap blocks. The memory is read through a callback, so that the
 * same scan runs on another process (memscope run reading the program's memory at its exit)
 * and on memory a test made up.
 *
 * The kinds (memcheck's manual, "Memory leak detection"): a block reached from a root through a
 * chain of pointers to block starts is still reachable; one reached only through a chain with a
 * pointer into its inside (an interior pointer) is possibly lost; one not reached from any root
 * is definitely lost, unless another block that is not reached either points to it (a start or
 * interior pointer): then it is indirectly lost. Among blocks that are not reached, each that no
 * earlier one reaches leads a clique: the blocks it reaches are its indirect ones, and a leader
 * that a later one reaches joins that one's clique (so a lost cycle is one definite block and the
 * rest indirect, as memcheck says). Words are read 8 bytes at a time at 8-aligned addresses; a
 * word equal to a block's start points to it even when the block is empty.
 *
 * An interior pointer that one of memcheck's heuristics explains counts as a pointer to the
 * start (memcheck's default, --leak-check-heuristics=all): stdstring (it points 24 bytes in, at
 * the characters of a libstdc++ string whose length and capacity come first and whose block is
 * 24 + capacity + 1 bytes), length64 (8 bytes in, after the length of the rest), newarray (8
 * bytes in, after a count of elements that divides the rest: new[] of a class with a
 * destructor), multipleinheritance (the word it points to and the block's first word both look
 * like vtable addresses: 8-aligned, past the first page, in a file mapped readable, where the
 * first non-null words, among at most 21 and not the mapping's last, are two addresses of
 * code in a file mapped executable; a C++ object's second base seen through a pointer to it). */
#ifndef MS_LEAK_SCAN_H
#define MS_LEAK_SCAN_H

#include <stddef.h>
#include <stdint.h>

enum ms_leak_kind {
    MS_LEAK_DEFINITE = 0,
    MS_LEAK_INDIRECT = 1,
    MS_LEAK_POSSIBLE = 2,
    MS_LEAK_REACHABLE = 3,
    MS_LEAK_KINDS = 4,
};

/* The name of a kind in reports and JSON: definitely_lost, indirectly_lost, possibly_lost,
 * still_reachable. */
const char *ms_leak_kind_name(enum ms_leak_kind k);
/* Its words in valgrind's text: definitely lost, indirectly lost, possibly lost, still
 * reachable. */
const char *ms_leak_kind_label(enum ms_leak_kind k);

/* A live block: sorted by addr, none overlapping another (the caller's live table). */
struct ms_leak_block {
    uint64_t addr, size;
};

/* An address range [lo, hi) scanned as a root. */
struct ms_leak_region {
    uint64_t lo, hi;
};

/* The range of r (sorted, none overlapping another) that holds addr, or NULL. */
const struct ms_leak_region *ms_leak_region_of(const struct ms_leak_region *r, size_t n,
                                               uint64_t addr);
/* The index of the first range of r that ends above addr (n if none). */
size_t ms_leak_region_after(const struct ms_leak_region *r, size_t n, uint64_t addr);

/* Reads len bytes of the scanned process at addr into buf: 0, or non-zero when they cannot be
 * read (they are then taken as holding no pointer). */
typedef int (*ms_leak_read_fn)(void *ctx, uint64_t addr, void *buf, size_t len);

/* The scanned process's memory: how to read it and, unless readable is NULL, the ranges that
 * can be read (sorted, none overlapping another: its readable mappings). A block or root is
 * scanned only where it lies inside them, so a block whose size is wrong (a damaged trace, a
 * program that unmapped part of it) costs no more than the memory there is. A read that fails
 * inside them anyway is retried page by page. files and code (sorted, NULL: the
 * multipleinheritance heuristic is off) are the readable and the executable mappings of files,
 * where vtables and the code they point to lie. read_shared (NULL: none) reads the same memory
 * and may be called from several threads at once: with it, large roots are searched for
 * pointers on several threads (the result is the same). */
struct ms_leak_memory {
    ms_leak_read_fn read;
    void *ctx;
    const struct ms_leak_region *readable;
    size_t nreadable;
    const struct ms_leak_region *files, *code;
    size_t nfiles, ncode;
    ms_leak_read_fn read_shared;
    void *shared_ctx;
};

enum ms_leak_heuristic {
    MS_LEAK_STDSTRING = 0,
    MS_LEAK_LENGTH64 = 1,
    MS_LEAK_NEWARRAY = 2,
    MS_LEAK_MULTIPLEINHERITANCE = 3,
    MS_LEAK_HEURISTICS = 4,
};

/* stdstring, length64, newarray, multipleinheritance (memcheck's names). */
const char *ms_leak_heuristic_name(enum ms_leak_heuristic h);

struct ms_leak_totals {
    uint64_t bytes[MS_LEAK_KINDS], blocks[MS_LEAK_KINDS];
    /* Of the still reachable ones, those reached only through a heuristic, by heuristic (as
     * memcheck's "of which reachable via heuristic"). */
    uint64_t heuristic_bytes[MS_LEAK_HEURISTICS], heuristic_blocks[MS_LEAK_HEURISTICS];
    uint64_t unreadable_bytes; /* of roots and blocks that could not be read, or lie outside
                                * the readable ranges */
};

/* A kind byte: the enum ms_leak_kind in bits 0-1; for a still reachable block, bits 2-4 hold 1 +
 * the enum ms_leak_heuristic that reached it when no start pointer did (0: one did). */
#define MS_LEAK_KIND_MASK 3u
#define MS_LEAK_HEURISTIC_SHIFT 2

/* The pointers the scan found, as the graph retainers.h takes: node 0 the roots, node i + 1 block
 * i; an edge from a node to a block for each pointer into the block (at its start or inside:
 * any pointer keeps a block alive for who-keeps-what, whatever kind it makes it), a pointer
 * repeated right after itself once. Node k's edges are to[first[k] .. first[k + 1]). */
struct ms_leak_graph {
    size_t n; /* nodes: blocks + 1 */
    size_t *first;
    uint32_t *to;
    uint64_t *size; /* node k's bytes (node 0: 0) */
};

void ms_leak_graph_free(struct ms_leak_graph *g);

/* Classifies the n blocks: kind[i] gets block i's kind byte (above) and, when leader is not
 * NULL, leader[i] the index of the definitely lost block whose clique block i is in (i itself
 * for a leader; SIZE_MAX for a block that is not lost). totals gets the sums. When graph is not
 * NULL it gets the pointers found (above; freed by the caller). Returns 0, or MS_ENOMEM (kind is
 * then left as it was, and graph holds nothing). */
int ms_leak_scan(const struct ms_leak_block *blocks, size_t n, const struct ms_leak_region *roots,
                 size_t nroots, const struct ms_leak_memory *mem, uint8_t *kind, size_t *leader,
                 struct ms_leak_totals *totals, struct ms_leak_graph *graph);

#endif
