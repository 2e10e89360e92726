/* Passports (passports.h): a list of passports, each freed one's status decided at the finish
 * (when every string is known), and groups in an open-addressing table. */
#include "passports.h"

#include "common/errors.h"
#include "common/record_table.h"
#include "grow.h"

#include <stdlib.h>
#include <string.h>

struct ms_passports {
    const struct ms_module_owner *owners;
    const char *(*text)(const void *ctx, uint32_t id);
    const void *ctx;
    struct ms_passport *list;
    size_t n, cap;
    uint64_t forgotten;
    struct ms_passport_group *groups;
    size_t ngroups, capgroups;
    uint32_t *index; /* group index + 1, open addressing */
    size_t index_mask;
};

static const char *const status_keys[] = {
#define MS__PP_KEY(NAME, key, text) key,
    MS_PASSPORT_STATUSES(MS__PP_KEY)
#undef MS__PP_KEY
};
static const char *const status_texts[] = {
#define MS__PP_TEXT(NAME, key, text) text,
    MS_PASSPORT_STATUSES(MS__PP_TEXT)
#undef MS__PP_TEXT
};

const char *ms_passport_status_key(enum ms_passport_status s)
{
    return s < MS_PASSPORT_STATUS_MAX ? status_keys[s] : "unknown";
}

const char *ms_passport_status_text(enum ms_passport_status s)
{
    return s < MS_PASSPORT_STATUS_MAX ? status_texts[s] : "unknown";
}

const char *ms_passport_action_key(uint64_t action)
{
    switch (action) {
    case MS_PASSPORT_HANDOVER:
        return "handover";
    case MS_PASSPORT_RECLAIM:
        return "reclaim";
    case MS_PASSPORT_NOTE:
        return "note";
    default:
        return "unknown";
    }
}

struct ms_passports *ms_passports_new(const char *(*text)(const void *ctx, uint32_t id),
                                      const void *ctx)
{
    struct ms_passports *p = calloc(1, sizeof *p);
    if (p) {
        p->text = text;
        p->ctx = ctx;
    }
    return p;
}

void ms_passports_free(struct ms_passports *p)
{
    if (!p)
        return;
    free(p->list);
    free(p->groups);
    free(p->index);
    free(p);
}

/* A new passport (index + 1 in *pp), or 0 with the block counted as forgotten. */
static int passport_new(struct ms_passports *p, uint32_t *pp, uint64_t address, uint64_t size,
                        uint32_t stack, uint32_t owner)
{
    *pp = 0;
    if (p->n >= MS_PASSPORTS_KEPT) {
        p->forgotten++;
        return 0;
    }
    int err = ms_grow(&p->list, &p->cap, p->n + 1, sizeof *p->list, 64);
    if (err)
        return err;
    p->list[p->n] = (struct ms_passport){
        .address = address, .size = size, .alloc_stack = stack, .owner = owner};
    *pp = (uint32_t)++p->n;
    return 0;
}

int ms_passports_stamp(struct ms_passports *p, uint32_t *pp, uint64_t address, uint64_t size,
                       uint32_t stack, uint32_t owner, const struct ms_event *ev)
{
    /* x: ptr, action, module, note */
    if (*pp == MS_PASSPORT_NOT_KEPT)
        return 0; /* counted once, when it could not be kept */
    if (!*pp) {
        int err = passport_new(p, pp, address, size, stack, owner);
        if (!err && !*pp)
            *pp = MS_PASSPORT_NOT_KEPT; /* beyond the kept: its frees must not count it again */
        if (err || !*pp || *pp == MS_PASSPORT_NOT_KEPT)
            return err;
    }
    struct ms_passport *q = &p->list[*pp - 1];
    uint32_t action = ev->x[1] <= UINT32_MAX ? (uint32_t)ev->x[1] : 0;
    uint32_t module = ev->x[2] <= UINT32_MAX ? (uint32_t)ev->x[2] : 0;
    uint32_t note = ev->x[3] <= UINT32_MAX ? (uint32_t)ev->x[3] : 0;
    if (q->nstamps < MS_PASSPORT_STAMPS_KEPT)
        q->stamps[q->nstamps++] = (struct ms_passport_stamp){ev->tsc, action, module, note};
    q->stamps_total++;
    q->size = size; /* after any realloc */
    if (action == MS_PASSPORT_HANDOVER) {
        q->handed = true;
        q->reclaimed = false;
        q->custodian = module;
    } else if (action == MS_PASSPORT_RECLAIM) {
        if (!q->handed)
            return MS_PASSPORT_NOT_HANDED;
        q->handed = false;
        q->reclaimed = true;
    }
    return 0;
}

static size_t group_hash(const struct ms_passport_group *g)
{
    uint64_t h = ((uint64_t)g->alloc_stack * 0x9E3779B97F4A7C15u) ^ ((uint64_t)g->owner << 40) ^
                 ((uint64_t)g->other << 20) ^ ((uint64_t)g->custodian << 8) ^ (uint64_t)g->status;
    return (size_t)(h ^ (h >> 29));
}

static int index_grow(struct ms_passports *p)
{
    size_t cap = p->index ? (p->index_mask + 1) * 2 : 64;
    uint32_t *n = calloc(cap, sizeof *n);
    if (!n)
        return MS_ENOMEM;
    for (size_t g = 0; g < p->ngroups; g++) {
        const struct ms_passport_group *x = &p->groups[g];
        size_t i = group_hash(x) & (cap - 1);
        while (n[i])
            i = (i + 1) & (cap - 1);
        n[i] = (uint32_t)g + 1;
    }
    free(p->index);
    p->index = n;
    p->index_mask = cap - 1;
    return 0;
}

/* Counts the block of passport pp (0: none kept), of size bytes, in the group of key (whose
 * counts are 0). */
static int group_add(struct ms_passports *p, struct ms_passport_group key, uint64_t size,
                     uint32_t pp)
{
    if ((p->ngroups + 1) * 2 > (p->index ? p->index_mask + 1 : 0)) {
        int err = index_grow(p);
        if (err)
            return err;
    }
    size_t i = group_hash(&key) & p->index_mask;
    for (; p->index[i]; i = (i + 1) & p->index_mask) {
        struct ms_passport_group *g = &p->groups[p->index[i] - 1];
        if (g->status == key.status && g->owner == key.owner && g->other == key.other &&
            g->custodian == key.custodian && g->alloc_stack == key.alloc_stack) {
            g->blocks++;
            g->bytes += size;
            /* The example: the first block kept, or the first whose free stack is known. */
            if (!g->example ||
                (pp && !p->list[g->example - 1].free_stack && p->list[pp - 1].free_stack))
                g->example = pp;
            return 0;
        }
    }
    int err = ms_grow(&p->groups, &p->capgroups, p->ngroups + 1, sizeof *p->groups, 16);
    if (err)
        return err;
    key.blocks = 1;
    key.bytes = size;
    key.example = pp;
    p->groups[p->ngroups] = key;
    p->index[i] = (uint32_t)++p->ngroups;
    return 0;
}

int ms_passports_on_free(struct ms_passports *p, uint32_t pp, uint64_t address, uint64_t size,
                         uint32_t stack, uint32_t owner, uint32_t freer, uint32_t free_stack)
{
    if (pp == MS_PASSPORT_NOT_KEPT)
        return 0; /* stamped beyond the kept: counted in passports_not_listed only */
    bool stamped = pp != 0;
    if (!stamped) {
        int err = passport_new(p, &pp, address, size, stack, owner);
        if (err)
            return err;
    }
    if (pp) {
        struct ms_passport *q = &p->list[pp - 1];
        q->freed = true;
        q->freed_by = freer;
        q->free_stack = free_stack;
        q->size = size;
        if (!stamped)
            q->status = MS_PASSPORT_FREED_BY_FOREIGN;
    }
    if (stamped)
        return 0; /* its status and group: at the finish, when every string is known */
    /* Crossed modules unstamped: foreign, whatever the strings say. */
    struct ms_passport_group key = {.status = MS_PASSPORT_FREED_BY_FOREIGN,
                                    .owner = owner,
                                    .other = freer,
                                    .alloc_stack = stack};
    return group_add(p, key, size, pp);
}

/* The status of a stamped passport, now that the strings are known. A free whose module is
 * unknown (only runtime frames: exit-time freeing) counts as its holder's. */
static enum ms_passport_status stamped_status(const struct ms_passports *p,
                                              const struct ms_passport *q)
{
    if (!q->freed)
        return q->handed ? MS_PASSPORT_IN_FOREIGN_CUSTODY : MS_PASSPORT_LIVE_WITH_OWNER;
    const char *name = q->handed ? p->text(p->ctx, q->custodian) : NULL;
    bool by_custodian =
        q->handed && (!q->freed_by || (name && ms_module_owner_matches(p->owners, q->freed_by, name,
                                                                       strlen(name))));
    if (by_custodian)
        return MS_PASSPORT_FREED_BY_CUSTODIAN;
    if (!q->freed_by || q->freed_by == q->owner)
        return q->reclaimed ? MS_PASSPORT_RECLAIMED : MS_PASSPORT_FREED_BY_OWNER;
    return MS_PASSPORT_FREED_BY_FOREIGN;
}

/* The findings first (freed by a foreign module, left in foreign custody), then by bytes. */
static int finding(enum ms_passport_status s)
{
    return s == MS_PASSPORT_FREED_BY_FOREIGN || s == MS_PASSPORT_IN_FOREIGN_CUSTODY;
}

static int by_bytes(const void *a, const void *b)
{
    const struct ms_passport_group *x = a, *y = b;
    if (finding(x->status) != finding(y->status))
        return finding(x->status) ? -1 : 1;
    if (x->bytes != y->bytes)
        return x->bytes > y->bytes ? -1 : 1;
    if (x->blocks != y->blocks)
        return x->blocks > y->blocks ? -1 : 1;
    return x->status < y->status ? -1 : x->status > y->status;
}

void ms_passports_finish(struct ms_passports *p, const struct ms_module_owner *owners)
{
    p->owners = owners;
    for (size_t i = 0; i < p->n; i++) {
        struct ms_passport *q = &p->list[i];
        if (!q->nstamps && !q->stamps_total)
            continue; /* unstamped: grouped at its free */
        q->status = stamped_status(p, q);
        struct ms_passport_group key = {.status = q->status,
                                        .owner = q->owner,
                                        .other = q->freed ? q->freed_by : 0,
                                        .custodian = q->handed ? q->custodian : 0,
                                        .alloc_stack = q->alloc_stack};
        if (group_add(p, key, q->size, (uint32_t)i + 1))
            break; /* out of memory: the groups lack the rest */
    }
    if (p->ngroups)
        qsort(p->groups, p->ngroups, sizeof *p->groups, by_bytes);
    free(p->index); /* the order changed: no more lookups */
    p->index = NULL;
}

void ms_passports_moved(struct ms_passports *p, uint32_t pp, uint64_t address, uint64_t size)
{
    if (pp && pp <= p->n) {
        p->list[pp - 1].address = address;
        p->list[pp - 1].size = size;
    }
}

size_t ms_passports_count(const struct ms_passports *p)
{
    return p->n;
}

const struct ms_passport *ms_passports_get(const struct ms_passports *p, size_t i)
{
    return i < p->n ? &p->list[i] : NULL;
}

uint64_t ms_passports_forgotten(const struct ms_passports *p)
{
    return p->forgotten;
}

size_t ms_passports_group_count(const struct ms_passports *p)
{
    return p->ngroups;
}

const struct ms_passport_group *ms_passports_group(const struct ms_passports *p, size_t i)
{
    return i < p->ngroups ? &p->groups[i] : NULL;
}

void ms_passports_status_totals(const struct ms_passports *p,
                                uint64_t blocks[MS_PASSPORT_STATUS_MAX],
                                uint64_t bytes[MS_PASSPORT_STATUS_MAX])
{
    memset(blocks, 0, MS_PASSPORT_STATUS_MAX * sizeof *blocks);
    memset(bytes, 0, MS_PASSPORT_STATUS_MAX * sizeof *bytes);
    for (size_t i = 0; p && i < p->ngroups; i++) {
        blocks[p->groups[i].status] += p->groups[i].blocks;
        bytes[p->groups[i].status] += p->groups[i].bytes;
    }
}

const struct ms_module_owner *ms_passports_owners(const struct ms_passports *p)
{
    return p->owners;
}
