/* A map from 32-bit ids (stack node ids) to 32-bit values, sized by the ids actually present:
 * a trace naming a huge id costs one entry, not an array that large. Open addressing with
 * linear probing; id 0 is reserved as the empty marker. */
#ifndef MS_ID_MAP_H
#define MS_ID_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ms_id_map {
    uint32_t *keys;
    uint32_t *values;
    size_t mask, used;
};

/* Finds id; true with *value set if present. */
static inline bool ms_id_map_get(const struct ms_id_map *m, uint32_t id, uint32_t *value)
{
    if (!m->keys)
        return false;
    for (size_t i = (id * 0x9E3779B1u) & m->mask;; i = (i + 1) & m->mask) {
        if (m->keys[i] == id) {
            *value = m->values[i];
            return true;
        }
        if (!m->keys[i])
            return false;
    }
}

/* Sets id (non-zero) to value; returns 0 or MS_ENOMEM. */
int ms_id_map_put(struct ms_id_map *m, uint32_t id, uint32_t value);
void ms_id_map_free(struct ms_id_map *m);

#endif
