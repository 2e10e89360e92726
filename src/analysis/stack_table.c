/* Storage for the stack tree nodes read from a trace. */
#include "stack_table.h"

#include "common/errors.h"
#include "grow.h"

#include <stdlib.h>
#include <string.h>

/* Far more nodes than any trace has; an id beyond it is corruption, not a reason to allocate. */
#define MAX_NODES (1u << 28)

int ms_stack_table_set(struct ms_stack_table *t, uint32_t id, uint32_t parent, uint64_t ip)
{
    if (id == 0 || id >= MAX_NODES || parent >= MAX_NODES || ip == 0)
        return MS_ECORRUPT;
    int err = ms_grow(&t->nodes, &t->cap, (size_t)id + 1, sizeof *t->nodes, 1024);
    if (err)
        return err;
    if (t->nodes[id].ip == 0) {
        t->nodes[id].parent = parent;
        t->nodes[id].ip = ip;
    }
    return 0;
}

bool ms_stack_table_get(const struct ms_stack_table *t, uint32_t id, struct ms_stack_node *out)
{
    if (id == 0 || id >= t->cap || t->nodes[id].ip == 0)
        return false;
    *out = t->nodes[id];
    return true;
}

void ms_stack_table_free(struct ms_stack_table *t)
{
    free(t->nodes);
    t->nodes = NULL;
    t->cap = 0;
}
