/* The stack tree read from a trace: node id -> (parent id, instruction pointer). Memory grows
 * with the nodes the trace defines, whatever ids it names. */
#ifndef MS_STACK_TABLE_H
#define MS_STACK_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "id_map.h"

struct ms_stack_node {
    uint32_t parent;
    /* 1 + the index of the trace's module that held ip when the node was made, when several
     * modules were loaded at that address one after the other (see ms_trace_module_at); 0: the
     * address alone says which module it is. */
    uint32_t module;
    uint64_t ip; /* 0 = not defined in the trace */
};

struct ms_stack_table {
    struct ms_stack_node *dense; /* indexed by id (ip 0: not defined) */
    size_t dense_cap;
    size_t defined;              /* nodes defined, dense or sparse */
    struct ms_stack_node *nodes; /* ids too large for the dense array, in order of definition */
    size_t n, cap;
    struct ms_id_map index; /* such an id -> its position in nodes */
};

/* Defines node id; returns 0, MS_ENOMEM, or MS_ECORRUPT for an id no trace can have. An id
 * defined twice keeps its first definition. */
int ms_stack_table_set(struct ms_stack_table *t, uint32_t id, uint32_t parent, uint64_t ip,
                       uint32_t module);
/* Sets the module hint of node id (defined before); no-op for an undefined id. */
void ms_stack_table_set_module(struct ms_stack_table *t, uint32_t id, uint32_t module);
/* Looks up node id; false if the trace never defined it. */
bool ms_stack_table_get(const struct ms_stack_table *t, uint32_t id, struct ms_stack_node *out);
void ms_stack_table_free(struct ms_stack_table *t);

#endif
