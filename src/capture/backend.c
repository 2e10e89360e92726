/* The capture backends (backend.h). */
#define _GNU_SOURCE
#include "backend.h"
#include "own_memory.h"

#include "../common/options.h"
#include "../common/trace_format.h"
#include "config.h"
#include "diag.h"
#include "event_path.h"
#include "leak_check.h"
#include "live_table.h"
#include "stack_intern.h"
#include "task_registry.h"

#include <dlfcn.h>
#include <link.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>

static atomic_int in_use = MS_BACKEND_LOCKFREE, reason = MS_BACKEND_BY_DEFAULT;
static atomic_bool unified;   /* the choice is unified's: the first task may move it to async */
static atomic_bool core_late; /* core began after the program had allocated */

/* Puts backend b in use for reason r, and says so in the trace. */
static void use(int b, int r)
{
    if (atomic_load(&ms__peak_check_at)) { /* its table tells when the heap nears its peak */
        b = MS_BACKEND_CORE;
        r = MS_BACKEND_BY_SCAN_AT_PEAK;
    }
    bool core = b == MS_BACKEND_CORE, was = atomic_load(&ms__core_on);
    if (core && !was) {
        uint64_t allocs, frees, bytes;
        ms__slots_totals(&allocs, &frees, &bytes);
        atomic_store(&core_late, allocs != 0);
    }
    atomic_store(&ms__core_on, core);
    if (was && !core) {
        /* Its entries would go stale while nothing keeps them: should core come back, it starts
         * empty (live_exact 2). Another thread's event racing with this may miss the table. */
        ms__live_clear(&ms__core_table);
        ms__slots_live_reset();
        ms__task_live_reset();
    }
    atomic_store(&ms__backend_extra, core || b == MS_BACKEND_ASYNC);
    atomic_store(&in_use, b);
    atomic_store(&reason, r);
}

/* Puts in use the backend unified chooses by now, for reason r (0: unified's own reason). */
static void use_unified(int r)
{
    atomic_store(&unified, true);
    if (ms__config.no_trace)
        use(MS_BACKEND_CORE, r ? r : MS_BACKEND_BY_NO_TRACE);
    else if (ms__task_state(1) != MS__TASK_UNKNOWN) /* a task has begun */
        use(MS_BACKEND_ASYNC, r ? r : MS_BACKEND_BY_FIRST_TASK);
    else
        use(MS_BACKEND_LOCKFREE, r ? r : MS_BACKEND_BY_DEFAULT);
}

void ms__backend_start(void)
{
    ms__peak_check_start();
    if (ms__config.backend == MS_BACKEND_UNIFIED) {
        use_unified(0);
    } else {
        atomic_store(&unified, false);
        use(ms__config.backend, MS_BACKEND_BY_VARIABLE);
    }
}

void ms__backend_announce(void)
{
    ms__on_BACKEND((uint64_t)atomic_load(&in_use), (uint64_t)atomic_load(&reason));
}

bool ms__backend_init(const char *name)
{
    /* The names are MEMSCOPE_BACKEND's, from the settings table. */
    long b;
    char why[96];
    if (!name || !ms_option_parse(&ms_options[MS_OPT_BACKEND], name, &b, why, sizeof why))
        return false;
    if (b == MS_BACKEND_UNIFIED) {
        use_unified(MS_BACKEND_BY_INIT);
    } else {
        atomic_store(&unified, false);
        use((int)b, MS_BACKEND_BY_INIT);
    }
    ms__backend_announce();
    return true;
}

void ms__backend_task_began(void)
{
    if (atomic_load(&unified) && atomic_load(&in_use) == MS_BACKEND_LOCKFREE) {
        use(MS_BACKEND_ASYNC, MS_BACKEND_BY_FIRST_TASK);
        ms__backend_announce();
    }
}

static uint64_t nonneg(int64_t v)
{
    return v > 0 ? (uint64_t)v : 0;
}

int ms__backend_stats(struct ms_stats *out, size_t size)
{
    struct ms_stats s;
    memset(&s, 0, sizeof s);
    int b = atomic_load(&in_use);
    s.backend = ms_backend_name((unsigned)b);
    ms__slots_totals(&s.allocs, &s.frees, &s.bytes_allocated);
    s.live_blocks = s.allocs > s.frees ? s.allocs - s.frees : 0;
    if (b == MS_BACKEND_CORE) {
        struct ms__live_totals t;
        ms__live_totals(&ms__core_table, &t);
        s.live_exact = atomic_load(&core_late) ? 2 : 1;
        s.live_bytes = nonneg(t.live_bytes);
        s.peak_bytes = t.peak_bytes;
        if (s.live_exact == 2)
            s.live_blocks = nonneg(t.live_blocks); /* the table's: the counts began earlier */
    }
    struct ms__slot *slot = ms__slot_get(&ms__tls);
    if (slot && slot != ms__orphan_slot) {
        const struct ms__slot_stats *st = &slot->stats;
        s.thread_allocs = st->allocs - st->base_allocs;
        s.thread_frees = st->frees - st->base_frees;
        s.thread_bytes_allocated = st->bytes - st->base_bytes;
        if (b == MS_BACKEND_CORE) {
            s.thread_live_blocks = nonneg(atomic_load(&st->live.live_blocks));
            s.thread_live_bytes = nonneg(atomic_load(&st->live.live_bytes));
        }
        s.task = slot->b.task;
    }
    if (slot)
        ms__slot_release(slot); /* the orphan slot's lock */
    if (s.task && b != MS_BACKEND_LOCKFREE) {
        struct ms__task_counts c;
        ms__task_counts(s.task, &c);
        s.task_allocs = c.allocs;
        s.task_bytes_allocated = c.bytes;
        if (b == MS_BACKEND_CORE) {
            s.task_live_blocks = nonneg(c.live_blocks);
            s.task_live_bytes = nonneg(c.live_bytes);
        }
    }
    memcpy(out, &s, size < sizeof s ? size : sizeof s);
    return 0;
}

/* ---- the list of live blocks ---- */

/* Blocks of one allocation stack. */
struct group {
    uint32_t stack; /* + 1 (0: empty) */
    uint64_t blocks, bytes;
};

struct groups {
    struct group *g;
    size_t mask;
    uint64_t other_blocks, other_bytes; /* blocks of stacks beyond the table's room */
};

#define GROUPS_MAX (1u << 16)

static void group_add(const struct ms__live_block *b, void *ctx)
{
    struct groups *gs = ctx;
    size_t i = (b->stack * 0x9E3779B1u) & gs->mask;
    for (size_t n = 0; n <= gs->mask; n++, i = (i + 1) & gs->mask) {
        struct group *g = &gs->g[i];
        if (!g->stack)
            g->stack = b->stack + 1;
        if (g->stack == b->stack + 1) {
            g->blocks++;
            g->bytes += b->size;
            return;
        }
    }
    gs->other_blocks++;
    gs->other_bytes += b->size;
}

/* Where the lines go: a FILE, or stderr through ms__say. */
struct sink {
    FILE *out;
};

/* One line of the list (memscope's own lines say "memscope: " first, as ms__say does). */
static void line(const struct sink *k, const char *text)
{
    if (k->out) {
        if (text[0] != ' ')
            fputs("memscope: ", k->out);
        fputs(text, k->out);
        fputc('\n', k->out);
    } else {
        ms__say(text, "", "");
    }
}

static void print_stack(const struct sink *k, const struct ms__stack_node *nodes, size_t n,
                        uint32_t stack)
{
    char buf[512];
    int depth = 0;
    for (uint32_t id = stack; id && id < n && nodes[id].ip && depth < 12; depth++) {
        uintptr_t ip = nodes[id].ip;
        Dl_info info;
        struct link_map *map = NULL;
        const char *module = "?", *fn = NULL;
        uintptr_t off = 0, base = 0;
        if (dladdr1((void *)(ip - 1), &info, (void **)&map, RTLD_DL_LINKMAP)) {
            module = info.dli_fname && *info.dli_fname ? info.dli_fname : "?";
            const char *slash = strrchr(module, '/');
            module = slash ? slash + 1 : module;
            base = map ? (uintptr_t)map->l_addr : 0; /* 0 for a non-PIE executable */
            if (info.dli_sname && info.dli_saddr) {
                fn = info.dli_sname;
                off = ip - (uintptr_t)info.dli_saddr;
            }
        }
        /* module+offset is what addr2line -e takes; the report symbolizes fully. */
        if (fn)
            snprintf(buf, sizeof buf, "      %s %s+0x%lx (%s+0x%lx)", depth ? "by" : "at", fn,
                     (unsigned long)off, module, (unsigned long)(ip - base));
        else
            snprintf(buf, sizeof buf, "      %s %s+0x%lx", depth ? "by" : "at", module,
                     (unsigned long)(ip - base));
        line(k, buf);
        uint32_t parent = nodes[id].parent;
        if (parent >= id)
            break; /* parents are older: a loop cannot be */
        id = parent;
    }
    if (!stack)
        line(k, "      (no stack: MEMSCOPE_UNWIND=none)");
}

/* Puts the k groups with most bytes first, in order (a partial selection sort: qsort may
 * allocate, and the list must not). */
static void top_first(struct group *g, size_t n, size_t k)
{
    for (size_t i = 0; i < n && i < k; i++) {
        size_t best = i;
        for (size_t j = i + 1; j < n; j++)
            if (g[j].bytes > g[best].bytes)
                best = j;
        struct group t = g[i];
        g[i] = g[best];
        g[best] = t;
    }
}

/* The live blocks by stack, the 20 with most bytes first, to k; when: "" or "at exit: ". */
static void leaks_print(const struct sink *k, const char *when)
{
    char buf[512];
    int b = atomic_load(&in_use);
    if (b != MS_BACKEND_CORE) {
        uint64_t allocs, frees, bytes;
        ms__slots_totals(&allocs, &frees, &bytes);
        snprintf(buf, sizeof buf,
                 "%llu blocks live (allocations minus frees); the %s backend keeps no "
                 "table of live blocks to list them (MEMSCOPE_BACKEND=core does; the trace "
                 "has each one)",
                 (unsigned long long)(allocs > frees ? allocs - frees : 0),
                 ms_backend_name((unsigned)b));
        line(k, buf);
        return;
    }
    struct groups gs = {0};
    size_t size = GROUPS_MAX * sizeof *gs.g;
    void *mem = ms__own_map(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) {
        line(k, "no memory to list the live blocks");
        return;
    }
    gs.g = mem;
    gs.mask = GROUPS_MAX - 1;
    ms__live_each(&ms__core_table, group_add, &gs);
    size_t n = 0;
    for (size_t i = 0; i <= gs.mask; i++)
        if (gs.g[i].stack)
            gs.g[n++] = gs.g[i];
    top_first(gs.g, n, 20);
    struct ms__live_totals t;
    ms__live_totals(&ms__core_table, &t);
    snprintf(buf, sizeof buf, "%s%llu bytes live in %llu blocks, from %zu stacks%s:", when,
             (unsigned long long)nonneg(t.live_bytes), (unsigned long long)nonneg(t.live_blocks), n,
             atomic_load(&core_late) ? " (blocks allocated before the core backend began "
                                       "are not listed)"
                                     : "");
    line(k, buf);
    size_t nn;
    struct ms__stack_node *nodes = ms__stack_snapshot(&nn);
    for (size_t i = 0; i < n && i < 20; i++) {
        snprintf(buf, sizeof buf, "  %llu bytes in %llu blocks", (unsigned long long)gs.g[i].bytes,
                 (unsigned long long)gs.g[i].blocks);
        line(k, buf);
        print_stack(k, nodes, nn, gs.g[i].stack - 1);
    }
    if (n > 20 || gs.other_blocks) {
        uint64_t blocks = gs.other_blocks, bytes = gs.other_bytes;
        for (size_t i = 20; i < n; i++)
            blocks += gs.g[i].blocks, bytes += gs.g[i].bytes;
        snprintf(buf, sizeof buf, "  ... and %llu bytes in %llu blocks from other stacks",
                 (unsigned long long)bytes, (unsigned long long)blocks);
        line(k, buf);
    }
    ms__stack_snapshot_free(nodes, nn);
    ms__own_unmap(mem, size);
}

void ms__backend_leaks_print(FILE *out)
{
    struct sink k = {out ? out : stderr};
    leaks_print(&k, "");
    fflush(k.out);
}

void ms__backend_at_finish(void)
{
    if (ms__config.no_trace && atomic_load(&in_use) == MS_BACKEND_CORE) {
        struct sink k = {NULL};
        leaks_print(&k, "at exit: ");
    }
}
