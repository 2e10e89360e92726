/* The process-wide stack tree: each node is (parent node, instruction pointer) with a small id,
 * so an event carries one id for its whole stack. Lookups are lock-free; inserting a new node
 * takes a lock and emits a STACK_NODE record into the inserting thread's buffer. */
#ifndef MS_CAPTURE_STACK_INTERN_H
#define MS_CAPTURE_STACK_INTERN_H

#include "event_buffer.h"
#include "unwind_state.h"

#include <stdbool.h>

#include <stdint.h>

/* Sets up the table; returns 0 or -1 when out of memory. */
int ms__stack_intern_init(void);

/* Returns the node id of the stack ips[0..n) (innermost frame first), using and updating the
 * thread's caches (u); a node that is new goes into the thread's buffer b as a STACK_NODE
 * record. 0 means no stack (n == 0) or out of memory. */
uint32_t ms__stack_intern(struct ms__unwind_state *u, struct ms__buffer *b, const uintptr_t *ips,
                          int n);

/* The same for outer[0..n), outermost frame first, whose first `known` frames are known to be
 * those of the last stack interned (see ms__unwind_state.cache_log): they are not compared
 * again. When outer is the walk log's u->walk.ra, leaves in u->cache_log how many of its first
 * frames are known to be the last stack's after the call (otherwise 0). */
uint32_t ms__stack_intern_outer(struct ms__unwind_state *u, struct ms__buffer *b,
                                const uintptr_t *outer, int n, int known);

/* The node id of ips[0..n) (innermost frame first) in the shared table, found from the root
 * without the thread's caches and without inserting: 0 when it is not there. For the checks of
 * MEMSCOPE_UNWIND_VERIFY. */
uint32_t ms__stack_find(const uintptr_t *ips, int n);

/* The stack tree as it is now, by id: nodes[id] is (ip, parent), ip 0 for an id with no node,
 * for the *n ids below the next one (in memory of its own: ms__stack_snapshot_free). NULL when
 * out of memory. For printing stacks in the process (ms_leaks_print). */
struct ms__stack_node {
    uintptr_t ip;
    uint32_t parent;
};
struct ms__stack_node *ms__stack_snapshot(size_t *n);
void ms__stack_snapshot_free(struct ms__stack_node *nodes, size_t n);
/* The next id to be assigned (a forked child's trace records it: ids below were the parent's). */
uint32_t ms__stack_next_id(void);

/* Fork support: hold the insert lock across fork so the child gets a consistent table. */
bool ms__stack_intern_lock(void);
void ms__stack_intern_unlock(void);
void ms__stack_intern_reset_lock(void);

#endif
