/* What the C API's annotations say (include/memscope.h): the string table, named blocks
 * (variables), scopes and tasks, replayed with the heap. The heap model owns the live blocks and
 * keeps beside each one its note (struct ms_block_note); it hands this module each allocation
 * and free with that note, and the annotations themselves, and the module keeps the figures. Its
 * memory grows with tasks, scope sites, threads and live variables, never with events: freed
 * variables beyond MS_FREED_VARIABLES_KEPT are counted, not listed. */
#ifndef MS_ANNOTATIONS_H
#define MS_ANNOTATIONS_H

#include "common/api_errors.h"
#include "id_map.h"
#include "trace_reader.h"

#include <stdbool.h>
#include <stdint.h>

#define MS_FREED_VARIABLES_KEPT 100000
#define MS_TASK_THREADS_KEPT 16

/* What a live block carries besides its size and site. All 0: nothing. */
struct ms_block_note {
    uint32_t task;     /* index of its task + 1 */
    uint32_t var;      /* index of its variable + 1 */
    uint64_t scope;    /* the innermost scope open on its thread when it was allocated (handle) */
    uint32_t depth;    /* how many scopes were open then */
    uint32_t obj;      /* index + 1 of its reference-counted object (ms_ref_acquire) */
    uint32_t passport; /* index + 1 of its passport (passports.h), once stamped */
};

struct ms_variable {
    uint32_t name, type, file, func; /* string ids (0: none) */
    uint64_t line, type_size;        /* type_size: sizeof the type (MS_TRACK_AS), else 0 */
    uint64_t address, size;          /* the block's, when the name ended (after any realloc) */
    uint32_t stack;                  /* the block's allocation stack */
    bool freed;
};

struct ms_task_stats {
    uint64_t id, parent;
    uint32_t name;
    uint64_t allocs, bytes_allocated, live_bytes, peak_bytes;
    uint64_t begin_tsc, end_tsc; /* end 0: still running at the end of the trace */
    uint64_t stop_tsc;           /* from ms_annotations_finish: its end, or the trace's */
    uint64_t cpu_ns;
    uint32_t threads[MS_TASK_THREADS_KEPT]; /* tids it ran on, first ones */
    uint32_t nthreads;                      /* how many it ran on (may exceed the kept) */
    /* The tree, from ms_annotations_finish: index + 1 of its first child and of its next
     * sibling (0: none), children in the order they began; root: its parent is not a task. */
    uint32_t child, sibling;
    bool root;
};

struct ms_scope_stats {
    uint32_t name, file;
    uint64_t line;
    uint64_t entries, allocs, bytes_allocated, outlived_bytes, outlived_blocks;
    uint64_t mark; /* internal: a walk of a thread's open scopes has seen this site */
};

/* Scopes open on one thread at once beyond this are not counted (MS_API_SCOPE_TOO_DEEP), so
 * that an allocation costs at most this many steps. */
#define MS_SCOPE_DEPTH_MAX 64

/* A holder of references to an object: a block's address (0: a root) and how many it holds. */
struct ms_ref_holder {
    uint64_t holder, count;
};

/* A change of an object's references: at tsc, holder took (+1) or dropped (-1) one, leaving
 * held references. */
struct ms_ref_change {
    uint64_t tsc, holder, held;
    int delta;
};

/* The first changes of each object's references kept, in order (the rest are counted). */
#define MS_REF_HISTORY 64

/* A block that ms_ref_acquire named as an object. */
struct ms_ref_object {
    uint64_t address, size;
    uint32_t stack;
    uint64_t acquires, releases;
    uint64_t held, max_held; /* references held now (at the end: at exit), and the most at once */
    uint64_t max_tsc;        /* when it first had max_held */
    struct ms_ref_holder *holders; /* who holds them now (at the end: at exit) */
    size_t nholders, capholders;
    struct ms_ref_change *history; /* the first MS_REF_HISTORY changes */
    size_t nhistory, caphistory;
    uint64_t changes;      /* all of them */
    bool freed;            /* the block was freed */
    bool freed_while_held; /* ... while references to it were held */
};

/* Clone storms: an object with more references at once than this (MEMSCOPE_STORM, default 50). */
#define MS_STORM_DEFAULT 50

struct ms_annotations;

struct ms_annotations *ms_annotations_new(void);
void ms_annotations_free(struct ms_annotations *a);

/* The model's calls. thread is the model's thread index, size the block's. */
void ms_annotations_on_alloc(struct ms_annotations *a, const struct ms_event *ev, uint32_t thread,
                             struct ms_block_note *note);
/* The block is released (a realloc clears the note's variable and object first: the new block
 * adopts them). */
void ms_annotations_on_free(struct ms_annotations *a, const struct ms_block_note *note,
                            uint32_t alloc_thread, uint64_t size);
/* A block gets the note's variable anew (a realloc's new block, a move's target). */
void ms_annotations_adopt(struct ms_annotations *a, struct ms_block_note *note, uint64_t address,
                          uint64_t size, uint32_t stack);
/* VARIABLE: names the block (address, size, stack) whose note is note. */
int ms_annotations_name(struct ms_annotations *a, const struct ms_event *ev, uint64_t address,
                        uint64_t size, uint32_t stack, struct ms_block_note *note);
/* MOVE: the annotations of the block of note from (size from_size) go to the block of note to. */
void ms_annotations_move(struct ms_annotations *a, struct ms_block_note *from,
                         struct ms_block_note *to, uint64_t to_size, uint64_t to_address,
                         uint32_t to_stack);
/* REF_ACQUIRE / REF_RELEASE of the object block whose note is note (address, size, stack) by
 * holder (a block's address, or 0: a root). */
int ms_annotations_ref(struct ms_annotations *a, bool acquire, struct ms_block_note *note,
                       uint64_t address, uint64_t size, uint32_t stack, uint64_t holder,
                       uint64_t tsc);
/* STRING, TASK and the other EXTENDED sub-kinds. */
int ms_annotations_event(struct ms_annotations *a, const struct ms_event *ev, uint32_t thread);
/* A bad call the replay found (a pointer in no live block, ...). */
void ms_annotations_error(struct ms_annotations *a, enum ms_api_error what);
/* After the last event: the live blocks' variables (block note, address, size) end unfreed. */
void ms_annotations_live_at_end(struct ms_annotations *a, const struct ms_block_note *note,
                                uint64_t size);
void ms_annotations_finish(struct ms_annotations *a, uint64_t end_tsc);

/* Results. */
const char *ms_annotations_string(const struct ms_annotations *a, uint32_t id);
size_t ms_annotations_variable_count(const struct ms_annotations *a);
const struct ms_variable *ms_annotations_variable(const struct ms_annotations *a, size_t i);
uint64_t ms_annotations_variables_forgotten(const struct ms_annotations *a);
size_t ms_annotations_task_count(const struct ms_annotations *a);
const struct ms_task_stats *ms_annotations_task(const struct ms_annotations *a, size_t i);
size_t ms_annotations_scope_count(const struct ms_annotations *a);
const struct ms_scope_stats *ms_annotations_scope(const struct ms_annotations *a, size_t i);
size_t ms_annotations_object_count(const struct ms_annotations *a);
const struct ms_ref_object *ms_annotations_object(const struct ms_annotations *a, size_t i);
/* Objects freed beyond MS_FREED_VARIABLES_KEPT, counted but not listed. */
uint64_t ms_annotations_objects_forgotten(const struct ms_annotations *a);
uint64_t ms_annotations_storm_threshold(const struct ms_annotations *a);
/* The reference cycles among objects still held at the end: cycle i is objects
 * cycle_objects[cycle_start[i] .. cycle_start[i + 1]) (indices of objects). */
size_t ms_annotations_cycle_count(const struct ms_annotations *a);
const uint32_t *ms_annotations_cycle(const struct ms_annotations *a, size_t i, size_t *n);
/* How many bad calls of the kind the capture refused or the replay found. */
uint64_t ms_annotations_errors(const struct ms_annotations *a, enum ms_api_error what);

#endif
