/* Efficiency scores (docs/analyses.md): 0 to 100 for each call site, thread and task, from parts
 * that are each a share of waste between 0 and 1 — temporary allocations, slack, bytes copied
 * by reallocs, leaked bytes, the peak over the average live — weighted equally over the parts
 * known for it; and the kinds of a task, inferred from its measured CPU time, duration and
 * allocation rate. */
#ifndef MS_SCORES_H
#define MS_SCORES_H

#include "heap_model.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ms_score_part {
    MS_PART_TEMPORARY,         /* temporary allocations / allocations */
    MS_PART_SLACK,             /* slack / usable bytes */
    MS_PART_REALLOC_COPIES,    /* bytes copied by reallocs / bytes allocated */
    MS_PART_LEAKED,            /* bytes live at the end / bytes allocated */
    MS_PART_PEAK_OVER_AVERAGE, /* 1 - average live / most live */
    MS_SCORE_PARTS
};

struct ms_score {
    int value; /* 0 to 100; -1: no part known */
    struct {
        bool known;
        double waste;  /* 0 to 1 */
        double weight; /* its share of the score: 1 / the parts known */
    } part[MS_SCORE_PARTS];
};

void ms_score_site(const struct ms_heap_model *m, size_t site, struct ms_score *out);
void ms_score_thread(const struct ms_heap_model *m, size_t thread, struct ms_score *out);
void ms_score_task(const struct ms_heap_model *m, size_t task, struct ms_score *out);
const char *ms_score_part_name(enum ms_score_part p);

/* A task's kinds, as bits: from its CPU time over its duration (cpu_ns / duration_ns) and its
 * allocations per second. */
enum {
    MS_TASK_CPU_BOUND = 1,   /* on the CPU 80% of its duration or more */
    MS_TASK_WAITING = 2,     /* on the CPU 20% of it or less: I/O, locks, sleeps */
    MS_TASK_ALLOC_HEAVY = 4, /* 100,000 allocations a second or more */
};
unsigned ms_task_kinds(uint64_t cpu_ns, uint64_t duration_ns, uint64_t allocs);
/* The name of kind bit k (1, 2, 4). */
const char *ms_task_kind_name(unsigned k);

#endif
