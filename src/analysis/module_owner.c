/* Owners of stacks (module_owner.h): each trace's modules sorted by address for a binary
 * search, keys by path, and the answer for each stack asked about kept in a map. */
#include "module_owner.h"

#include "common/errors.h"
#include "common/runtime_modules.h"
#include "grow.h"

#include <stdlib.h>
#include <string.h>

/* A module of the current trace. */
struct range {
    uint64_t lo, hi;
    uint32_t key; /* 0: a runtime module */
};

struct ms_module_owner {
    const struct ms_stack_table *stacks;
    const ms_trace *trace;
    struct range *ranges; /* the current trace's modules that overlap no other, by lo */
    size_t nranges, capranges;
    uint32_t *key_of_module; /* the current trace's module i -> key (0: runtime) */
    size_t capkeys;
    char **paths; /* key - 1 -> path */
    size_t npaths, cappaths;
    struct ms_id_map of_stack; /* stack id -> key + 1 */
};

struct ms_module_owner *ms_module_owner_new(const struct ms_stack_table *stacks)
{
    struct ms_module_owner *o = calloc(1, sizeof *o);
    if (o)
        o->stacks = stacks;
    return o;
}

void ms_module_owner_free(struct ms_module_owner *o)
{
    if (!o)
        return;
    for (size_t i = 0; i < o->npaths; i++)
        free(o->paths[i]);
    free(o->paths);
    free(o->ranges);
    free(o->key_of_module);
    ms_id_map_free(&o->of_stack);
    free(o);
}

/* The key of path (made on first sight), 0 for a runtime module; MS_ENOMEM as -1. */
static int64_t key_of_path(struct ms_module_owner *o, const char *path)
{
    if (ms_module_is_runtime(path))
        return 0;
    for (size_t i = 0; i < o->npaths; i++)
        if (!strcmp(o->paths[i], path))
            return (int64_t)i + 1;
    char *copy = strdup(path);
    if (!copy || ms_grow(&o->paths, &o->cappaths, o->npaths + 1, sizeof *o->paths, 16) != 0) {
        free(copy);
        return -1;
    }
    o->paths[o->npaths++] = copy;
    return (int64_t)o->npaths;
}

static int by_lo(const void *a, const void *b)
{
    const struct range *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

int ms_module_owner_use_trace(struct ms_module_owner *o, const ms_trace *t)
{
    size_t n = ms_trace_module_count(t);
    o->trace = t;
    o->nranges = 0;
    ms_id_map_free(&o->of_stack); /* a child's stacks may lie in other modules */
    if (ms_grow(&o->key_of_module, &o->capkeys, n, sizeof *o->key_of_module, 16) != 0 ||
        ms_grow(&o->ranges, &o->capranges, n, sizeof *o->ranges, 16) != 0)
        return MS_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const struct ms_module *m = ms_trace_module(t, i);
        int64_t key = key_of_path(o, m->path ? m->path : "");
        if (key < 0)
            return MS_ENOMEM;
        o->key_of_module[i] = (uint32_t)key;
        if (!m->overlaps && m->lo < m->hi)
            o->ranges[o->nranges++] = (struct range){m->lo, m->hi, (uint32_t)key};
    }
    if (o->nranges)
        qsort(o->ranges, o->nranges, sizeof *o->ranges, by_lo);
    return 0;
}

/* The key of the module holding the code at addr (a node made at tsc, with the stack table's
 * module hint), 0 for a runtime module, -1 for none. */
static int64_t key_at(const struct ms_module_owner *o, uint64_t addr, uint32_t hint, uint64_t tsc)
{
    if (!o->trace)
        return -1;
    size_t nmod = ms_trace_module_count(o->trace);
    int at = hint ? (int)hint - 1 : ms_trace_module_at(o->trace, addr, tsc);
    if (at >= 0 && (size_t)at < nmod)
        return o->key_of_module[at];
    size_t lo = 0, hi = o->nranges;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (o->ranges[mid].hi <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < o->nranges && o->ranges[lo].lo <= addr)
        return o->ranges[lo].key;
    return -1;
}

uint32_t ms_module_owner_of(struct ms_module_owner *o, uint32_t stack, uint64_t ip, uint64_t tsc)
{
    if (!o)
        return 0;
    if (!stack) {
        int64_t k = ip ? key_at(o, ip - 1, 0, tsc) : -1;
        return k > 0 ? (uint32_t)k : 0;
    }
    uint32_t v;
    if (ms_id_map_get(&o->of_stack, stack, &v))
        return v - 1;
    uint32_t key = 0;
    struct ms_stack_node node;
    /* Frames are return addresses: the call is the byte before. At most as many frames as a
     * stack can have, so that a damaged trace's loop of nodes ends. */
    for (uint32_t id = stack, steps = 0; steps < 1024 && ms_stack_table_get(o->stacks, id, &node);
         id = node.parent, steps++) {
        int64_t k = key_at(o, node.ip - 1, node.module, tsc);
        if (k > 0) {
            key = (uint32_t)k;
            break;
        }
    }
    ms_id_map_put(&o->of_stack, stack, key + 1); /* out of memory: asked again next time */
    return key;
}

const char *ms_module_owner_path(const struct ms_module_owner *o, uint32_t key)
{
    return o && key && key <= o->npaths ? o->paths[key - 1] : NULL;
}

bool ms_module_owner_matches(const struct ms_module_owner *o, uint32_t key, const char *name,
                             size_t len)
{
    const char *path = ms_module_owner_path(o, key);
    if (!path || !len)
        return false;
    if (strlen(path) == len && !memcmp(path, name, len))
        return true;
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    return !strncmp(base, name, len) && (base[len] == 0 || base[len] == '.');
}
