/* One analysed trace: the trace (and, for a forked child, the traces of its ancestors, whose
 * history up to the fork the child inherited), the replayed heap model, the stack tree and a
 * symbolizer for its modules. This is what the reports are made from. */
#ifndef MS_TRACE_ANALYSIS_H
#define MS_TRACE_ANALYSIS_H

#include "heap_model.h"
#include "module_owner.h"
#include "suppressions.h"
#include "symbolize.h"
#include "trace_reader.h"

#define MS_MAX_FORK_CHAIN 16

/* A report's time window (memscope report --since/--until/--at, docs/analyses.md), in
 * nanoseconds since the traced process started: the report counts what happened from since_ns
 * (inclusive) to until_ns (inclusive), and what is live at its end is what was live at
 * until_ns. A window whose end is before the trace's (cut) shows no leak kinds: those come from
 * the scan at exit. */
struct ms_window {
    bool since, until; /* which ends are set */
    uint64_t since_ns, until_ns;
    bool at; /* --at: until_ns is the moment asked about, from the start of the run */
    /* --at-alloc: the report ends right after allocation number at_alloc of the replay (a
     * timeline peak's at_alloc: exact where a time is not, as the records between two timed ones
     * share a time). */
    bool after_alloc;
    uint64_t at_alloc;
    /* Set by the analysis: the window ended before the trace did, and, in a window that ends
     * after an allocation, when its last event was. */
    bool cut, cut_by_allocs; /* the window ended before the trace, after at_alloc allocations */
    uint64_t end_ns;
};

struct ms_analysis {
    ms_trace *trace;
    ms_trace *ancestors[MS_MAX_FORK_CHAIN]; /* oldest first */
    int nancestors;
    char ancestry_note[1024]; /* why the parent's history is missing, if it is */
    struct ms_stack_table stacks;
    struct ms_heap_model *model;
    /* Which module owns which stack (passports), for the full analysis; NULL for the numbers. */
    struct ms_module_owner *owners;
    ms_symbolizer *sym;
    /* The symbolizer's module for each module of the trace (NULL: none registered), for stack
     * nodes in modules loaded at addresses another module had (ms_stack_node.module). */
    const ms_symbol_module **modules;
    /* From ms_analysis_live_finish: events replayed while the process ran, and whether a
     * thread's events came too late for the live replay, so that the whole trace was replayed
     * again at the end. */
    uint64_t live_events;
    bool live_restarted;
    /* A leak scan made after the trace was read (ms_analysis_add_leak_scan), or NULL. */
    struct ms_leak_scan_info *scan;
    /* The suppressions applied (ms_analysis_suppress; not owned), or NULL. */
    const struct ms_suppressions *supp;
    struct ms_window window; /* all false: the whole trace */
};

/* Opens, replays and prepares the trace at path. Returns 0 or a negative MS_E* code with a
 * one-line explanation in err. */
int ms_analysis_run(const char *path, struct ms_analysis **out, char *err, size_t errlen);
/* The same restricted to a time window (NULL: the whole trace). A sampled trace cannot be
 * (MS_EINVAL, explained in err): its exact counts carry no time. */
int ms_analysis_run_window(const char *path, const struct ms_window *w, struct ms_analysis **out,
                           char *err, size_t errlen);
/* The same for the summary's totals only: modules are not registered, no debug information is
 * loaded, no stack tree is kept (the stack nodes are checked and skipped: ms_analysis_stack
 * gives nothing), and the model keeps no sites or per-thread statistics
 * (ms_heap_model_new_totals). */
int ms_analysis_run_numbers(const char *path, struct ms_analysis **out, char *err, size_t errlen);
void ms_analysis_free(struct ms_analysis *a);

/* ms_analysis_run_numbers for each of the n traces at paths (a process tree's, as `memscope
 * run` finds them), with out[i] or rc[i] and err[i] set for each. A forked child whose parent's
 * trace is among them starts from a copy of its parent's model at the fork, so that the
 * parent's history is replayed once for all its children, not once per child (a fork storm
 * costs what the children did). Returns 0, or MS_ENOMEM before doing anything. */
int ms_analysis_run_numbers_family(char *const *paths, size_t n, struct ms_analysis **out, int *rc,
                                   char (*err)[1024]);

/* The numbers of a trace replayed while its process still writes it, so that `memscope run`'s
 * summary costs little beyond the run itself: polled as the trace grows, then finished once
 * the process is gone (and its trace sealed). The result is what ms_analysis_run_numbers gives
 * for the finished trace; whatever the live replay could not do (a forked child's trace, a
 * conflict, a thread whose events came late) the finish replays from the start. */
typedef struct ms_analysis_live ms_analysis_live;
/* NULL when out of memory (the finish is then ms_analysis_run_numbers). */
ms_analysis_live *ms_analysis_live_new(const char *path);
/* Replays what can be replayed now. Returns false when the trace has not grown since the last
 * call (the caller may wait a little). */
bool ms_analysis_live_poll(ms_analysis_live *l);
/* Completes the analysis and frees l (which may be NULL): as ms_analysis_run_numbers. */
int ms_analysis_live_finish(ms_analysis_live *l, const char *path, struct ms_analysis **out,
                            char *err, size_t errlen);
/* fn is called at each LEAK_CHECK event (an on-demand leak scan, common/record_table.h) that
 * the live replay or its finish delivers, with the analysis as replayed up to it (its model's
 * live blocks are those of that moment): memscope run scans the check's snapshot then. Not
 * called when the finish replays the trace anew (live_restarted). */
typedef void (*ms_check_fn)(void *ctx, struct ms_analysis *a, const struct ms_event *ev);
void ms_analysis_live_on_check(ms_analysis_live *l, ms_check_fn fn, void *ctx);
/* Frees l unfinished (NULL: nothing). */
void ms_analysis_live_discard(ms_analysis_live *l);

/* Gives a finished analysis the kinds of a LEAK_SCAN payload made for its trace after it was
 * read (memscope run's scan of the program's snapshot). Returns 0, or MS_ECORRUPT / MS_ENOMEM
 * (the analysis is then as it was). */
int ms_analysis_add_leak_scan(struct ms_analysis *a, const uint8_t *payload, size_t len);
/* The leak scan that counts: the one added after the trace was read, else the trace's own (its
 * present field false when there is none). */
const struct ms_leak_scan_info *ms_analysis_leak_scan(const struct ms_analysis *a);
/* A block of a scan as the replay knows it: address, size, allocation stack and the variable
 * name the C API gave it (NULL: none). known is false when the replay has no live block there
 * (a damaged trace): then only the address is filled. */
struct ms_scanned_block {
    uint64_t address, size;
    uint32_t stack;
    const char *name;
    bool known;
};
/* Who keeps what alive, from one scan's graph (docs/leak-kinds.md): the scan at exit, or the
 * last one at the peak that memscope run scanned (MEMSCOPE_SCAN_AT_PEAK), whose blocks are as
 * they were at its check. */
struct ms_graph_view {
    const struct ms_leak_scan_info *scan; /* NULL: no graph */
    const struct ms_leak_check *check;    /* the check at the peak; NULL: at exit */
};
struct ms_graph_view ms_analysis_graph(const struct ms_analysis *a, bool at_peak);
/* Block k of the view's scan (its addr[k]) as the replay knew it then. */
struct ms_scanned_block ms_analysis_graph_block(const struct ms_analysis *a,
                                                const struct ms_graph_view *g, size_t k);

/* Applies the suppressions to the leaks of a full analysis: each allocation stack with blocks
 * live at the end that one of them matches is suppressed, and the suppression counts what it
 * took. supp must outlive a. Returns 0 or MS_ENOMEM. */
int ms_analysis_suppress(struct ms_analysis *a, struct ms_suppressions *supp);

/* Symbolizes stack id into frames (innermost first, inlined frames expanded). Returns the
 * number of frames written (0 for no stack). A node missing from the trace ends the stack with
 * a frame whose function is "[stack truncated: trace incomplete]". */
int ms_analysis_stack(struct ms_analysis *a, uint32_t stack, ms_frame *frames, int max);

/* The call site of an allocator call returning to ip (the call instruction is looked up), as one
 * frame: the function it is in (not inlined), and the source line and module of the call itself
 * (in the innermost inlined frame). */
ms_frame ms_analysis_call_site(struct ms_analysis *a, uint64_t ip);

/* Nanoseconds since the traced process started for a TSC reading. */
uint64_t ms_analysis_ns(const struct ms_analysis *a, uint64_t tsc);
/* Nanoseconds from one TSC reading to a later one (0 when from is 0, unknown, or not earlier). */
uint64_t ms_analysis_elapsed_ns(const struct ms_analysis *a, uint64_t from_tsc, uint64_t to_tsc);
/* The duration of task i (ms_annotations_task) of analysis (a struct ms_analysis: the form
 * ms_rank_tasks takes), to the end of the trace if it did not end. */
uint64_t ms_analysis_task_ns(const void *analysis, size_t task);

#endif
