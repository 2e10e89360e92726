/* The reader's records other than allocation events, and the decoding of a lone chunk
 * (event_decode.h). */
#include "event_decode.h"

#include "common/errors.h"

/* Dates the pending nodes at tsc and gives them the module loaded then. */
void ms__decode_resolve_pending(struct decoder *d, uint64_t tsc)
{
    for (int i = 0; i < d->npending; i++) {
        struct ms_stack_node n;
        if (ms_stack_table_get(d->stacks, d->pending[i], &n))
            ms_stack_table_set_module(d->stacks, d->pending[i],
                                      (uint32_t)(ms_trace_module_at(d->modules, n.ip, tsc) + 1));
    }
    d->npending = 0;
}

int ms__decode_other(struct decoder *d, struct ms_event *ev, uint8_t b, int kind)
{
    struct ms_cursor *c = &d->c;
    switch (kind) {
    case MS_REC_STACK_NODE: {
        struct ms_rec_STACK_NODE r;
        ms_rec_get_STACK_NODE(c, &d->base, b, &r);
        if (c->bad || r.id > d->max_node || r.parent >= r.id)
            return MS_ECORRUPT;
        if (d->stacks && (!d->node_limit || r.id < d->node_limit)) {
            int at = d->modules ? ms_trace_module_at(d->modules, r.ip, d->tsc) : -1;
            struct ms_stack_node old;
            bool fresh = at >= 0 && !ms_stack_table_get(d->stacks, (uint32_t)r.id, &old);
            int err = ms_stack_table_set(d->stacks, (uint32_t)r.id, (uint32_t)r.parent, r.ip,
                                         (uint32_t)(at + 1));
            if (err)
                return err;
            if (fresh && d->npending < (int)(sizeof d->pending / sizeof *d->pending))
                d->pending[d->npending++] = (uint32_t)r.id;
        }
        return 0;
    }
    case MS_REC_THREAD_START: {
        struct ms_rec_THREAD_START r;
        ms_rec_get_THREAD_START(c, &d->base, b, &r);
        ev->value = r.value;
        ev->name = r.name;
        ev->name_len = r.name_len;
        return 1;
    }
    case MS_REC_THREAD_NAME: {
        struct ms_rec_THREAD_NAME r;
        ms_rec_get_THREAD_NAME(c, &d->base, b, &r);
        ev->name = r.name;
        ev->name_len = r.name_len;
        return 1;
    }
    case MS_REC_THREAD_CREATE:
    case MS_REC_FORK: {
        struct ms_rec_FORK r; /* THREAD_CREATE's fields are FORK's */
        ms_rec_get_FORK(c, &d->base, b, &r);
        ev->value = r.value;
        return 1;
    }
    case MS_REC_THREAD_EXIT:
    case MS_REC_FREERES:
        return 1;
    case MS_REC_CLOCK: {
        struct ms_rec_CLOCK r;
        ms_rec_get_CLOCK(c, &d->base, b, &r);
        d->tsc = r.tsc;
        d->task = 0; /* a chunk names its task again after its CLOCK */
        return c->bad ? MS_ECORRUPT : 0;
    }
    case MS_REC_TASK: {
        struct ms_rec_TASK r;
        ms_rec_get_TASK(c, &d->base, b, &r);
        d->task = ev->task = ev->value = r.task;
        ev->size = r.cpu_ns;
        return c->bad ? MS_ECORRUPT : 1;
    }
    case MS_REC_STRING: {
        struct ms_rec_STRING r;
        ms_rec_get_STRING(c, &d->base, b, &r);
        ev->value = r.id;
        ev->name = r.text;
        ev->name_len = r.text_len;
        return c->bad || !r.id ? MS_ECORRUPT : 1;
    }
    case MS_REC_EXTENDED: {
        /* A sub-kind this table does not have is skipped whole; fields beyond the ones it
         * knows (a newer writer's) too. */
        struct ms_rec_EXTENDED r;
        ms_rec_get_EXTENDED(c, &d->base, b, &r);
        if (c->bad || r.length > (uint64_t)(c->end - c->p))
            return MS_ECORRUPT;
        struct ms_cursor sub = {.p = c->p, .end = c->p + r.length};
        c->p += r.length;
        int n = ms_ext_field_count(r.subkind);
        if (n < 0)
            return 0;
        /* FREE_CALLER's `every` came later: an older writer's record ends before it (read as
         * 0). Every other field must be there. */
        int need = r.subkind == MS_EXT_FREE_CALLER ? 2 : n;
        for (int i = 0; i < n; i++)
            ev->x[i] = i < need || sub.p < sub.end ? ms_cursor_u(&sub) : 0;
        ev->value = r.subkind;
        if (r.subkind == MS_EXT_FREE_CALLER && !sub.bad) {
            /* x: stack, ip, every */
            d->free_stack = ev->x[0] <= d->max_node ? (uint32_t)ev->x[0] : 0;
            d->free_ip = ev->x[1];
            d->free_own = d->free_pending = true;
            d->free_every = ev->x[2] != 0;
        }
        return sub.bad ? MS_ECORRUPT : 1;
    }
    default:
        return MS_ECORRUPT;
    }
}

int ms_trace_decode_events(const uint8_t *raw, size_t len, uint32_t tid,
                           struct ms_stack_table *stacks, ms_event_fn fn, void *ctx)
{
    struct decoder d = {.c = {raw, raw + len, false},
                        .tid = tid,
                        .stacks = stacks,
                        .max_node = (uint32_t)(len / 4 + 1)};
    struct ms_event ev;
    int r;
    while ((r = next_event(&d, &ev)) == 1) {
        if (!fn)
            continue;
        r = fn(ctx, &ev);
        if (r > 0 && r <= MS_REPLAY_WANT_ALLOC_OLD) {
            ev.forced = true; /* one thread: no other stream can resolve it */
            r = fn(ctx, &ev);
        }
        if (r != 0)
            return r;
    }
    return r;
}
