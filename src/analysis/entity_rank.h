/* Rankings of threads and tasks (docs/analyses.md, "Rankings"): by peak, bytes allocated,
 * allocations, leaked bytes and efficiency score; tasks also by allocation rate and CPU time. */
#ifndef MS_ENTITY_RANK_H
#define MS_ENTITY_RANK_H

#include "heap_model.h"

#include <stddef.h>
#include <stdint.h>

enum ms_entity_key {
    MS_BY_PEAK,
    MS_BY_BYTES,
    MS_BY_ALLOCS,
    MS_BY_LEAKED,
    MS_BY_SCORE, /* the least efficient first */
    MS_BY_RATE,  /* tasks: allocations per second of their duration */
    MS_BY_CPU,   /* tasks: CPU time */
    MS_ENTITY_KEYS
};

const char *ms_entity_key_name(enum ms_entity_key k);

/* The indices (ms_heap_model_thread) of the top threads by key with a non-zero value, largest
 * first; *out is the caller's. Returns how many (0 for MS_BY_RATE and MS_BY_CPU: not kept for
 * threads). */
size_t ms_rank_threads(const struct ms_heap_model *m, enum ms_entity_key key, size_t top,
                       size_t **out);
/* The same for tasks (ms_annotations_task), with duration_ns(i) their durations. */
size_t ms_rank_tasks(const struct ms_heap_model *m, enum ms_entity_key key, size_t top,
                     uint64_t (*duration_ns)(const void *ctx, size_t task), const void *ctx,
                     size_t **out);

#endif
