/* The reader's third part (trace_reader.h): the time-ordered merge of the threads' event
 * streams, the repair of the order where the threads' times leave it open, and the replay of a
 * trace while it is written. */
#include "event_decode.h"

#include "common/errors.h"
#include "grow.h"

#include <stdlib.h>
#include <string.h>

/* ---- the merge ---- */

struct stream {
    uint32_t tid;
    size_t *chunks; /* indices into t->chunks, in file order */
    size_t n, cap, next;
    uint8_t *buf; /* the decoded chunk being read (in raw), or NULL */
    struct buffer raw;
    struct decoder d;
    struct ms_event ev; /* the pending event */
    size_t ev_off;      /* its record's offset in buf */
    bool ev_timed;      /* it carries its own time (else its time is a lower bound) */
    bool requeued;      /* it was put back at its upper bound after a conflict */
    bool has_ev;
    bool exited; /* live replay: its thread's exit was delivered */
    uint64_t key;
    /* Offsets (in the current chunk) of events another stream's conflict already delivered. */
    /* A set: offset + 1 in a table at most half full (0: empty), emptied with each chunk. */
    size_t *consumed;
    size_t nconsumed, consumed_mask;
    /* The conflicts' look-ahead (find_match): the events after the pending one in the current
     * chunk, decoded once, ahead[ahead_from .. nahead), and the decoder after the last of them;
     * ahead_chunk: the chunk they are of (next's value then), ahead_end: the chunk has no more. */
    struct ahead *ahead;
    size_t nahead, capahead, ahead_from, ahead_chunk;
    struct decoder ahead_d;
    bool ahead_end;
};

struct ahead {
    size_t off; /* its record's offset in the chunk */
    struct ms_event ev;
};

/* The most decoded chunk bytes the merge holds at once (one chunk per thread). */
#define MS_MERGE_MEMORY (1024u << 20)

struct merge {
    ms_trace *t;
    size_t held;       /* bytes of stream buffers */
    size_t ahead_held; /* bytes of the streams' look-ahead windows */
    struct buffer scratch;
    struct stream *streams;
    size_t nstreams, capstreams;
    size_t *heap;
    size_t nheap, capheap;
    struct ms_stack_table *stacks;
    uint32_t node_limit;
    bool hints; /* nodes get module hints (the trace replayed for itself, not as an ancestor) */
    size_t distributed; /* chunks of t already given to their streams */
    size_t last_stream;
};

static bool before(struct merge *m, size_t a, size_t b)
{
    struct stream *x = &m->streams[a], *y = &m->streams[b];
    return x->key < y->key || (x->key == y->key && a < b);
}

static void heap_push(struct merge *m, size_t s)
{
    size_t i = m->nheap++;
    m->heap[i] = s;
    while (i > 0 && before(m, m->heap[i], m->heap[(i - 1) / 2])) {
        size_t p = (i - 1) / 2, tmp = m->heap[p];
        m->heap[p] = m->heap[i];
        m->heap[i] = tmp;
        i = p;
    }
}

static size_t heap_pop(struct merge *m)
{
    size_t top = m->heap[0];
    m->heap[0] = m->heap[--m->nheap];
    for (size_t i = 0;;) {
        size_t l = 2 * i + 1, r = l + 1, best = i;
        if (l < m->nheap && before(m, m->heap[l], m->heap[best]))
            best = l;
        if (r < m->nheap && before(m, m->heap[r], m->heap[best]))
            best = r;
        if (best == i)
            break;
        size_t tmp = m->heap[best];
        m->heap[best] = m->heap[i];
        m->heap[i] = tmp;
        i = best;
    }
    return top;
}

static inline size_t consumed_home(size_t off, size_t mask)
{
    return (size_t)(((uint64_t)off * 0x9E3779B97F4A7C15ull) >> 32) & mask;
}

static bool is_consumed(const struct stream *s, size_t off)
{
    for (size_t i = consumed_home(off, s->consumed_mask); s->consumed[i];
         i = (i + 1) & s->consumed_mask)
        if (s->consumed[i] == off + 1)
            return true;
    return false;
}

/* Ends stream s's current chunk, on error r from next_event (counted as damage). Then loads its
 * next chunk: returns 1 when s->buf holds one to decode (or one was skipped as damaged: go on),
 * 0 at the stream's end, MS_ENOMEM. */
static __attribute__((noinline)) int stream_next_chunk(struct merge *m, struct stream *s, int r)
{
    if (r == MS_ENOMEM)
        return r;
    if (r < 0 || !s->buf)
        s->d.free_pending = false; /* a chunk lost or cut: its FREE_CALLERs may be missing */
    if (r < 0) {
        const struct chunk_ref *c = &m->t->chunks[s->chunks[s->next - 1]];
        m->t->damage.chunks_bad++;
        ms__trace_note_damage(m->t,
                              c->offset - MS_CHUNK_HEADER_SIZE + (uint64_t)(s->d.c.p - s->buf),
                              "an event record does not decode (thread %u)", s->tid);
    }
    s->buf = NULL;
    if (s->next >= s->n) {
        s->has_ev = false;
        return 0;
    }
    const struct chunk_ref *c = &m->t->chunks[s->chunks[s->next++]];
    if (s->nconsumed) {
        memset(s->consumed, 0, (s->consumed_mask + 1) * sizeof *s->consumed);
        s->nconsumed = 0;
    }
    s->nahead = s->ahead_from = 0; /* the look-ahead was of the chunk before */
    /* Every thread's current chunk is held at once: a damaged trace claiming many huge chunks
     * must not make that unbounded. */
    if (c->raw > s->raw.cap && m->held + c->raw - s->raw.cap > MS_MERGE_MEMORY) {
        m->t->damage.chunks_bad++;
        ms__trace_note_damage(m->t, c->offset - MS_CHUNK_HEADER_SIZE,
                              "chunks held at once would exceed %u MiB", MS_MERGE_MEMORY >> 20);
        return 1;
    }
    size_t had = s->raw.cap;
    bool bad_sum;
    int err = ms__trace_load_chunk_into(m->t, c, &s->raw, &m->scratch, &bad_sum);
    m->held += s->raw.cap - had;
    if (err == MS_ENOMEM)
        return err;
    if (err) {
        m->t->damage.chunks_bad++;
        ms__trace_note_damage(m->t, c->offset - MS_CHUNK_HEADER_SIZE, "%s",
                              bad_sum ? ms__bad_sum_what : "a chunk does not decompress");
        return 1;
    }
    s->buf = s->raw.data;
    uint64_t tsc = s->d.tsc;
    s->d = (struct decoder){.c = {s->buf, s->buf + c->raw, false},
                            .max_node = m->t->max_node,
                            .tid = c->tid,
                            .tsc = tsc,
                            .free_ip = s->d.free_ip,
                            .free_stack = s->d.free_stack,
                            /* The writer restates a FREE_CALLER in each chunk: one carries
                             * over only when its free is in this chunk (it ended the last). */
                            .free_own = s->d.free_pending,
                            .free_every = s->d.free_pending && s->d.free_every,
                            .free_pending = s->d.free_pending,
                            .stacks = m->stacks,
                            .node_limit = m->node_limit,
                            .modules = m->hints && m->t->module_overlaps ? m->t : NULL};
    return 1;
}

/* Advances stream s to its next event, loading chunks as needed. Returns 1 if it has one, 0 at
 * its end, MS_ENOMEM. Undecodable chunks are skipped and counted. Inline: once per event. */
static inline __attribute__((always_inline)) int stream_advance(struct merge *m, struct stream *s)
{
    for (;;) {
        int r = 0;
        if (s->buf) {
            r = next_event(&s->d, &s->ev);
            if (r == 1) {
                s->ev_off = (size_t)(s->d.rec - s->buf);
                if (s->nconsumed && is_consumed(s, s->ev_off))
                    continue;
                s->ev_timed = s->d.timed;
                s->requeued = false;
                s->has_ev = true;
                s->key = s->ev.tsc;
                return 1;
            }
        }
        if ((r = stream_next_chunk(m, s, r)) <= 0)
            return r;
    }
}

/* Reads the rest of a stream for its stack nodes only. */
static int stream_drain_nodes(struct merge *m, struct stream *s)
{
    int r;
    while ((r = stream_advance(m, s)) == 1)
        ;
    return r;
}

/* ---- conflicts between streams ----
 * In a multi-threaded process only every 16th record of a thread carries a time, so events of
 * different threads close in time may merge in the wrong order. The model notices when that
 * matters (an address allocated while still live, a free of an address not live) and asks for
 * the missing event; it is then looked for among the next events of the other threads and
 * delivered first. Events of one address therefore always replay in the true order. */

#define LOOKAHEAD 4096

/* The look-ahead windows hold at most this much at once; a stream whose window would exceed it
 * decodes its look-ahead anew at each search instead, as before windows. */
#define MS_AHEAD_MEMORY (64u << 20)

/* Whether event e (at offset off of stream t's chunk) settles the search for addr: 1 when it is
 * the wanted free (want_free) or allocation of addr, -1 when it touches addr otherwise (the
 * search fails), 0 when it does not touch addr or was delivered already (the search goes on). */
static int match_of(const struct stream *t, const struct ms_event *e, size_t off, uint64_t addr,
                    bool want_free)
{
    if (t->nconsumed && is_consumed(t, off))
        return 0;
    bool is_alloc = e->kind == MS_REC_ALLOC || e->kind == MS_REC_ALLOC_ALIGNED;
    if ((is_alloc || e->kind == MS_REC_FREE || e->kind == MS_REC_REALLOC) && e->ptr == addr)
        return e->kind == MS_REC_REALLOC || is_alloc == want_free ? -1 : 1;
    if (e->kind == MS_REC_REALLOC && e->old_ptr == addr)
        return -1;
    return 0;
}

/* Brings stream t's look-ahead window to the LOOKAHEAD - 1 events after its pending one (or the
 * chunk's end). False when the window cannot grow (out of its memory): the caller decodes. */
static bool ahead_ready(struct merge *m, struct stream *t)
{
    if (t->ahead_chunk != t->next || t->ahead_from == t->nahead) {
        /* Of another chunk, or all passed: anew from the pending event. */
        t->nahead = t->ahead_from = 0;
        t->ahead_chunk = t->next;
        t->ahead_d = t->d;
        t->ahead_end = false;
    }
    while (t->ahead_from < t->nahead && t->ahead[t->ahead_from].off <= t->ev_off)
        t->ahead_from++; /* the stream has passed them */
    if (t->ahead_from == t->nahead) {
        t->nahead = t->ahead_from = 0;
        t->ahead_d = t->d;
        t->ahead_end = false;
    } else if (t->ahead_from > LOOKAHEAD) {
        t->nahead -= t->ahead_from;
        memmove(t->ahead, t->ahead + t->ahead_from, t->nahead * sizeof *t->ahead);
        t->ahead_from = 0;
    }
    t->ahead_d.max_node = t->d.max_node; /* a growing trace's limit grows (distribute) */
    while (!t->ahead_end && t->nahead - t->ahead_from < LOOKAHEAD - 1) {
        if (t->nahead == t->capahead) {
            size_t cap = t->capahead ? t->capahead * 2 : 256;
            if (m->ahead_held + (cap - t->capahead) * sizeof *t->ahead > MS_AHEAD_MEMORY)
                return false;
            struct ahead *grown = realloc(t->ahead, cap * sizeof *grown);
            if (!grown)
                return false;
            m->ahead_held += (cap - t->capahead) * sizeof *grown;
            t->ahead = grown;
            t->capahead = cap;
        }
        struct ahead *e = &t->ahead[t->nahead];
        if (next_event(&t->ahead_d, &e->ev) != 1) {
            t->ahead_end = true;
            break;
        }
        e->off = (size_t)(t->ahead_d.rec - t->buf);
        t->nahead++;
    }
    return true;
}

/* Looks in stream t (its pending event, then the rest of its current chunk, LOOKAHEAD events in
 * all) for the first event touching addr; true, with the event and its offset, if that event is
 * the wanted free (or, with want_free false, allocation) of addr. The events after the pending
 * one are decoded once into the stream's window, not at every search. */
static bool find_match(struct merge *m, struct stream *t, uint64_t addr, bool want_free,
                       struct ms_event *out, size_t *off)
{
    if (!t->has_ev || !t->buf)
        return false;
    int r = match_of(t, &t->ev, t->ev_off, addr, want_free);
    if (r) {
        *out = t->ev;
        *off = t->ev_off;
        return r > 0;
    }
    if (ahead_ready(m, t)) {
        size_t end =
            t->ahead_from + LOOKAHEAD - 1 < t->nahead ? t->ahead_from + LOOKAHEAD - 1 : t->nahead;
        for (size_t i = t->ahead_from; i < end; i++)
            if ((r = match_of(t, &t->ahead[i].ev, t->ahead[i].off, addr, want_free)) != 0) {
                *out = t->ahead[i].ev;
                *off = t->ahead[i].off;
                return r > 0;
            }
        return false;
    }
    struct decoder d = t->d; /* no room for a window: decoded anew */
    for (int i = 1; i < LOOKAHEAD; i++) {
        struct ms_event e;
        if (next_event(&d, &e) != 1)
            return false;
        size_t eoff = (size_t)(d.rec - t->buf);
        if ((r = match_of(t, &e, eoff, addr, want_free)) != 0) {
            *out = e;
            *off = eoff;
            return r > 0;
        }
    }
    return false;
}

static int mark_consumed(struct stream *t, size_t off)
{
    size_t slots = t->consumed ? t->consumed_mask + 1 : 0;
    if ((t->nconsumed + 1) * 2 > slots) {
        size_t n = slots ? slots * 2 : 16;
        size_t *fresh = calloc(n, sizeof *fresh);
        if (!fresh)
            return MS_ENOMEM;
        for (size_t i = 0; i < slots; i++)
            if (t->consumed[i]) {
                size_t j = consumed_home(t->consumed[i] - 1, n - 1);
                while (fresh[j])
                    j = (j + 1) & (n - 1);
                fresh[j] = t->consumed[i];
            }
        free(t->consumed);
        t->consumed = fresh;
        t->consumed_mask = n - 1;
    }
    size_t i = consumed_home(off, t->consumed_mask);
    while (t->consumed[i] && t->consumed[i] != off + 1)
        i = (i + 1) & t->consumed_mask;
    if (!t->consumed[i]) {
        t->consumed[i] = off + 1;
        t->nconsumed++;
    }
    return 0;
}

/* The latest time stream s's pending event can have happened: the time of the stream's next
 * timed record, else the start of its next chunk, else the end of time. */
static uint64_t upper_bound(struct merge *m, struct stream *s)
{
    if (s->ev_timed)
        return s->ev.tsc;
    struct decoder d = s->d;
    struct ms_event e;
    while (next_event(&d, &e) == 1)
        if (d.timed)
            return e.tsc;
    if (s->next < s->n)
        return m->t->chunks[s->chunks[s->next]].t0;
    return UINT64_MAX;
}

#define MS_REQUEUED 1

/* Resolves the conflict r that the consumer reported for stream si's pending event (see
 * deliver). */
static __attribute__((noinline)) int resolve(struct merge *m, size_t si, ms_event_fn fn, void *ctx,
                                             bool may_requeue, int r)
{
    struct ms_event ev = m->streams[si].ev;
    for (int tries = 0;; tries++) {
        if (tries > 0)
            r = fn(ctx, &ev);
        if (r <= 0 || r > MS_REPLAY_WANT_ALLOC_OLD)
            return r;
        if (ev.forced)
            return MS_EINVAL;
        uint64_t addr = r == MS_REPLAY_WANT_ALLOC_OLD ? ev.old_ptr : ev.ptr;
        bool want_free = r == MS_REPLAY_WANT_FREE;
        bool found = false;
        for (size_t ti = 0; ti < m->nstreams && tries < 8 && !found; ti++) {
            struct ms_event match;
            size_t off;
            if (ti == si || !find_match(m, &m->streams[ti], addr, want_free, &match, &off))
                continue;
            int r2 = fn(ctx, &match);
            if (r2 < 0)
                return r2;
            if (r2 == 0) {
                if ((r2 = mark_consumed(&m->streams[ti], off)) != 0)
                    return r2;
                found = true;
            }
        }
        if (!found) {
            struct stream *s = &m->streams[si];
            if (may_requeue && !s->requeued) {
                uint64_t ub = upper_bound(m, s);
                if (ub > s->key) {
                    s->key = ub;
                    s->requeued = true;
                    return MS_REQUEUED;
                }
            }
            ev.forced = true; /* nothing can resolve it: the consumer applies its fallback */
        }
    }
}

/* Delivers stream si's pending event, resolving the conflicts the consumer reports. Returns
 * MS_REQUEUED when the event, whose time is only a lower bound, was instead put back at its
 * upper bound so that the other threads' events before it come first. */
static inline __attribute__((always_inline)) int deliver(struct merge *m, size_t si, ms_event_fn fn,
                                                         void *ctx, bool may_requeue)
{
    int r = fn(ctx, &m->streams[si].ev);
    if (__builtin_expect(r <= 0 || r > MS_REPLAY_WANT_ALLOC_OLD, 1))
        return r;
    return resolve(m, si, fn, ctx, may_requeue, r);
}

static int find_stream(struct merge *m, uint32_t tid, size_t *out)
{
    for (size_t i = m->nstreams; i-- > 0;)
        if (m->streams[i].tid == tid) {
            *out = i;
            return 0;
        }
    int err = ms_grow(&m->streams, &m->capstreams, m->nstreams + 1, sizeof *m->streams, 8);
    if (err)
        return err;
    m->streams[m->nstreams] = (struct stream){.tid = tid};
    *out = m->nstreams++;
    return ms_grow(&m->heap, &m->capheap, m->nstreams, sizeof *m->heap, 8);
}

static void merge_free(struct merge *m)
{
    for (size_t i = 0; i < m->nstreams; i++) {
        free(m->streams[i].chunks);
        free(m->streams[i].raw.data);
        free(m->streams[i].consumed);
        free(m->streams[i].ahead);
    }
    free(m->scratch.data);
    free(m->streams);
    free(m->heap);
}

static bool at_cut(const struct ms_replay_cut *cut, const struct ms_event *ev)
{
    if (!cut)
        return false;
    if (ev->kind == MS_REC_FORK && ev->value == cut->child_pid)
        return true;
    return ev->tsc >= cut->tsc;
}

/* Gives the chunks indexed since the last call to their threads' streams. A new stream is
 * numbered in the order of its first chunk in the file, as in a replay of the whole trace. */
static int distribute(struct merge *m)
{
    ms_trace *t = m->t;
    /* A growing trace's limit on node ids grows with it: the chunks being decoded get the new
     * one, as a replay of the whole trace would have used the final one from the start. */
    for (size_t i = 0; i < m->nstreams; i++)
        m->streams[i].d.max_node = t->max_node;
    for (; m->distributed < t->nchunks; m->distributed++) {
        const struct chunk_ref *c = &t->chunks[m->distributed];
        size_t si;
        int rc;
        if (m->last_stream < m->nstreams && m->streams[m->last_stream].tid == c->tid)
            si = m->last_stream;
        else if ((rc = find_stream(m, c->tid, &si)) != 0)
            return rc;
        m->last_stream = si;
        struct stream *s = &m->streams[si];
        /* after the report's window (ms_trace_read_until): each thread's first such chunk is
         * still read, so that the window's end is seen */
        if (c->t0 > t->read_until && s->n && t->chunks[s->chunks[s->n - 1]].t0 > t->read_until)
            continue;
        if ((rc = ms_grow(&s->chunks, &s->cap, s->n + 1, sizeof *s->chunks, 8)) != 0)
            return rc;
        s->chunks[s->n++] = m->distributed;
    }
    return 0;
}

/* What a live replay has delivered: the time order of its last event. */
struct delivered {
    bool any;
    uint64_t key;
    size_t stream;
};

/* Brings every stream without a pending event to its next one, if its chunks now have one, and
 * puts it in the heap. With done given, reports in *late whether such an event comes before
 * what was already delivered (a replay of the whole trace would have delivered it earlier). */
static int advance_idle(struct merge *m, const struct delivered *done, bool *late)
{
    for (size_t i = 0; i < m->nstreams; i++) {
        struct stream *s = &m->streams[i];
        if (s->has_ev || s->next >= s->n)
            continue;
        int r = stream_advance(m, s);
        if (r < 0)
            return r;
        if (r != 1)
            continue;
        s->exited = false;
        if (done && done->any && (s->key < done->key || (s->key == done->key && i < done->stream)))
            *late = true;
        heap_push(m, i);
    }
    return 0;
}

/* The time-ordered merge of every stream from where it stands (all pending events in the heap)
 * to the end of the trace. */
static int merge_run(struct merge *m, const struct ms_replay_cut *cut, ms_event_fn fn, void *ctx)
{
    int rc = 0;
    /* si: the stream being read, out of the heap while it stays first in time order (most of
     * a thread's consecutive events share one time), so that the heap is touched only when
     * another stream becomes first. */
    size_t si = SIZE_MAX;
    while (si != SIZE_MAX || m->nheap > 0) {
        if (si != SIZE_MAX && m->nheap == 0) {
            heap_push(m, si);
            si = SIZE_MAX;
        }
        if (si == SIZE_MAX && m->nheap == 1 && !cut) {
            /* One thread left: no merging needed, stream its events straight through. */
            struct stream *s = &m->streams[m->heap[0]];
            int r = 1;
            while (r == 1) {
                bool early = s->nconsumed && is_consumed(s, s->ev_off);
                if (!early && fn && (rc = deliver(m, m->heap[0], fn, ctx, false)) != 0)
                    return rc;
                r = stream_advance(m, s);
            }
            return r < 0 ? r : 0;
        }
        if (si == SIZE_MAX)
            si = heap_pop(m);
        struct stream *s = &m->streams[si];
        if (at_cut(cut, &s->ev)) {
            if ((rc = stream_drain_nodes(m, s)) < 0)
                return rc;
            si = SIZE_MAX;
            continue;
        }
        /* The pending event may have been delivered early for another stream's conflict. */
        bool early = s->nconsumed && is_consumed(s, s->ev_off);
        if (!early && fn && (rc = deliver(m, si, fn, ctx, true)) != 0) {
            if (rc != MS_REQUEUED)
                return rc;
            rc = 0;
            heap_push(m, si);
            si = SIZE_MAX;
            continue;
        }
        int r = stream_advance(m, s);
        if (r < 0)
            return r;
        /* Stay with this stream while it is still first: exactly the order a push and a pop of
         * the heap would give. */
        if (r != 1) {
            si = SIZE_MAX;
        } else if (m->nheap > 0 && !before(m, si, m->heap[0])) {
            heap_push(m, si);
            si = SIZE_MAX;
        }
    }
    return 0;
}

int ms_trace_replay(ms_trace *t, const struct ms_replay_cut *cut, uint32_t node_limit,
                    struct ms_stack_table *stacks, ms_event_fn fn, void *ctx)
{
    struct merge m = {
        .t = t, .stacks = stacks, .node_limit = node_limit, .hints = !cut, .last_stream = SIZE_MAX};
    int rc = ms__trace_find_overlaps(t);
    if (!rc)
        rc = distribute(&m);
    if (!rc)
        rc = advance_idle(&m, NULL, NULL);
    if (!rc)
        rc = merge_run(&m, cut, fn, ctx);
    merge_free(&m);
    return rc;
}

/* ---- replaying a trace as it is written ---- */

struct ms_live_replay {
    struct merge m;
    ms_event_fn fn;
    void *ctx;
    struct delivered done;
    /* Thread handles whose THREAD_START was delivered and not yet matched by the creator's
     * THREAD_CREATE, with how many times. */
    struct started {
        uint64_t pthread;
        int64_t count; /* below 0: created, start still to come */
    } * started;
    size_t nstarted, capstarted;
    bool stopped; /* at a conflict: the rest waits for the whole trace */
    bool late;    /* a thread's events came after later ones were delivered */
    int error;
};

int ms_live_replay_new(ms_trace *t, struct ms_stack_table *stacks, ms_event_fn fn, void *ctx,
                       struct ms_live_replay **out)
{
    struct ms_live_replay *r = calloc(1, sizeof *r);
    if (!r)
        return MS_ENOMEM;
    r->m = (struct merge){.t = t, .stacks = stacks, .hints = true, .last_stream = SIZE_MAX};
    if (ms__trace_find_overlaps(t) == MS_ENOMEM) {
        free(r);
        return MS_ENOMEM;
    }
    r->fn = fn;
    r->ctx = ctx;
    *out = r;
    return 0;
}

/* Whether a stream without a pending event holds the live replay back: a running thread's
 * next chunk can hold events before every other pending one. The orphan buffer (thread 0,
 * shared by events recorded outside any thread's own buffer) is written only now and then, so
 * waiting for it would wait for the end; its events are checked when they come instead. */
static bool holds_back(const struct stream *s)
{
    return !s->has_ev && !s->exited && s->tid != 0;
}

/* Whether ev may be delivered now as far as new threads go: a thread's events can precede its
 * creator's record of pthread_create, so that record waits until the new thread's stream is
 * known (its THREAD_START delivered or pending; the stream then holds the replay back when it
 * runs dry). */
static int thread_order(struct ms_live_replay *r, const struct ms_event *ev, bool *ok)
{
    *ok = true;
    if (ev->kind != MS_REC_THREAD_START && ev->kind != MS_REC_THREAD_CREATE)
        return 0;
    size_t i = 0;
    while (i < r->nstarted && r->started[i].pthread != ev->value)
        i++;
    if (i == r->nstarted) {
        int err = ms_grow(&r->started, &r->capstarted, i + 1, sizeof *r->started, 16);
        if (err)
            return err;
        r->started[r->nstarted++] = (struct started){ev->value, 0};
    }
    if (ev->kind == MS_REC_THREAD_CREATE && r->started[i].count <= 0) {
        *ok = false;
        for (size_t k = 0; k < r->m.nstreams && !*ok; k++) {
            const struct stream *s = &r->m.streams[k];
            *ok = s->has_ev && s->ev.kind == MS_REC_THREAD_START && s->ev.value == ev->value;
        }
    }
    return 0;
}

/* Counts a delivered THREAD_START or THREAD_CREATE (thread_order found its handle's entry). */
static void thread_order_done(struct ms_live_replay *r, const struct ms_event *ev)
{
    for (size_t i = 0; i < r->nstarted; i++)
        if (r->started[i].pthread == ev->value) {
            if (ev->kind == MS_REC_THREAD_START)
                r->started[i].count++;
            else if (ev->kind == MS_REC_THREAD_CREATE)
                r->started[i].count--;
            return;
        }
}

/* Delivers, in time order, the events that no chunk still to be written can precede: while
 * every running thread has a pending event and every thread created has started. Stops for
 * good at the first event the callback finds in conflict: resolving it may need events not
 * written yet. */
int ms_live_replay_step(struct ms_live_replay *r)
{
    struct merge *m = &r->m;
    if (r->error || r->stopped || r->late)
        return r->error;
    /* A chunk that fails to load or decode while the trace grows may be fine in the finished
     * trace (a stack node id beyond what the bytes so far allow, whose node another thread has
     * not written yet): the live replay then cannot be what the whole replay does. */
    uint64_t bad = m->t->damage.chunks_bad;
    int rc = distribute(m);
    if (!rc)
        rc = advance_idle(m, &r->done, &r->late);
    /* The main thread starts the others, so its events come first: nothing is delivered
     * before its first chunk is there (a main thread that only waits for its workers writes
     * that chunk at the end). Only a stream that runs dry changes what holds the replay back
     * within a step, so the rest is looked at once per step. */
    bool main_known = false, wait = false;
    for (size_t i = 0; i < m->nstreams; i++) {
        main_known |= m->streams[i].tid == ms_trace_process(m->t)->pid;
        wait |= holds_back(&m->streams[i]);
    }
    r->late |= m->t->damage.chunks_bad != bad;
    /* si: the stream being delivered, kept out of the heap while it stays first in time order
     * (as in merge_run), and put back when another stream comes first or the loop ends. */
    size_t si = SIZE_MAX;
    while (!rc && !r->late && main_known && !wait && (si != SIZE_MAX || m->nheap > 0)) {
        if (si == SIZE_MAX)
            si = heap_pop(m);
        struct stream *s = &m->streams[si];
        bool thread_kind = s->ev.kind == MS_REC_THREAD_START || s->ev.kind == MS_REC_THREAD_CREATE;
        bool ok = true;
        if (thread_kind && ((rc = thread_order(r, &s->ev, &ok)) != 0 || !ok))
            break;
        int v = r->fn(r->ctx, &s->ev);
        if (v > 0 && v <= MS_REPLAY_WANT_ALLOC_OLD) {
            r->stopped = true; /* nothing changed: the final replay delivers it */
            break;
        }
        if (v != 0) {
            rc = v < 0 ? v : MS_EINVAL;
            break;
        }
        /* The latest in time order delivered (a thread's clock may step back). */
        if (!r->done.any || s->key > r->done.key || (s->key == r->done.key && si > r->done.stream))
            r->done = (struct delivered){true, s->key, si};
        if (thread_kind)
            thread_order_done(r, &s->ev);
        bool exit = s->ev.kind == MS_REC_THREAD_EXIT;
        int a = stream_advance(m, s);
        if (a < 0) {
            rc = a;
            si = SIZE_MAX;
        } else if (a == 0) {
            s->exited = exit;
            wait = holds_back(s);
            si = SIZE_MAX;
        } else if (m->nheap > 0 && !before(m, si, m->heap[0])) {
            heap_push(m, si);
            si = SIZE_MAX;
        }
        r->late |= m->t->damage.chunks_bad != bad;
    }
    if (si != SIZE_MAX)
        heap_push(m, si);
    r->error = rc;
    return rc;
}

int ms_live_replay_finish(struct ms_live_replay *r)
{
    struct merge *m = &r->m;
    if (r->error)
        return r->error;
    int rc = r->late ? 0 : distribute(m);
    if (!rc && !r->late)
        rc = advance_idle(m, &r->done, &r->late);
    if (!rc && r->late)
        rc = MS_REPLAY_RESTART;
    if (!rc)
        rc = merge_run(m, NULL, r->fn, r->ctx);
    r->error = rc ? rc : MS_EINVAL; /* finished: no more steps */
    return rc;
}

void ms_live_replay_free(struct ms_live_replay *r)
{
    if (!r)
        return;
    merge_free(&r->m);
    free(r->started);
    free(r);
}
