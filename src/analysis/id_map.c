/* Growth and insertion for the id map. */
#include "id_map.h"

#include "common/errors.h"

#include <stdlib.h>

static int rehash(struct ms_id_map *m, size_t cap)
{
    uint32_t *keys = calloc(cap, sizeof *keys);
    uint32_t *values = calloc(cap, sizeof *values);
    if (!keys || !values) {
        free(keys);
        free(values);
        return MS_ENOMEM;
    }
    for (size_t i = 0; m->keys && i <= m->mask; i++) {
        if (!m->keys[i])
            continue;
        size_t j = (m->keys[i] * 0x9E3779B1u) & (cap - 1);
        while (keys[j])
            j = (j + 1) & (cap - 1);
        keys[j] = m->keys[i];
        values[j] = m->values[i];
    }
    free(m->keys);
    free(m->values);
    m->keys = keys;
    m->values = values;
    m->mask = cap - 1;
    return 0;
}

int ms_id_map_put(struct ms_id_map *m, uint32_t id, uint32_t value)
{
    if (!m->keys || (m->used + 1) * 2 > m->mask + 1) {
        int err = rehash(m, m->keys ? (m->mask + 1) * 2 : 1024);
        if (err)
            return err;
    }
    size_t i = (id * 0x9E3779B1u) & m->mask;
    while (m->keys[i] && m->keys[i] != id)
        i = (i + 1) & m->mask;
    if (!m->keys[i])
        m->used++;
    m->keys[i] = id;
    m->values[i] = value;
    return 0;
}

void ms_id_map_free(struct ms_id_map *m)
{
    free(m->keys);
    free(m->values);
    m->keys = m->values = NULL;
    m->mask = m->used = 0;
}
