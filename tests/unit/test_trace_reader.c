/* Tests for the trace reader: the time-ordered merge of thread streams, stack nodes, and
 * every kind of bad input (wrong magic, newer version, empty, truncated, corrupt records,
 * chunks failing their checksum), and version 1 traces, which have no checksums. */
#include "analysis/heap_model.h"
#include "analysis/trace_reader.h"
#include "common/errors.h"
#include "ms_test.h"
#include "trace_builder.h"

#include <unistd.h>

static char path[256];

struct seen {
    int n;
    int kind[32];
    uint64_t ptr[32];
    uint32_t tid[32];
};

static int collect(void *ctx, const struct ms_event *ev)
{
    struct seen *s = ctx;
    if (s->n < 32) {
        s->kind[s->n] = ev->kind;
        s->ptr[s->n] = ev->ptr;
        s->tid[s->n] = ev->tid;
        s->n++;
    }
    return 0;
}

/* Two threads whose chunks are written out of time order. */
static void build_two_threads(struct tb *b, int compress)
{
    b->len = 0;
    tb_file_header(b, MS_TRACE_VERSION);
    struct tb p = {.len = 0};
    tb_process(&p, 42);
    tb_chunk(b, MS_CHUNK_PROCESS, 0, &p, compress);

    p.len = 0;
    struct tb_ev e = {.p = &p};
    tb_clock(&e, 1000);
    tb_node(&e, 1, 0, 0x401000);
    tb_alloc(&e, 1100, 0x1000, 10, 1);
    tb_free(&e, 1300, 0x2000);
    tb_chunk(b, MS_CHUNK_EVENTS, 2, &p, compress);

    e = tb_events(&p, 1000);
    tb_thread_start(&e, 1050, "main");
    tb_alloc(&e, 1200, 0x2000, 20, 0);
    tb_realloc(&e, 1400, 0x1000, 0x3000, 30, 0);
    tb_chunk(b, MS_CHUNK_EVENTS, 1, &p, compress);

    p.len = 0;
    tb_end(&p, 2000);
    tb_chunk(b, MS_CHUNK_END, 0, &p, compress);
}

static void merge_in_time_order(void)
{
    for (int compress = 0; compress < 2; compress++) {
        struct tb b;
        build_two_threads(&b, compress);
        ASSERT_EQ(tb_write(&b, path), 0);
        ms_trace *t;
        char err[256];
        ASSERT_EQ(ms_trace_open(path, &t, err, sizeof err), 0);
        ASSERT_EQ(ms_trace_process(t)->pid, 42);
        ASSERT_STREQ(ms_trace_process(t)->argv[1], "arg");
        ASSERT_TRUE(ms_trace_end(t)->present);
        struct ms_stack_table st = {0};
        struct seen s = {0};
        ASSERT_EQ(ms_trace_replay(t, NULL, 0, &st, collect, &s), 0);
        ASSERT_EQ(s.n, 5);
        ASSERT_EQ(s.kind[0], MS_REC_THREAD_START);
        ASSERT_EQ(s.kind[1], MS_REC_ALLOC);
        ASSERT_EQ(s.ptr[1], 0x1000);
        ASSERT_EQ(s.tid[1], 2);
        ASSERT_EQ(s.kind[2], MS_REC_ALLOC);
        ASSERT_EQ(s.ptr[2], 0x2000);
        ASSERT_EQ(s.kind[3], MS_REC_FREE);
        ASSERT_EQ(s.kind[4], MS_REC_REALLOC);
        ASSERT_EQ(s.ptr[4], 0x3000);
        struct ms_stack_node node;
        ASSERT_TRUE(ms_stack_table_get(&st, 1, &node));
        ASSERT_EQ(node.ip, 0x401000);
        ASSERT_EQ(ms_trace_ns_since_start(t, 1500), 500);
        ASSERT_EQ(ms_trace_damage(t)->bytes_lost, 0);
        ms_stack_table_free(&st);
        ms_trace_close(t);
    }
}

static int open_bytes(const uint8_t *data, size_t n, char *err, size_t errlen, ms_trace **t)
{
    FILE *f = fopen(path, "wb");
    fwrite(data, 1, n, f);
    fclose(f);
    return ms_trace_open(path, t, err, errlen);
}

static void bad_headers(void)
{
    ms_trace *t;
    char err[512];
    ASSERT_EQ(open_bytes((const uint8_t *)"", 0, err, sizeof err, &t), MS_ENOTRACE);
    ASSERT_TRUE(strstr(err, "empty") != NULL);
    ASSERT_EQ(open_bytes((const uint8_t *)"hello world, not a trace", 24, err, sizeof err, &t),
              MS_ENOTRACE);
    ASSERT_TRUE(strstr(err, "not a memscope trace") != NULL);
    struct tb b = {.len = 0};
    tb_file_header(&b, MS_TRACE_VERSION + 1);
    ASSERT_EQ(open_bytes(b.data, b.len, err, sizeof err, &t), MS_EVERSION);
    ASSERT_TRUE(strstr(err, "newer") != NULL);
    ASSERT_EQ(ms_trace_open("/nonexistent/trace", &t, err, sizeof err), MS_ENOENT);
    ASSERT_EQ(ms_trace_open("/tmp", &t, err, sizeof err), MS_ENOTRACE);
}

/* Every prefix of a valid trace opens cleanly or fails cleanly; none crashes. */
static void every_truncation(void)
{
    struct tb b;
    build_two_threads(&b, 1);
    size_t full = b.len;
    int opened = 0;
    for (size_t n = 0; n < full; n++) {
        ms_trace *t;
        char err[512];
        int rc = open_bytes(b.data, n, err, sizeof err, &t);
        if (rc != 0) {
            ASSERT_TRUE(err[0] != 0);
            continue;
        }
        opened++;
        struct ms_stack_table st = {0};
        struct seen s = {0};
        ASSERT_EQ(ms_trace_replay(t, NULL, 0, &st, collect, &s), 0);
        /* Cut on a chunk boundary: nothing is lost, but the END chunk is missing. */
        ASSERT_TRUE(ms_trace_damage(t)->bytes_lost > 0 || !ms_trace_end(t)->present);
        ms_stack_table_free(&st);
        ms_trace_close(t);
    }
    ASSERT_TRUE(opened > 0);
}

/* A record kind that the record table does not have (0): that chunk stops there, the other
 * thread's events remain. */
static void corrupt_record(void)
{
    struct tb b, p;
    tb_begin(&b, 7);
    struct tb_ev e = tb_events(&p, 1000);
    tb_alloc(&e, 1100, 0x1000, 10, 0);
    p.data[p.len++] = 0;
    tb_alloc(&e, 1200, 0x2000, 10, 0);
    tb_chunk(&b, MS_CHUNK_EVENTS, 1, &p, 0);
    e = tb_events(&p, 1000);
    tb_alloc(&e, 1300, 0x3000, 10, 0);
    tb_chunk(&b, MS_CHUNK_EVENTS, 2, &p, 0);
    ms_trace *t;
    char err[512];
    ASSERT_EQ(open_bytes(b.data, b.len, err, sizeof err, &t), 0);
    struct ms_stack_table st = {0};
    struct seen s = {0};
    ASSERT_EQ(ms_trace_replay(t, NULL, 0, &st, collect, &s), 0);
    ASSERT_EQ(s.n, 2);
    ASSERT_EQ(s.ptr[0], 0x1000);
    ASSERT_EQ(s.ptr[1], 0x3000);
    ASSERT_EQ(ms_trace_damage(t)->chunks_bad, 1);
    ms_trace_close(t);
}

/* A forked parent's replay stops at the FORK record for the child. */
static void cut_at_fork(void)
{
    struct tb b, p;
    tb_begin(&b, 7);
    struct tb_ev e = tb_events(&p, 1000);
    tb_alloc(&e, 1100, 0x1000, 10, 0);
    TB_PUT(&e, tb_kind(&e, MS_REC_FORK, 0, 1200), ms_rec_put_FORK, 99);
    tb_alloc(&e, 1300, 0x2000, 10, 0);
    tb_node(&e, 5, 0, 0x400);
    tb_chunk(&b, MS_CHUNK_EVENTS, 1, &p, 0);
    ms_trace *t;
    char err[512];
    ASSERT_EQ(open_bytes(b.data, b.len, err, sizeof err, &t), 0);
    struct ms_stack_table st = {0};
    struct seen s = {0};
    struct ms_replay_cut cut = {99, UINT64_MAX};
    ASSERT_EQ(ms_trace_replay(t, &cut, 0, &st, collect, &s), 0);
    ASSERT_EQ(s.n, 1);
    ASSERT_EQ(s.ptr[0], 0x1000);
    struct ms_stack_node node;
    ASSERT_TRUE(ms_stack_table_get(&st, 5, &node)); /* nodes after the cut are still read */
    ms_stack_table_free(&st);
    ms_trace_close(t);
}

/* The stacks the reader gives frees, in order (0: none of their own). */
struct free_stacks {
    int n;
    uint32_t stack[16];
};

static int collect_free_stacks(void *ctx, const struct ms_event *ev)
{
    struct free_stacks *f = ctx;
    if (ev->kind == MS_REC_FREE && f->n < 16)
        f->stack[f->n++] = ev->free_own ? ev->free_stack : 0;
    return 0;
}

/* FREE_CALLER's `every` (MEMSCOPE_FREE_STACKS): the record's stack is every later free's in its
 * chunk, up to the next FREE_CALLER; a chunk's first free has a stack of its own only when the
 * FREE_CALLER for it ended the previous chunk. */
static void free_caller_every(void)
{
    struct tb b, p;
    tb_begin(&b, 7);
    struct tb_ev e = tb_events(&p, 1000);
    tb_node(&e, 1, 0, 0x401000);
    tb_node(&e, 2, 0, 0x402000);
    for (int i = 0; i < 5; i++)
        tb_alloc(&e, 1001 + (uint64_t)i, 0x1000 + 0x100 * (uint64_t)i, 8, 1);
    TB_EXT(&e, 0, FREE_CALLER, 1, 0x401000, 1);
    tb_free(&e, 1100, 0x1000); /* its own, and the next one's */
    tb_free(&e, 1110, 0x1100);
    TB_EXT(&e, 0, FREE_CALLER, 2, 0x402000, 1); /* ends the chunk: for the next one's first */
    tb_chunk(&b, MS_CHUNK_EVENTS, 1, &p, 0);
    e = tb_events(&p, 1200);
    tb_free(&e, 1210, 0x1200); /* stack 2, from the chunk before */
    tb_free(&e, 1220, 0x1300); /* stack 2: every */
    tb_chunk(&b, MS_CHUNK_EVENTS, 1, &p, 0);
    e = tb_events(&p, 1300);
    tb_free(&e, 1310, 0x1400); /* no FREE_CALLER in this chunk: none of its own */
    tb_chunk(&b, MS_CHUNK_EVENTS, 1, &p, 0);
    ms_trace *t;
    char err[512];
    ASSERT_EQ(open_bytes(b.data, b.len, err, sizeof err, &t), 0);
    struct ms_stack_table st = {0};
    struct free_stacks f = {0};
    ASSERT_EQ(ms_trace_replay(t, NULL, 0, &st, collect_free_stacks, &f), 0);
    ASSERT_EQ(f.n, 5);
    ASSERT_EQ(f.stack[0], 1);
    ASSERT_EQ(f.stack[1], 1);
    ASSERT_EQ(f.stack[2], 2);
    ASSERT_EQ(f.stack[3], 2);
    ASSERT_EQ(f.stack[4], 0);
    ms_stack_table_free(&st);
    ms_trace_close(t);
}

/* Replays the trace in b into a new heap model (NULL if it does not open and replay). */
static struct ms_heap_model *replay_into_model(const struct tb *b)
{
    ms_trace *t;
    char err[512];
    if (open_bytes(b->data, b->len, err, sizeof err, &t) != 0)
        return NULL;
    struct ms_stack_table st = {0};
    struct ms_heap_model *m = ms_heap_model_new();
    if (ms_trace_replay(t, NULL, 0, &st, ms_heap_model_apply, m) != 0) {
        ms_heap_model_free(m);
        m = NULL;
    } else {
        ms_heap_model_finish(m);
    }
    ms_stack_table_free(&st);
    ms_trace_close(t);
    return m;
}

/* Two threads whose events merged by time would replay an address out of order: thread 2
 * allocates 0x1000 (time 1150) before thread 1's free of it (time 1200) and frees 0x5000 (time
 * 1160) before thread 1 allocates it (1300). The reader delivers the missing events first. */
static void cross_thread_conflicts(void)
{
    struct tb b, p;
    tb_begin(&b, 7);
    struct tb_ev e = tb_events(&p, 1000);
    tb_alloc(&e, 1100, 0x1000, 10, 0);
    tb_free(&e, 1200, 0x1000);
    tb_alloc(&e, 1300, 0x5000, 50, 0);
    tb_chunk(&b, MS_CHUNK_EVENTS, 1, &p, 0);
    e = tb_events(&p, 1000);
    tb_alloc(&e, 1150, 0x1000, 20, 0);
    tb_free(&e, 1160, 0x5000);
    tb_chunk(&b, MS_CHUNK_EVENTS, 2, &p, 0);
    struct ms_heap_model *m = replay_into_model(&b);
    ASSERT_TRUE(m != NULL);
    const struct ms_summary *s = ms_heap_model_summary(m);
    ASSERT_EQ(s->allocs, 3);
    ASSERT_EQ(s->frees, 2);
    ASSERT_EQ(s->unknown_frees, 0);
    ASSERT_EQ(s->reused_live, 0);
    ASSERT_EQ(s->live_blocks, 1);
    ASSERT_EQ(s->live_bytes, 20);
    ms_heap_model_free(m);
}

/* An idle consumer: its untimed free of 0x1000 merges at its last timed record (1100), long
 * before the producer's realloc that created the block (2000). The only event that resolves it
 * is that realloc, which is not taken out of order; the reader instead puts the free back at
 * its upper bound (the consumer's next timed record, 3000), after the realloc. */
static void requeue_at_upper_bound(void)
{
    struct tb b, p;
    tb_begin(&b, 7);
    struct tb_ev e = tb_events(&p, 1000);
    tb_alloc(&e, 1050, 0x500, 5, 0);
    tb_realloc(&e, 2000, 0x500, 0x1000, 10, 0);
    tb_chunk(&b, MS_CHUNK_EVENTS, 1, &p, 0);
    e = tb_events(&p, 1000);
    tb_alloc(&e, 1100, 0x9000, 1, 0);
    tb_free_untimed(&e, 0x1000);
    tb_alloc(&e, 3000, 0xa000, 1, 0);
    tb_chunk(&b, MS_CHUNK_EVENTS, 2, &p, 0);
    struct ms_heap_model *m = replay_into_model(&b);
    ASSERT_TRUE(m != NULL);
    const struct ms_summary *s = ms_heap_model_summary(m);
    ASSERT_EQ(s->unknown_frees, 0);
    ASSERT_EQ(s->frees, 2);
    ASSERT_EQ(s->live_blocks, 2);
    ASSERT_EQ(s->live_bytes, 2);
    ms_heap_model_free(m);
}

/* Three EVENTS chunks (threads 1, 2, 1: allocations of 0x1000, 0x2000, 0x3000) between PROCESS
 * and END; *mid is the file offset of thread 2's chunk, the one the checksum tests damage. */
static void build_three_chunks(struct tb *b, int compress, size_t *mid)
{
    struct tb p;
    tb_begin(b, 7);
    struct tb_ev e = tb_events(&p, 1000);
    tb_alloc(&e, 1100, 0x1000, 10, 0);
    tb_chunk(b, MS_CHUNK_EVENTS, 1, &p, compress);
    *mid = b->len;
    e = tb_events(&p, 1000);
    tb_alloc(&e, 1200, 0x2000, 20, 0);
    tb_alloc(&e, 1250, 0x2100, 20, 0);
    tb_chunk(b, MS_CHUNK_EVENTS, 2, &p, compress);
    e = tb_events(&p, 1300);
    tb_alloc(&e, 1400, 0x3000, 30, 0);
    tb_chunk(b, MS_CHUNK_EVENTS, 1, &p, compress);
    p.len = 0;
    tb_end(&p, 2000);
    tb_chunk(b, MS_CHUNK_END, 0, &p, compress);
}

/* Opens and replays b, expecting exactly the chunk at bad_offset to be skipped for its
 * checksum and the other two EVENTS chunks to count. */
static void expect_checksum_damage(const struct tb *b, size_t bad_offset)
{
    ms_trace *t;
    char err[512];
    ASSERT_EQ(open_bytes(b->data, b->len, err, sizeof err, &t), 0);
    struct ms_stack_table st = {0};
    struct seen s = {0};
    ASSERT_EQ(ms_trace_replay(t, NULL, 0, &st, collect, &s), 0);
    ASSERT_EQ(s.n, 2);
    ASSERT_EQ(s.ptr[0], 0x1000);
    ASSERT_EQ(s.ptr[1], 0x3000);
    const struct ms_trace_damage *d = ms_trace_damage(t);
    ASSERT_EQ(d->chunks_bad, 1);
    ASSERT_EQ(d->first_bad_offset, bad_offset);
    ASSERT_STREQ(d->what, "a chunk fails its checksum");
    ASSERT_EQ(d->bytes_lost, 0);
    ASSERT_EQ(ms_trace_unknown_chunks(t), 0);
    ASSERT_TRUE(ms_trace_end(t)->present);
    ms_stack_table_free(&st);
    ms_trace_close(t);
}

/* A flipped bit in an EVENTS payload, compressed or not, costs that chunk only. */
static void checksum_payload_flip(void)
{
    for (int compress = 0; compress < 2; compress++) {
        struct tb b;
        size_t mid;
        build_three_chunks(&b, compress, &mid);
        ms_trace *t;
        char err[512];
        ASSERT_EQ(open_bytes(b.data, b.len, err, sizeof err, &t), 0);
        struct seen s = {0};
        ASSERT_EQ(ms_trace_replay(t, NULL, 0, NULL, collect, &s), 0);
        ASSERT_EQ(s.n, 4);
        ASSERT_EQ(ms_trace_damage(t)->chunks_bad, 0);
        ms_trace_close(t);
        uint32_t stored = (uint32_t)(b.data[mid + 4] | b.data[mid + 5] << 8);
        for (uint32_t i = 0; i < stored; i += 3) {
            b.data[mid + MS_CHUNK_HEADER_SIZE + i] ^= 0x10;
            expect_checksum_damage(&b, mid);
            b.data[mid + MS_CHUNK_HEADER_SIZE + i] ^= 0x10;
        }
    }
}

/* A flipped bit in the header of an EVENTS chunk (type, reserved bytes, raw size, tid, first
 * time, the checksum itself) costs that chunk only: a type made PROCESS or MODULES is checked
 * at index time, one made unknown (6) is not taken for a newer writer's chunk. A flip in the
 * flags or the stored size is caught by the structural checks instead (tested elsewhere). */
static void checksum_header_flip(void)
{
    static const struct {
        int byte;
        uint8_t bit;
    } flips[] = {{0, 0x01},  {0, 0x04},  {2, 0x80},  {8, 0x01},  {10, 0x10}, {12, 0x01},
                 {15, 0x80}, {16, 0x01}, {23, 0x80}, {24, 0x01}, {27, 0x80}, {28, 0x01}};
    for (int compress = 0; compress < 2; compress++) {
        struct tb b;
        size_t mid;
        build_three_chunks(&b, compress, &mid);
        for (size_t i = 0; i < sizeof flips / sizeof *flips; i++) {
            b.data[mid + flips[i].byte] ^= flips[i].bit;
            expect_checksum_damage(&b, mid);
            b.data[mid + flips[i].byte] ^= flips[i].bit;
        }
    }
}

/* Metadata chunks with a wrong checksum are skipped when indexed: without PROCESS the trace
 * cannot be analysed, a MODULES or END chunk is simply missing. */
static void checksum_metadata(void)
{
    struct tb b, p;
    ms_trace *t;
    char err[512];
    b.len = 0;
    tb_file_header(&b, MS_TRACE_VERSION);
    tb_process(&p, 7);
    tb_chunk_full(&b, MS_CHUNK_PROCESS, 0, 0, &p, 0, 0x100);
    ASSERT_EQ(open_bytes(b.data, b.len, err, sizeof err, &t), MS_ECORRUPT);
    ASSERT_TRUE(strstr(err, "a chunk fails its checksum at offset 16") != NULL);

    tb_begin(&b, 7);
    size_t modules = b.len;
    tb_modules(&p, 1000, 1);
    tb_module(&p, "/bin/test", 0x400000, 0x401000, 0x402000);
    tb_chunk_full(&b, MS_CHUNK_MODULES, 0, 0, &p, 1, 1);
    p.len = 0;
    tb_end(&p, 2000);
    tb_chunk_full(&b, MS_CHUNK_END, 0, 0, &p, 0, 0x80000000u);
    ASSERT_EQ(open_bytes(b.data, b.len, err, sizeof err, &t), 0);
    ASSERT_EQ(ms_trace_module_count(t), 0);
    ASSERT_TRUE(!ms_trace_end(t)->present);
    ASSERT_EQ(ms_trace_damage(t)->chunks_bad, 2);
    ASSERT_EQ(ms_trace_damage(t)->first_bad_offset, modules);
    ASSERT_STREQ(ms_trace_damage(t)->what, "a chunk fails its checksum");
    ms_trace_close(t);
}

/* Version 1 traces have no checksum: bytes 24..31 of a chunk header held the last event time,
 * which the reader ignores. */
static void version1_unchecked(void)
{
    struct tb b, p;
    b.len = 0;
    tb_file_header(&b, 1);
    tb_process(&p, 7);
    tb_chunk(&b, MS_CHUNK_PROCESS, 0, &p, 0);
    size_t at = b.len;
    struct tb_ev e = tb_events(&p, 1000);
    tb_alloc(&e, 1100, 0x1000, 10, 0);
    tb_chunk(&b, MS_CHUNK_EVENTS, 1, &p, 1);
    b.data[at + 24] = 0x4c; /* last time 1100 */
    b.data[at + 25] = 0x04;
    ms_trace *t;
    char err[512];
    ASSERT_EQ(open_bytes(b.data, b.len, err, sizeof err, &t), 0);
    struct ms_stack_table st = {0};
    struct seen s = {0};
    ASSERT_EQ(ms_trace_replay(t, NULL, 0, &st, collect, &s), 0);
    ASSERT_EQ(s.n, 1);
    ASSERT_EQ(s.ptr[0], 0x1000);
    ASSERT_EQ(ms_trace_damage(t)->chunks_bad, 0);
    ms_stack_table_free(&st);
    ms_trace_close(t);
}

/* The modules' snapshots: a module a snapshot no longer lists is gone from its time, one
 * listed again is back, one loaded where another was overlaps it; a snapshot that does not
 * decode unloads nothing. Many snapshots of new modules (a program that dlopens a plugin after
 * another) are each found by their identity, not by a look at every module kept. */
static void module_snapshots(void)
{
    static struct tb b, p;
    tb_begin(&b, 7);
    struct {
        uint64_t tsc;
        const char *paths[2];
    } snaps[] = {{1000, {"/lib/a.so", "/lib/b.so"}},
                 {2000, {"/lib/a.so", "/lib/c.so"}},
                 {3000, {"/lib/a.so", "/lib/b.so"}}};
    for (size_t i = 0; i < 3; i++) {
        tb_modules(&p, snaps[i].tsc, 2);
        tb_module(&p, snaps[i].paths[0], 0x1000, 0x1000, 0x3000);
        tb_module(&p, snaps[i].paths[1], 0x5000, 0x5000, 0x7000);
        tb_chunk(&b, MS_CHUNK_MODULES, 0, &p, 0);
    }
    enum { MANY = 300 };
    for (unsigned k = 0; k < MANY; k++) {
        char name[64];
        snprintf(name, sizeof name, "/lib/plugin%u.so", k);
        tb_modules(&p, 4000 + k, 2);
        tb_module(&p, "/lib/a.so", 0x1000, 0x1000, 0x3000);
        tb_module(&p, name, 0x100000 + k * 0x10000, 0x100000 + k * 0x10000, 0x108000 + k * 0x10000);
        tb_chunk(&b, MS_CHUNK_MODULES, 0, &p, 0);
    }
    /* a snapshot that lists a.so, then a module whose build-id is too long */
    tb_modules(&p, 9000, 2);
    tb_module(&p, "/lib/a.so", 0x1000, 0x1000, 0x3000);
    char long_id[65];
    memset(long_id, 0x11, sizeof long_id);
    struct ms_chunk_MODULE bad = {"/lib/bad.so", 11, 0, 0x900000, 0x901000, long_id, 65};
    p.len = (size_t)(ms_chunk_put_MODULE(p.data + p.len, &bad) - p.data);
    tb_chunk(&b, MS_CHUNK_MODULES, 0, &p, 0);
    ms_trace *t;
    char err[512];
    ASSERT_EQ(open_bytes(b.data, b.len, err, sizeof err, &t), 0);
    ASSERT_EQ(ms_trace_module_count(t), 3 + MANY);
    const struct ms_module *a = ms_trace_module(t, 0), *mb = ms_trace_module(t, 1),
                           *mc = ms_trace_module(t, 2);
    ASSERT_STREQ(a->path, "/lib/a.so");
    ASSERT_EQ(a->first_tsc, 1000);
    ASSERT_EQ(a->last_tsc, 9000);
    ASSERT_EQ(a->gone_tsc, 0);
    ASSERT_STREQ(mb->path, "/lib/b.so");
    ASSERT_EQ(mb->first_tsc, 1000);
    ASSERT_EQ(mb->last_tsc, 3000);
    ASSERT_EQ(mb->gone_tsc, 4000); /* listed again at 3000, gone at the first plugin's */
    ASSERT_STREQ(mc->path, "/lib/c.so");
    ASSERT_EQ(mc->first_tsc, 2000);
    ASSERT_EQ(mc->last_tsc, 2000);
    ASSERT_EQ(mc->gone_tsc, 3000);
    for (unsigned k = 0; k < MANY; k++) {
        const struct ms_module *m = ms_trace_module(t, 3 + k);
        ASSERT_EQ(m->first_tsc, 4000 + k);
        ASSERT_EQ(m->last_tsc, 4000 + k);
        /* the last plugin: the damaged snapshot at 9000 unloads nothing */
        ASSERT_EQ(m->gone_tsc, k + 1 < MANY ? 4000 + k + 1 : 0);
    }
    ASSERT_EQ(ms_trace_damage(t)->chunks_bad, 1);
    ms_trace_close(t);
}

/* memscope run's RSS samples: read back in time order; a count the payload cannot hold, or a
 * time that wraps, is a damaged chunk (and no samples). */
static void rss_samples(void)
{
    static struct tb b, p;
    for (int bad = 0; bad < 3; bad++) {
        tb_begin(&b, 7);
        struct ms_chunk_RSS h = {bad == 1 ? 1000 : 3, 5000};
        p.len = (size_t)(ms_chunk_put_RSS(p.data, &h) - p.data);
        uint64_t deltas[3] = {0, 10000000, bad == 2 ? UINT64_MAX : 10000000};
        for (int i = 0; i < 3; i++) {
            struct ms_chunk_RSS_SAMPLE e = {deltas[i], 4096u * (uint64_t)(i + 1)};
            p.len = (size_t)(ms_chunk_put_RSS_SAMPLE(p.data + p.len, &e) - p.data);
        }
        tb_chunk(&b, MS_CHUNK_RSS, 0, &p, 0);
        ms_trace *t;
        char err[512];
        ASSERT_EQ(open_bytes(b.data, b.len, err, sizeof err, &t), 0);
        size_t n;
        const struct ms_rss_sample *s = ms_trace_rss(t, &n);
        if (bad) {
            ASSERT_EQ(n, 0);
            ASSERT_EQ(ms_trace_damage(t)->chunks_bad, 1);
        } else {
            ASSERT_EQ(n, 3);
            ASSERT_EQ(s[0].mono_ns, 5000);
            ASSERT_EQ(s[2].mono_ns, 5000 + 20000000);
            ASSERT_EQ(s[2].bytes, 3 * 4096);
            ASSERT_EQ(ms_trace_damage(t)->chunks_bad, 0);
        }
        ms_trace_close(t);
    }
}

int main(int argc, char **argv)
{
    snprintf(path, sizeof path, "/tmp/ms-test-reader-%d.mstrace", (int)getpid());
    static const struct ms_test_case cases[] = {TEST(merge_in_time_order),
                                                TEST(bad_headers),
                                                TEST(every_truncation),
                                                TEST(corrupt_record),
                                                TEST(cut_at_fork),
                                                TEST(cross_thread_conflicts),
                                                TEST(requeue_at_upper_bound),
                                                TEST(checksum_payload_flip),
                                                TEST(checksum_header_flip),
                                                TEST(checksum_metadata),
                                                TEST(version1_unchecked),
                                                TEST(free_caller_every),
                                                TEST(module_snapshots),
                                                TEST(rss_samples)};
    int rc = ms_test_main(argc, argv, cases, (int)(sizeof cases / sizeof *cases));
    unlink(path);
    return rc;
}
