/* Tests for the analyses' seam (analysis_pass.h): on random three-thread traces whose merge needs
 * the reader's order repair, every block the heap model replays ends exactly once for an analysis
 * (on_free or at_end) with the facts its on_alloc had, and no callback fires for an event that is
 * then retried; a pass without on_alloc sees the same ends; an analysis's error stops the replay;
 * a totals-only model takes no analysis; on_event sees every event but the heap's. */
#include "analysis/analysis_pass.h"
#include "analysis/heap_model.h"
#include "analysis/pass_queue.h"
#include "analysis/trace_reader.h"
#include "common/errors.h"
#include "ms_test.h"
#include "trace_builder.h"

#include <stdarg.h>
#include <stdbool.h>
#include <unistd.h>

static char path[256];

/* The event the model is applying (the watch reads it: its model reads every batch inline). */
static const struct ms_event *applying;

/* The random traces: how many, and their shape (see random_trace). */
enum { TRACES = 150, OPS = 300, ADDRESSES = 24, THREADS = 3 };
#define MAX_BLOCKS 512 /* allocations in one trace: at most one per operation */

/* ---- an analysis that checks what the model tells it against what it told it before ---- */

enum { END_LIVE, END_FREED, END_AT_END };

/* How many times each callback was called. */
struct counts {
    uint64_t allocs, frees[3], events, at_ends, finishes; /* frees by enum ms_pass_end */
};

struct watch {
    const struct ms_heap_model *model;
    struct counts n;
    /* Every block on_alloc gave, by its allocation number; the live ones' numbers. */
    struct {
        struct ms_pass_block b;
        int end;              /* END_* */
        enum ms_pass_end why; /* END_FREED: why */
        uint64_t end_seq;     /* END_FREED: the on_free's seq */
    } blocks[MAX_BLOCKS];
    uint64_t live[MAX_BLOCKS];
    size_t nlive;
    char problem[256]; /* the first inconsistency met; "" while none */
};

static void note(struct watch *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void note(struct watch *w, const char *fmt, ...)
{
    if (w->problem[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->problem, sizeof w->problem, fmt, ap);
    va_end(ap);
}

/* The index in live of the block the watch has live at ptr, or -1. */
static int live_at(const struct watch *w, uint64_t ptr)
{
    for (size_t i = 0; i < w->nlive; i++)
        if (w->blocks[w->live[i]].b.ptr == ptr)
            return (int)i;
    return -1;
}

static bool same_block(const struct ms_pass_block *x, const struct ms_pass_block *y)
{
    return x->ptr == y->ptr && x->size == y->size && x->alloc_tsc == y->alloc_tsc &&
           x->alloc_seq == y->alloc_seq && x->task == y->task && x->site == y->site &&
           x->thread == y->thread && x->family == y->family && x->weight == y->weight;
}

/* The live block b ends: it must be the one on_alloc gave under its allocation number. */
static bool end_block(struct watch *w, const struct ms_pass_block *b, const char *how)
{
    int i = live_at(w, b->ptr);
    if (i < 0 || w->live[i] != b->alloc_seq || !same_block(&w->blocks[b->alloc_seq].b, b)) {
        note(w, "%s of block %#" PRIx64 " (allocation %" PRIu64 "), not live as such", how, b->ptr,
             b->alloc_seq);
        return false;
    }
    w->live[i] = w->live[--w->nlive];
    return true;
}

static void *watch_create(const struct ms_pass_env *env)
{
    struct watch *w = calloc(1, sizeof *w);
    if (w)
        w->model = env->model;
    return w;
}

static int watch_alloc(void *state, const struct ms_pass_alloc *a)
{
    struct watch *w = state;
    const struct ms_pass_block *b = &a->block;
    const struct ms_event *ev = applying;
    uint64_t seq = w->n.allocs++;
    if (ev->kind != MS_REC_ALLOC && ev->kind != MS_REC_ALLOC_ALIGNED &&
        ev->kind != MS_REC_REALLOC) {
        note(w, "on_alloc for an event of kind %d", ev->kind);
        return 0;
    }
    const struct ms_thread_stats *t = ms_heap_model_thread(w->model, b->thread);
    const struct ms_site *s = ms_heap_model_site(w->model, b->site);
    if (b->alloc_seq != seq || seq >= MAX_BLOCKS || b->ptr != ev->ptr || b->size != ev->size ||
        b->alloc_tsc != ev->tsc || b->task != ev->task || b->family != (uint32_t)ev->family ||
        b->weight != 1 || !t || t->tid != ev->tid || !s || s->stack != ev->stack ||
        a->kind != ev->kind || a->tid != ev->tid) {
        note(w,
             "on_alloc of %#" PRIx64 " (allocation %" PRIu64 " of %" PRIu64 ") does not say "
             "what its event of thread %u did",
             b->ptr, b->alloc_seq, seq, ev->tid);
        return 0;
    }
    if (live_at(w, b->ptr) >= 0) {
        note(w, "on_alloc of %#" PRIx64 ", which is still live", b->ptr);
        return 0;
    }
    w->blocks[seq].b = *b;
    w->blocks[seq].end = END_LIVE;
    w->live[w->nlive++] = seq;
    return 0;
}

static int watch_free(void *state, const struct ms_pass_free *f)
{
    struct watch *w = state;
    const struct ms_event *ev = applying;
    if ((unsigned)f->why > MS_PASS_LOST) {
        note(w, "on_free with why %d", (int)f->why);
        return 0;
    }
    w->n.frees[f->why]++;
    if (!end_block(w, &f->block, "on_free"))
        return 0;
    /* The event that ended it names it: as the freed pointer, the realloc's old one, or the
     * allocation returned over it. */
    bool named = f->why == MS_PASS_FREED ? ev->kind == MS_REC_FREE && ev->ptr == f->block.ptr
                 : f->why == MS_PASS_REALLOCED
                     ? ev->kind == MS_REC_REALLOC && ev->old_ptr == f->block.ptr
                     : ev->kind != MS_REC_FREE && ev->ptr == f->block.ptr && ev->forced;
    const struct ms_thread_stats *t = ms_heap_model_thread(w->model, f->thread);
    if (!named || !t || t->tid != ev->tid || f->seq != w->n.allocs || f->tid != ev->tid ||
        f->tsc != ev->tsc) {
        note(w,
             "on_free of %#" PRIx64 " (why %d) by an event of kind %d of thread %u, seq %" PRIu64
             " after %" PRIu64 " allocations",
             f->block.ptr, (int)f->why, ev->kind, ev->tid, f->seq, w->n.allocs);
        return 0;
    }
    w->blocks[f->block.alloc_seq].end = END_FREED;
    w->blocks[f->block.alloc_seq].why = f->why;
    w->blocks[f->block.alloc_seq].end_seq = f->seq;
    return 0;
}

static int watch_event(void *state, const struct ms_event *ev)
{
    struct watch *w = state;
    w->n.events++;
    if (ev->kind == MS_REC_ALLOC || ev->kind == MS_REC_ALLOC_ALIGNED || ev->kind == MS_REC_FREE ||
        ev->kind == MS_REC_REALLOC)
        note(w, "on_event for a heap event (kind %d)", ev->kind);
    return 0;
}

static int watch_at_end(void *state, const struct ms_pass_block *b)
{
    struct watch *w = state;
    w->n.at_ends++;
    if (w->n.finishes)
        note(w, "at_end after finish");
    if (end_block(w, b, "at_end"))
        w->blocks[b->alloc_seq].end = END_AT_END;
    return 0;
}

static int watch_finish(void *state, const struct ms_heap_model *m)
{
    struct watch *w = state;
    w->n.finishes++;
    if (w->nlive)
        note(w, "%zu blocks live for the analysis never ended", w->nlive);
    if (w->n.at_ends != ms_heap_model_summary(m)->live_blocks)
        note(w, "%" PRIu64 " blocks at_end, the model has %" PRIu64 " live", w->n.at_ends,
             ms_heap_model_summary(m)->live_blocks);
    return 0;
}

static const struct ms_analysis_pass watch_pass = {.name = "watch",
                                                   .create = watch_create,
                                                   .on_alloc = watch_alloc,
                                                   .on_free = watch_free,
                                                   .on_event = watch_event,
                                                   .at_end = watch_at_end,
                                                   .finish = watch_finish,
                                                   .destroy = free};

/* ---- the replay, event by event ---- */

struct replay {
    struct ms_heap_model *model;
    struct watch *w; /* NULL: the events are not checked */
    uint64_t retried, forced;
    bool ready; /* replay_with's setup succeeded */
};

static bool counts_equal(const struct counts *x, const struct counts *y)
{
    return x->allocs == y->allocs && x->frees[0] == y->frees[0] && x->frees[1] == y->frees[1] &&
           x->frees[2] == y->frees[2] && x->events == y->events && x->at_ends == y->at_ends &&
           x->finishes == y->finishes;
}

/* The model's callback, checking that the event called the analysis as the blocks live before it
 * say it must: nothing for an event the model asks to retry; an on_alloc for an allocation, an
 * on_free for each live block it ends (and none for a free of no live block), on_event once for
 * every other event. */
static int apply(void *ctx, const struct ms_event *ev)
{
    struct replay *r = ctx;
    struct watch *w = r->w;
    if (!w)
        return ms_heap_model_apply(r->model, ev);
    bool at_ptr = live_at(w, ev->ptr) >= 0;
    bool at_old = ev->kind == MS_REC_REALLOC && live_at(w, ev->old_ptr) >= 0;
    struct counts want = w->n;
    applying = ev;
    int rc = ms_heap_model_apply(r->model, ev);
    if (rc < 0)
        return rc;
    if (rc > 0) {
        r->retried++;
    } else {
        r->forced += ev->forced;
        switch (ev->kind) {
        case MS_REC_ALLOC:
        case MS_REC_ALLOC_ALIGNED:
            want.allocs++;
            want.frees[MS_PASS_LOST] += at_ptr;
            break;
        case MS_REC_FREE:
            want.frees[MS_PASS_FREED] += at_ptr;
            break;
        case MS_REC_REALLOC:
            want.allocs++;
            want.frees[MS_PASS_REALLOCED] += at_old;
            want.frees[MS_PASS_LOST] += at_ptr && ev->ptr != ev->old_ptr;
            break;
        default:
            want.events++;
        }
    }
    if (!counts_equal(&want, &w->n))
        note(w,
             "event of kind %d, thread %u, ptr %#" PRIx64 " (model's answer %d): on_alloc %" PRIu64
             ", on_free %" PRIu64 "/%" PRIu64 "/%" PRIu64 ", on_event %" PRIu64
             "; expected %" PRIu64 ", %" PRIu64 "/%" PRIu64 "/%" PRIu64 ", %" PRIu64,
             ev->kind, ev->tid, ev->ptr, rc, w->n.allocs, w->n.frees[0], w->n.frees[1],
             w->n.frees[2], w->n.events, want.allocs, want.frees[0], want.frees[1], want.frees[2],
             want.events);
    return rc;
}

/* Replays the trace at path into a new full model with pass p and finishes it; *rc gets the
 * replay's result, r->ready says whether it ran. check: p is the watch, and every event is checked
 * (apply), inline; else the analysis reads batches of batch records (ms_heap_model_set_pass_batch)
 * on a thread of its own. replay_done frees the model and *t. */
static void replay_batched(const struct ms_analysis_pass *p, bool check, size_t batch,
                           struct replay *r, ms_trace **t, int *rc)
{
    char err[256];
    *r = (struct replay){0};
    ASSERT_EQ(ms_trace_open(path, t, err, sizeof err), 0);
    r->model = ms_heap_model_new();
    ASSERT_TRUE(r->model != NULL);
    ms_heap_model_set_pass_batch(r->model, check ? MS_PASS_QUEUE_INLINE : batch);
    ASSERT_EQ(ms_heap_model_add_pass(r->model, p, *t), 0);
    r->w = check ? ms_heap_model_pass(r->model, &watch_pass) : NULL;
    ASSERT_TRUE(!check || r->w != NULL);
    struct ms_stack_table st = {0};
    *rc = ms_trace_replay(*t, NULL, 0, &st, apply, r);
    ms_stack_table_free(&st);
    ms_heap_model_finish(r->model);
    r->ready = true;
}

/* Inline: every callback returns before the event's ms_heap_model_apply. */
static void replay_with(const struct ms_analysis_pass *p, bool check, struct replay *r,
                        ms_trace **t, int *rc)
{
    replay_batched(p, check, MS_PASS_QUEUE_INLINE, r, t, rc);
}

/* Batches small enough that the random traces fill many: the analysis's thread starts. */
#define SMALL_BATCH 8

static void replay_done(struct replay *r, ms_trace *t)
{
    ms_heap_model_free(r->model);
    ms_trace_close(t);
}

/* ---- random traces ---- */

static uint64_t rng;

static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Writes to path a program order of OPS heap operations over THREADS threads on ADDRESSES
 * addresses, each thread's records in a chunk of its own and a quarter of them timed, so that
 * the merge must repair the order (a free met before its allocation, an allocation over a block
 * another thread has yet to free): frees, reallocs (moving the block or not), and now and then a
 * free of no live block or an allocation over a live one (a lost free). */
static void random_trace(unsigned seed)
{
    static struct tb b, p[THREADS];
    struct tb_ev e[THREADS];
    bool live[ADDRESSES] = {0};
    rng = seed * 2654435761u + 1;
    tb_begin(&b, 7);
    for (int t = 0; t < THREADS; t++) {
        e[t] = tb_events(&p[t], 1000);
        tb_thread_start_as(&e[t], 1000, 100 + (uint64_t)t, "worker");
        tb_task(&e[t], 1000, 10 + (uint64_t)t, 0);
        tb_node(&e[t], (uint32_t)t + 1, 0, 0x401000 + (uint64_t)t);
    }
    uint64_t tsc = 1000;
    for (int k = 0; k < OPS; k++) {
        int t = (int)(rnd() % THREADS), a = (int)(rnd() % ADDRESSES);
        uint64_t ptr = 0x10000 + (uint64_t)a * 0x100;
        uint32_t stack = rnd() % 2 ? (uint32_t)t + 1 : 0;
        bool timed = rnd() % 4 == 0;
        int what = (int)(rnd() % 10);
        tsc += 1 + rnd() % 5;
        if (what == 9 && live[a]) {
            int a2 = (int)(rnd() % ADDRESSES);
            if (live[a2] && a2 != a)
                continue;
            uint64_t to = 0x10000 + (uint64_t)a2 * 0x100, size = 32 + (uint64_t)k;
            if (timed)
                tb_realloc(&e[t], tsc, ptr, to, size, stack);
            else
                TB_PUT(&e[t], tb_kind_untimed(&e[t], MS_FAMILY_MALLOC), ms_rec_put_REALLOC, ptr, to,
                       size, stack);
            live[a] = false;
            live[a2] = true;
        } else if (what == 8) {
            if (live[a])
                tb_alloc(&e[t], tsc, ptr, 8, stack);
            else
                tb_free(&e[t], tsc, ptr);
        } else if (live[a]) {
            if (timed)
                tb_free(&e[t], tsc, ptr);
            else
                tb_free_untimed(&e[t], ptr);
            live[a] = false;
        } else {
            tb_alloc(&e[t], tsc, ptr, 16 + (uint64_t)k, stack);
            live[a] = true;
        }
    }
    for (int t = 0; t < THREADS; t++)
        tb_chunk(&b, MS_CHUNK_EVENTS, (uint32_t)t + 1, &p[t], 0);
    struct tb end = {.len = 0};
    tb_end(&end, tsc + 10);
    tb_chunk(&b, MS_CHUNK_END, 0, &end, 0);
    tb_write(&b, path);
}

/* What the random traces exercised, over all of them. */
struct coverage {
    uint64_t retried, forced, lost, realloced, unknown_frees, at_end;
};

static void exactly_once_trace(unsigned seed, struct coverage *c)
{
    random_trace(seed);
    struct replay r = {0};
    ms_trace *t = NULL;
    int rc;
    replay_with(&watch_pass, true, &r, &t, &rc);
    ASSERT_TRUE(r.ready);
    struct watch *w = r.w;
    const struct ms_summary *s = ms_heap_model_summary(r.model);
    ASSERT_STREQ(w->problem, "");
    ASSERT_EQ(rc, 0);
    ASSERT_EQ(w->n.allocs, s->allocs);
    ASSERT_EQ(w->n.frees[MS_PASS_FREED] + w->n.frees[MS_PASS_REALLOCED],
              s->frees - s->unknown_frees);
    ASSERT_EQ(w->n.frees[MS_PASS_LOST], s->reused_live);
    ASSERT_EQ(w->n.at_ends, s->live_blocks);
    ASSERT_EQ(w->n.finishes, 1);
    ASSERT_EQ(w->n.events, 2 * THREADS); /* THREAD_START and TASK */
    c->retried += r.retried;
    c->forced += r.forced;
    c->lost += w->n.frees[MS_PASS_LOST];
    c->realloced += w->n.frees[MS_PASS_REALLOCED];
    c->unknown_frees += s->unknown_frees;
    c->at_end += w->n.at_ends;
    replay_done(&r, t);
}

static void exactly_once(void)
{
    struct coverage c = {0};
    int before = ms_test_failures;
    unsigned seed = 1;
    for (; seed <= TRACES && ms_test_failures == before; seed++)
        exactly_once_trace(seed, &c);
    if (ms_test_failures != before) {
        fprintf(stderr, "  in the random trace of seed %u\n", seed - 1);
        return;
    }
    /* The traces did meet what they are for. */
    ASSERT_TRUE(c.retried > 0);
    ASSERT_TRUE(c.forced > 0);
    ASSERT_TRUE(c.lost > 0);
    ASSERT_TRUE(c.realloced > 0);
    ASSERT_TRUE(c.unknown_frees > 0);
    ASSERT_TRUE(c.at_end > 0);
}

/* ---- an analysis that only sees blocks end (as lifetimes.c) ---- */

struct ends {
    uint64_t count[MAX_BLOCKS]; /* ends met, by allocation number */
    struct ms_pass_block b[MAX_BLOCKS];
    int end[MAX_BLOCKS];
    enum ms_pass_end why[MAX_BLOCKS];
    uint64_t end_seq[MAX_BLOCKS];
    uint64_t total, beyond; /* every end; those of an allocation number beyond MAX_BLOCKS */
};

static void *ends_create(const struct ms_pass_env *env)
{
    (void)env;
    return calloc(1, sizeof(struct ends));
}

static void ends_add(struct ends *e, const struct ms_pass_block *b, int end, enum ms_pass_end why,
                     uint64_t seq)
{
    e->total++;
    if (b->alloc_seq >= MAX_BLOCKS) {
        e->beyond++;
        return;
    }
    e->count[b->alloc_seq]++;
    e->b[b->alloc_seq] = *b;
    e->end[b->alloc_seq] = end;
    e->why[b->alloc_seq] = why;
    e->end_seq[b->alloc_seq] = seq;
}

static int ends_free(void *state, const struct ms_pass_free *f)
{
    ends_add(state, &f->block, END_FREED, f->why, f->seq);
    return 0;
}

static int ends_at_end(void *state, const struct ms_pass_block *b)
{
    ends_add(state, b, END_AT_END, 0, 0);
    return 0;
}

static const struct ms_analysis_pass ends_pass = {.name = "ends",
                                                  .create = ends_create,
                                                  .on_free = ends_free,
                                                  .at_end = ends_at_end,
                                                  .destroy = free};

/* The trace replayed with the watch alone, then with the ends pass alone on a thread of its own
 * (small batches): the same blocks end, each once, the same way, with the same facts. */
static void ends_only_trace(unsigned seed)
{
    random_trace(seed);
    struct replay rw = {0}, re = {0};
    ms_trace *tw = NULL, *te = NULL;
    int rc;
    replay_with(&watch_pass, true, &rw, &tw, &rc);
    ASSERT_TRUE(rw.ready);
    ASSERT_EQ(rc, 0);
    ASSERT_STREQ(rw.w->problem, "");
    replay_batched(&ends_pass, false, SMALL_BATCH, &re, &te, &rc);
    ASSERT_TRUE(re.ready);
    ASSERT_EQ(rc, 0);
    const struct watch *w = rw.w;
    const struct ends *e = ms_heap_model_pass(re.model, &ends_pass);
    ASSERT_EQ(ms_heap_model_summary(re.model)->allocs, w->n.allocs);
    ASSERT_EQ(e->beyond, 0);
    ASSERT_EQ(e->total, w->n.allocs);
    for (uint64_t i = 0; i < w->n.allocs; i++) {
        ASSERT_EQ(e->count[i], 1);
        ASSERT_TRUE(same_block(&e->b[i], &w->blocks[i].b));
        ASSERT_EQ(e->end[i], w->blocks[i].end);
        if (e->end[i] == END_FREED) {
            ASSERT_EQ(e->why[i], w->blocks[i].why);
            ASSERT_EQ(e->end_seq[i], w->blocks[i].end_seq);
        }
    }
    replay_done(&rw, tw);
    replay_done(&re, te);
}

static void ends_only(void)
{
    int before = ms_test_failures;
    unsigned seed = 1;
    for (; seed <= TRACES && ms_test_failures == before; seed++)
        ends_only_trace(seed);
    if (ms_test_failures != before)
        fprintf(stderr, "  in the random trace of seed %u\n", seed - 1);
}

/* ---- an analysis's error ---- */

/* Counts its calls and returns MS_ENOMEM from the call fail_free of on_free (1: the first; 0:
 * never) and from the call fail_at_end of at_end. */
struct failing {
    int fail_free, fail_at_end;
    int allocs, frees, at_ends, finishes, after_error;
    bool failed;
};

static struct failing failing_config;

static void *failing_create(const struct ms_pass_env *env)
{
    (void)env;
    struct failing *f = malloc(sizeof *f);
    if (f)
        *f = failing_config;
    return f;
}

static int failing_alloc(void *state, const struct ms_pass_alloc *a)
{
    (void)a;
    struct failing *f = state;
    f->after_error += f->failed;
    f->allocs++;
    return 0;
}

static int failing_free(void *state, const struct ms_pass_free *pf)
{
    (void)pf;
    struct failing *f = state;
    f->after_error += f->failed;
    if (++f->frees != f->fail_free)
        return 0;
    f->failed = true;
    return MS_ENOMEM;
}

static int failing_at_end(void *state, const struct ms_pass_block *b)
{
    (void)b;
    struct failing *f = state;
    f->after_error += f->failed;
    if (++f->at_ends != f->fail_at_end)
        return 0;
    f->failed = true;
    return MS_ENOMEM;
}

static int failing_finish(void *state, const struct ms_heap_model *m)
{
    (void)m;
    struct failing *f = state;
    f->after_error += f->failed;
    f->finishes++;
    return 0;
}

static const struct ms_analysis_pass failing_pass = {.name = "failing",
                                                     .create = failing_create,
                                                     .on_alloc = failing_alloc,
                                                     .on_free = failing_free,
                                                     .at_end = failing_at_end,
                                                     .finish = failing_finish,
                                                     .destroy = free};

/* One thread: three blocks, the first two freed, the third realloc'ed, then two more blocks. */
static void write_small_trace(void)
{
    struct tb b, p;
    tb_begin(&b, 7);
    struct tb_ev e = tb_events(&p, 1000);
    tb_alloc(&e, 1100, 0x1000, 16, 0);
    tb_alloc(&e, 1200, 0x2000, 32, 0);
    tb_alloc(&e, 1250, 0x2800, 48, 0);
    tb_free(&e, 1300, 0x1000);
    tb_free(&e, 1400, 0x2000);
    tb_realloc(&e, 1450, 0x2800, 0x2900, 64, 0);
    tb_alloc(&e, 1500, 0x3000, 80, 0);
    tb_alloc(&e, 1600, 0x4000, 96, 0);
    tb_chunk(&b, MS_CHUNK_EVENTS, 1, &p, 0);
    p.len = 0;
    tb_end(&p, 2000);
    tb_chunk(&b, MS_CHUNK_END, 0, &p, 0);
    ASSERT_EQ(tb_write(&b, path), 0);
}

static void error_stops(void)
{
    write_small_trace();
    struct replay r = {0};
    ms_trace *t = NULL;
    int rc;

    /* on_free's error, at the first free: the replay stops at that event, and the analysis is
     * called no more, not at the finish either. */
    failing_config = (struct failing){.fail_free = 1};
    replay_with(&failing_pass, false, &r, &t, &rc);
    ASSERT_TRUE(r.ready);
    const struct failing *f = ms_heap_model_pass(r.model, &failing_pass);
    ASSERT_EQ(rc, MS_ENOMEM);
    ASSERT_EQ(ms_heap_model_pass_error(r.model), MS_ENOMEM);
    ASSERT_EQ(ms_heap_model_summary(r.model)->allocs, 3); /* not the realloc's, nor the last two */
    ASSERT_EQ(f->allocs, 3);
    ASSERT_EQ(f->frees, 1);
    ASSERT_EQ(f->after_error, 0);
    ASSERT_EQ(f->at_ends, 0);
    ASSERT_EQ(f->finishes, 0);
    replay_done(&r, t);

    /* At the realloc's free of its old block (the third). */
    failing_config = (struct failing){.fail_free = 3};
    replay_with(&failing_pass, false, &r, &t, &rc);
    ASSERT_TRUE(r.ready);
    f = ms_heap_model_pass(r.model, &failing_pass);
    ASSERT_EQ(rc, MS_ENOMEM);
    ASSERT_EQ(ms_heap_model_pass_error(r.model), MS_ENOMEM);
    ASSERT_TRUE(ms_heap_model_summary(r.model)->allocs <= 4); /* not the last two */
    ASSERT_EQ(f->frees, 3);
    ASSERT_EQ(f->after_error, 0);
    ASSERT_EQ(f->finishes, 0);
    replay_done(&r, t);

    /* at_end's error, at the first of the three blocks live at the end: the finish stops. */
    failing_config = (struct failing){.fail_at_end = 1};
    replay_with(&failing_pass, false, &r, &t, &rc);
    ASSERT_TRUE(r.ready);
    f = ms_heap_model_pass(r.model, &failing_pass);
    ASSERT_EQ(rc, 0);
    ASSERT_EQ(ms_heap_model_pass_error(r.model), MS_ENOMEM);
    ASSERT_EQ(ms_heap_model_summary(r.model)->live_blocks, 3);
    ASSERT_EQ(f->allocs, 6);
    ASSERT_EQ(f->frees, 3);
    ASSERT_EQ(f->at_ends, 1);
    ASSERT_EQ(f->after_error, 0);
    ASSERT_EQ(f->finishes, 0);
    replay_done(&r, t);

    /* Read on the analysis's thread: the replay stops later, at the end of a batch, or ends
     * first; either way the analysis is called no more after its error, nor finished. */
    failing_config = (struct failing){.fail_free = 1};
    replay_batched(&failing_pass, false, SMALL_BATCH, &r, &t, &rc);
    ASSERT_TRUE(r.ready);
    f = ms_heap_model_pass(r.model, &failing_pass);
    ASSERT_TRUE(rc == MS_ENOMEM || rc == 0); /* 0: the replay ended before the thread read it */
    ASSERT_EQ(ms_heap_model_pass_error(r.model), MS_ENOMEM);
    ASSERT_EQ(f->frees, 1);
    ASSERT_EQ(f->after_error, 0);
    ASSERT_EQ(f->finishes, 0);
    replay_done(&r, t);

    /* Control: without an error every block ends and the finish runs. */
    failing_config = (struct failing){0};
    replay_with(&failing_pass, false, &r, &t, &rc);
    ASSERT_TRUE(r.ready);
    f = ms_heap_model_pass(r.model, &failing_pass);
    ASSERT_EQ(rc, 0);
    ASSERT_EQ(ms_heap_model_pass_error(r.model), 0);
    ASSERT_EQ(f->frees + f->at_ends, f->allocs);
    ASSERT_EQ(f->finishes, 1);
    replay_done(&r, t);
}

/* ---- which models take analyses ---- */

static int creates;

static void *counted_create(const struct ms_pass_env *env)
{
    (void)env;
    creates++;
    return &creates;
}

static const struct ms_analysis_pass counted_pass = {.name = "counted", .create = counted_create};

static void totals_refused(void)
{
    creates = 0;
    struct ms_heap_model *m = ms_heap_model_new_totals();
    ASSERT_TRUE(m != NULL);
    ASSERT_EQ(ms_heap_model_add_pass(m, &counted_pass, NULL), MS_EINVAL);
    ASSERT_EQ(creates, 0);
    ASSERT_TRUE(ms_heap_model_pass(m, &counted_pass) == NULL);
    ms_heap_model_free(m);

    /* A full model takes it before its first event, and refuses it after. */
    m = ms_heap_model_new();
    ASSERT_TRUE(m != NULL);
    ASSERT_EQ(ms_heap_model_add_pass(m, &counted_pass, NULL), 0);
    ASSERT_EQ(creates, 1);
    ASSERT_TRUE(ms_heap_model_pass(m, &counted_pass) == &creates);
    ms_heap_model_free(m);
    m = ms_heap_model_new();
    struct ms_event ev = {.kind = MS_REC_ALLOC, .tid = 1, .tsc = 100, .ptr = 0x10, .size = 8};
    ASSERT_EQ(ms_heap_model_apply(m, &ev), 0);
    ASSERT_EQ(ms_heap_model_add_pass(m, &counted_pass, NULL), MS_EINVAL);
    ASSERT_EQ(creates, 1);
    ms_heap_model_free(m);
}

/* ---- on_event ---- */

#define MAX_SEEN 32

struct seen_events {
    int n, kind[MAX_SEEN];
    uint32_t tid[MAX_SEEN];
    char name[MAX_SEEN][16];
    int allocs;
};

static void *seen_create(const struct ms_pass_env *env)
{
    (void)env;
    return calloc(1, sizeof(struct seen_events));
}

static int seen_event(void *state, const struct ms_event *ev)
{
    struct seen_events *s = state;
    if (s->n < MAX_SEEN) {
        s->kind[s->n] = ev->kind;
        s->tid[s->n] = ev->tid;
        size_t len = ev->name && ev->name_len < 15 ? ev->name_len : 0;
        memcpy(s->name[s->n], ev->name ? ev->name : "", len);
        s->name[s->n][len] = 0;
    }
    s->n++;
    return 0;
}

static int seen_alloc(void *state, const struct ms_pass_alloc *a)
{
    (void)a;
    ((struct seen_events *)state)->allocs++;
    return 0;
}

static const struct ms_analysis_pass seen_pass = {.name = "seen",
                                                  .create = seen_create,
                                                  .on_alloc = seen_alloc,
                                                  .on_event = seen_event,
                                                  .destroy = free};

static void events_seen(const struct seen_events *s);

static void events_not_heap(void)
{
    /* Thread 1 starts, creates thread 2, takes a task, allocates in every way, is renamed and
     * exits; thread 2 starts, allocates and frees. */
    struct tb b, p;
    tb_begin(&b, 7);
    struct tb_ev e = tb_events(&p, 1000);
    tb_thread_start_as(&e, 1010, 100, "main");
    tb_alloc(&e, 1020, 0x1000, 16, 0);
    tb_thread_create(&e, 1030, 200);
    tb_task(&e, 1040, 5, 0);
    tb_realloc(&e, 1060, 0x1000, 0x1100, 32, 0);
    TB_PUT(&e, tb_kind(&e, MS_REC_ALLOC_ALIGNED, MS_FAMILY_MALLOC, 1070), ms_rec_put_ALLOC_ALIGNED,
           0x2000, 64, 0, 64);
    tb_free(&e, 1080, 0x2000);
    TB_PUT(&e, tb_kind(&e, MS_REC_THREAD_NAME, 0, 1090), ms_rec_put_THREAD_NAME, "renamed", 7);
    tb_thread_exit(&e, 1100);
    tb_chunk(&b, MS_CHUNK_EVENTS, 1, &p, 0);
    e = tb_events(&p, 1000);
    tb_thread_start_as(&e, 1050, 200, "child");
    tb_alloc(&e, 1055, 0x3000, 8, 0);
    tb_free(&e, 1065, 0x3000);
    tb_chunk(&b, MS_CHUNK_EVENTS, 2, &p, 0);
    p.len = 0;
    tb_end(&p, 2000);
    tb_chunk(&b, MS_CHUNK_END, 0, &p, 0);
    ASSERT_EQ(tb_write(&b, path), 0);

    /* Inline, and copied into small batches read on the analysis's thread. */
    for (int batched = 0; batched < 2; batched++) {
        struct replay r = {0};
        ms_trace *t = NULL;
        int rc;
        replay_batched(&seen_pass, false, batched ? SMALL_BATCH : MS_PASS_QUEUE_INLINE, &r, &t,
                       &rc);
        ASSERT_TRUE(r.ready);
        ASSERT_EQ(rc, 0);
        events_seen(ms_heap_model_pass(r.model, &seen_pass));
        replay_done(&r, t);
    }
}

static void events_seen(const struct seen_events *s)
{
    static const struct {
        int kind;
        uint32_t tid;
        const char *name;
    } want[] = {{MS_REC_THREAD_START, 1, "main"},
                {MS_REC_THREAD_CREATE, 1, ""},
                {MS_REC_TASK, 1, ""},
                {MS_REC_THREAD_START, 2, "child"},
                {MS_REC_THREAD_NAME, 1, "renamed"},
                {MS_REC_THREAD_EXIT, 1, ""}};
    ASSERT_EQ(s->n, sizeof want / sizeof *want);
    for (int i = 0; i < s->n; i++) {
        ASSERT_EQ(s->kind[i], want[i].kind);
        ASSERT_EQ(s->tid[i], want[i].tid);
        if (want[i].name[0])
            ASSERT_STREQ(s->name[i], want[i].name);
    }
    ASSERT_EQ(s->allocs, 4); /* the heap's events went to on_alloc */
}

int main(int argc, char **argv)
{
    snprintf(path, sizeof path, "/tmp/ms-test-analysis-pass-%d.mstrace", (int)getpid());
    static const struct ms_test_case cases[] = {TEST(exactly_once), TEST(ends_only),
                                                TEST(error_stops), TEST(totals_refused),
                                                TEST(events_not_heap)};
    int rc = ms_test_main(argc, argv, cases, (int)(sizeof cases / sizeof *cases));
    unlink(path);
    return rc;
}
