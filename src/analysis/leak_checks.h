/* On-demand leak scans as the replay meets them (ms_leak_check(), MEMSCOPE_SCAN_SIGNAL): each
 * LEAK_CHECK event, with the heap as it was then, and, when memscope run scanned its snapshot
 * (the trace's LEAK_CHECK chunk of the same seq), the kinds of the blocks live at that moment,
 * in total and by allocation stack. */
#ifndef MS_LEAK_CHECKS_H
#define MS_LEAK_CHECKS_H

#include "leak_scan.h"
#include "trace_reader.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The blocks of one allocation stack and kind live at a check. */
struct ms_leak_check_group {
    uint32_t stack;
    int kind; /* enum ms_leak_kind */
    uint64_t bytes, blocks;
    uint32_t suppressed; /* 1 + the suppression (suppressions.h) that matched its stack, 0: none */
};

/* The live block at ptr, as the model knows it: its size, its allocation stack and the
 * variable name the C API gave it (a string id of the annotations, 0: none). */
struct ms_check_block {
    uint64_t size;
    uint32_t stack, name;
};

#define MS_LEAK_CHECK_EVENTS 4096 /* checks kept in all (later ones are only counted) */

struct ms_leak_check {
    uint64_t seq, tsc;
    int cause;        /* enum ms_check_cause */
    int skipped;      /* enum ms_check_skip: 0, a snapshot was made */
    uint64_t threads; /* the process's threads then (0: not counted) */
    uint64_t live_bytes, live_blocks;
    /* The scan, when the trace has its kinds (else: not scanned, or not kept). */
    bool scanned;
    int status, error; /* enum ms_scan_status, its errno */
    uint64_t scan_ns;
    /* The kinds' totals, without the suppressed blocks (counted apart, as valgrind does). */
    uint64_t kind_bytes[MS_LEAK_KINDS], kind_blocks[MS_LEAK_KINDS];
    uint64_t suppressed_bytes, suppressed_blocks;
    uint64_t unscanned_blocks; /* live then, not listed by the scan (a damaged trace) */
    /* Its blocks by stack and kind, the most bytes first (malloc'd). */
    struct ms_leak_check_group *groups;
    size_t ngroups;
    /* Who keeps what alive then, when the scan has the graph: the scan (the trace's), and the
     * blocks its retainers and cycles name as they were at the check, by index into the scan's
     * addr (ascending; malloc'd). */
    const struct ms_leak_scan_info *graph;
    struct ms_graph_block {
        size_t k;
        bool known; /* false: not live at the check (a damaged trace) */
        struct ms_check_block b;
    } * held;
    size_t nheld;
};

struct ms_leak_checks {
    struct ms_leak_check *v;
    size_t n, cap;
    uint64_t total;                             /* LEAK_CHECK events seen */
    uint64_t peaks;                             /* of which at the peak (MS_CHECK_PEAK) */
    const struct ms_leak_check_result *results; /* the trace's, by seq */
    size_t nresults;
};

typedef bool (*ms_live_block_fn)(const void *ctx, uint64_t ptr, struct ms_check_block *out);

/* A LEAK_CHECK event (ev), with the model's live totals then and its live blocks through fn.
 * Returns 0 or MS_ENOMEM. */
int ms_leak_checks_add(struct ms_leak_checks *c, const struct ms_event *ev, uint64_t live_bytes,
                       uint64_t live_blocks, ms_live_block_fn fn, const void *ctx);
/* Suppresses, in every scanned check, the groups whose stack's suppression which(ctx, stack)
 * gives (1 + its index; 0: none), and recomputes the kinds' totals without them. */
void ms_leak_checks_suppress(struct ms_leak_checks *c, uint32_t (*which)(void *ctx, uint32_t stack),
                             void *ctx);
/* Block k of check c's graph scan as it was at the check, or NULL when the graph does not name
 * it. */
const struct ms_graph_block *ms_leak_check_block(const struct ms_leak_check *c, size_t k);
void ms_leak_checks_free(struct ms_leak_checks *c);

#endif
