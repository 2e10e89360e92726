/* The C API's tasks as the capture knows them: each id ms_task_begin handed out, its parent and
 * whether it has ended, so that ms_task_end can make the parent current and bad ids are refused.
 * Ids are 1, 2, 3, ... for the whole process (a forked child goes on from its parent's). Lock
 * free; the table takes memory (mmap, 48 bytes per task) only for ids handed out. Each task also
 * keeps the figures ms_stats gives for it (async and core backends). */
#ifndef MS_CAPTURE_TASK_REGISTRY_H
#define MS_CAPTURE_TASK_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>

enum ms__task_state {
    MS__TASK_UNKNOWN, /* never handed out (or beyond what the table holds) */
    MS__TASK_OPEN,
    MS__TASK_ENDED,
};

/* A new task whose parent is parent (0: none); returns its id. Beyond the table's 16 M tasks, or
 * when its page cannot be mapped, the id still works but ms__task_end cannot find its parent. */
uint64_t ms__task_new(uint64_t parent);
enum ms__task_state ms__task_state(uint64_t id);
/* The nearest of id's ancestors that is still open (0: none). A parent always began before its
 * child, so the walk ends. */
uint64_t ms__task_open_ancestor(uint64_t id);
/* Marks an open task ended and returns true with its parent in *parent; false (nothing changed)
 * when it was not open. */
bool ms__task_end(uint64_t id, uint64_t *parent);

/* ms_stats's figures of a task: allocations made while it was current, their bytes, and of
 * those the blocks still live (core backend only: a free lowers its block's task's). */
struct ms__task_counts {
    uint64_t allocs, bytes;
    int64_t live_bytes, live_blocks;
};
/* Adds to task id's figures (no-op for a task beyond the table). */
void ms__task_count(uint64_t id, uint64_t allocs, uint64_t bytes, int64_t live_bytes,
                    int64_t live_blocks);
/* Every task's live figures back to 0 (the core backend stopped: they would go stale). */
void ms__task_live_reset(void);
/* Task id's figures (all 0, false, for a task the table does not have). */
bool ms__task_counts(uint64_t id, struct ms__task_counts *out);

#endif
