/* The C API's tasks as the capture knows them: each id ms_task_begin handed out, its parent and
 * whether it has ended, so that ms_task_end can make the parent current and bad ids are refused.
 * Ids are 1, 2, 3, ... for the whole process (a forked child goes on from its parent's). Lock
 * free; the table takes memory (mmap, 16 bytes per task) only for ids handed out. */
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

#endif
