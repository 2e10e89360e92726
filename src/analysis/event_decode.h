/* The reader's second part: the records of one chunk of a thread's stream decoded into events
 * (struct ms_event), through a bounds-checked cursor. Inline: the merge (stream_merge.c) calls
 * next_event once per event; the records other than allocation events are decoded out of line
 * (event_decode.c). Private to the reader (trace_file.h). */
#ifndef MS_EVENT_DECODE_H
#define MS_EVENT_DECODE_H

#include "trace_file.h"

#include "common/errors.h"
#include "common/record_codec.h"
#include "common/trace_format.h"
#include "common/varint.h"

#include <stdbool.h>
#include <stdint.h>

struct decoder {
    struct ms_cursor c;
    const uint8_t *rec; /* start of the last event record decoded */
    bool timed;         /* whether that record carried its own time */
    uint32_t max_node;  /* no valid node id can exceed this (see ms_trace_max_node) */
    uint32_t tid;
    uint64_t tsc;
    uint64_t task; /* the stream's current task (TASK records) */
    /* The stream's last FREE_CALLER (kept from one chunk to the next), and whether the next
     * free is the one it was written for. */
    uint64_t free_ip;
    uint32_t free_stack;
    /* free_every: that FREE_CALLER holds for every free after it in the chunk; free_pending: no
     * free has come after it yet (then the next chunk's first free is the one it was for) */
    bool free_own, free_every, free_pending;
    struct ms_rec_base base;
    uint32_t node_limit;
    struct ms_stack_table *stacks;
    const ms_trace *modules; /* set: give nodes in reloaded modules their module (hints) */
    /* Nodes in reloaded modules whose time is not known yet: a node record has no time of its
     * own, and the next timed record's (an upper bound) dates it better than the last one's
     * (the writer times the first record after dlopen and dlclose). */
    uint32_t pending[16];
    int npending;
};

/* Dates the pending nodes at tsc and gives them the module loaded then. */
void ms__decode_resolve_pending(struct decoder *d, uint64_t tsc);
/* The records that are not allocation events: stack nodes, thread and process records, and the
 * stream state (CLOCK, TASK, STRING, EXTENDED). Returns 1 with *ev filled, 0 for a record the
 * consumer does not see, MS_ECORRUPT, MS_ENOMEM. Out of line: the hot loop stays small. */
__attribute__((noinline)) int ms__decode_other(struct decoder *d, struct ms_event *ev, uint8_t b,
                                               int kind);

/* Sets what every event has, from its record's kind byte b at d->rec, and clears the fields
 * of other kinds (cheaply: only the fields of its kind are set after this). */
static inline __attribute__((always_inline)) void event_begin(const struct decoder *d,
                                                              struct ms_event *ev, uint8_t b)
{
    ev->ptr = ev->old_ptr = ev->size = ev->align = ev->value = 0;
    ev->stack = 0;
    ev->forced = false;
    ev->name = NULL;
    ev->name_len = 0;
    ev->kind = b & MS_REC_KIND_MASK;
    ev->family = (b >> MS_REC_FAMILY_SHIFT) & MS_REC_FAMILY_MASK;
    ev->tid = d->tid;
    ev->tsc = d->tsc;
    ev->timed = d->timed;
    ev->task = d->task;
}

/* The allocation records' fields, decoded by get (ms_rec_get_* through a cursor, or the
 * unchecked ms_rec_getf_*) into ev, after the statement begin. The writer never records a NULL
 * block, and every stack id names a node the trace can hold: anything else is corruption, not a
 * reason to allocate. Returns whether the fields are sound. */
#define MS__ALLOC_FIELDS(begin, get, ...)                                                          \
    case MS_REC_ALLOC: {                                                                           \
        struct ms_rec_ALLOC r;                                                                     \
        get(ALLOC, __VA_ARGS__, &r);                                                               \
        begin(ALLOC);                                                                              \
        ev->ptr = r.ptr;                                                                           \
        ev->size = r.size;                                                                         \
        ev->stack = (uint32_t)r.stack;                                                             \
        ok = ok && r.ptr && r.stack <= d->max_node;                                                \
        break;                                                                                     \
    }                                                                                              \
    case MS_REC_ALLOC_ALIGNED: {                                                                   \
        struct ms_rec_ALLOC_ALIGNED r;                                                             \
        get(ALLOC_ALIGNED, __VA_ARGS__, &r);                                                       \
        begin(ALLOC_ALIGNED);                                                                      \
        ev->ptr = r.ptr;                                                                           \
        ev->size = r.size;                                                                         \
        ev->stack = (uint32_t)r.stack;                                                             \
        ev->align = r.align;                                                                       \
        ok = ok && r.ptr && r.stack <= d->max_node;                                                \
        break;                                                                                     \
    }                                                                                              \
    case MS_REC_FREE: {                                                                            \
        struct ms_rec_FREE r;                                                                      \
        get(FREE, __VA_ARGS__, &r);                                                                \
        begin(FREE);                                                                               \
        ev->ptr = r.ptr;                                                                           \
        ev->free_ip = d->free_ip;                                                                  \
        ev->free_stack = d->free_stack;                                                            \
        ev->free_own = d->free_own;                                                                \
        d->free_own = d->free_every;                                                               \
        d->free_pending = false;                                                                   \
        ok = ok && r.ptr != 0;                                                                     \
        break;                                                                                     \
    }                                                                                              \
    case MS_REC_REALLOC: {                                                                         \
        struct ms_rec_REALLOC r;                                                                   \
        get(REALLOC, __VA_ARGS__, &r);                                                             \
        begin(REALLOC);                                                                            \
        ev->old_ptr = r.old_ptr;                                                                   \
        ev->ptr = r.ptr;                                                                           \
        ev->size = r.size;                                                                         \
        ev->stack = (uint32_t)r.stack;                                                             \
        ok = ok && r.ptr && r.old_ptr && r.stack <= d->max_node;                                   \
        break;                                                                                     \
    }
#define MS__NO_BEGIN(NAME) (void)0
#define MS__GET_CHECKED(NAME, c, b, r) ms_rec_get_##NAME(c, &d->base, b, r)
#define MS__GET_UNCHECKED(NAME, p, b, r) p = ms_rec_getf_##NAME(p, &d->base, b, r)

/* The allocation event whose record starts at the cursor, which has MS_REC_FAST_LEN bytes
 * left, decoded without a bounds check per field: 1 with *ev filled, 0 if the record is of
 * another kind (nothing read), MS_ECORRUPT. */
static inline __attribute__((always_inline)) int next_alloc_event(struct decoder *d,
                                                                  struct ms_event *ev)
{
    const uint8_t *p = d->c.p;
    uint8_t b = *p++;
    bool ok; /* set by MS__BEGIN: the flags are ones the kind may have */
    bool timed = b & MS_REC_TIMED;
    if (timed && __builtin_expect(d->npending != 0, 0))
        return 0; /* the general path dates the pending nodes */
    uint64_t tsc = d->tsc;
    if (timed)
        tsc += ms_varint_get_unchecked(&p);
        /* Each case reads its fields, then updates d and the event's common fields. */
#define MS__BEGIN(NAME)                                                                            \
    ok = MS_REC_FLAGS_OK(NAME, b);                                                                 \
    d->rec = d->c.p;                                                                               \
    d->timed = timed;                                                                              \
    d->tsc = tsc;                                                                                  \
    event_begin(d, ev, b)
    switch (b & MS_REC_KIND_MASK) {
        MS__ALLOC_FIELDS(MS__BEGIN, MS__GET_UNCHECKED, p, b)
    default:
        return 0;
    }
#undef MS__BEGIN
    d->c.p = p;
    return ok ? 1 : MS_ECORRUPT;
}

/* Decodes records until the next event for the consumer. Returns 1 with *ev filled, 0 at the
 * end of the chunk, MS_ECORRUPT on bad input, MS_ENOMEM. The fields of each kind are the record
 * table's (record_table.h). Inline: called once per event by the merge; the allocation records
 * are decoded here, the rest by decode_other. */
static inline __attribute__((always_inline)) int next_event(struct decoder *d, struct ms_event *ev)
{
    struct ms_cursor *c = &d->c;
    while (c->p < c->end) {
        if (__builtin_expect(c->end - c->p >= MS_REC_FAST_LEN, 1)) {
            int r = next_alloc_event(d, ev);
            if (r)
                return r;
        }
        d->rec = c->p;
        uint8_t b = *c->p++;
        int kind = b & MS_REC_KIND_MASK;
        if (!ms_rec_kind_ok(b))
            return MS_ECORRUPT;
        d->timed = b & MS_REC_TIMED;
        if (d->timed) {
            d->tsc += ms_cursor_u(c);
            if (__builtin_expect(d->npending != 0, 0))
                ms__decode_resolve_pending(d, d->tsc);
        }
        event_begin(d, ev, b);
        bool ok = true;
        switch (kind) {
            MS__ALLOC_FIELDS(MS__NO_BEGIN, MS__GET_CHECKED, c, b)
        default: {
            int r = ms__decode_other(d, ev, b, kind);
            if (r == 0)
                continue;
            if (r < 0)
                return r;
        }
        }
        if (c->bad || !ok)
            return MS_ECORRUPT;
        return 1;
    }
    if (d->npending) /* no later time in this chunk: the last one */
        ms__decode_resolve_pending(d, d->tsc);
    return 0;
}
#undef MS__GET_CHECKED
#undef MS__NO_BEGIN
#undef MS__GET_UNCHECKED
#undef MS__ALLOC_FIELDS

#endif
