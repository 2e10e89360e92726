/* The interface between the replay model and the analyses (docs/analyses.md): the heap model
 * (heap_model.h) owns the live blocks and the repair of the threads' order, and hands each
 * analysis the events it derives from the trace — an allocation, a free with what is known of
 * the freed block (its size, when it was allocated, its site, thread and task), every other event
 * (annotations, threads, the time they carry) — then the blocks still live at the end and the
 * finish. Each analysis is a file of its own with one struct ms_analysis_pass; the list of them
 * is analysis_passes.c. heaptrack's pattern: one replay, many consumers. */
#ifndef MS_ANALYSIS_PASS_H
#define MS_ANALYSIS_PASS_H

#include "trace_reader.h"

#include <stdbool.h>
#include <stdint.h>

struct ms_heap_model;

/* A block as the model knows it. In a sampled trace (MEMSCOPE_SAMPLE_BYTES) it stands for
 * weight blocks of its size (1 otherwise). */
struct ms_pass_block {
    uint64_t ptr, size;
    uint64_t alloc_tsc; /* when it was allocated (its event's time: see ms_event.tsc) */
    /* The allocations replayed before it, every thread's: an exact clock (in a sampled trace an
     * estimate: each sample counts for the allocations it stands for). */
    uint64_t alloc_seq;
    uint64_t task; /* the allocating stream's task (C API; 0: none) */
    uint64_t weight;
    uint32_t site;   /* index of its call site (ms_heap_model_site) */
    uint32_t thread; /* index of the allocating thread (ms_heap_model_thread) */
    uint32_t family; /* enum ms_family of its allocation */
};

/* Why a block ends. */
enum ms_pass_end {
    MS_PASS_FREED,     /* free, delete and the like */
    MS_PASS_REALLOCED, /* a realloc released it (the new block follows as an allocation) */
    MS_PASS_LOST,      /* its address was allocated again: the trace lost its free */
};

/* The analyses read the events on a thread of their own (pass_queue.h): what they are told is a
 * copy, and the model's tables are not theirs to read until the finish. */
struct ms_pass_free {
    struct ms_pass_block block;
    uint64_t tsc; /* the time of the event that ended it (for MS_PASS_LOST the allocation) */
    uint64_t seq; /* the allocations replayed so far */
    enum ms_pass_end why;
    uint32_t thread; /* index of the thread of that event */
    uint32_t tid;    /* its tid (0: the orphan stream, a thread's frees after its teardown) */
};

struct ms_pass_alloc {
    struct ms_pass_block block; /* the event's time is block.alloc_tsc */
    int kind;                   /* MS_REC_ALLOC, ALLOC_ALIGNED or REALLOC */
    uint32_t tid;
    /* A block live when the report's time window opened (ms_heap_model_set_window), handed over
     * before the window's first event: where the live bytes start, not an allocation made in
     * the window (its alloc_tsc is before env->origin_tsc). */
    bool baseline;
};

/* What an analysis is made with: the model that feeds it (to be read at the finish), the
 * trace analysed (for its clock: ms_trace_ns_since_start), and the stretch of it that the
 * analyses are told about: from origin_tsc (the process's start, or the start of the report's
 * time window) to end_tsc (the trace's last event, or the window's end). */
struct ms_pass_env {
    const struct ms_heap_model *model;
    const ms_trace *trace;
    uint64_t origin_tsc, end_tsc;
};

/* One analysis. Every callback may be NULL; those that return int return 0, or a negative
 * MS_E* code that stops the replay. The state is made for one model and freed with it. */
struct ms_analysis_pass {
    const char *name;
    void *(*create)(const struct ms_pass_env *env); /* NULL: out of memory */
    int (*on_alloc)(void *state, const struct ms_pass_alloc *a);
    int (*on_free)(void *state, const struct ms_pass_free *f);
    /* Every other event the model applied (not allocations, frees and reallocs), a copy that
     * lives until the callback returns. */
    int (*on_event)(void *state, const struct ms_event *ev);
    /* Each block live after the last event, then finish, when the model's own figures are
     * complete (its summary's last_tsc is the end of the trace). */
    int (*at_end)(void *state, const struct ms_pass_block *b);
    int (*finish)(void *state, const struct ms_heap_model *m);
    void (*destroy)(void *state);
};

/* The most analyses a model runs. */
#define MS_PASSES_MAX 16

#endif
