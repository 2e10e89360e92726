/* Builds an analysis from a trace file: follows a forked child's ancestry, replays every
 * trace into one heap model, and registers all modules with the symbolizer. */
#define _GNU_SOURCE
#include "trace_analysis.h"

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

static int analysis_run(const char *path, bool symbols, struct ms_analysis **out, char *err,
                        size_t errlen)
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
        rc = ms_trace_replay(a->ancestors[i], &cut, limit, &a->stacks, ms_heap_model_apply,
                             a->model);
    }
    if (!rc)
        rc = ms_trace_replay(a->trace, NULL, 0, &a->stacks, ms_heap_model_apply, a->model);
    preload_join(&preload);
    if (rc)
        goto fail;
    ms_heap_model_finish(a->model);
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
    return analysis_run(path, true, out, err, errlen);
}

int ms_analysis_run_numbers(const char *path, struct ms_analysis **out, char *err, size_t errlen)
{
    return analysis_run(path, false, out, err, errlen);
}

struct ms_analysis_live {
    char *path;
    struct ms_analysis *a;
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
    return ms_live_replay_new(a->trace, &a->stacks, ms_heap_model_apply, a->model, &l->replay);
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

uint64_t ms_analysis_ns(const struct ms_analysis *a, uint64_t tsc)
{
    return ms_trace_ns_since_start(a->trace, tsc);
}
