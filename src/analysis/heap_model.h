/* The replay model: applies a trace's events in time order and keeps what the reports need —
 * the live blocks, per-call-site and per-thread statistics, the peak and what made it up.
 * Its memory grows with live blocks, call sites and threads, never with the event count. */
#ifndef MS_HEAP_MODEL_H
#define MS_HEAP_MODEL_H

#include "leak_checks.h"
#include "leak_scan.h"
#include "trace_reader.h"

#include <stdbool.h>
#include <stdint.h>

/* Statistics of one call site: one allocation stack (a stack tree node id; 0 = no stack). */
struct ms_site {
    uint32_t stack;
    uint64_t allocs;
    uint64_t bytes;      /* requested bytes, a realloc adds its new size */
    uint64_t live_bytes; /* in use now; at the end of the replay: leaked */
    uint64_t live_blocks;
    uint64_t peak_bytes;         /* in use at the moment of the global peak */
    uint64_t temporary;          /* freed before the allocating thread allocated again */
    uint64_t peak_epoch;         /* internal: see heap_model.c */
    uint32_t var_name, var_type; /* the first name (and type) the C API gave one of its blocks */
    /* The owner of its blocks (passports.h): module key + 1 (module_owner.h), 1 when no frame is
     * outside the runtime; 0 until asked. */
    uint32_t owner;
    /* Its blocks live at the end by leak kind (enum ms_leak_kind), when the trace has a scan. */
    uint64_t kind_bytes[MS_LEAK_KINDS], kind_blocks[MS_LEAK_KINDS];
    /* 1 + the suppression (suppressions.h) that matched its stack, 0: none. */
    uint32_t suppressed;
};

struct ms_thread_stats {
    uint32_t tid;
    uint64_t pthread;
    char name[17];
    uint64_t allocs, frees, bytes;
    uint64_t live_bytes, peak_bytes; /* bytes in use that this thread allocated */
    uint64_t leaked_blocks;
    uint64_t temporary;
    /* Internal: 1 + the allocation number (every thread's) of its last allocation; 0: none. A
     * block freed while it is still this is a temporary allocation. */
    uint64_t alloc_seq;
    uint32_t creator_tid; /* the thread that called pthread_create for it, 0 if unknown */
    bool exited;
    /* Internal: the module (key, 0: unknown) of the last free caller its frees named
     * (free_ip, free_stack: the event's), so that it is looked up once per change. */
    uint32_t freer, free_stack;
    uint64_t free_ip;
};

struct ms_summary {
    uint64_t allocs, frees, realloc_calls, bytes_allocated;
    uint64_t live_bytes, live_blocks; /* at the end: leaked */
    uint64_t peak_bytes, peak_tsc;
    /* The peak over every interleaving of the threads' events that their times allow lies in
     * [peak_low, peak_high] (peak_order.h); equal to peak_bytes when the order is certain.
     * Not kept by the totals-only model. */
    uint64_t peak_low, peak_high;
    uint64_t temporary_allocs;
    uint64_t first_tsc, last_tsc;
    uint64_t unknown_frees; /* frees of blocks the trace never saw allocated */
    uint64_t reused_live;   /* allocations returned over a block still live (lost frees) */
    uint64_t free_faults;   /* the program died inside free or realloc (FREE_FAULT records) */
    uint64_t heap_errors;   /* --check's overflows and writes after free (HEAP_ERROR records) */
    uint64_t freeres_tsc;   /* when exit-time freeing began, 0 if it did not run */
    uint64_t threads;
    uint64_t events; /* allocation, free and realloc records replayed */
    /* In a report's time window (ms_heap_model_set_window): the heap when it opened (0 until
     * then, and without a window). */
    uint64_t window_live_bytes, window_live_blocks;
    /* The capture backend in use at the end (enum ms_backend; 0: the trace does not say, as
     * before backends) and why (enum ms_backend_reason), from its BACKEND annotations. */
    uint32_t backend, backend_reason;
    /* Sampling (MEMSCOPE_SAMPLE_BYTES): the mean bytes between samples, 0 when every event is in
     * the trace. With it, allocs, frees, realloc_calls and bytes_allocated are exact (the call
     * counts); the live and peak figures, and every site's and thread's, are
     * estimates: each sampled block weighed by the inverse of its probability of being
     * sampled; temporary allocations are not known (0). sampled_allocs: the allocations
     * recorded with a stack. */
    uint64_t sample_bytes, sampled_allocs;
    /* The leak kinds, from memscope run's scan at exit (the trace's LEAK_SCAN chunk: set with
     * ms_heap_model_set_leak_scan). leak_scan: the trace has one; scan_status (enum
     * ms_scan_status) and scan_error say how it went; when it was done, the blocks live at
     * the end by kind, the still reachable ones reached only through one of memcheck's
     * heuristics (enum ms_leak_heuristic), and the live blocks the scan did not list. */
    bool leak_scan;
    int scan_status, scan_error;
    uint64_t kind_bytes[MS_LEAK_KINDS], kind_blocks[MS_LEAK_KINDS];
    uint64_t heuristic_bytes[MS_LEAK_HEURISTICS], heuristic_blocks[MS_LEAK_HEURISTICS];
    uint64_t unscanned_bytes, unscanned_blocks;
    uint64_t scan_root_bytes, scan_unreadable_bytes, scan_ns;
    /* Blocks live at the end whose stack a suppression matched (ms_heap_model_suppress): they
     * count in live_bytes (valgrind's "in use at exit") but in none of the kinds. */
    uint64_t suppressed_bytes, suppressed_blocks;
};

struct ms_heap_model;

struct ms_heap_model *ms_heap_model_new(void);
/* A model that keeps only the summary's totals (counts, bytes, peak, in use at the end, unknown
 * frees, threads): no call sites, no per-thread statistics, no temporary allocations. For
 * `memscope run`'s summary line, which needs nothing else; a quarter cheaper per event. */
struct ms_heap_model *ms_heap_model_new_totals(void);
/* A copy of a totals-only model (NULL for a full one, or when out of memory): a forked child's
 * model starts as its parent's at the fork. */
struct ms_heap_model *ms_heap_model_clone_totals(const struct ms_heap_model *m);
void ms_heap_model_free(struct ms_heap_model *m);

/* The trace's blocks are a sample with this mean (its PROCESS chunk's sample_bytes; 0: not
 * sampled): each weighs 1/(1-e^(-size/mean)). Set before the first event (later: ignored). */
void ms_heap_model_set_sampling(struct ms_heap_model *m, uint64_t mean);

/* The event callback for ms_trace_replay (ctx is the model). */
int ms_heap_model_apply(void *ctx, const struct ms_event *ev);

/* The blocks live now into *out (malloc'd; NULL when none), sorted by address (as the leak
 * scan takes them) or not (sorted later with ms_leak_blocks_sort). Returns 0 or MS_ENOMEM. */
int ms_heap_model_live_blocks(const struct ms_heap_model *m, bool sorted,
                              struct ms_leak_block **out, size_t *n);
void ms_leak_blocks_sort(struct ms_leak_block *b, size_t n);

/* What the model knows of the block live at ptr (after the last event): its size, site (index
 * into the sites) and, when the C API named it, its variable's name (a string id of the
 * annotations, 0: none). Returns false when no live block starts at ptr. */
struct ms_block_facts {
    uint64_t size;
    size_t site;
    uint32_t name;
};
bool ms_heap_model_block_at(const struct ms_heap_model *m, uint64_t ptr,
                            struct ms_block_facts *out);
/* The leak scan whose kinds the live blocks get at the finish, or at once after it (kept, not
 * copied: it must outlive the model's use). */
void ms_heap_model_set_leak_scan(struct ms_heap_model *m, const struct ms_leak_scan_info *s);
/* The kinds of the on-demand scans (the trace's: ms_trace_leak_checks), which the full model
 * gives their LEAK_CHECK events as it meets them; set before the replay of the trace's own
 * events (kept, not copied): the checks met before, in its ancestors' history, are dropped. */
void ms_heap_model_set_leak_checks(struct ms_heap_model *m, const struct ms_leak_check_result *r,
                                   size_t n);
/* fn is called at each LEAK_CHECK event, before the model applies it (its live blocks are those
 * of that moment): memscope run's scan of the check's snapshot. */
void ms_heap_model_set_check_hook(struct ms_heap_model *m,
                                  void (*fn)(void *ctx, const struct ms_event *ev), void *ctx);
/* The checks' groups whose stack which(ctx, stack) names a suppression for (1 + its index) are
 * suppressed, after the finish (ms_leak_checks_suppress). */
void ms_heap_model_suppress_checks(struct ms_heap_model *m,
                                   uint32_t (*which)(void *ctx, uint32_t stack), void *ctx);
/* The allocator misuse met (full model; nothing in a sampled trace). */
struct ms_misuse_log;
const struct ms_misuse_log *ms_heap_model_misuse(const struct ms_heap_model *m);
/* The LEAK_CHECK events met (full model). */
const struct ms_leak_checks *ms_heap_model_leak_checks(const struct ms_heap_model *m);

/* After the finish: the blocks live at the end of each site i with which[i] != 0 (one entry per
 * site) are suppressed, by suppression which[i] - 1, and leave the kinds' totals (not the
 * heuristics': valgrind counts those suppressed or not). */
void ms_heap_model_suppress(struct ms_heap_model *m, const uint32_t *which);

/* Completes the statistics after the last event (per-site values at the peak, leaks), then
 * the analyses' (their at_end and finish). */
void ms_heap_model_finish(struct ms_heap_model *m);

/* Restricts the full model to a time window of the trace (memscope report --since/--until,
 * --at, --at-alloc): the events before since_tsc change only the live blocks (and the live
 * bytes of the sites and threads they belong to); at the first event from since_tsc on, every
 * count, the peak (the heap then), the allocator misuse found and the per-site and per-thread
 * totals start from zero, and the analyses are handed the live blocks as their baseline
 * (ms_pass_alloc.baseline). The window ends at the first event of the replay dated after
 * until_tsc or coming after the until_allocs-th allocation (of the whole replay: the number the
 * timeline's peaks give): it and every later one are left out, whatever their times (where
 * threads overlap the replay's order is not quite the times'), so that what is live at the end
 * is what was live then. A window with no event from since_tsc on opens at its end (or at the
 * finish), empty. 0: no start; UINT64_MAX: no end. end_hint: when the window ends, if known
 * (the analyses' end_tsc; UINT64_MAX: the trace's last event, or until_tsc). Set before the
 * analyses are added and before the first event. Returns 0, or MS_EINVAL (a totals-only or
 * sampled model, or too late). */
int ms_heap_model_set_window(struct ms_heap_model *m, uint64_t since_tsc, uint64_t until_tsc,
                             uint64_t until_allocs, uint64_t end_hint);
/* What ended the window: nothing (it reaches the trace's end), its time or its allocations. */
enum ms_window_end { MS_WINDOW_END_NONE, MS_WINDOW_END_TIME, MS_WINDOW_END_ALLOCS };
enum ms_window_end ms_heap_model_window_end(const struct ms_heap_model *m);

/* For a totals-only model (set_until_allocs): an event callback for ms_trace_replay that
 * applies nothing after the model's n-th allocation, so that the model's last_tsc is then the
 * time of that allocation (or of the last event before it) — what a full model's window that
 * ends after n allocations needs to know before its replay. */
void ms_heap_model_set_until_allocs(struct ms_heap_model *m, uint64_t n);
int ms_heap_model_apply_allocs(void *ctx, const struct ms_event *ev);

/* The analysis p (analysis_pass.h) is fed by this full model's replay of trace: added before
 * its first event. Returns 0, MS_EINVAL (a totals-only model, too many, or events replayed already)
 * or MS_ENOMEM. */
struct ms_analysis_pass;
int ms_heap_model_add_pass(struct ms_heap_model *m, const struct ms_analysis_pass *p,
                           const ms_trace *trace);
/* The analyses read the events on a thread of their own, in batches (pass_queue.h):
 * MS_PASS_QUEUE_BATCH records each by default; MS_PASS_QUEUE_INLINE makes every callback return
 * before the event's ms_heap_model_apply does (the tests' way to watch each event). Set before
 * the first analysis. */
void ms_heap_model_set_pass_batch(struct ms_heap_model *m, size_t records);
/* The state of analysis p in this model (NULL: not added); its figures are complete after
 * ms_heap_model_finish. */
void *ms_heap_model_pass(const struct ms_heap_model *m, const struct ms_analysis_pass *p);
/* The first error an analysis returned (0: none); the replay stopped with it (at the end of a
 * batch: later events may have been applied to the model), or the finish. */
int ms_heap_model_pass_error(const struct ms_heap_model *m);

const struct ms_summary *ms_heap_model_summary(const struct ms_heap_model *m);
size_t ms_heap_model_site_count(const struct ms_heap_model *m);
const struct ms_site *ms_heap_model_site(const struct ms_heap_model *m, size_t i);
size_t ms_heap_model_thread_count(const struct ms_heap_model *m);
const struct ms_thread_stats *ms_heap_model_thread(const struct ms_heap_model *m, size_t i);
/* A sampled trace's exact allocations by call site, sorted by bytes (none for a totals-only
 * model or a trace not sampled). */
struct ms_call_sites;
const struct ms_call_sites *ms_heap_model_call_sites(const struct ms_heap_model *m);
/* The C API's annotations (NULL for a totals-only model). */
struct ms_annotations;
const struct ms_annotations *ms_heap_model_annotations(const struct ms_heap_model *m);
/* Passports (full model): blocks' owners and freers come from o (not owned; until it is set, no
 * module is known). NULL for a totals-only model. */
struct ms_module_owner;
struct ms_passports;
void ms_heap_model_set_owners(struct ms_heap_model *m, struct ms_module_owner *o);
const struct ms_passports *ms_heap_model_passports(const struct ms_heap_model *m);

#endif
