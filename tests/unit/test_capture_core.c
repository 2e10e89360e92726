/* Tests for the capture core (libms_capture_core: layers 0-5 of docs/capture.md), linked into a
 * test program instead of preloaded, so that they run under ASan+UBSan and TSan: record buffers
 * and the record codec, the stack tree interned by several threads at once, and thread slots
 * writing a trace through the event path and the writer, read back by the reader. Each case runs
 * in a process of its own (the capture's state is the process's). */
#define _GNU_SOURCE
#include "analysis/trace_reader.h"
#include "capture/check_heap.h"
#include "capture/own_memory.h"
#include "capture/config.h"
#include "capture/diag.h"
#include "capture/event_buffer.h"
#include "capture/event_path.h"
#include "capture/exit_scan.h"
#include "capture/live_table.h"
#include "capture/real_fns.h"
#include "capture/string_table.h"
#include "capture/task_registry.h"
#include "capture/module_map.h"
#include "capture/sampler.h"
#include "capture/spinlock.h"
#include "capture/stack_capture.h"
#include "capture/stack_intern.h"
#include "capture/thread_state.h"
#include "capture/trace_writer.h"
#include "common/chunk_codec.h"
#include "common/errors.h"
#include "ms_test.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- a record buffer whose full() keeps the chunks ---- */

#define MAX_CHUNKS 64

struct kept {
    struct ms__buffer b; /* first: full() gets it */
    int n;
    uint8_t *chunk[MAX_CHUNKS];
    size_t len[MAX_CHUNKS];
};

/* Keeps b's chunk in k and starts a new one. */
static void keep_chunk(struct kept *k, struct ms__buffer *b)
{
    size_t len = atomic_load(&b->head->committed);
    if (k->n < MAX_CHUNKS) {
        k->chunk[k->n] = malloc(len);
        memcpy(k->chunk[k->n], b->buf, len);
        k->len[k->n++] = len;
    }
    ms__buffer_begin_chunk(b);
}

static void keep_full(struct ms__buffer *b)
{
    keep_chunk((struct kept *)b, b);
}

static struct kept *kept_new(void)
{
    struct kept *k = calloc(1, sizeof *k);
    void *head = mmap(NULL, MS_SPOOL_HEAD + MS_SLOT_BUFFER, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ms__buffer_init(&k->b, head, keep_full);
    return k;
}

/* The chunk being written, kept as the others. */
static void kept_finish(struct kept *k)
{
    keep_full(&k->b);
}

static void kept_free(struct kept *k)
{
    for (int i = 0; i < k->n; i++)
        free(k->chunk[i]);
    munmap(k->b.head, MS_SPOOL_HEAD + MS_SLOT_BUFFER);
    free(k);
}

struct tally {
    uint64_t allocs, frees, bytes, next_ptr;
    int bad;
};

static int count(void *ctx, const struct ms_event *ev)
{
    struct tally *t = ctx;
    if (ev->kind == MS_REC_ALLOC) {
        if (ev->ptr != t->next_ptr || ev->family != MS_FAMILY_NEW)
            t->bad++;
        t->allocs++;
        t->bytes += ev->size;
    } else if (ev->kind == MS_REC_FREE) {
        if (ev->ptr != t->next_ptr)
            t->bad++;
        t->frees++;
        t->next_ptr += 48;
    }
    return 0;
}

/* 200,000 allocations and frees through a buffer: they fill it several times, and every chunk
 * decodes to exactly the records written, times included. */
static void buffer_records(void)
{
    struct kept *k = kept_new();
    uint64_t ptr = 0x7f0000001000, bytes = 0;
    for (int i = 0; i < 200000; i++) {
        uint8_t *kind;
        uint8_t *p = ms__rec_begin(&k->b, &kind);
        *kind |= (uint8_t)(MS_FAMILY_NEW << MS_REC_FAMILY_SHIFT);
        p = ms_rec_put_ALLOC(&k->b.base, kind, p, ptr, (uint64_t)i % 1000, 0);
        ms__rec_end(&k->b, p);
        bytes += (uint64_t)i % 1000;
        p = ms__rec_begin(&k->b, &kind);
        ms__rec_end(&k->b, ms_rec_put_FREE(&k->b.base, kind, p, ptr));
        ptr += 48;
    }
    kept_finish(k);
    ASSERT_TRUE(k->n > 3);
    struct tally t = {.next_ptr = 0x7f0000001000};
    for (int i = 0; i < k->n; i++) {
        ASSERT_TRUE(k->len[i] <= MS_SLOT_BUFFER);
        ASSERT_EQ(ms_trace_decode_events(k->chunk[i], k->len[i], 1, NULL, count, &t), 0);
    }
    ASSERT_EQ(t.bad, 0);
    ASSERT_EQ(t.allocs, 200000);
    ASSERT_EQ(t.frees, 200000);
    ASSERT_EQ(t.bytes, bytes);
    kept_free(k);
}

/* ---- the stack tree, interned by several threads at once ---- */

#define THREADS 4
#define STACKS 400
#define DEPTH 24

static uintptr_t stack_ips[STACKS][DEPTH];
static int stack_n[STACKS];
static pthread_barrier_t go; /* the threads intern at the same time */

struct intern_job {
    struct ms__unwind_state *u;
    struct kept *k;
    uint32_t id[STACKS];
    unsigned seed;
};

static void *intern_thread(void *arg)
{
    struct intern_job *j = arg;
    pthread_barrier_wait(&go);
    for (int i = 0; i < 20000; i++) {
        int s = (int)(rand_r(&j->seed) % STACKS);
        uint32_t id = ms__stack_intern(j->u, &j->k->b, stack_ips[s], stack_n[s]);
        if (i % 64 == 0)
            sched_yield(); /* on one core too, the threads take turns inserting */
        if (j->id[s] && j->id[s] != id)
            j->id[s] = UINT32_MAX; /* the same stack got two ids */
        else
            j->id[s] = id;
    }
    kept_finish(j->k);
    return NULL;
}

/* Reads a chunk of CLOCK and STACK_NODE records with the codec (the reader bounds node ids by
 * the size of the trace, which a test's chunks alone are not) into table; returns the number
 * of nodes, or -1 if a node was defined before or a record is not one of these. */
static int read_nodes(const uint8_t *p, size_t len, struct ms_stack_table *table)
{
    struct ms_cursor c = {p, p + len, false};
    struct ms_rec_base base = {0};
    int n = 0;
    while (c.p < c.end && !c.bad) {
        uint8_t kind = *c.p++;
        if ((kind & MS_REC_KIND_MASK) == MS_REC_CLOCK) {
            struct ms_rec_CLOCK r;
            ms_rec_get_CLOCK(&c, &base, kind, &r);
            continue;
        }
        if (kind != MS_REC_STACK_NODE)
            return -1;
        struct ms_rec_STACK_NODE r;
        ms_rec_get_STACK_NODE(&c, &base, kind, &r);
        struct ms_stack_node old;
        if (c.bad || !r.id || r.parent >= r.id || ms_stack_table_get(table, (uint32_t)r.id, &old) ||
            ms_stack_table_set(table, (uint32_t)r.id, (uint32_t)r.parent, r.ip, 0) != 0)
            return -1;
        n++;
    }
    return c.bad ? -1 : n;
}

/* Every thread gets the same id for the same stack, every node is defined once, by the thread
 * that created it, and every id resolves, parent by parent, to the stack interned. */
static void stack_intern_threads(void)
{
    ASSERT_EQ(ms__stack_intern_init(), 0);
    unsigned seed = 7;
    for (int s = 0; s < STACKS; s++) {
        stack_n[s] = 1 + (int)(rand_r(&seed) % DEPTH);
        /* Outer frames from few values, so that stacks share prefixes. */
        for (int i = 0; i < stack_n[s]; i++) {
            int outer = stack_n[s] - 1 - i;
            stack_ips[s][i] = 0x400000 + 16 * (outer < 6 ? rand_r(&seed) % 3 : rand_r(&seed) % 500);
        }
    }
    static struct intern_job jobs[THREADS];
    pthread_t th[THREADS];
    pthread_barrier_init(&go, NULL, THREADS);
    for (int t = 0; t < THREADS; t++) {
        jobs[t].u = calloc(1, sizeof *jobs[t].u);
        ms__unwind_state_reset(jobs[t].u, false);
        jobs[t].k = kept_new();
        jobs[t].seed = (unsigned)t + 1;
        ASSERT_EQ(pthread_create(&th[t], NULL, intern_thread, &jobs[t]), 0);
    }
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    pthread_barrier_destroy(&go);
    /* Each node is in the records of exactly one thread: the one that created it. */
    struct ms_stack_table table = {0};
    for (int t = 0; t < THREADS; t++)
        for (int c = 0; c < jobs[t].k->n; c++)
            ASSERT_TRUE(read_nodes(jobs[t].k->chunk[c], jobs[t].k->len[c], &table) >= 0);
    for (int s = 0; s < STACKS; s++) {
        uint32_t id = 0;
        for (int t = 0; t < THREADS; t++) {
            if (!jobs[t].id[s])
                continue; /* this thread never drew it */
            ASSERT_TRUE(jobs[t].id[s] != UINT32_MAX);
            if (!id)
                id = jobs[t].id[s];
            ASSERT_EQ(jobs[t].id[s], id);
        }
        /* Walk the tree from the innermost frame out. */
        for (int i = 0; id && i < stack_n[s]; i++) {
            struct ms_stack_node n;
            ASSERT_TRUE(ms_stack_table_get(&table, id, &n));
            ASSERT_EQ(n.ip, stack_ips[s][i]);
            id = n.parent;
        }
        ASSERT_EQ(id, 0);
    }
    ms_stack_table_free(&table);
    for (int t = 0; t < THREADS; t++) {
        kept_free(jobs[t].k);
        free(jobs[t].u);
    }
}

/* ---- thread slots, the event path and the writer, read back ---- */

#define WORKERS 8
#define EVENTS 30000

static void thread_exit(void *arg)
{
    (void)arg;
    ms__tls.busy = 1;
    ms__slot_detach(&ms__tls);
    ms__tls.dead = 1;
}

/* The C API's shared state, raced: every worker interns one shared string and one of its own,
 * begins TASKS tasks, then ends its own tasks and its neighbour's at once (each ends once). */
#define TASKS 100
static uint64_t task_ids[WORKERS][TASKS];
static atomic_int tasks_ended;
static pthread_barrier_t tasks_made;

static void *worker(void *arg)
{
    uintptr_t base = (uintptr_t)arg;
    int w = (int)(base >> 32) - 1;
    ms__tls.busy = 1;
    for (uintptr_t i = 0; i < EVENTS; i++) {
        ms__on_alloc(MS_REC_ALLOC, MS_FAMILY_MALLOC, (void *)(base + 64 * i), 10, 0);
        if (i % 2)
            ms__on_free(MS_FAMILY_MALLOC, (void *)(base + 64 * i));
    }
    ms__on_realloc(MS_FAMILY_MALLOC, (void *)base, (void *)(base + 8), 20, ms__on_realloc_time(),
                   0);
    char own[32];
    snprintf(own, sizeof own, "worker %d", w);
    uint64_t shared = ms__string_id("shared name"), mine = ms__string_id(own);
    for (int i = 0; i < TASKS; i++) {
        task_ids[w][i] = ms__task_new(ms__task_current());
        ms__on_TASK_BEGIN(task_ids[w][i], 0, i % 2 ? shared : mine);
        ms__on_task_current(task_ids[w][i]);
        ms__on_task_current(0);
    }
    ms__tls.busy = 0;
    pthread_barrier_wait(&tasks_made);
    ms__tls.busy = 1;
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < TASKS; i++) {
            uint64_t parent;
            if (ms__task_end(task_ids[(w + k) % WORKERS][i], &parent))
                atomic_fetch_add(&tasks_ended, parent == 0 ? 1 : 1000000);
        }
    ms__tls.busy = 0;
    return NULL;
}

struct totals {
    uint64_t allocs, frees, reallocs, bytes, threads;
    uint64_t strings, shared_strings, switches, task_begins;
};

static int totals(void *ctx, const struct ms_event *ev)
{
    struct totals *t = ctx;
    t->allocs += ev->kind == MS_REC_ALLOC;
    t->frees += ev->kind == MS_REC_FREE;
    t->reallocs += ev->kind == MS_REC_REALLOC;
    t->threads += ev->kind == MS_REC_THREAD_START;
    if (ev->kind == MS_REC_ALLOC || ev->kind == MS_REC_REALLOC)
        t->bytes += ev->size;
    t->strings += ev->kind == MS_REC_STRING;
    t->shared_strings +=
        ev->kind == MS_REC_STRING && ev->name_len == 11 && memcmp(ev->name, "shared name", 11) == 0;
    t->switches += ev->kind == MS_REC_TASK && ev->size != 0; /* not a chunk's restatement */
    t->task_begins += ev->kind == MS_REC_EXTENDED && ev->value == MS_EXT_TASK_BEGIN;
    return 0;
}

/* Starts tracing into path as lifecycle does at start-up, with the default settings (libunwind
 * stacks, zstd level 1) but for the output (threads may exist: every 16th record is timed). */
static bool start_tracing(const char *path)
{
    ms__diag_init();
    ms__config_load();
    ms__config.output = path;
    ms__config.root_pid = getpid();
    ms__stack_capture_init();
    ms__writer_init();
    ms__writer_create();
    if (ms__slots_init(thread_exit) != 0 || ms__stack_intern_init() != 0)
        return false;
    atomic_store(&ms__time_period, 16);
    atomic_store(&ms__active, true);
    return !strcmp(ms__writer_open(), path);
}

/* Eight threads record through their slots while the main thread creates them; their chunks,
 * the final flush and the END chunk make a whole trace, with every event in it. */
static void slots_to_trace(void)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/ms-test-core-%d.mstrace", (int)getpid());
    ASSERT_TRUE(start_tracing(path));
    pthread_barrier_init(&tasks_made, NULL, WORKERS);
    pthread_t th[WORKERS];
    for (int t = 0; t < WORKERS; t++) {
        ASSERT_EQ(pthread_create(&th[t], NULL, worker, (void *)((uintptr_t)(t + 1) << 32)), 0);
        ms__tls.busy = 1;
        ms__on_thread_created((uint64_t)th[t], ms__now());
        ms__tls.busy = 0;
    }
    for (int t = 0; t < WORKERS; t++)
        pthread_join(th[t], NULL);
    ms__tls.busy = 1;
    bool flushed = ms__slot_flush_all(NULL);
    ASSERT_TRUE(flushed);
    ms__writer_finish(MS_END_EXIT, 0, ms__slots_dropped(), 1, NULL, flushed);
    ms__tls.busy = 0;

    ms_trace *tr;
    char err[512];
    ASSERT_EQ(ms_trace_open(path, &tr, err, sizeof err), 0);
    unlink(path);
    struct ms_stack_table st = {0};
    struct totals got = {0};
    ASSERT_EQ(ms_trace_replay(tr, NULL, 0, &st, totals, &got), 0);
    ASSERT_EQ(ms_trace_damage(tr)->chunks_bad, 0);
    ASSERT_EQ(ms_trace_damage(tr)->bytes_lost, 0);
    ASSERT_TRUE(ms_trace_end(tr)->present);
    ASSERT_EQ(ms_trace_end(tr)->dropped, 0);
    ASSERT_EQ(ms_trace_process(tr)->pid, getpid());
    ASSERT_EQ(got.allocs, (uint64_t)WORKERS * EVENTS);
    ASSERT_EQ(got.frees, (uint64_t)WORKERS * EVENTS / 2);
    ASSERT_EQ(got.reallocs, WORKERS);
    ASSERT_EQ(got.bytes, (uint64_t)WORKERS * (EVENTS * 10 + 20));
    ASSERT_EQ(got.threads, WORKERS + 1); /* the main thread's slot too */
    /* Each string once, whichever thread interned it first; each task id once, ended once. */
    ASSERT_EQ(got.strings, WORKERS + 1);
    ASSERT_EQ(got.shared_strings, 1);
    ASSERT_EQ(got.task_begins, (uint64_t)WORKERS * TASKS);
    ASSERT_EQ(got.switches, (uint64_t)WORKERS * TASKS * 2);
    ASSERT_EQ(atomic_load(&tasks_ended), WORKERS * TASKS);
    for (int w = 0; w < WORKERS; w++)
        for (int i = 0; i < TASKS; i++) {
            ASSERT_EQ(ms__task_state(task_ids[w][i]), MS__TASK_ENDED);
            for (int v = 0; v < w; v++)
                ASSERT_TRUE(task_ids[v][i] != task_ids[w][i]);
        }
    ms_stack_table_free(&st);
    ms_trace_close(tr);
}

/* ---- the process finishing while threads record (exit() in one thread) ---- */

static atomic_bool stop;
static atomic_int started;

static void *recorder(void *arg)
{
    uintptr_t base = (uintptr_t)arg;
    ms__tls.busy = 1;
    atomic_fetch_add(&started, 1);
    for (uintptr_t i = 0; !atomic_load_explicit(&stop, memory_order_relaxed); i++)
        ms__on_alloc(MS_REC_ALLOC, MS_FAMILY_MALLOC, (void *)(base + 64 * i), 1, 0);
    ms__tls.busy = 0;
    return NULL;
}

struct prefix {
    uint64_t next[WORKERS + 1];
    uint64_t allocs;
    int gaps;
};

static int check_prefix(void *ctx, const struct ms_event *ev)
{
    struct prefix *p = ctx;
    if (ev->kind != MS_REC_ALLOC)
        return 0;
    uint64_t t = ev->ptr >> 32, i = (ev->ptr & 0xffffffffu) / 64;
    if (t < 1 || t > WORKERS || i != p->next[t])
        p->gaps++;
    else
        p->next[t]++;
    p->allocs++;
    return 0;
}

/* The main thread flushes every slot and finishes the trace, as exit() does, while eight
 * threads go on recording: each thread's events in the trace are exactly its first ones, with
 * none missing in between, and the trace is whole. */
static void finish_while_recording(void)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/ms-test-core-%d.mstrace", (int)getpid());
    ASSERT_TRUE(start_tracing(path));
    pthread_t th[WORKERS];
    for (int t = 0; t < WORKERS; t++)
        ASSERT_EQ(pthread_create(&th[t], NULL, recorder, (void *)((uintptr_t)(t + 1) << 32)), 0);
    while (atomic_load(&started) < WORKERS)
        sched_yield();
    usleep(100000);
    ms__tls.busy = 1;
    bool flushed = ms__slot_flush_all(NULL);
    ms__writer_finish(MS_END_EXIT, 0, ms__slots_dropped(), WORKERS + 1, NULL, flushed);
    atomic_store(&ms__active, false);
    ms__tls.busy = 0;
    usleep(20000); /* the threads record into sealed slots for a while */
    atomic_store(&stop, true);
    for (int t = 0; t < WORKERS; t++)
        pthread_join(th[t], NULL);

    ms_trace *tr;
    char err[512];
    ASSERT_EQ(ms_trace_open(path, &tr, err, sizeof err), 0);
    unlink(path);
    struct ms_stack_table st = {0};
    static struct prefix got;
    ASSERT_EQ(ms_trace_replay(tr, NULL, 0, &st, check_prefix, &got), 0);
    ASSERT_EQ(ms_trace_damage(tr)->chunks_bad, 0);
    ASSERT_EQ(ms_trace_damage(tr)->bytes_lost, 0);
    ASSERT_TRUE(ms_trace_end(tr)->present);
    ASSERT_EQ(got.gaps, 0);
    for (int t = 1; t <= WORKERS; t++)
        ASSERT_TRUE(got.next[t] > 0);
    ms_stack_table_free(&st);
    ms_trace_close(tr);
}

/* The module map's MODULES payload decodes to as many modules as its count says, whatever the
 * width of its time (a short one once made the count's rewrite zero the first module's path
 * length). */
static void modules_payload(void)
{
    static uint8_t buf[1 << 20];
    const uint64_t times[] = {5, 200, 20000, 1ull << 40};
    for (size_t k = 0; k < sizeof times / sizeof *times; k++) {
        size_t n = ms__modules_encode(buf, sizeof buf, times[k]);
        ASSERT_TRUE(n > 0);
        struct ms_cursor c = {buf, buf + n, false};
        struct ms_chunk_MODULES h;
        ms_chunk_get_MODULES(&c, &h);
        ASSERT_EQ(h.tsc, times[k]);
        ASSERT_TRUE(h.count > 1); /* the test program and libc at least */
        for (uint64_t i = 0; i < h.count; i++) {
            struct ms_chunk_MODULE m;
            ms_chunk_get_MODULE(&c, &m);
            ASSERT_TRUE(!c.bad && m.path_len > 0 && m.lo < m.hi);
        }
        ASSERT_TRUE(c.p == c.end);
    }
}

/* The core backend's table and the tasks' counters, raced: each of THREADS threads adds
 * LIVE_BLOCKS blocks of its own and a task's counts, then frees every other block of its
 * neighbour's (so that frees lower another thread's figures). The totals, each thread's and the
 * task's, and the blocks the table lists are then exactly what is left. */
#define LIVE_BLOCKS 20000
static struct ms__live_owner owners[THREADS];
static uint64_t live_task;
static pthread_barrier_t added;
static atomic_int live_failures;

static uintptr_t live_ptr(int t, int i)
{
    return 0x100000000ull * (uintptr_t)(t + 1) + 16u * (uintptr_t)i;
}

static void *live_thread(void *arg)
{
    int t = (int)(uintptr_t)arg;
    for (int i = 0; i < LIVE_BLOCKS; i++) {
        struct ms__live_block b = {.ptr = live_ptr(t, i),
                                   .size = (uint64_t)(i % 7 + 1),
                                   .task = live_task,
                                   .owner = &owners[t],
                                   .stack = 1};
        if (!ms__live_add(&ms__core_table, &b))
            atomic_fetch_add(&live_failures, 1);
        ms__task_count(live_task, 1, b.size, (int64_t)b.size, 1);
    }
    pthread_barrier_wait(&added);
    int n = (t + 1) % THREADS;
    for (int i = 0; i < LIVE_BLOCKS; i += 2) {
        struct ms__live_block b;
        if (!ms__live_remove(&ms__core_table, live_ptr(n, i), &b) ||
            b.size != (uint64_t)(i % 7 + 1))
            atomic_fetch_add(&live_failures, 1);
        else
            ms__task_count(b.task, 0, 0, -(int64_t)b.size, -1);
    }
    return NULL;
}

static void count_block(const struct ms__live_block *b, void *ctx)
{
    uint64_t *c = ctx;
    c[0]++;
    c[1] += b->size;
}

static void live_table_threads(void)
{
    live_task = ms__task_new(0);
    pthread_barrier_init(&added, NULL, THREADS);
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++)
        ASSERT_EQ(pthread_create(&th[t], NULL, live_thread, (void *)(uintptr_t)t), 0);
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    pthread_barrier_destroy(&added);
    ASSERT_EQ(atomic_load(&live_failures), 0);
    int64_t all = 0, left = 0; /* each thread's bytes, and the odd blocks' */
    for (int i = 0; i < LIVE_BLOCKS; i++) {
        all += i % 7 + 1;
        left += i % 2 ? i % 7 + 1 : 0;
    }
    struct ms__live_totals tot;
    ms__live_totals(&ms__core_table, &tot);
    ASSERT_EQ(tot.live_blocks, (int64_t)THREADS * LIVE_BLOCKS / 2);
    ASSERT_EQ(tot.live_bytes, THREADS * left);
    ASSERT_TRUE(tot.peak_bytes >= (uint64_t)(THREADS * left) &&
                tot.peak_bytes <= (uint64_t)(THREADS * all));
    for (int t = 0; t < THREADS; t++) {
        ASSERT_EQ(atomic_load(&owners[t].live_blocks), LIVE_BLOCKS / 2);
        ASSERT_EQ(atomic_load(&owners[t].live_bytes), left);
    }
    struct ms__task_counts c;
    ASSERT_TRUE(ms__task_counts(live_task, &c));
    ASSERT_EQ(c.allocs, (uint64_t)THREADS * LIVE_BLOCKS);
    ASSERT_EQ(c.bytes, (uint64_t)(THREADS * all));
    ASSERT_EQ(c.live_blocks, (int64_t)THREADS * LIVE_BLOCKS / 2);
    ASSERT_EQ(c.live_bytes, THREADS * left);
    uint64_t listed[2] = {0, 0};
    ms__live_each(&ms__core_table, count_block, listed);
    ASSERT_EQ(listed[0], (uint64_t)THREADS * LIVE_BLOCKS / 2);
    ASSERT_EQ(listed[1], (uint64_t)(THREADS * left));
    /* A block the table never had is counted as such, and changes nothing. */
    struct ms__live_block none;
    ASSERT_TRUE(!ms__live_remove(&ms__core_table, 0x10, &none));
    ms__live_totals(&ms__core_table, &tot);
    ASSERT_EQ(tot.unknown_frees, 1u);
    ASSERT_EQ(tot.live_blocks, (int64_t)THREADS * LIVE_BLOCKS / 2);
}

/* ---- sampling (sampler.h) ---- */

/* The sampled set against a plain array over 200,000 random adds and takes of 4,096 addresses
 * (clusters, wrap-arounds, growth): a take finds a block exactly when it was added and not yet
 * taken, whatever the backward shifts moved. */
static void sampled_set_reference(void)
{
    enum { N = 4096 };
    static bool in[N];
    uint64_t rng = 12345, present = 0;
    for (int i = 0; i < 200000; i++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t k = (uint32_t)(rng >> 33) % N;
        uintptr_t p = 0x7f0000000000u + (uintptr_t)k * 16u;
        if ((rng >> 20) & 1) {
            if (!in[k]) {
                ASSERT_TRUE(ms__sampled_add(p));
                in[k] = true;
                present++;
            }
        } else {
            ASSERT_EQ(ms__sampled_take(p), in[k]);
            present -= in[k];
            in[k] = false;
        }
    }
    for (uint32_t k = 0; k < N; k++)
        ASSERT_EQ(ms__sampled_take(0x7f0000000000u + (uintptr_t)k * 16u), in[k]);
    ASSERT_TRUE(present > 0);
}

/* Four threads add and take blocks of their own at once (the set grows meanwhile): every take
 * of a block its thread added finds it, none of another's (TSan checks the seqlock). */
static void *set_worker(void *arg)
{
    uintptr_t base = (uintptr_t)arg;
    int bad = 0;
    for (int round = 0; round < 20; round++) {
        for (uintptr_t i = 0; i < 5000; i++)
            bad += !ms__sampled_add(base + 16 * i);
        for (uintptr_t i = 0; i < 5000; i++)
            bad += !ms__sampled_take(base + 16 * i) + ms__sampled_take(base + 16 * i);
    }
    return (void *)(uintptr_t)bad;
}

static void sampled_set_threads(void)
{
    pthread_t t[4];
    for (uintptr_t i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, set_worker, (void *)(0x10000000000u * (i + 1)));
    for (int i = 0; i < 4; i++) {
        void *bad;
        pthread_join(t[i], &bad);
        ASSERT_EQ((uintptr_t)bad, 0);
    }
}

struct counted {
    uint64_t ip[2000], allocs[2000], bytes[2000];
    uint64_t frees, reallocs;
};

static int sum_counts(void *ctx, const struct ms_event *ev)
{
    struct counted *c = ctx;
    if (ev->kind != MS_REC_EXTENDED)
        return 0;
    if (ev->value == MS_EXT_SAMPLE_FREES) {
        c->frees += ev->x[0];
        c->reallocs += ev->x[1];
    } else if (ev->value == MS_EXT_CALL_COUNTS) {
        uint64_t i = (ev->x[0] - 0x400000) / 4;
        if (i < 2000 && ev->x[0] == 0x400000 + 4 * i) {
            c->ip[i] = ev->x[0];
            c->allocs[i] += ev->x[1];
            c->bytes[i] += ev->x[2];
        }
    }
    return 0;
}

/* The call counts of 2,000 call sites (far more than the table's 127 entries: evictions) and of
 * frees, written out as records: summed, they are exactly what was counted, and the table is
 * empty afterwards. */
static struct kept *slot_kept;

/* A slot's buffer is full: its chunk goes where the kept buffer's go. */
static void slot_full_keep(struct ms__buffer *b)
{
    keep_chunk(slot_kept, b);
}

static void call_counts_records(void)
{
    struct kept *k = slot_kept = kept_new();
    struct ms__slot *s =
        mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ms__buffer_init(&s->b, k->b.head, slot_full_keep);
    static uint64_t want_allocs[2000], want_bytes[2000];
    uint64_t rng = 99;
    for (int i = 0; i < 300000; i++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t site = (uint32_t)(rng >> 33) % (i < 150000 ? 100 : 2000); /* then many */
        uint64_t size = (rng >> 8) % 5000;
        ms__count_call(s, 0x400000 + 4 * (uintptr_t)site, size);
        want_allocs[site]++;
        want_bytes[site] += size;
        if (i % 3 == 0)
            ms__count_unsampled(s, 1, i % 6 == 0);
    }
    ms__call_counts_flush(s);
    for (uint32_t i = 0; i < MS_SPOOL_COUNTS; i++)
        ASSERT_EQ(ms__call_counts(s)[i].ip, 0);
    slot_full_keep(&s->b);
    static struct counted got;
    for (int i = 0; i < k->n; i++)
        ASSERT_EQ(ms_trace_decode_events(k->chunk[i], k->len[i], 1, NULL, sum_counts, &got), 0);
    for (int i = 0; i < 2000; i++) {
        ASSERT_EQ(got.allocs[i], want_allocs[i]);
        ASSERT_EQ(got.bytes[i], want_bytes[i]);
    }
    ASSERT_EQ(got.frees, 100000);
    ASSERT_EQ(got.reallocs, 50000);
    munmap(s, sizeof *s);
    kept_free(k);
}

/* Whether [lo, hi) is in the list of memscope's own ranges. */
static bool owned(uintptr_t lo, uintptr_t hi)
{
    static struct ms__own_range r[4096];
    bool lost;
    size_t n = 0;
    if (!ms__own_ranges_try(r, 4096, &n, &lost))
        return false; /* held: no other thread runs here, so that is a failure */
    for (size_t i = 0; i < n && i < 4096; i++)
        if (r[i].lo <= lo && r[i].hi >= hi)
            return true;
    return false;
}

/* memscope's mappings are listed as they are mapped, replaced (MAP_FIXED), cut and unmapped,
 * sorted; the program's own are not. */
static void own_ranges(void)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uint8_t *a =
        ms__own_map(NULL, 8 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    uint8_t *mine = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT_TRUE(a != MAP_FAILED && mine != MAP_FAILED);
    ASSERT_TRUE(owned((uintptr_t)a, (uintptr_t)a + 8 * page));
    ASSERT_TRUE(!owned((uintptr_t)mine, (uintptr_t)mine + page));
    /* a hole in the middle: two ranges */
    ASSERT_EQ(ms__own_unmap(a + 2 * page, 2 * page), 0);
    ASSERT_TRUE(owned((uintptr_t)a, (uintptr_t)a + 2 * page));
    ASSERT_TRUE(owned((uintptr_t)a + 4 * page, (uintptr_t)a + 8 * page));
    ASSERT_TRUE(!owned((uintptr_t)a + 2 * page, (uintptr_t)a + 3 * page));
    /* mapped again over part of it, fixed */
    ASSERT_TRUE(ms__own_map(a + 5 * page, page, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == a + 5 * page);
    ASSERT_TRUE(owned((uintptr_t)a + 4 * page, (uintptr_t)a + 8 * page) ||
                (owned((uintptr_t)a + 4 * page, (uintptr_t)a + 5 * page) &&
                 owned((uintptr_t)a + 5 * page, (uintptr_t)a + 6 * page) &&
                 owned((uintptr_t)a + 6 * page, (uintptr_t)a + 8 * page)));
    ASSERT_EQ(ms__own_unmap(a, 8 * page), 0);
    ASSERT_TRUE(!owned((uintptr_t)a, (uintptr_t)a + page));
    ASSERT_TRUE(!owned((uintptr_t)a + 5 * page, (uintptr_t)a + 6 * page));
    /* sorted */
    static struct ms__own_range r[4096];
    bool lost;
    size_t n = 0;
    ASSERT_TRUE(ms__own_ranges_try(r, 4096, &n, &lost));
    ASSERT_TRUE(!lost);
    for (size_t i = 1; i < n; i++)
        ASSERT_TRUE(r[i - 1].lo < r[i].lo);
    munmap(mine, page);
}

/* A fork from a signal handler that interrupted an update of the list, on the same thread: the
 * prepare handler cannot take the lock (its thread holds it), so the child finds it held under
 * an id it no longer has. The child must reset it and map on, the list marked inexact. Done in
 * a process of its own: the parent is left with the lock its interrupted update never ends. */
static void own_ranges_fork_in_update(void)
{
    pid_t helper = fork();
    ASSERT_TRUE(helper >= 0);
    if (helper == 0) {
        ms__own_memory_lock(); /* the interrupted update */
        ms__own_memory_lock(); /* the handler's fork: not taken */
        pid_t child = fork();
        if (child == 0) {
            ms__cached_tid = 0; /* as the capture's fork handler does */
            ms__own_memory_fork_child();
            alarm(10);
            void *p = ms__own_map(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            static struct ms__own_range r[16];
            bool lost = false;
            size_t n = 0;
            bool read = ms__own_ranges_try(r, 16, &n, &lost);
            _exit(p != MAP_FAILED && read && lost ? 0 : 3);
        }
        int st = 0;
        waitpid(child, &st, 0);
        _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 4);
    }
    int st = 0;
    ASSERT_EQ(waitpid(helper, &st, 0), helper);
    ASSERT_TRUE(WIFEXITED(st));
    ASSERT_EQ(WEXITSTATUS(st), 0);
}

/* In a forked child: what the capture's fork handler does for the writer, an operation of its
 * own. */
static void as_fork_handler(void)
{
    ms__cached_tid = 0;
    ms__writer_enter();
    struct ms__fork_origin o = {.parent_pid = (int)getppid()};
    ms__writer_after_fork_child(&o);
    ms__writer_leave();
}

/* One output operation, as a buffer's flush or the signal handler's own allocation makes. */
static bool events_op(uint32_t tid)
{
    static const uint8_t none[1];
    ms__writer_enter();
    bool w = ms__writer_events(tid, ms__now(), none, 0);
    ms__writer_leave();
    return w;
}

/* A signal handler forks in the middle of a buffer's flush: in the child, the rest of that flush
 * (the parent's events) must not reach the child's trace, whose header is not written yet; the
 * child's own chunks must. It once came first in the file ("bad magic", sampling.py). A child
 * that never returns from the handler (it allocates, then exits from it) still writes its whole
 * trace: once, every write after the fork counted as the stale flush's, and such a child left an
 * empty trace and its spool. */
static void fork_in_flush_as(bool exit_in_handler)
{
    static char path[64], child_path[96];
    snprintf(path, sizeof path, "/tmp/ms-test-forkflush-%d.mstrace", (int)getpid());
    ASSERT_TRUE(start_tracing(path));
    static const uint8_t none[1];
    ms__tls.busy = 1;
    ms__writer_enter(); /* the flush that the handler interrupts */
    pid_t child = fork();
    ASSERT_TRUE(child >= 0);
    if (child == 0) {
        as_fork_handler();
        bool own = events_op(2); /* the handler allocates */
        if (exit_in_handler) {
            ms__writer_finish(MS_END_EXIT, 0, 0, 1, NULL, true);
            _exit(own ? 0 : 3);
        }
        bool parents = ms__writer_events(1, ms__now(), none, 0); /* the flush resumes */
        ms__writer_leave();
        own = own && events_op(4);
        ms__writer_finish(MS_END_EXIT, 0, 0, 1, NULL, true);
        _exit(!parents && own ? 0 : 3);
    }
    int st = 0;
    ASSERT_EQ(waitpid(child, &st, 0), child);
    ASSERT_TRUE(WIFEXITED(st));
    ASSERT_EQ(WEXITSTATUS(st), 0);
    ASSERT_TRUE(ms__writer_events(3, ms__now(), none, 0)); /* the parent's flush goes on */
    ms__writer_leave();
    ms__writer_finish(MS_END_EXIT, 0, 0, 1, NULL, true);
    snprintf(child_path, sizeof child_path, "%s.%d", path, (int)child);
    const char *both[] = {path, child_path};
    for (int k = 0; k < 2; k++) {
        ms_trace *tr;
        char err[512];
        int rc = ms_trace_open(both[k], &tr, err, sizeof err);
        unlink(both[k]);
        if (rc != 0)
            fprintf(stderr, "%s\n", err);
        ASSERT_EQ(rc, 0);
        ASSERT_EQ(ms_trace_damage(tr)->chunks_bad, 0);
        ASSERT_TRUE(ms_trace_end(tr)->present);
        ASSERT_EQ(ms_trace_process(tr)->pid, k ? child : getpid());
        ms_trace_close(tr);
    }
    char spool[160];
    snprintf(spool, sizeof spool, "%s.spool", child_path);
    ASSERT_TRUE(access(spool, F_OK) != 0); /* the child's spool went with its END */
}

/* The parent's flush resumed in a child forked by a signal handler, with a chunk that would pass
 * the file size limit: dropped, it must not stop the child's tracking (it once did, before any
 * check that it was stale: a false "file size limit" and no END). */
static void fork_in_flush_fsize(void)
{
    static char path[64], child_path[96];
    snprintf(path, sizeof path, "/tmp/ms-test-forkfsize-%d.mstrace", (int)getpid());
    ASSERT_TRUE(start_tracing(path));
    static uint8_t big[200000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(rand() >> 7);
    ms__tls.busy = 1;
    ms__writer_enter(); /* the flush that the handler interrupts */
    pid_t child = fork();
    ASSERT_TRUE(child >= 0);
    if (child == 0) {
        as_fork_handler();
        bool own = events_op(2);
        struct rlimit r = {100000, RLIM_INFINITY};
        setrlimit(RLIMIT_FSIZE, &r);
        bool parents = ms__writer_events(1, ms__now(), big, sizeof big); /* stale: dropped */
        ms__writer_leave();
        bool own2 = events_op(4);
        ms__writer_finish(MS_END_EXIT, 0, 0, 1, NULL, true);
        _exit(!parents && own && own2 ? 0 : 3);
    }
    int st = 0;
    ASSERT_EQ(waitpid(child, &st, 0), child);
    ms__writer_leave();
    ms__writer_finish(MS_END_EXIT, 0, 0, 1, NULL, true);
    snprintf(child_path, sizeof child_path, "%s.%d", path, (int)child);
    ms_trace *tr;
    char err[512];
    int rc = ms_trace_open(child_path, &tr, err, sizeof err);
    bool end = rc == 0 && ms_trace_end(tr)->present;
    if (!rc)
        ms_trace_close(tr);
    unlink(path);
    unlink(child_path);
    ASSERT_TRUE(WIFEXITED(st));
    ASSERT_EQ(WEXITSTATUS(st), 0);
    ASSERT_TRUE(end);
}

/* A fork inside 8 nested operations of one thread (more than there were frames): the child's
 * own operations write (they were taken for the parent's). */
static void fork_deep_ops(void)
{
    static char path[64], child_path[96];
    snprintf(path, sizeof path, "/tmp/ms-test-forkdeep-%d.mstrace", (int)getpid());
    ASSERT_TRUE(start_tracing(path));
    ms__tls.busy = 1;
    for (int i = 0; i < 12; i++)
        ms__writer_enter();
    pid_t child = fork();
    ASSERT_TRUE(child >= 0);
    if (child == 0) {
        as_fork_handler();
        _exit(events_op(2) ? 0 : 3);
    }
    int st = 0;
    ASSERT_EQ(waitpid(child, &st, 0), child);
    for (int i = 0; i < 12; i++)
        ms__writer_leave();
    ms__writer_finish(MS_END_EXIT, 0, 0, 1, NULL, true);
    snprintf(child_path, sizeof child_path, "%s.%d", path, (int)child);
    unlink(path);
    unlink(child_path);
    ASSERT_TRUE(WIFEXITED(st));
    ASSERT_EQ(WEXITSTATUS(st), 0);
}

static void fork_in_flush(void)
{
    fork_in_flush_as(false);
}

static void fork_in_flush_exit(void)
{
    fork_in_flush_as(true);
}

/* Whether /proc/self/smaps shows the two-letter flag f on the mapping holding addr. */
static bool smaps_flag(const void *addr, const char *f)
{
    FILE *sm = fopen("/proc/self/smaps", "r");
    char line[1024];
    bool in = false, has = false;
    while (sm && fgets(line, sizeof line, sm)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' '))
            in = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
        else if (in && !strncmp(line, "VmFlags:", 8)) {
            char want[8];
            snprintf(want, sizeof want, " %s", f);
            for (char *p = line; (p = strstr(p, want)); p++)
                has |= p[3] == ' ' || p[3] == '\n';
            break;
        }
    }
    if (sm)
        fclose(sm);
    return has;
}

/* At exit, the leak scan's snapshot lifts MADV_DONTFORK and MADV_WIPEONFORK on the ranges the
 * program gave madvise, never on a mapping the kernel or a driver marked (a perf ring buffer,
 * device memory: here a range marked with the raw system call, which the hook does not see).
 * It once lifted every such mapping smaps listed. */
static void fork_flags_asked(void)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    char *m[3];
    for (int k = 0; k < 3; k++) {
        m[k] = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        ASSERT_TRUE(m[k] != MAP_FAILED);
    }
    ASSERT_EQ(syscall(SYS_madvise, m[0], 2 * pg, MADV_DONTFORK), 0);
    ASSERT_EQ(syscall(SYS_madvise, m[1], 2 * pg, MADV_DONTFORK), 0); /* the driver's */
    ASSERT_EQ(syscall(SYS_madvise, m[2], pg, MADV_WIPEONFORK), 0);
    ms__exit_scan_fork_flags_asked(m[0], 2 * pg, MADV_DONTFORK);
    ms__exit_scan_fork_flags_asked(m[2], pg, MADV_WIPEONFORK);
    ASSERT_TRUE(smaps_flag(m[0], "dc") && smaps_flag(m[1], "dc") && smaps_flag(m[2], "wf"));
    ms__exit_scan_lift_fork_flags();
    ASSERT_TRUE(!smaps_flag(m[0], "dc"));
    ASSERT_TRUE(smaps_flag(m[1], "dc"));
    ASSERT_TRUE(!smaps_flag(m[2], "wf"));
    for (int k = 0; k < 3; k++)
        munmap(m[k], 2 * pg);
}

/* --check's heap from four threads at once, with a quarantine small enough to turn over many
 * times: every block is aligned as asked, holds what was written into it (across reallocs too),
 * says its asked size as usable, and leaves its red zones whole, so that nothing is reported
 * (there is no trace to report into); a second free of a block, or a free of an address inside
 * one, is refused. */
#define CHECK_THREADS 4
#define CHECK_ROUNDS 20000

static void *check_thread(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    char *keep[64] = {0};
    for (int i = 0; i < CHECK_ROUNDS; i++) {
        int k = (int)(rand_r(&seed) % 64);
        size_t n = rand_r(&seed) % 300;
        if (keep[k]) {
            size_t had = ms__check_usable_size(keep[k]);
            for (size_t j = 0; j < had; j++)
                if (keep[k][j] != (char)(had + j))
                    return (void *)1;
            if (i & 1) {
                bool unknown;
                char *p = ms__check_realloc(keep[k], had + 1, 0, false, &unknown);
                if (!p || unknown || p == keep[k] || ms__check_usable_size(p) != had + 1)
                    return (void *)2;
                for (size_t j = 0; j < had; j++)
                    if (p[j] != (char)(had + j))
                        return (void *)3;
                for (size_t j = 0; j < had + 1; j++)
                    p[j] = (char)(had + 1 + j);
                keep[k] = p;
                continue;
            }
            if (ms__check_free(keep[k]) != MS_CHECK_FREED)
                return (void *)4;
            keep[k] = NULL;
            continue;
        }
        size_t align = (i % 5 == 0) ? 64 : (i % 7 == 0) ? 4096 : 0;
        char *p = ms__check_alloc(n, align, i % 3 == 0);
        if (!p || ((uintptr_t)p & ((align ? align : 16) - 1)) || ms__check_usable_size(p) != n)
            return (void *)5;
        for (size_t j = 0; j < n; j++)
            if (i % 3 == 0 && p[j] != 0)
                return (void *)6;
        for (size_t j = 0; j < n; j++)
            p[j] = (char)(n + j);
        keep[k] = p;
    }
    for (int k = 0; k < 64; k++)
        if (keep[k] && ms__check_free(keep[k]) != MS_CHECK_FREED)
            return (void *)7;
    return NULL;
}

static void check_heap_threads(void)
{
    ms__real_resolve();
    ms__config.check = true;
    ms__config.quarantine_bytes = 1 << 20;
    pthread_t th[CHECK_THREADS];
    for (int t = 0; t < CHECK_THREADS; t++)
        ASSERT_EQ(pthread_create(&th[t], NULL, check_thread, (void *)(uintptr_t)(t + 1)), 0);
    for (int t = 0; t < CHECK_THREADS; t++) {
        void *r;
        ASSERT_EQ(pthread_join(th[t], &r), 0);
        ASSERT_EQ((long)(uintptr_t)r, 0);
    }
    uint64_t listed[2] = {0};
    ms__live_each(&ms__check_table, count_block, listed);
    ASSERT_EQ(listed[0], 0);
    char *p = ms__check_alloc(40, 0, false);
    ASSERT_TRUE(p != NULL);
    ASSERT_EQ(ms__check_free(p + 8), MS_CHECK_UNKNOWN);
    ASSERT_EQ(ms__check_free(p), MS_CHECK_FREED);
    ASSERT_EQ(ms__check_free(p), MS_CHECK_UNKNOWN);
    bool unknown = false;
    ASSERT_TRUE(ms__check_realloc(p, 80, 0, false, &unknown) == NULL && unknown);
    ms__check_quarantine_flush();
    ms__config.check = false;
}

/* --check's per-thread stages (check_heap.c) raced: threads with slots free small blocks (staged)
 * and large ones (straight into the ring, the stage first), exit (their stage enters the ring),
 * and new threads take their slots, while another thread runs the exit's check over and over:
 * no block is checked after its release (ASan, TSan stages) and none is lost (flushed at the
 * end). From the review of 9b80495. */
#define STAGE_THREADS 6
static atomic_int stages_stop;

static void *stage_thread(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    ms__tls.busy = 1;
    ms__slot_get(&ms__tls);
    for (int i = 0; i < 30000; i++) {
        size_t n = rand_r(&seed) % 8 == 0 ? 5000 : rand_r(&seed) % 600;
        char *p = ms__check_alloc(n, 0, false);
        if (!p)
            return (void *)1;
        memset(p, 1, n);
        if (ms__check_free(p) != MS_CHECK_FREED)
            return (void *)2;
    }
    ms__check_thread_exit();
    ms__tls.busy = 0;
    return NULL;
}

static void *exit_checker(void *arg)
{
    (void)arg;
    ms__tls.busy = 1;
    while (!atomic_load(&stages_stop))
        ms__check_at_finish();
    return NULL;
}

static void check_stages_threads(void)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/ms-test-stage-%d.mstrace", (int)getpid());
    ASSERT_TRUE(start_tracing(path));
    ms__real_resolve();
    ms__config.check = true;
    ms__config.quarantine_bytes = 1 << 18;
    pthread_t f;
    ASSERT_EQ(pthread_create(&f, NULL, exit_checker, NULL), 0);
    for (int r = 0; r < 4; r++) {
        pthread_t th[STAGE_THREADS];
        for (int t = 0; t < STAGE_THREADS; t++)
            ASSERT_EQ(
                pthread_create(&th[t], NULL, stage_thread, (void *)(uintptr_t)(r * 10 + t + 1)), 0);
        for (int t = 0; t < STAGE_THREADS; t++) {
            void *res;
            ASSERT_EQ(pthread_join(th[t], &res), 0);
            ASSERT_TRUE(res == NULL);
        }
    }
    atomic_store(&stages_stop, 1);
    ASSERT_EQ(pthread_join(f, NULL), 0);
    ms__tls.busy = 1;
    ms__check_quarantine_flush();
    ms__tls.busy = 0;
    ms__config.check = false;
    unlink(path);
}

MS_TEST_MAIN(TEST(buffer_records), TEST(stack_intern_threads), TEST(slots_to_trace),
             TEST(finish_while_recording), TEST(modules_payload), TEST(live_table_threads),
             TEST(sampled_set_reference), TEST(sampled_set_threads), TEST(call_counts_records),
             TEST(own_ranges), TEST(own_ranges_fork_in_update), TEST(fork_in_flush),
             TEST(fork_in_flush_exit), TEST(fork_flags_asked), TEST(fork_in_flush_fsize),
             TEST(fork_deep_ops), TEST(check_heap_threads), TEST(check_stages_threads))
