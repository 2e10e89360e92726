/* Tests for the replay model: valgrind's way of counting, the peak and each site's share of
 * it, temporary allocations, frees of unknown blocks, and per-thread figures. */
#include "analysis/annotations.h"
#include "analysis/call_sites.h"
#include "analysis/heap_model.h"
#include "analysis/leak_checks.h"
#include "analysis/misuse.h"
#include "analysis/passports.h"
#include "common/trace_format.h"
#include "ms_test.h"

#include <string.h>

static struct ms_heap_model *m;
static uint64_t now = 100;

static void ev(int kind, uint32_t tid, uint64_t ptr, uint64_t size, uint32_t stack, uint64_t old)
{
    struct ms_event e = {.kind = kind,
                         .tid = tid,
                         .tsc = now++,
                         .ptr = ptr,
                         .size = size,
                         .stack = stack,
                         .old_ptr = old};
    /* As the reader does when no other thread's event resolves a conflict. */
    if (ms_heap_model_apply(m, &e) > 0) {
        e.forced = true;
        ms_heap_model_apply(m, &e);
    }
}

static const struct ms_site *site_of(uint32_t stack)
{
    for (size_t i = 0; i < ms_heap_model_site_count(m); i++)
        if (ms_heap_model_site(m, i)->stack == stack)
            return ms_heap_model_site(m, i);
    return NULL;
}

static void valgrind_counting(void)
{
    m = ms_heap_model_new();
    ev(MS_REC_ALLOC, 1, 0x10, 100, 1, 0);
    ev(MS_REC_REALLOC, 1, 0x20, 300, 1, 0x10);
    ev(MS_REC_ALLOC, 1, 0x30, 0, 2, 0);
    ev(MS_REC_FREE, 1, 0x20, 0, 0, 0);
    ms_heap_model_finish(m);
    const struct ms_summary *s = ms_heap_model_summary(m);
    ASSERT_EQ(s->allocs, 3);
    ASSERT_EQ(s->frees, 2);
    ASSERT_EQ(s->realloc_calls, 1);
    ASSERT_EQ(s->bytes_allocated, 400);
    ASSERT_EQ(s->live_bytes, 0);
    ASSERT_EQ(s->live_blocks, 1); /* malloc(0) still counts as a block */
    ASSERT_EQ(s->peak_bytes, 300);
    ms_heap_model_free(m);
}

static void peak_by_site(void)
{
    m = ms_heap_model_new();
    ev(MS_REC_ALLOC, 1, 0x10, 100, 1, 0);
    ev(MS_REC_ALLOC, 1, 0x20, 50, 2, 0); /* peak 150: site 1 100, site 2 50 */
    uint64_t peak_at = now - 1;
    ev(MS_REC_FREE, 1, 0x10, 0, 0, 0);
    ev(MS_REC_ALLOC, 1, 0x30, 60, 2, 0); /* 110, below the peak */
    ms_heap_model_finish(m);
    ASSERT_EQ(ms_heap_model_summary(m)->peak_bytes, 150);
    ASSERT_EQ(ms_heap_model_summary(m)->peak_tsc, peak_at);
    ASSERT_EQ(site_of(1)->peak_bytes, 100);
    ASSERT_EQ(site_of(2)->peak_bytes, 50);
    ASSERT_EQ(site_of(2)->live_bytes, 110);
    ms_heap_model_free(m);

    m = ms_heap_model_new();
    ev(MS_REC_ALLOC, 1, 0x10, 100, 1, 0);
    ev(MS_REC_FREE, 1, 0x10, 0, 0, 0);
    ev(MS_REC_ALLOC, 1, 0x20, 200, 2, 0); /* the new peak has nothing from site 1 */
    ms_heap_model_finish(m);
    ASSERT_EQ(site_of(1)->peak_bytes, 0);
    ASSERT_EQ(site_of(2)->peak_bytes, 200);
    ms_heap_model_free(m);
}

static void temporary(void)
{
    m = ms_heap_model_new();
    ev(MS_REC_ALLOC, 1, 0x10, 8, 1, 0);
    ev(MS_REC_FREE, 1, 0x10, 0, 0, 0); /* temporary */
    ev(MS_REC_ALLOC, 1, 0x20, 8, 2, 0);
    ev(MS_REC_ALLOC, 1, 0x30, 8, 2, 0);
    ev(MS_REC_FREE, 1, 0x20, 0, 0, 0); /* not: thread 1 allocated since */
    ev(MS_REC_ALLOC, 2, 0x40, 8, 3, 0);
    ev(MS_REC_ALLOC, 1, 0x50, 8, 3, 0);
    ev(MS_REC_FREE, 1, 0x40, 0, 0, 0); /* temporary: thread 2 did not allocate again */
    ms_heap_model_finish(m);
    ASSERT_EQ(ms_heap_model_summary(m)->temporary_allocs, 2);
    ASSERT_EQ(site_of(1)->temporary, 1);
    ASSERT_EQ(site_of(2)->temporary, 0);
    ASSERT_EQ(site_of(3)->temporary, 1);
    ms_heap_model_free(m);
}

static void unknown_frees_and_threads(void)
{
    m = ms_heap_model_new();
    struct ms_event start = {
        .kind = MS_REC_THREAD_START, .tid = 5, .name = "worker", .name_len = 6, .value = 1};
    ms_heap_model_apply(m, &start);
    ev(MS_REC_FREE, 5, 0x999, 0, 0, 0);
    ev(MS_REC_ALLOC, 5, 0x10, 64, 1, 0);
    ev(MS_REC_ALLOC, 5, 0x20, 32, 1, 0);
    ev(MS_REC_FREE, 6, 0x20, 0, 0, 0);
    ms_heap_model_finish(m);
    const struct ms_summary *s = ms_heap_model_summary(m);
    ASSERT_EQ(s->unknown_frees, 1);
    ASSERT_EQ(s->frees, 2);
    ASSERT_EQ(s->threads, 1);
    const struct ms_thread_stats *t = ms_heap_model_thread(m, 0);
    ASSERT_STREQ(t->name, "worker");
    ASSERT_EQ(t->allocs, 2);
    ASSERT_EQ(t->peak_bytes, 96);
    ASSERT_EQ(t->live_bytes, 64);
    ASSERT_EQ(t->leaked_blocks, 1);
    ms_heap_model_free(m);
}

/* Many blocks: the live table grows and deletes correctly. */
static void many_blocks(void)
{
    m = ms_heap_model_new();
    for (uint64_t i = 1; i <= 100000; i++)
        ev(MS_REC_ALLOC, 1, i * 16, 1, 1, 0);
    for (uint64_t i = 1; i <= 100000; i += 2)
        ev(MS_REC_FREE, 1, i * 16, 0, 0, 0);
    ms_heap_model_finish(m);
    ASSERT_EQ(ms_heap_model_summary(m)->live_blocks, 50000);
    ASSERT_EQ(ms_heap_model_summary(m)->unknown_frees, 0);
    for (uint64_t i = 2; i <= 100000; i += 2)
        ev(MS_REC_FREE, 1, i * 16, 0, 0, 0);
    ASSERT_EQ(ms_heap_model_summary(m)->live_blocks, 0);
    ASSERT_EQ(ms_heap_model_summary(m)->unknown_frees, 0);
    ms_heap_model_free(m);
}

/* The model reports conflicts instead of guessing, and applies a forced event. */
static void conflicts(void)
{
    m = ms_heap_model_new();
    struct ms_event a = {.kind = MS_REC_ALLOC, .tid = 1, .tsc = 1, .ptr = 0x10, .size = 8};
    ASSERT_EQ(ms_heap_model_apply(m, &a), 0);
    ASSERT_EQ(ms_heap_model_apply(m, &a), MS_REPLAY_WANT_FREE);
    struct ms_event f = {.kind = MS_REC_FREE, .tid = 2, .tsc = 2, .ptr = 0x20};
    ASSERT_EQ(ms_heap_model_apply(m, &f), MS_REPLAY_WANT_ALLOC);
    struct ms_event r = {
        .kind = MS_REC_REALLOC, .tid = 2, .tsc = 3, .old_ptr = 0x30, .ptr = 0x40, .size = 4};
    ASSERT_EQ(ms_heap_model_apply(m, &r), MS_REPLAY_WANT_ALLOC_OLD);
    ASSERT_EQ(ms_heap_model_summary(m)->allocs, 1);
    f.forced = true;
    ASSERT_EQ(ms_heap_model_apply(m, &f), 0);
    ASSERT_EQ(ms_heap_model_summary(m)->unknown_frees, 1);
    ms_heap_model_free(m);
}

/* The totals-only model (memscope run's summary) gives the full model's totals for the same
 * events: reallocs (moved and in place), aligned allocations, lost frees, unknown frees, several
 * threads (in runs of one thread's events, as traces have them, which the totals model's fast
 * path takes), a table that grows, a peak that moves. */
static void totals_only(void)
{
    struct ms_summary sums[2];
    for (int mode = 0; mode < 2; mode++) {
        m = mode ? ms_heap_model_new_totals() : ms_heap_model_new();
        now = 100;
        uint64_t rng = 12345;
        uint32_t tid = 1;
        for (int i = 0; i < 40000; i++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            uint64_t ptr = 0x1000 + ((rng >> 33) % (i < 20000 ? 500 : 3000)) * 16;
            if ((rng >> 59) == 0)
                tid = 1 + (uint32_t)((rng >> 20) % 3);
            switch ((rng >> 40) % 8) {
            case 0:
            case 1:
            case 2:
                ev(MS_REC_ALLOC, tid, ptr, (rng >> 45) % 4096, (uint32_t)(rng % 7), 0);
                break;
            case 3:
                ev(MS_REC_ALLOC_ALIGNED, tid, ptr, (rng >> 45) % 512, 2, 0);
                break;
            case 4:
            case 5:
            case 6:
                ev(MS_REC_FREE, tid, ptr, 0, 0, 0);
                break;
            default:
                /* moved, or in place */
                ev(MS_REC_REALLOC, tid, ptr + ((rng >> 47) & 1) * 16, (rng >> 50) % 8192, 3, ptr);
            }
        }
        ms_heap_model_finish(m);
        sums[mode] = *ms_heap_model_summary(m);
        if (mode)
            ASSERT_EQ(ms_heap_model_site_count(m), 0);
        ms_heap_model_free(m);
    }
    ASSERT_EQ(sums[1].allocs, sums[0].allocs);
    ASSERT_EQ(sums[1].frees, sums[0].frees);
    ASSERT_EQ(sums[1].realloc_calls, sums[0].realloc_calls);
    ASSERT_EQ(sums[1].bytes_allocated, sums[0].bytes_allocated);
    ASSERT_EQ(sums[1].peak_bytes, sums[0].peak_bytes);
    ASSERT_EQ(sums[1].peak_tsc, sums[0].peak_tsc);
    ASSERT_EQ(sums[1].live_bytes, sums[0].live_bytes);
    ASSERT_EQ(sums[1].live_blocks, sums[0].live_blocks);
    ASSERT_EQ(sums[1].unknown_frees, sums[0].unknown_frees);
    ASSERT_EQ(sums[1].reused_live, sums[0].reused_live);
    ASSERT_EQ(sums[1].events, sums[0].events);
    ASSERT_EQ(sums[1].first_tsc, sums[0].first_tsc);
    ASSERT_EQ(sums[1].last_tsc, sums[0].last_tsc);
    ASSERT_TRUE(sums[0].unknown_frees > 0 && sums[0].reused_live > 0 && sums[0].peak_bytes > 0);

    /* One thread's plain allocations and frees, which all but the first take the fast path:
     * the peak and its time come from it. */
    for (int mode = 0; mode < 2; mode++) {
        m = mode ? ms_heap_model_new_totals() : ms_heap_model_new();
        now = 100;
        ev(MS_REC_ALLOC, 1, 0x1000, 100, 1, 0);
        ev(MS_REC_ALLOC, 1, 0x2000, 200, 1, 0); /* at 101: the peak, 300 */
        ev(MS_REC_FREE, 1, 0x1000, 0, 0, 0);
        ev(MS_REC_ALLOC, 1, 0x3000, 50, 1, 0);
        ev(MS_REC_FREE, 1, 0x9000, 0, 0, 0); /* unknown */
        ms_heap_model_finish(m);
        sums[mode] = *ms_heap_model_summary(m);
        ms_heap_model_free(m);
    }
    for (int mode = 0; mode < 2; mode++) {
        ASSERT_EQ(sums[mode].peak_bytes, 300);
        ASSERT_EQ(sums[mode].peak_tsc, 101);
        ASSERT_EQ(sums[mode].live_bytes, 250);
        ASSERT_EQ(sums[mode].events, 5);
        ASSERT_EQ(sums[mode].frees, 2);
        ASSERT_EQ(sums[mode].unknown_frees, 1);
        ASSERT_EQ(sums[mode].last_tsc, 104);
    }
}

/* An event of thread tid at time tsc, timed (the record carried its time) or not (tsc is its
 * thread's last time). */
static void at(int kind, uint32_t tid, uint64_t ptr, uint64_t size, uint64_t tsc, bool timed)
{
    struct ms_event e = {
        .kind = kind, .tid = tid, .tsc = tsc, .timed = timed, .ptr = ptr, .size = size, .stack = 1};
    ASSERT_EQ(ms_heap_model_apply(m, &e), 0);
}

static void expect_peak(uint64_t peak, uint64_t low, uint64_t high)
{
    ms_heap_model_finish(m);
    const struct ms_summary *s = ms_heap_model_summary(m);
    ASSERT_EQ(s->peak_bytes, peak);
    ASSERT_EQ(s->peak_low, low);
    ASSERT_EQ(s->peak_high, high);
    ms_heap_model_free(m);
}

/* The peak's bounds over the interleavings that the times allow (peak_order.h). */
static void peak_order(void)
{
    /* One thread: its order is certain, whatever its times. */
    m = ms_heap_model_new();
    for (uint64_t i = 0; i < 40; i++)
        at(i % 3 == 2 ? MS_REC_FREE : MS_REC_ALLOC, 1,
           i % 3 == 2 ? 0x1000 + (i - 2) * 16 : 0x1000 + i * 16, i % 3 == 2 ? 0 : 10 + i,
           100 + i / 4 * 10, i % 4 == 0);
    ms_heap_model_finish(m);
    ASSERT_EQ(ms_heap_model_summary(m)->peak_low, ms_heap_model_summary(m)->peak_bytes);
    ASSERT_EQ(ms_heap_model_summary(m)->peak_high, ms_heap_model_summary(m)->peak_bytes);
    ms_heap_model_free(m);

    /* A frees its 100 bytes at an unknown moment between 10 and 30; B allocates 50 at 20:
     * replayed first, the free keeps the peak at 100; after B's allocation it would be 150. */
    m = ms_heap_model_new();
    at(MS_REC_ALLOC, 1, 0x10, 100, 10, true);
    at(MS_REC_FREE, 1, 0x10, 0, 10, false);
    at(MS_REC_ALLOC, 2, 0x20, 50, 20, true);
    at(MS_REC_ALLOC, 1, 0x30, 0, 30, true);
    expect_peak(100, 100, 150);

    /* The same, but A's next timed record comes at 15, before B's allocation: certain. */
    m = ms_heap_model_new();
    at(MS_REC_ALLOC, 1, 0x10, 100, 10, true);
    at(MS_REC_FREE, 1, 0x10, 0, 10, false);
    at(MS_REC_ALLOC, 1, 0x30, 0, 15, true);
    at(MS_REC_ALLOC, 2, 0x20, 50, 20, true);
    expect_peak(100, 100, 100);

    /* A timed record happened at its time: A's free at 10 precedes B's allocation at 20. */
    m = ms_heap_model_new();
    at(MS_REC_ALLOC, 1, 0x10, 100, 1, true);
    at(MS_REC_FREE, 1, 0x10, 0, 10, true);
    at(MS_REC_ALLOC, 2, 0x20, 100, 20, true);
    at(MS_REC_ALLOC, 2, 0x30, 0, 30, true);
    expect_peak(100, 100, 100);

    /* B allocates 100 at an unknown moment between 5 and 30, A frees its 100 at 20: replayed
     * at 5, the allocation makes a peak of 200 that is 100 if it came after the free. */
    m = ms_heap_model_new();
    at(MS_REC_ALLOC, 1, 0x10, 100, 1, true);
    at(MS_REC_ALLOC, 2, 0x20, 0, 5, true);
    at(MS_REC_ALLOC, 2, 0x30, 100, 5, false);
    at(MS_REC_FREE, 1, 0x10, 0, 20, true);
    at(MS_REC_ALLOC, 2, 0x40, 0, 30, true);
    expect_peak(200, 100, 200);
}

/* ---- the C API's annotations (annotations.c) through the model ---- */

static void ext(uint32_t tid, int subkind, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3)
{
    struct ms_event e = {.kind = MS_REC_EXTENDED, .tid = tid, .tsc = now++, .value = subkind};
    e.x[0] = a0, e.x[1] = a1, e.x[2] = a2, e.x[3] = a3;
    ASSERT_EQ(ms_heap_model_apply(m, &e), 0);
}

static const struct ms_scope_stats *scope_named(const struct ms_annotations *an, uint32_t name)
{
    for (size_t i = 0; i < ms_annotations_scope_count(an); i++)
        if (ms_annotations_scope(an, i)->name == name)
            return ms_annotations_scope(an, i);
    return NULL;
}

/* Scopes: nested and recursive ones count a block once; one ended by another thread closes
 * where it was opened, with the scopes inside it; beyond 64 open ones nothing is counted, and
 * ending those is no error; an unknown end is one. */
static void scopes(void)
{
    m = ms_heap_model_new();
    ext(1, MS_EXT_SCOPE_BEGIN, 1, 7, 0, 10); /* outer (name 7) */
    ext(1, MS_EXT_SCOPE_BEGIN, 2, 8, 0, 20); /* rec (name 8) */
    ev(MS_REC_ALLOC, 1, 0x100, 100, 1, 0);
    ext(1, MS_EXT_SCOPE_BEGIN, 3, 8, 0, 20); /* rec again, inside itself */
    ev(MS_REC_ALLOC, 1, 0x200, 100, 1, 0);
    ev(MS_REC_FREE, 1, 0x100, 0, 0, 0);
    for (uint64_t h = 4; h < 4 + 70; h++) /* 61 more open (64 in all), then 9 too deep */
        ext(1, MS_EXT_SCOPE_BEGIN, h, 9, 0, 30);
    ext(2, MS_EXT_SCOPE_END, 73, 0, 0, 0);  /* too deep, ended on another thread */
    ext(2, MS_EXT_SCOPE_END, 999, 0, 0, 0); /* never begun */
    ext(2, MS_EXT_SCOPE_END, 2, 0, 0, 0);   /* rec, on another thread: inner ones end too */
    ext(1, MS_EXT_SCOPE_END, 1, 0, 0, 0);
    ms_heap_model_finish(m);
    const struct ms_annotations *an = ms_heap_model_annotations(m);
    const struct ms_scope_stats *outer = scope_named(an, 7), *rec = scope_named(an, 8);
    ASSERT_TRUE(outer && rec && scope_named(an, 9));
    ASSERT_EQ(rec->entries, 2);
    ASSERT_EQ(rec->allocs, 2);
    ASSERT_EQ(rec->bytes_allocated, 200);
    ASSERT_EQ(rec->outlived_bytes, 100); /* 0x200, once, though two instances were open */
    ASSERT_EQ(rec->outlived_blocks, 1);
    ASSERT_EQ(outer->outlived_bytes, 100);
    ASSERT_EQ(scope_named(an, 9)->entries, 61);
    ASSERT_EQ(ms_annotations_errors(an, MS_API_SCOPE_TOO_DEEP), 9);
    ASSERT_EQ(ms_annotations_errors(an, MS_API_SCOPE_NOT_OPEN), 1);
    ms_heap_model_free(m);
}

/* Tasks: a free lowers the live bytes of the task that allocated the block, whichever thread
 * frees it; a realloc moves a name to the new block. */
static void tasks_and_names(void)
{
    m = ms_heap_model_new();
    struct ms_event t = {.kind = MS_REC_TASK, .tid = 1, .tsc = now++, .value = 5, .task = 5};
    ms_heap_model_apply(m, &t);
    for (uint64_t i = 0; i < 10; i++) {
        struct ms_event a = {
            .kind = MS_REC_ALLOC, .tid = 1, .tsc = now++, .ptr = 0x1000 + 128 * i, .size = 100};
        a.task = 5;
        ASSERT_EQ(ms_heap_model_apply(m, &a), 0);
    }
    for (uint64_t i = 0; i < 4; i++)
        ev(MS_REC_FREE, 2, 0x1000 + 128 * i, 0, 0, 0);
    ext(1, MS_EXT_VARIABLE, 0x1000 + 128 * 9 + 4, 3, 0, 0); /* an interior pointer */
    ev(MS_REC_REALLOC, 1, 0x9000, 500, 0, 0x1000 + 128 * 9);
    ms_heap_model_finish(m);
    const struct ms_annotations *an = ms_heap_model_annotations(m);
    ASSERT_EQ(ms_annotations_task_count(an), 1);
    const struct ms_task_stats *ts = ms_annotations_task(an, 0);
    ASSERT_EQ(ts->allocs, 10);
    ASSERT_EQ(ts->bytes_allocated, 1000);
    ASSERT_EQ(ts->live_bytes, 500); /* 6 blocks, the last one moved out of the task */
    ASSERT_EQ(ms_annotations_variable_count(an), 1);
    const struct ms_variable *v = ms_annotations_variable(an, 0);
    ASSERT_EQ(v->address, 0x9000);
    ASSERT_EQ(v->size, 500);
    ASSERT_EQ(v->freed, 0);
    ms_heap_model_free(m);
}

/* A block named twice keeps both names: the first ended (not freed) where the second began. */
static void renamed(void)
{
    m = ms_heap_model_new();
    ev(MS_REC_ALLOC, 1, 0x100, 64, 1, 0);
    ext(1, MS_EXT_VARIABLE, 0x100, 3, 0, 0);
    ext(1, MS_EXT_VARIABLE, 0x100, 4, 0, 0);
    ev(MS_REC_FREE, 1, 0x100, 0, 0, 0);
    ms_heap_model_finish(m);
    const struct ms_annotations *an = ms_heap_model_annotations(m);
    ASSERT_EQ(ms_annotations_variable_count(an), 2);
    ASSERT_EQ(ms_annotations_variable(an, 0)->name, 3);
    ASSERT_EQ(ms_annotations_variable(an, 0)->freed, 0);
    ASSERT_EQ(ms_annotations_variable(an, 1)->name, 4);
    ASSERT_EQ(ms_annotations_variable(an, 1)->freed, 1);
    ms_heap_model_free(m);
}

/* Passports beyond the kept: a block stamped past MS_PASSPORTS_KEPT is counted once (not again
 * at its stamps and free), in no status; the kept ones keep theirs. */
static void passports_beyond_kept(void)
{
    m = ms_heap_model_new();
    const uint64_t n = MS_PASSPORTS_KEPT + 3;
    for (uint64_t i = 0; i < n; i++) {
        ev(MS_REC_ALLOC, 1, 0x100000 + 16 * i, 8, 0, 0);
        ext(1, MS_EXT_PASSPORT, 0x100000 + 16 * i, MS_PASSPORT_NOTE, 0, 0);
        ext(1, MS_EXT_PASSPORT, 0x100000 + 16 * i, MS_PASSPORT_HANDOVER, 0, 0);
        ev(MS_REC_FREE, 1, 0x100000 + 16 * i, 0, 0, 0);
    }
    ms_heap_model_finish(m);
    const struct ms_passports *pp = ms_heap_model_passports(m);
    ASSERT_EQ(ms_passports_count(pp), MS_PASSPORTS_KEPT);
    ASSERT_EQ(ms_passports_forgotten(pp), 3);
    uint64_t blocks = 0;
    for (size_t i = 0; i < ms_passports_group_count(pp); i++)
        blocks += ms_passports_group(pp, i)->blocks;
    ASSERT_EQ(blocks, MS_PASSPORTS_KEPT);
    ASSERT_EQ(ms_passports_get(pp, 0)->stamps_total, 2);
    ASSERT_EQ(ms_passports_get(pp, 0)->status, MS_PASSPORT_FREED_BY_CUSTODIAN);
    ms_heap_model_free(m);
}

/* ---- sampling (MEMSCOPE_SAMPLE_BYTES) ---- */

/* A sampled trace: each sample weighs 1/(1-e^(-s/N)) (in bytes rounded, in blocks rounded up or
 * down by a hash of the block, the same at its free), the totals are the call counts', and the
 * call sites are summed by address and sorted by bytes. */
static void sampled_weights(void)
{
    for (int totals = 0; totals < 2; totals++) {
        m = totals ? ms_heap_model_new_totals() : ms_heap_model_new();
        ms_heap_model_set_sampling(m, 1000);
        ev(MS_REC_ALLOC, 1, 0x10, 1000, 1, 0);   /* weight 1.5820: 1 or 2 blocks */
        ev(MS_REC_ALLOC, 1, 0x20, 100000, 2, 0); /* weight 1 */
        ext(1, MS_EXT_CALL_COUNTS, 0x400, 50, 200000, 0);
        ext(1, MS_EXT_CALL_COUNTS, 0x500, 5, 5, 0);
        ext(1, MS_EXT_CALL_COUNTS, 0x400, 10, 1000, 0);
        ext(1, MS_EXT_SAMPLE_FREES, 7, 3, 0, 0);
        ev(MS_REC_FREE, 1, 0x20, 0, 0, 0);
        ms_heap_model_finish(m);
        const struct ms_summary *u = ms_heap_model_summary(m);
        ASSERT_EQ(u->sample_bytes, 1000);
        ASSERT_EQ(u->allocs, 65);
        ASSERT_EQ(u->bytes_allocated, 201005);
        ASSERT_EQ(u->frees, 8);
        ASSERT_EQ(u->realloc_calls, 3);
        ASSERT_EQ(u->sampled_allocs, 2);
        ASSERT_TRUE(u->live_blocks == 1 || u->live_blocks == 2);
        ASSERT_EQ(u->live_bytes, 1000 * u->live_blocks);
        ASSERT_EQ(u->peak_bytes, 100000 + u->live_bytes);
        const struct ms_call_sites *c = ms_heap_model_call_sites(m);
        if (totals) {
            ASSERT_TRUE(c == NULL);
        } else {
            ASSERT_EQ(site_of(1)->live_bytes, u->live_bytes);
            ASSERT_EQ(site_of(2)->bytes, 100000);
            ASSERT_EQ(c->n, 2);
            ASSERT_EQ(c->items[0].ip, 0x400);
            ASSERT_EQ(c->items[0].allocs, 60);
            ASSERT_EQ(c->items[0].bytes, 201000);
            ASSERT_EQ(c->items[1].ip, 0x500);
        }
        ms_heap_model_free(m);
    }
    /* The blocks' weights in blocks are unbiased: 100,000 samples of 1000 bytes at N = 1000
     * stand for 158,198 blocks (standard deviation 156). */
    m = ms_heap_model_new_totals();
    ms_heap_model_set_sampling(m, 1000);
    for (uint64_t i = 0; i < 100000; i++)
        ev(MS_REC_ALLOC, 1, 0x100000 + 1024 * i, 1000, 1, 0);
    ms_heap_model_finish(m);
    uint64_t blocks = ms_heap_model_summary(m)->live_blocks;
    ASSERT_TRUE(blocks > 158198 - 1000 && blocks < 158198 + 1000);
    ms_heap_model_free(m);
    /* Sampling set after the first event is ignored. */
    m = ms_heap_model_new();
    ev(MS_REC_ALLOC, 1, 0x10, 1000, 1, 0);
    ms_heap_model_set_sampling(m, 1000);
    ev(MS_REC_ALLOC, 1, 0x20, 1000, 1, 0);
    ms_heap_model_finish(m);
    ASSERT_EQ(ms_heap_model_summary(m)->sample_bytes, 0);
    ASSERT_EQ(ms_heap_model_summary(m)->live_bytes, 2000);
    ms_heap_model_free(m);
}

static bool no_block(const void *ctx, uint64_t ptr, struct ms_check_block *out)
{
    (void)ctx;
    (void)ptr;
    (void)out;
    return false;
}

/* A LEAK_CHECK event as the capture writes it: x = seq, cause, handshake, pid, skipped, threads */
static struct ms_event check_event(uint64_t seq, uint64_t pid, uint64_t skipped)
{
    struct ms_event e = {.kind = MS_REC_EXTENDED, .value = MS_EXT_LEAK_CHECK};
    uint64_t x[] = {seq, MS_CHECK_API, pid ? 0x7000 : 0, pid, skipped, 1};
    memcpy(e.x, x, sizeof x);
    return e;
}

/* A scan's result goes to the one check that made its snapshot: not to a later event with the
 * same seq (a damaged or crafted trace: each would resolve it anew), nor to a check that made
 * none. */
static void leak_check_results(void)
{
    struct ms_leak_check_result r[2] = {{.seq = 1, .scan = {.present = true}},
                                        {.seq = 2, .scan = {.present = true}}};
    struct ms_leak_checks c = {.results = r, .nresults = 2};
    struct ms_event made = check_event(1, 999, MS_CHECK_MADE);
    for (int i = 0; i < 3; i++)
        ASSERT_EQ(ms_leak_checks_add(&c, &made, 0, 0, no_block, NULL), 0);
    struct ms_event skipped = check_event(2, 0, MS_CHECK_THREADS);
    ASSERT_EQ(ms_leak_checks_add(&c, &skipped, 0, 0, no_block, NULL), 0);
    struct ms_event no_pid = check_event(2, 0, MS_CHECK_MADE);
    ASSERT_EQ(ms_leak_checks_add(&c, &no_pid, 0, 0, no_block, NULL), 0);
    ASSERT_EQ(c.n, 5);
    ASSERT_TRUE(c.v[0].scanned);
    for (size_t i = 1; i < 5; i++)
        ASSERT_TRUE(!c.v[i].scanned);
    ms_leak_checks_free(&c);
}

static void fam(int kind, int family, uint64_t ptr, uint64_t size, uint64_t old)
{
    struct ms_event e = {.kind = kind,
                         .family = family,
                         .tid = 1,
                         .tsc = now++,
                         .ptr = ptr,
                         .size = size,
                         .stack = 7,
                         .old_ptr = old};
    ASSERT_EQ(ms_heap_model_apply(m, &e), 0);
}

/* An allocator library's own blocks (MS_FAMILY_OTHER: tc_*, *allocx when the library is not the
 * program's malloc): its calls on them are right, glibc's are not, nor its on glibc's. */
static void library_family(void)
{
    m = ms_heap_model_new();
    fam(MS_REC_ALLOC, MS_FAMILY_OTHER, 0x1000, 10, 0);
    fam(MS_REC_REALLOC, MS_FAMILY_OTHER, 0x2000, 50, 0x1000); /* tc_realloc: right */
    fam(MS_REC_FREE, MS_FAMILY_OTHER, 0x2000, 0, 0);          /* tc_free: right */
    fam(MS_REC_ALLOC, MS_FAMILY_OTHER, 0x3000, 20, 0);
    fam(MS_REC_FREE, MS_FAMILY_MALLOC, 0x3000, 0, 0); /* glibc's free of tc_malloc's */
    fam(MS_REC_ALLOC, MS_FAMILY_OTHER, 0x4000, 30, 0);
    fam(MS_REC_REALLOC, MS_FAMILY_MALLOC, 0x5000, 40, 0x4000); /* glibc's realloc of it */
    fam(MS_REC_ALLOC, MS_FAMILY_MALLOC, 0x6000, 60, 0);
    fam(MS_REC_REALLOC, MS_FAMILY_OTHER, 0x7000, 70, 0x6000); /* tc_realloc of malloc's */
    fam(MS_REC_ALLOC, MS_FAMILY_NEW, 0x8000, 80, 0);
    fam(MS_REC_FREE, MS_FAMILY_OTHER, 0x8000, 0, 0); /* tc_free of new's */
    const struct ms_misuse_log *l = ms_heap_model_misuse(m);
    ASSERT_EQ(l->n, 4);
    const struct {
        uint64_t address, size;
        int alloc_family;
        enum ms_misuse_call call;
    } want[] = {{0x3000, 20, MS_FAMILY_OTHER, MS_CALL_FREE},
                {0x4000, 30, MS_FAMILY_OTHER, MS_CALL_REALLOC},
                {0x6000, 60, MS_FAMILY_MALLOC, MS_CALL_LIB_REALLOC},
                {0x8000, 80, MS_FAMILY_NEW, MS_CALL_LIB_FREE}};
    for (size_t i = 0; i < 4; i++) {
        ASSERT_EQ(l->err[i].kind, MS_MISUSE_MISMATCHED_FREE);
        ASSERT_EQ(l->err[i].address, want[i].address);
        ASSERT_EQ(l->err[i].size, want[i].size);
        ASSERT_EQ(l->err[i].alloc_family, want[i].alloc_family);
        ASSERT_EQ(l->err[i].call, want[i].call);
    }
    ASSERT_TRUE(!strcmp(ms_misuse_alloc_name(MS_FAMILY_OTHER), "tc_malloc/mallocx"));
    ASSERT_TRUE(!strcmp(ms_misuse_call_name(MS_CALL_LIB_REALLOC), "tc_realloc/rallocx"));
    ms_heap_model_free(m);
}

MS_TEST_MAIN(TEST(library_family), TEST(peak_order), TEST(conflicts), TEST(totals_only),
             TEST(valgrind_counting), TEST(peak_by_site), TEST(temporary),
             TEST(unknown_frees_and_threads), TEST(many_blocks), TEST(scopes),
             TEST(tasks_and_names), TEST(renamed), TEST(passports_beyond_kept),
             TEST(sampled_weights), TEST(leak_check_results))
