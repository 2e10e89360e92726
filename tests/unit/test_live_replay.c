/* Tests for the live replay (memscope run's summary while the program runs): a trace written a
 * piece at a time, stepped between the pieces, must give exactly the events, in exactly the
 * order, of a replay of the finished trace, or say that it must be replayed anew. */
#include "analysis/trace_reader.h"
#include "common/errors.h"
#include "ms_test.h"
#include "trace_builder.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

static char path[256];

struct seen {
    int n;
    struct ms_event ev[64];
    int (*answer)(struct seen *, const struct ms_event *); /* NULL: always 0 */
    uint64_t live[64];                                     /* ptr of allocated blocks */
    int nlive;
};

/* A minimal consumer that asks for a block's allocation before its free, as the heap model
 * does (so that cross-thread conflicts arise). */
static int model_answer(struct seen *s, const struct ms_event *ev)
{
    int at = -1;
    for (int i = 0; i < s->nlive; i++)
        if (s->live[i] == ev->ptr)
            at = i;
    if (ev->kind == MS_REC_ALLOC) {
        if (at >= 0 && !ev->forced)
            return MS_REPLAY_WANT_FREE;
        if (s->nlive < 64)
            s->live[s->nlive++] = ev->ptr;
    } else if (ev->kind == MS_REC_FREE) {
        if (at < 0 && !ev->forced)
            return MS_REPLAY_WANT_ALLOC;
        if (at >= 0)
            s->live[at] = s->live[--s->nlive];
    }
    return 0;
}

static int collect(void *ctx, const struct ms_event *ev)
{
    struct seen *s = ctx;
    int r = s->answer ? s->answer(s, ev) : 0;
    if (r == 0 && s->n < 64)
        s->ev[s->n++] = *ev;
    return r;
}

static void expect_same(const struct seen *a, const struct seen *b)
{
    ASSERT_EQ(a->n, b->n);
    for (int i = 0; i < a->n && i < b->n; i++) {
        ASSERT_EQ(a->ev[i].kind, b->ev[i].kind);
        ASSERT_EQ(a->ev[i].tid, b->ev[i].tid);
        ASSERT_EQ(a->ev[i].tsc, b->ev[i].tsc);
        ASSERT_EQ(a->ev[i].ptr, b->ev[i].ptr);
        ASSERT_EQ(a->ev[i].forced, b->ev[i].forced);
    }
}

/* Ends thread tid's EVENTS chunk (payload p) in b, and a piece of the file with it. */
static void piece(struct tb *b, const struct tb *p, uint32_t tid, size_t *cut)
{
    tb_chunk(b, MS_CHUNK_EVENTS, tid, p, 0);
    *cut = b->len;
}

/* The whole trace b, replayed at once. */
static void replay_whole(const struct tb *b, struct seen *s)
{
    ASSERT_EQ(tb_write(b, path), 0);
    ms_trace *t;
    char err[256];
    ASSERT_EQ(ms_trace_open(path, &t, err, sizeof err), 0);
    struct ms_stack_table st = {0};
    ASSERT_EQ(ms_trace_replay(t, NULL, 0, &st, collect, s), 0);
    ms_stack_table_free(&st);
    ms_trace_close(t);
}

static void append(int fd, const struct tb *b, size_t from, size_t to)
{
    ASSERT_EQ(pwrite(fd, b->data + from, to - from, (off_t)from), (ssize_t)(to - from));
}

/* Writes b in the pieces that end at cuts[0..ncuts) (then the rest), stepping a live replay
 * after each; live[i] gets the events delivered after piece i, *result the finish's result. */
static void replay_live(const struct tb *b, const size_t *cuts, int ncuts, struct seen *s,
                        int *live, int *result)
{
    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    ASSERT_TRUE(fd >= 0);
    ms_trace *t = NULL;
    ms_live_replay *r = NULL;
    struct ms_stack_table st = {0};
    size_t done = 0;
    for (int i = 0; i <= ncuts; i++) {
        size_t to = i < ncuts ? cuts[i] : b->len;
        append(fd, b, done, to);
        done = to;
        if (!t) {
            int rc = ms_trace_open_growing(path, &t);
            if (rc == MS_ETRUNCATED) {
                live[i] = 0;
                continue;
            }
            ASSERT_EQ(rc, 0);
            ASSERT_EQ(ms_live_replay_new(t, &st, collect, s, &r), 0);
        } else {
            ASSERT_EQ(ms_trace_refresh(t, i == ncuts), 0);
        }
        if (i < ncuts)
            ASSERT_EQ(ms_live_replay_step(r), 0);
        live[i] = s->n;
    }
    close(fd);
    *result = r ? ms_live_replay_finish(r) : MS_EINVAL;
    if (t && *result == 0)
        ASSERT_EQ(ms_trace_damage(t)->chunks_bad, 0);
    ms_live_replay_free(r);
    ms_stack_table_free(&st);
    ms_trace_close(t);
}

/* Replays b whole into *whole and live (in the pieces ending at cuts) into *s: the finish must
 * succeed and the events be the same, in the same order. live[i]: as replay_live gives. */
static void same_as_whole(const struct tb *b, const size_t *cuts, int ncuts, struct seen *whole,
                          struct seen *s, int *live)
{
    int rc;
    replay_whole(b, whole);
    replay_live(b, cuts, ncuts, s, live, &rc);
    ASSERT_EQ(rc, 0);
    expect_same(whole, s);
}

/* One thread (the main one, tid = pid), three chunks, each written in two pieces (the reader
 * must wait for the rest of a chunk, not report damage): every event is replayed as its chunk
 * is whole, and the order is the whole trace's. */
static void one_thread(void)
{
    struct tb b, p;
    tb_begin(&b, 7);
    size_t cuts[8];
    int n = 0;
    cuts[n++] = 10;        /* inside the file header: not begun yet */
    cuts[n++] = b.len - 5; /* inside the PROCESS chunk */
    for (int c = 0; c < 3; c++) {
        struct tb_ev e = tb_events(&p, 1000 + 1000 * (uint64_t)c);
        if (c == 0)
            tb_thread_start_as(&e, 1001, 0x77, "main");
        tb_alloc(&e, 1100 + 1000 * (uint64_t)c, 0x1000 + 0x100 * (uint64_t)c, 10, 0);
        tb_free(&e, 1200 + 1000 * (uint64_t)c, 0x1000 + 0x100 * (uint64_t)c);
        size_t start = b.len;
        tb_chunk(&b, MS_CHUNK_EVENTS, 7, &p, c == 1);
        cuts[n++] = start + 20; /* inside the chunk header */
        cuts[n++] = b.len;
    }
    struct seen whole = {0}, s = {0};
    int live[9];
    same_as_whole(&b, cuts, n, &whole, &s, live);
    ASSERT_EQ(whole.n, 7);
    ASSERT_EQ(live[0], 0);
    ASSERT_EQ(live[1], 0);
    ASSERT_EQ(live[2], 0); /* the first chunk's header only */
    ASSERT_EQ(live[3], 3);
    ASSERT_EQ(live[5], 5);
    ASSERT_EQ(live[7], 7);
}

/* The main thread starts a worker and their chunks come in turn: events are delivered only
 * while both have pending ones (the main thread's next chunk could hold events before the
 * worker's), the creation waits for the worker's start, and all is in the whole trace's
 * order. */
static void two_threads(void)
{
    struct tb b, p;
    tb_begin(&b, 7);
    size_t cuts[4];
    struct tb_ev e = tb_events(&p, 1000);
    tb_thread_start_as(&e, 1001, 0x77, "main");
    tb_thread_create(&e, 1050, 0x99);
    tb_alloc(&e, 1100, 0x1000, 10, 0);
    tb_alloc(&e, 1500, 0x1100, 10, 0);
    piece(&b, &p, 7, &cuts[0]);
    e = tb_events(&p, 1060);
    tb_thread_start_as(&e, 1060, 0x99, "worker");
    tb_alloc(&e, 1200, 0x2000, 20, 0);
    tb_alloc(&e, 1600, 0x2100, 20, 0);
    piece(&b, &p, 8, &cuts[1]);
    e = tb_events(&p, 1700);
    tb_free(&e, 1700, 0x1000);
    piece(&b, &p, 7, &cuts[2]);
    e = tb_events(&p, 1800);
    tb_free(&e, 1800, 0x2000);
    piece(&b, &p, 8, &cuts[3]);
    struct seen whole = {0}, s = {0};
    int live[5];
    same_as_whole(&b, cuts, 4, &whole, &s, live);
    ASSERT_EQ(whole.n, 9);
    ASSERT_EQ(live[0], 1); /* the creation waits for the worker */
    ASSERT_EQ(live[1], 6); /* up to the main thread's 1500: then it has nothing pending */
    ASSERT_EQ(live[2], 7); /* the worker's 1600; the worker has nothing pending */
    ASSERT_EQ(live[3], 8); /* the main thread's 1700; then it has nothing pending */
    ASSERT_EQ(s.n, 9);
}

/* A worker's first chunk arrives after the main thread's later events were delivered, and no
 * THREAD_CREATE record announced it: the live replay cannot have been right, and says so. */
static void late_thread(void)
{
    struct tb b, p;
    tb_begin(&b, 7);
    size_t cuts[2];
    struct tb_ev e = tb_events(&p, 1000);
    tb_alloc(&e, 1100, 0x1000, 10, 0);
    tb_alloc(&e, 1500, 0x1100, 10, 0);
    piece(&b, &p, 7, &cuts[0]);
    e = tb_events(&p, 1000);
    tb_alloc(&e, 1200, 0x2000, 20, 0);
    piece(&b, &p, 8, &cuts[1]);
    struct seen s = {0};
    int live[3], rc;
    replay_live(&b, cuts, 2, &s, live, &rc);
    ASSERT_EQ(rc, MS_REPLAY_RESTART);
    ASSERT_EQ(live[0], 2);
    /* Delivered nothing yet: a late thread costs nothing. */
    struct seen s2 = {0};
    replay_live(&b, cuts, 0, &s2, live, &rc);
    ASSERT_EQ(rc, 0);
}

/* The main thread's THREAD_CREATE waits until the created thread's start is known (its events
 * can precede that record); then everything follows in the whole trace's order. */
static void create_waits_for_start(void)
{
    struct tb b, p;
    tb_begin(&b, 7);
    size_t cuts[2];
    struct tb_ev e = tb_events(&p, 1000);
    tb_alloc(&e, 1100, 0x1000, 10, 0);
    tb_thread_create(&e, 1300, 0x99);
    tb_alloc(&e, 1500, 0x1100, 10, 0);
    piece(&b, &p, 7, &cuts[0]);
    e = tb_events(&p, 1200);
    tb_thread_start_as(&e, 1210, 0x99, "worker");
    tb_alloc(&e, 1250, 0x2000, 20, 0);
    tb_thread_exit(&e, 1400);
    piece(&b, &p, 8, &cuts[1]);
    struct seen whole = {0}, s = {0};
    int live[3];
    same_as_whole(&b, cuts, 2, &whole, &s, live);
    ASSERT_EQ(live[0], 1); /* up to the THREAD_CREATE */
    ASSERT_EQ(live[1], 6); /* the worker exited: it holds nothing back */
    ASSERT_EQ(s.n, 6);
}

/* A free whose allocation is in another thread's chunk and merged after it (untimed): the live
 * replay stops at the conflict, and the finish resolves it as the whole replay does. The
 * orphan buffer (thread 0) never holds the replay back. */
static void conflict_stops(void)
{
    struct tb b, p;
    tb_begin(&b, 7);
    size_t cuts[2];
    struct tb_ev e = tb_events(&p, 1000);
    tb_alloc(&e, 1100, 0x5000, 10, 0);
    tb_free_untimed(&e, 0x1000);
    tb_alloc(&e, 1400, 0x6000, 10, 0);
    tb_chunk(&b, MS_CHUNK_EVENTS, 7, &p, 0);
    e = tb_events(&p, 1000);
    tb_alloc(&e, 1150, 0x1000, 20, 0);
    tb_alloc(&e, 1450, 0x7000, 20, 0);
    piece(&b, &p, 8, &cuts[0]);
    e = tb_events(&p, 900);
    piece(&b, &p, 0, &cuts[1]);
    struct seen whole = {.answer = model_answer}, s = {.answer = model_answer};
    int live[3];
    same_as_whole(&b, cuts, 2, &whole, &s, live);
    ASSERT_EQ(whole.n, 5);
    ASSERT_EQ(live[0], 1); /* 0x5000, then the free of 0x1000 conflicts */
    ASSERT_EQ(live[1], 1);
}

/* A thread's chunk names a stack node whose id is beyond what the bytes written so far allow
 * (the node is in another thread's chunk, not written yet): that chunk does not decode live, and
 * the live replay must not pass over its events (found by review: the summary lost them). */
static void node_not_written_yet(void)
{
    struct tb b, p;
    tb_begin(&b, 7);
    size_t cuts[2];
    struct tb_ev e = tb_events(&p, 1000);
    tb_alloc(&e, 1100, 0x1000, 10, 0);
    piece(&b, &p, 7, &cuts[0]);
    e = tb_events(&p, 1200);
    tb_node(&e, 300, 0, 0x4000);
    tb_alloc(&e, 1300, 0x2000, 20, 300);
    tb_thread_exit(&e, 1350);
    piece(&b, &p, 8, &cuts[1]);
    e = tb_events(&p, 1000);
    for (uint32_t id = 1; id < 300; id++) {
        tb_node(&e, id, id - 1, 16 * id);
    }
    tb_alloc(&e, 1400, 0x3000, 30, 299);
    tb_chunk(&b, MS_CHUNK_EVENTS, 9, &p, 0);
    e = tb_events(&p, 1900);
    tb_alloc(&e, 1900, 0x1100, 10, 0);
    tb_chunk(&b, MS_CHUNK_EVENTS, 7, &p, 0);
    struct seen whole = {0}, s = {0};
    int rc, live[3];
    replay_whole(&b, &whole);
    ASSERT_EQ(whole.n, 5);
    replay_live(&b, cuts, 2, &s, live, &rc);
    ASSERT_EQ(rc, MS_REPLAY_RESTART);
}

/* A thread's clock steps back (its time delta wraps): what was delivered is compared with the
 * latest time delivered, not the last (found by review). */
static void clock_steps_back(void)
{
    struct tb b, p;
    tb_begin(&b, 7);
    size_t cuts[1];
    struct tb_ev e = tb_events(&p, 1000);
    tb_alloc(&e, 1000, 0x1000, 10, 0);
    tb_alloc(&e, 3000, 0x1100, 10, 0);
    tb_alloc(&e, 1500, 0x1200, 10, 0);
    piece(&b, &p, 7, &cuts[0]);
    e = tb_events(&p, 1900);
    tb_alloc(&e, 2000, 0x2000, 20, 0);
    tb_chunk(&b, MS_CHUNK_EVENTS, 8, &p, 0);
    struct seen s = {0};
    int rc, live[2];
    replay_live(&b, cuts, 1, &s, live, &rc);
    ASSERT_EQ(rc, MS_REPLAY_RESTART);
}

int main(int argc, char **argv)
{
    snprintf(path, sizeof path, "/tmp/ms-test-live-%d.mstrace", (int)getpid());
    static const struct ms_test_case cases[] = {TEST(one_thread),      TEST(two_threads),
                                                TEST(late_thread),     TEST(create_waits_for_start),
                                                TEST(conflict_stops),  TEST(node_not_written_yet),
                                                TEST(clock_steps_back)};
    int rc = ms_test_main(argc, argv, cases, (int)(sizeof cases / sizeof *cases));
    unlink(path);
    return rc;
}
