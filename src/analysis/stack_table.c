/* Storage for the stack tree nodes read from a trace. */
#include "stack_table.h"

#include "common/errors.h"
#include "grow.h"

#include <stdlib.h>
#include <string.h>

/* Far more nodes than any trace has; an id beyond it is corruption, not a reason to allocate. */
#define MAX_NODES (1u << 28)

int ms_stack_table_set(struct ms_stack_table *t, uint32_t id, uint32_t parent, uint64_t ip,
                       uint32_t module)
{
    if (id == 0 || id >= MAX_NODES || parent >= MAX_NODES || ip == 0)
        return MS_ECORRUPT;
    struct ms_stack_node old;
    if (ms_stack_table_get(t, id, &old))
        return 0;
    t->defined++;
    /* Ids are dense in a real trace: an array indexed by id, allowed to grow to twice the
     * nodes defined so far. A far larger id (a damaged trace) goes to the sparse map. */
    if (id < t->dense_cap || id <= 2 * t->defined + 65536) {
        int err = ms_grow(&t->dense, &t->dense_cap, (size_t)id + 1, sizeof *t->dense, 1024);
        if (err)
            return err;
        t->dense[id] = (struct ms_stack_node){parent, module, ip};
        return 0;
    }
    int err = ms_grow(&t->nodes, &t->cap, t->n + 1, sizeof *t->nodes, 64);
    if (err || (err = ms_id_map_put(&t->index, id, (uint32_t)t->n)) != 0)
        return err;
    t->nodes[t->n++] = (struct ms_stack_node){parent, module, ip};
    return 0;
}

void ms_stack_table_set_module(struct ms_stack_table *t, uint32_t id, uint32_t module)
{
    if (id == 0)
        return;
    if (id < t->dense_cap && t->dense[id].ip) {
        t->dense[id].module = module;
        return;
    }
    uint32_t at;
    if (ms_id_map_get(&t->index, id, &at))
        t->nodes[at].module = module;
}

bool ms_stack_table_get(const struct ms_stack_table *t, uint32_t id, struct ms_stack_node *out)
{
    if (id == 0)
        return false;
    if (id < t->dense_cap && t->dense[id].ip) {
        *out = t->dense[id];
        return true;
    }
    uint32_t at;
    if (!ms_id_map_get(&t->index, id, &at))
        return false;
    *out = t->nodes[at];
    return true;
}

void ms_stack_table_free(struct ms_stack_table *t)
{
    free(t->dense);
    free(t->nodes);
    ms_id_map_free(&t->index);
    memset(t, 0, sizeof *t);
}
