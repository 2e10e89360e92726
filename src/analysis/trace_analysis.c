/* Builds an analysis from a trace file: follows a forked child's ancestry, replays every
 * trace into one heap model, and registers all modules with the symbolizer. */
#define _GNU_SOURCE
#include "trace_analysis.h"

#include "analysis_passes.h"

#include "annotations.h"

#include "common/trace_format.h"

#include "common/errors.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int add_modules(struct ms_analysis *a, ms_trace *t)
{
    for (size_t i = 0; i < ms_trace_module_count(t); i++) {
        const struct ms_module *m = ms_trace_module(t, i);
        int err = ms_symbolizer_add_module(a->sym, m->path, m->bias, m->lo, m->hi, m->build_id,
                                           m->build_id_len);
        if (err == MS_ENOMEM)
            return err;
    }
    return 0;
}

/* Debug information loaded in a second thread while the main one replays the trace: that of
 * the executable and of the C library, which nearly every stack goes through (main, and the
 * start of the process and of every thread). With libc's separate debug information this takes
 * tens of milliseconds, as long as replaying a few million events. */
struct preload {
    ms_symbolizer *sym;
    const char *paths[2];
    pthread_t thread;
    bool started;
};

static void *preload_main(void *arg)
{
    struct preload *p = arg;
    for (int i = 0; i < 2; i++)
        if (p->paths[i])
            ms_symbolizer_preload(p->sym, p->paths[i]);
    return NULL;
}

static void preload_start(struct preload *p, ms_symbolizer *sym, ms_trace *t)
{
    *p = (struct preload){.sym = sym};
    for (size_t i = 0; i < ms_trace_module_count(t); i++) {
        const char *path = ms_trace_module(t, i)->path;
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        if (!p->paths[0] && ms_trace_process(t)->exe && !strcmp(path, ms_trace_process(t)->exe))
            p->paths[0] = path;
        else if (!p->paths[1] && !strncmp(base, "libc.so", 7))
            p->paths[1] = path;
    }
    p->started =
        (p->paths[0] || p->paths[1]) && pthread_create(&p->thread, NULL, preload_main, p) == 0;
}

static void preload_join(struct preload *p)
{
    if (p->started)
        pthread_join(p->thread, NULL);
    p->started = false;
}

/* Opens the chain of parents of a forked child, oldest last. */
static void open_ancestors(struct ms_analysis *a)
{
    ms_trace *chain[MS_MAX_FORK_CHAIN];
    int n = 0;
    const struct ms_process_info *p = ms_trace_process(a->trace);
    while (p->fork_parent_pid && n < MS_MAX_FORK_CHAIN) {
        if (!p->parent_trace || !p->parent_trace[0]) {
            snprintf(a->ancestry_note, sizeof a->ancestry_note,
                     "forked from pid %llu, whose trace is unknown: the history inherited from "
                     "the parent is not included",
                     (unsigned long long)p->fork_parent_pid);
            break;
        }
        ms_trace *parent;
        char err[512];
        if (ms_trace_open(p->parent_trace, &parent, err, sizeof err) != 0) {
            snprintf(a->ancestry_note, sizeof a->ancestry_note,
                     "forked from pid %llu; its trace could not be read (%s): the history "
                     "inherited from the parent is not included",
                     (unsigned long long)p->fork_parent_pid, err);
            break;
        }
        if (ms_trace_process(parent)->pid != p->fork_parent_pid) {
            snprintf(a->ancestry_note, sizeof a->ancestry_note,
                     "forked from pid %llu, but %s belongs to pid %llu: the history inherited "
                     "from the parent is not included",
                     (unsigned long long)p->fork_parent_pid, p->parent_trace,
                     (unsigned long long)ms_trace_process(parent)->pid);
            ms_trace_close(parent);
            break;
        }
        chain[n++] = parent;
        p = ms_trace_process(parent);
    }
    for (int i = 0; i < n; i++)
        a->ancestors[i] = chain[n - 1 - i];
    a->nancestors = n;
}

/* A moment ns after the process's start, in the trace's clock, as the reports give times
 * (ms_trace_ns_since_start): the first tick the reports would date at ns or later (up), or the
 * last they would date at ns or earlier, so that a time read off a report names its event. */
static uint64_t tsc_of_ns(const ms_trace *t, uint64_t ns, bool up)
{
    double per = ms_trace_ns_per_tick(t);
    uint64_t start = ms_trace_process(t)->start_tsc;
    if (!(per > 0)) /* a damaged clock: no tick has a time */
        return up ? start : UINT64_MAX;
    double ticks = (double)ns / per;
    if (ticks >= (double)(UINT64_MAX - start) / 2)
        return UINT64_MAX;
    uint64_t x = start + (uint64_t)ticks;
    x = x > start + 2 ? x - 2 : start;
    /* then the first tick dated later than ns (a few steps: the estimate is within one tick,
     * unless a hostile clock's times are too coarse for a double) */
    for (int k = 0; k < 64 && ms_trace_ns_since_start(t, x) <= ns; k++)
        x++;
    if (!up)
        return x - 1;
    for (int k = 0; k < 64 && x > start && ms_trace_ns_since_start(t, x - 1) >= ns; k++)
        x--;
    return x;
}

/* Restricts a's model to window w (ms_analysis_run_window), which ends at end_hint when known
 * (UINT64_MAX: not). */
static int set_window(struct ms_analysis *a, const struct ms_window *w, uint64_t end_hint,
                      char *err, size_t errlen)
{
    a->window = *w;
    a->window.cut = false;
    if (!w->since && !w->until && !w->after_alloc)
        return 0;
    if (ms_trace_process(a->trace)->sample_bytes) {
        snprintf(err, errlen,
                 "%s: a sampled trace (MEMSCOPE_SAMPLE_BYTES) cannot be cut to a time window: its "
                 "exact counts are not timed; report the whole trace, or record it without "
                 "sampling",
                 ms_trace_path(a->trace));
        return MS_EINVAL;
    }
    uint64_t since = w->since ? tsc_of_ns(a->trace, w->since_ns, true) : 0;
    uint64_t until = w->until ? tsc_of_ns(a->trace, w->until_ns, false) : UINT64_MAX;
    /* the chunks that begin after the window are not read */
    ms_trace_read_until(a->trace, until < end_hint ? until : end_hint);
    return ms_heap_model_set_window(a->model, since, until,
                                    w->after_alloc ? w->at_alloc : UINT64_MAX, end_hint);
}

/* symbols: the full analysis, else the numbers. w: the full analysis's window (NULL: none),
 * ending at end_hint when known; for the numbers, only its end after w->at_alloc allocations
 * (what ms_analysis_run_window learns the time of first). */
static int analysis_run(const char *path, bool symbols, const struct ms_window *w,
                        uint64_t end_hint, struct ms_analysis **out, char *err, size_t errlen)
{
    *out = NULL;
    struct ms_analysis *a = calloc(1, sizeof *a);
    if (!a)
        return MS_ENOMEM;
    int rc = ms_trace_open(path, &a->trace, err, errlen);
    if (rc)
        goto fail;
    rc = MS_ENOMEM;
    a->model = symbols ? ms_heap_model_new() : ms_heap_model_new_totals();
    if (!a->model || ms_symbolizer_new(&a->sym) != 0)
        goto fail;
    ms_heap_model_set_sampling(a->model, ms_trace_process(a->trace)->sample_bytes);
    ms_event_fn apply = ms_heap_model_apply;
    if (w && symbols && (rc = set_window(a, w, end_hint, err, errlen)) != 0)
        goto fail;
    if (w && !symbols && w->after_alloc) {
        ms_heap_model_set_until_allocs(a->model, w->at_alloc);
        apply = ms_heap_model_apply_allocs;
    }
    rc = MS_ENOMEM;
    if (symbols) {
        if (!(a->owners = ms_module_owner_new(&a->stacks)))
            goto fail;
        ms_heap_model_set_owners(a->model, a->owners);
        if ((rc = ms_analysis_passes_add(a->model, a->trace)) != 0)
            goto fail;
    }
    rc = 0;
    open_ancestors(a);
    /* Every module is registered before the replay, so that debug information can load
     * meanwhile; the symbolizer is left alone until the preload is joined. */
    for (int i = 0; i < a->nancestors && symbols; i++)
        if ((rc = add_modules(a, a->ancestors[i])) != 0)
            goto fail;
    if (symbols && (rc = add_modules(a, a->trace)) != 0)
        goto fail;
    size_t nmod = ms_trace_module_count(a->trace);
    if (symbols && nmod) {
        a->modules = calloc(nmod, sizeof *a->modules);
        if (!a->modules) {
            rc = MS_ENOMEM;
            goto fail;
        }
        for (size_t i = 0; i < nmod; i++) {
            const struct ms_module *m = ms_trace_module(a->trace, i);
            a->modules[i] = ms_symbolizer_find(a->sym, m->path, m->bias, m->lo, m->hi);
        }
    }
    struct preload preload = {.started = false};
    if (symbols)
        preload_start(&preload, a->sym, a->trace);
    /* Each ancestor contributes its events up to the fork of the next process in the chain,
     * and only the stack nodes that existed at that fork. */
    for (int i = 0; i < a->nancestors && !rc; i++) {
        ms_trace *next = i + 1 < a->nancestors ? a->ancestors[i + 1] : a->trace;
        const struct ms_process_info *np = ms_trace_process(next);
        struct ms_replay_cut cut = {np->pid, np->fork_tsc};
        uint32_t limit = ms_trace_process(a->trace)->node_limit;
        for (int j = i + 1; j < a->nancestors; j++) {
            uint32_t l = ms_trace_process(a->ancestors[j])->node_limit;
            if (l && l < limit)
                limit = l;
        }
        if (a->owners && (rc = ms_module_owner_use_trace(a->owners, a->ancestors[i])) != 0)
            break;
        rc = ms_trace_replay(a->ancestors[i], &cut, limit, symbols ? &a->stacks : NULL, apply,
                             a->model);
    }
    if (!rc && a->owners)
        rc = ms_module_owner_use_trace(a->owners, a->trace);
    if (!rc) {
        size_t nchecks;
        const struct ms_leak_check_result *checks = ms_trace_leak_checks(a->trace, &nchecks);
        ms_heap_model_set_leak_checks(a->model, checks, nchecks);
        rc = ms_trace_replay(a->trace, NULL, 0, symbols ? &a->stacks : NULL, apply, a->model);
    }
    preload_join(&preload);
    if (rc)
        goto fail;
    enum ms_window_end end = ms_heap_model_window_end(a->model);
    if (end != MS_WINDOW_END_NONE) {
        a->window.cut = true;
        a->window.cut_by_allocs = end == MS_WINDOW_END_ALLOCS;
        a->window.end_ns = end == MS_WINDOW_END_TIME
                               ? a->window.until_ns
                               : ms_analysis_ns(a, ms_heap_model_summary(a->model)->last_tsc);
    } else {
        ms_heap_model_set_leak_scan(a->model, ms_trace_leak_scan(a->trace));
    }
    ms_heap_model_finish(a->model);
    if ((rc = ms_heap_model_pass_error(a->model)) != 0)
        goto fail; /* an analysis ran out of memory at the end */
    *out = a;
    return 0;
fail:
    if (rc && err && errlen && !err[0])
        snprintf(err, errlen, "%s: %s", path, ms_strerror(rc));
    ms_analysis_free(a);
    return rc;
}

int ms_analysis_run(const char *path, struct ms_analysis **out, char *err, size_t errlen)
{
    return analysis_run(path, true, NULL, UINT64_MAX, out, err, errlen);
}

int ms_analysis_run_window(const char *path, const struct ms_window *w, struct ms_analysis **out,
                           char *err, size_t errlen)
{
    /* A window that ends after an allocation: when that is, the analyses must know from the
     * start (what lived long is measured against the window's length), so the numbers' replay
     * finds it first, up to that allocation (as cheap as memscope run's summary). */
    uint64_t end_hint = UINT64_MAX;
    if (w && w->after_alloc) {
        struct ms_analysis *pre;
        int rc = analysis_run(path, false, w, UINT64_MAX, &pre, err, errlen);
        if (rc)
            return rc;
        end_hint = ms_heap_model_summary(pre->model)->last_tsc;
        ms_analysis_free(pre);
    }
    return analysis_run(path, true, w, end_hint, out, err, errlen);
}

int ms_analysis_run_numbers(const char *path, struct ms_analysis **out, char *err, size_t errlen)
{
    return analysis_run(path, false, NULL, UINT64_MAX, out, err, errlen);
}

struct ms_analysis_live {
    char *path;
    struct ms_analysis *a;
    ms_check_fn on_check; /* NULL: none */
    void *check_ctx;
    ms_live_replay *replay;
    uint64_t size; /* of the trace at the last poll */
    bool dead;     /* nothing more to do live: the finish replays the whole trace */
};

ms_analysis_live *ms_analysis_live_new(const char *path)
{
    ms_analysis_live *l = calloc(1, sizeof *l);
    if (l && !(l->path = strdup(path))) {
        free(l);
        l = NULL;
    }
    return l;
}

/* The model's hook at an on-demand check: the caller's, with the model as it is then. */
static void live_check(void *ctx, const struct ms_event *ev)
{
    ms_analysis_live *l = ctx;
    if (l->on_check)
        l->on_check(l->check_ctx, l->a, ev);
}

void ms_analysis_live_on_check(ms_analysis_live *l, ms_check_fn fn, void *ctx)
{
    if (l) {
        l->on_check = fn;
        l->check_ctx = ctx;
    }
}

static int live_begin(ms_analysis_live *l)
{
    struct ms_analysis *a = calloc(1, sizeof *a);
    if (!a)
        return MS_ENOMEM;
    l->a = a;
    int rc = ms_trace_open_growing(l->path, &a->trace);
    if (rc)
        return rc;
    if (ms_trace_process(a->trace)->fork_parent_pid)
        return MS_EINVAL; /* its history starts in the parent's trace */
    if (!(a->model = ms_heap_model_new_totals()) || ms_symbolizer_new(&a->sym) != 0)
        return MS_ENOMEM;
    ms_heap_model_set_sampling(a->model, ms_trace_process(a->trace)->sample_bytes);
    /* The numbers need no stack tree: its nodes are checked and skipped. */
    ms_heap_model_set_check_hook(a->model, live_check, l);
    return ms_live_replay_new(a->trace, NULL, ms_heap_model_apply, a->model, &l->replay);
}

bool ms_analysis_live_poll(ms_analysis_live *l)
{
    if (!l || l->dead)
        return false;
    if (!l->replay) {
        int rc = live_begin(l);
        if (rc == MS_ETRUNCATED || rc == MS_ENOENT) {
            ms_analysis_free(l->a); /* not begun yet: try again */
            l->a = NULL;
            return false;
        }
        l->dead = rc != 0;
        if (l->dead)
            return false;
    } else if (ms_trace_refresh(l->a->trace, false) != 0) {
        l->dead = true;
        return false;
    }
    uint64_t size = ms_trace_damage(l->a->trace)->file_size;
    bool grew = size != l->size;
    l->size = size;
    if (grew && ms_live_replay_step(l->replay) != 0)
        l->dead = true;
    return grew;
}

void ms_analysis_live_discard(ms_analysis_live *l)
{
    if (!l)
        return;
    ms_live_replay_free(l->replay);
    ms_analysis_free(l->a);
    free(l->path);
    free(l);
}

int ms_analysis_live_finish(ms_analysis_live *l, const char *path, struct ms_analysis **out,
                            char *err, size_t errlen)
{
    int rc = -1;
    uint64_t live_events = 0;
    if (l && !l->replay)
        ms_analysis_live_poll(l); /* the process ended before the first poll found its trace */
    if (l && l->replay && !l->dead && (rc = ms_trace_refresh(l->a->trace, true)) == 0) {
        live_events = ms_heap_model_summary(l->a->model)->events;
        rc = ms_live_replay_finish(l->replay);
    }
    struct ms_analysis *a = NULL;
    if (l) {
        a = l->a;
        l->a = NULL;
        ms_analysis_live_discard(l);
    }
    if (rc == 0) {
        ms_heap_model_set_leak_scan(a->model, ms_trace_leak_scan(a->trace));
        ms_heap_model_finish(a->model);
        a->live_events = live_events;
        *out = a;
        return 0;
    }
    /* Anything else is done as if there had been no live replay, errors and all. */
    ms_analysis_free(a);
    bool restart = rc == MS_REPLAY_RESTART;
    rc = ms_analysis_run_numbers(path, out, err, errlen);
    if (rc == 0)
        (*out)->live_restarted = restart;
    return rc;
}

/* 1 + the suppression that matches stack's frames, 0: none (ctx: the analysis). */
static uint32_t suppression_of(void *ctx, uint32_t stack)
{
    struct ms_analysis *a = ctx;
    ms_frame frames[MS_MAX_STACK_DEPTH * 4];
    int nf = ms_analysis_stack(a, stack, frames, (int)(sizeof frames / sizeof *frames));
    return (uint32_t)(ms_suppressions_find(a->supp, frames, nf) + 1);
}

int ms_analysis_suppress(struct ms_analysis *a, struct ms_suppressions *supp)
{
    ms_frame frames[MS_MAX_STACK_DEPTH * 4];
    size_t n = ms_heap_model_site_count(a->model);
    uint32_t *which = calloc(n ? n : 1, sizeof *which);
    if (!which)
        return MS_ENOMEM;
    a->supp = supp;
    for (size_t i = 0; i < n; i++) {
        const struct ms_site *site = ms_heap_model_site(a->model, i);
        if (!site->live_blocks)
            continue;
        int nf = ms_analysis_stack(a, site->stack, frames, (int)(sizeof frames / sizeof *frames));
        int k = ms_suppressions_find(supp, frames, nf);
        if (k < 0)
            continue;
        which[i] = (uint32_t)k + 1;
        supp->v[k].groups++;
        supp->v[k].blocks += site->live_blocks;
        supp->v[k].bytes += site->live_bytes;
    }
    ms_heap_model_suppress(a->model, which);
    free(which);
    ms_heap_model_suppress_checks(a->model, suppression_of, a);
    return 0;
}

const struct ms_leak_scan_info *ms_analysis_leak_scan(const struct ms_analysis *a)
{
    static const struct ms_leak_scan_info none; /* a window that ends before the exit's scan */
    if (a->window.cut)
        return &none;
    return a->scan ? a->scan : ms_trace_leak_scan(a->trace);
}

struct ms_graph_view ms_analysis_graph(const struct ms_analysis *a, bool at_peak)
{
    struct ms_graph_view g = {NULL, NULL};
    if (!at_peak) {
        const struct ms_leak_scan_info *s = ms_analysis_leak_scan(a);
        if (s->present && s->status == MS_SCAN_DONE && s->graph)
            g.scan = s;
        return g;
    }
    const struct ms_leak_checks *c = ms_heap_model_leak_checks(a->model);
    for (size_t i = c->n; i-- > 0;) {
        const struct ms_leak_check *k = &c->v[i];
        if (k->cause == MS_CHECK_PEAK && k->scanned && k->status == MS_SCAN_DONE && k->graph) {
            g.scan = k->graph;
            g.check = k;
            break;
        }
    }
    return g;
}

struct ms_scanned_block ms_analysis_graph_block(const struct ms_analysis *a,
                                                const struct ms_graph_view *g, size_t k)
{
    const struct ms_leak_scan_info *s = g->scan;
    struct ms_scanned_block b = {.address = s && k < s->n ? s->addr[k] : 0};
    const struct ms_annotations *an = ms_heap_model_annotations(a->model);
    uint32_t name = 0;
    if (!b.address) {
        return b;
    } else if (g->check) {
        const struct ms_graph_block *h = ms_leak_check_block(g->check, k);
        if (!h || !h->known)
            return b;
        b.size = h->b.size;
        b.stack = h->b.stack;
        name = h->b.name;
    } else {
        struct ms_block_facts f;
        if (!ms_heap_model_block_at(a->model, b.address, &f))
            return b;
        b.size = f.size;
        b.stack = ms_heap_model_site(a->model, f.site)->stack;
        name = f.name;
    }
    b.name = name && an ? ms_annotations_string(an, name) : NULL;
    b.known = true;
    return b;
}

int ms_analysis_add_leak_scan(struct ms_analysis *a, const uint8_t *payload, size_t len)
{
    struct ms_leak_scan_info *s = calloc(1, sizeof *s);
    if (!s)
        return MS_ENOMEM;
    int rc = ms_leak_scan_decode(payload, len, s);
    if (rc) {
        free(s);
        return rc;
    }
    ms_leak_scan_info_free(a->scan);
    free(a->scan);
    a->scan = s;
    ms_heap_model_set_leak_scan(a->model, s);
    return 0;
}

void ms_analysis_free(struct ms_analysis *a)
{
    if (!a)
        return;
    ms_trace_close(a->trace);
    for (int i = 0; i < a->nancestors; i++)
        ms_trace_close(a->ancestors[i]);
    ms_stack_table_free(&a->stacks);
    free(a->modules);
    ms_heap_model_free(a->model);
    ms_leak_scan_info_free(a->scan);
    free(a->scan);
    ms_module_owner_free(a->owners);
    if (a->sym)
        ms_symbolizer_free(a->sym);
    free(a);
}

int ms_analysis_stack(struct ms_analysis *a, uint32_t stack, ms_frame *frames, int max)
{
    int n = 0;
    /* Node ids are assigned parent-first, so a parent's id is smaller than its child's: a
     * chain of decreasing ids cannot loop, even in a corrupt trace. */
    uint32_t id = stack;
    while (id && n < max) {
        struct ms_stack_node node;
        if (!ms_stack_table_get(&a->stacks, id, &node)) {
            frames[n++] = (ms_frame){.function = "[stack truncated: trace incomplete]"};
            break;
        }
        const ms_symbol_module *in = NULL;
        if (node.module && a->modules && node.module <= ms_trace_module_count(a->trace))
            in = a->modules[node.module - 1];
        n += ms_symbolize_in(a->sym, in, node.ip, true, frames + n, max - n);
        if (node.parent >= id)
            break;
        id = node.parent;
    }
    return n;
}

ms_frame ms_analysis_call_site(struct ms_analysis *a, uint64_t ip)
{
    ms_frame f[16];
    int n = ms_symbolize_in(a->sym, NULL, ip, true, f, 16);
    if (n <= 0)
        return (ms_frame){.address = ip};
    ms_frame site = f[0];
    site.function = f[n - 1].function;
    site.inlined = false;
    return site;
}

uint64_t ms_analysis_ns(const struct ms_analysis *a, uint64_t tsc)
{
    return ms_trace_ns_since_start(a->trace, tsc);
}

uint64_t ms_analysis_elapsed_ns(const struct ms_analysis *a, uint64_t from_tsc, uint64_t to_tsc)
{
    return from_tsc && to_tsc > from_tsc ? ms_analysis_ns(a, to_tsc) - ms_analysis_ns(a, from_tsc)
                                         : 0;
}

uint64_t ms_analysis_task_ns(const void *analysis, size_t task)
{
    const struct ms_analysis *a = analysis;
    const struct ms_annotations *an = ms_heap_model_annotations(a->model);
    const struct ms_task_stats *t = an ? ms_annotations_task(an, task) : NULL;
    return t ? ms_analysis_elapsed_ns(a, t->begin_tsc, t->stop_tsc) : 0;
}

/* ---- the numbers of a process tree's traces, each history replayed once ---- */

/* A child's fork in its parent's replay: waiting (no event at or past it yet), open (its
 * FORK record seen: the child's model is a copy of the parent's, and takes the other threads'
 * events until the replay passes the child's fork time) or done. */
struct fork_cut {
    uint64_t pid, tsc;
    size_t child; /* index in the family */
    int state;    /* 0 waiting, 1 open, 2 done */
    uint32_t fork_tid;
    struct ms_heap_model *model;
};

struct family {
    size_t n;
    char *const *paths;
    ms_trace **traces;
    ptrdiff_t *parent;
    struct ms_analysis **out;
    int *rc;
    char (*err)[1024];
};

static void family_node(struct family *f, size_t i, struct ms_heap_model *m);

struct dispatch {
    struct family *f;
    struct ms_heap_model *m;
    struct fork_cut *cuts; /* by fork time */
    size_t ncuts, next;    /* cuts before next are done */
    size_t *open;
    size_t nopen;
};

/* The child of cut c starts from model m (which it now owns). */
static void cut_done(struct dispatch *d, struct fork_cut *c, struct ms_heap_model *m)
{
    c->state = 2;
    c->model = NULL;
    family_node(d->f, c->child, m);
}

static void open_remove(struct dispatch *d, size_t ci)
{
    for (size_t k = 0; k < d->nopen; k++)
        if (d->open[k] == ci) {
            d->open[k] = d->open[--d->nopen];
            return;
        }
}

/* The replay has reached time tsc: every child forked before it has its whole inheritance. */
static void cuts_reached(struct dispatch *d, uint64_t tsc)
{
    while (d->next < d->ncuts && d->cuts[d->next].tsc <= tsc) {
        struct fork_cut *c = &d->cuts[d->next];
        if (c->state == 1) {
            open_remove(d, d->next);
            cut_done(d, c, c->model);
        } else if (c->state == 0) {
            cut_done(d, c, ms_heap_model_clone_totals(d->m));
        }
        d->next++;
    }
}

static int dispatch_event(void *ctx, const struct ms_event *ev)
{
    struct dispatch *d = ctx;
    cuts_reached(d, ev->tsc);
    if (ev->kind == MS_REC_FORK)
        for (size_t k = d->next; k < d->ncuts; k++)
            if (d->cuts[k].pid == ev->value && d->cuts[k].state == 0) {
                /* As a replay cut at this fork (ms_replay_cut): the forking thread stops here,
                 * the others go on until the child's fork time. */
                d->cuts[k].state = 1;
                d->cuts[k].fork_tid = ev->tid;
                d->cuts[k].model = ms_heap_model_clone_totals(d->m);
                d->open[d->nopen++] = k;
                break;
            }
    int rc = ms_heap_model_apply(d->m, ev);
    if (rc != 0)
        return rc; /* a conflict: the event comes again */
    for (size_t k = 0; k < d->nopen; k++) {
        struct fork_cut *c = &d->cuts[d->open[k]];
        if (c->model && ev->tid != c->fork_tid && ms_heap_model_apply(c->model, ev) > 0) {
            struct ms_event forced = *ev;
            forced.forced = true;
            ms_heap_model_apply(c->model, &forced);
        }
    }
    return 0;
}

static int by_fork_time(const void *a, const void *b)
{
    const struct fork_cut *x = a, *y = b;
    return x->tsc < y->tsc ? -1 : x->tsc > y->tsc;
}

/* Replays trace i into m (its inheritance; NULL when out of memory), giving each of its
 * children in the family a copy of m at its fork, and stores the result. */
static void family_node(struct family *f, size_t i, struct ms_heap_model *m)
{
    struct dispatch d = {.f = f, .m = m};
    int rc = m ? 0 : MS_ENOMEM;
    struct ms_analysis *a = calloc(1, sizeof *a);
    if (!a)
        rc = MS_ENOMEM;
    for (size_t j = 0; j < f->n; j++)
        d.ncuts += f->parent[j] == (ptrdiff_t)i;
    if (d.ncuts && (!(d.cuts = calloc(d.ncuts, sizeof *d.cuts)) ||
                    !(d.open = calloc(d.ncuts, sizeof *d.open))))
        rc = MS_ENOMEM;
    size_t k = 0;
    for (size_t j = 0; j < f->n && d.cuts; j++)
        if (f->parent[j] == (ptrdiff_t)i) {
            const struct ms_process_info *p = ms_trace_process(f->traces[j]);
            d.cuts[k++] = (struct fork_cut){.pid = p->pid, .tsc = p->fork_tsc, .child = j};
        }
    if (d.ncuts && d.cuts)
        qsort(d.cuts, d.ncuts, sizeof *d.cuts, by_fork_time);
    if (!rc) {
        a->trace = f->traces[i];
        f->traces[i] = NULL;
        a->model = m;
        rc = ms_symbolizer_new(&a->sym) != 0 ? MS_ENOMEM : 0;
    }
    if (!rc)
        rc = ms_trace_replay(a->trace, NULL, 0, NULL, dispatch_event, &d);
    /* Children forked after the last event: they inherit everything. */
    if (!rc)
        cuts_reached(&d, UINT64_MAX);
    for (size_t c = 0; c < d.ncuts && d.cuts; c++)
        if (d.cuts[c].state != 2) { /* the replay failed: each child on its own */
            ms_heap_model_free(d.cuts[c].model);
            d.cuts[c].state = 2;
            size_t j = d.cuts[c].child;
            ms_trace_close(f->traces[j]);
            f->traces[j] = NULL;
            f->rc[j] = ms_analysis_run_numbers(f->paths[j], &f->out[j], f->err[j], 1024);
        }
    free(d.cuts);
    free(d.open);
    if (rc) {
        if (!f->err[i][0])
            snprintf(f->err[i], 1024, "%s: %s", f->paths[i], ms_strerror(rc));
        f->rc[i] = rc;
        if (!a || !a->model)
            ms_heap_model_free(m);
        ms_analysis_free(a);
        return;
    }
    ms_heap_model_finish(m);
    f->out[i] = a;
    f->rc[i] = 0;
}

int ms_analysis_run_numbers_family(char *const *paths, size_t n, struct ms_analysis **out, int *rc,
                                   char (*err)[1024])
{
    struct family f = {.n = n, .paths = paths, .out = out, .rc = rc, .err = err};
    f.traces = calloc(n ? n : 1, sizeof *f.traces);
    f.parent = calloc(n ? n : 1, sizeof *f.parent);
    if (!f.traces || !f.parent) {
        free(f.traces);
        free(f.parent);
        return MS_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        out[i] = NULL;
        err[i][0] = 0;
        rc[i] = ms_trace_open(paths[i], &f.traces[i], err[i], 1024);
        f.parent[i] = -1;
    }
    /* A child's parent is the family's trace that it names, of the pid it names. */
    for (size_t i = 0; i < n; i++) {
        const struct ms_process_info *p = f.traces[i] ? ms_trace_process(f.traces[i]) : NULL;
        if (!p || !p->fork_parent_pid || !p->parent_trace)
            continue;
        for (size_t j = 0; j < n; j++)
            if (j != i && f.traces[j] && ms_trace_process(f.traces[j])->pid == p->fork_parent_pid &&
                !strcmp(paths[j], p->parent_trace))
                f.parent[i] = (ptrdiff_t)j;
    }
    /* A loop of parents (hostile traces) is broken: its members are analysed on their own. */
    for (size_t i = 0; i < n; i++) {
        size_t steps = 0;
        for (ptrdiff_t j = f.parent[i]; j >= 0 && steps <= n; j = f.parent[j])
            steps++;
        if (steps > n)
            f.parent[i] = -1;
    }
    /* From each process that was not forked: the rest are reached through their parents. */
    for (size_t i = 0; i < n; i++)
        if (f.traces[i] && f.parent[i] < 0 && !ms_trace_process(f.traces[i])->fork_parent_pid) {
            struct ms_heap_model *m = ms_heap_model_new_totals();
            if (m)
                ms_heap_model_set_sampling(m, ms_trace_process(f.traces[i])->sample_bytes);
            family_node(&f, i, m);
        }
    /* What no root reached (a child whose parent's trace is not among them, and its own
     * children): on its own, its history from the parent's trace file. */
    for (size_t i = 0; i < n; i++)
        if (f.traces[i]) {
            ms_trace_close(f.traces[i]);
            f.traces[i] = NULL;
            rc[i] = ms_analysis_run_numbers(paths[i], &out[i], err[i], 1024);
        }
    free(f.traces);
    free(f.parent);
    return 0;
}
