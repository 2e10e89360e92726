/* The capture backends (include/memscope.h, MEMSCOPE_BACKEND): which one is in use and why,
 * the unified choice, and what the backends give the program in-process: ms_stats and
 * ms_leaks_print, and the core backend's leak list at exit when there is no trace. Every backend
 * records the same events; the event path (event_path.h) does the per-event part. */
#ifndef MS_CAPTURE_BACKEND_H
#define MS_CAPTURE_BACKEND_H

#include <memscope.h>
#include <stdbool.h>
#include <stdio.h>

/* At start-up: the backend MEMSCOPE_BACKEND asks for, or the unified choice. */
void ms__backend_start(void);
/* Writes the BACKEND annotation of the backend in use (at start, once a thread records). */
void ms__backend_announce(void);
/* ms_init: the backend named (or unified's choice); false for an unknown name. */
bool ms__backend_init(const char *name);
/* A task began: unified moves from lockfree to async. */
void ms__backend_task_began(void);
/* ms_stats: fills the first size bytes of *s. */
int ms__backend_stats(struct ms_stats *s, size_t size);
/* ms_leaks_print. */
void ms__backend_leaks_print(FILE *out);
/* The process finishes: with no trace (MEMSCOPE_OUTPUT=none) the core backend prints its leak
 * list on stderr. */
void ms__backend_at_finish(void);

#endif
