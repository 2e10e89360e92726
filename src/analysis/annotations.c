/* The C API's annotations replayed (annotations.h). */
#define _GNU_SOURCE /* qsort_r */
#include "annotations.h"

#include "common/errors.h"
#include "common/options.h"
#include "common/trace_format.h"
#include "grow.h"

#include <stdlib.h>
#include <string.h>

/* A scope open on a thread, and what it allocated that is still live. */
struct open_scope {
    uint64_t handle;
    uint32_t site;
    uint64_t live_blocks, live_bytes;
};

struct thread_state {
    struct open_scope *open;
    size_t nopen, capopen;
    uint32_t cpu_task; /* index + 1 of the task current at the last CPU reading */
    uint64_t last_cpu;
};

/* Records that ended (freed or renamed variables, freed objects): the first
 * MS_FREED_VARIABLES_KEPT are kept for the report, later ones forgotten and their slots reused. */
struct recycler {
    uint32_t *spare; /* indices of forgotten records */
    size_t n, cap;
    uint64_t kept, forgotten;
};

/* Record i has ended: true when it is forgotten (its slot is spare now: the caller clears it). */
static bool recycle(struct recycler *r, uint32_t i)
{
    if (r->kept < MS_FREED_VARIABLES_KEPT) {
        r->kept++;
        return false;
    }
    if (ms_grow(&r->spare, &r->cap, r->n + 1, sizeof *r->spare, 64))
        return false; /* kept after all */
    r->spare[r->n++] = i;
    r->forgotten++;
    return true;
}

/* A slot for a new record: a forgotten one's, or the next of the array (items, n, cap). Returns
 * its index + 1, 0 when out of memory. */
static uint32_t record_slot(struct recycler *r, void *items, size_t *n, size_t *cap, size_t elem)
{
    if (r->n)
        return r->spare[--r->n] + 1;
    if (ms_grow(items, cap, *n + 1, elem, 64))
        return 0;
    return (uint32_t)++ * n;
}

struct ms_annotations {
    char **strings;
    size_t nstrings, capstrings;
    struct ms_id_map string_of_id; /* id -> index + 1 */
    struct ms_variable *vars;
    size_t nvars, capvars;
    struct recycler ended_vars;
    struct ms_task_stats *tasks;
    size_t ntasks, captasks;
    struct ms_id_map task_of_id; /* id -> index + 1 */
    struct ms_scope_stats *scopes;
    size_t nscopes, capscopes;
    struct ms_id_map scope_of_key; /* hash of (name, file, line) -> index + 1 of the first */
    struct thread_state *threads;
    size_t nthreads, capthreads;
    uint64_t walk; /* numbers the walks of open scopes (ms_scope_stats.mark) */
    /* Open scopes by handle: where each is (thread index + 1, and SCOPE_UNCOUNTED for one begun
     * beyond MS_SCOPE_DEPTH_MAX), so that an end, whichever thread makes it, finds its scope
     * in one lookup. Linear probing, backward-shift deletion; handle 0 marks empty slots. */
    struct scope_slot {
        uint64_t handle;
        uint32_t where;
    } * scope_map;
    size_t scope_mask, scope_used;
    struct ms_ref_object *objs;
    size_t nobjs, capobjs;
    struct recycler freed_objs;
    uint64_t storm;
    uint32_t *cycle_objects;
    size_t *cycle_start; /* ncycles + 1 entries */
    size_t ncycles;
    uint64_t errors[MS_API_ERROR_MAX];
};

struct ms_annotations *ms_annotations_new(void)
{
    struct ms_annotations *a = calloc(1, sizeof(struct ms_annotations));
    if (!a)
        return NULL;
    const struct ms_option *o = &ms_options[MS_OPT_STORM];
    const char *storm = getenv(o->variable);
    long v;
    char why[128];
    a->storm =
        storm && ms_option_parse(o, storm, &v, why, sizeof why) ? (uint64_t)v : MS_STORM_DEFAULT;
    return a;
}

void ms_annotations_free(struct ms_annotations *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->nstrings; i++)
        free(a->strings[i]);
    free(a->strings);
    ms_id_map_free(&a->string_of_id);
    free(a->vars);
    free(a->ended_vars.spare);
    free(a->tasks);
    ms_id_map_free(&a->task_of_id);
    free(a->scopes);
    ms_id_map_free(&a->scope_of_key);
    for (size_t i = 0; i < a->nthreads; i++)
        free(a->threads[i].open);
    free(a->threads);
    for (size_t i = 0; i < a->nobjs; i++) {
        free(a->objs[i].holders);
        free(a->objs[i].history);
    }
    free(a->objs);
    free(a->scope_map);
    free(a->freed_objs.spare);
    free(a->cycle_objects);
    free(a->cycle_start);
    free(a);
}

static struct thread_state *thread_of(struct ms_annotations *a, uint32_t thread)
{
    if (thread >= a->nthreads) {
        if (ms_grow(&a->threads, &a->capthreads, (size_t)thread + 1, sizeof *a->threads, 16))
            return NULL;
        a->nthreads = (size_t)thread + 1;
    }
    return &a->threads[thread];
}

/* The task with this id (made on first sight: its TASK_BEGIN may be in a lost chunk); NULL for an
 * id no writer gives (above 2^32 - 1) or when out of memory. */
static struct ms_task_stats *task_of(struct ms_annotations *a, uint64_t id, uint32_t *index)
{
    if (!id || id > UINT32_MAX)
        return NULL;
    uint32_t at;
    if (!ms_id_map_get(&a->task_of_id, (uint32_t)id, &at)) {
        if (ms_grow(&a->tasks, &a->captasks, a->ntasks + 1, sizeof *a->tasks, 64) ||
            ms_id_map_put(&a->task_of_id, (uint32_t)id, (uint32_t)a->ntasks + 1))
            return NULL;
        a->tasks[a->ntasks].id = id;
        at = (uint32_t)++a->ntasks;
    }
    *index = at;
    return &a->tasks[at - 1];
}

static void task_thread(struct ms_task_stats *t, uint32_t tid)
{
    uint32_t kept = t->nthreads < MS_TASK_THREADS_KEPT ? t->nthreads : MS_TASK_THREADS_KEPT;
    for (uint32_t i = 0; i < kept; i++)
        if (t->threads[i] == tid)
            return;
    if (t->nthreads < MS_TASK_THREADS_KEPT)
        t->threads[t->nthreads] = tid;
    t->nthreads++;
}

static void task_add_live(struct ms_task_stats *t, uint64_t size)
{
    t->live_bytes += size;
    if (t->live_bytes > t->peak_bytes)
        t->peak_bytes = t->live_bytes;
}

void ms_annotations_on_alloc(struct ms_annotations *a, const struct ms_event *ev, uint32_t thread,
                             struct ms_block_note *note)
{
    *note = (struct ms_block_note){0};
    uint32_t ti;
    struct ms_task_stats *t = task_of(a, ev->task, &ti);
    if (t) {
        t->allocs++;
        t->bytes_allocated += ev->size;
        task_add_live(t, ev->size);
        note->task = ti;
    }
    struct thread_state *th = thread < a->nthreads ? &a->threads[thread] : NULL;
    if (th && th->nopen) {
        /* Each scope site counts the block once, in its outermost open instance (a recursive
         * scope's inner instances do not count it again). */
        a->walk++;
        for (size_t j = 0; j < th->nopen; j++) {
            struct ms_scope_stats *site = &a->scopes[th->open[j].site];
            if (site->mark == a->walk)
                continue;
            site->mark = a->walk;
            site->allocs++;
            site->bytes_allocated += ev->size;
            th->open[j].live_blocks++;
            th->open[j].live_bytes += ev->size;
        }
        note->scope = th->open[th->nopen - 1].handle;
        note->depth = (uint32_t)th->nopen;
    }
}

/* Variable var's name ends on a block of size bytes, freed or given another name. */
static void variable_end(struct ms_annotations *a, uint32_t var, uint64_t size, bool freed)
{
    struct ms_variable *v = &a->vars[var - 1];
    v->size = size;
    v->freed = freed;
    if (recycle(&a->ended_vars, var - 1))
        *v = (struct ms_variable){0};
}

void ms_annotations_on_free(struct ms_annotations *a, const struct ms_block_note *note,
                            uint32_t alloc_thread, uint64_t size)
{
    if (note->task)
        a->tasks[note->task - 1].live_bytes -= size;
    if (note->scope && alloc_thread < a->nthreads) {
        /* The scopes of its thread that were open at the allocation and still are: those at
         * its depth or above whose handle (handles grow) is not later than its innermost. */
        struct thread_state *th = &a->threads[alloc_thread];
        size_t n = th->nopen < note->depth ? th->nopen : note->depth;
        a->walk++;
        for (size_t j = 0; j < n && th->open[j].handle <= note->scope; j++) {
            struct ms_scope_stats *site = &a->scopes[th->open[j].site];
            if (site->mark == a->walk)
                continue; /* as at the allocation: its outermost instance counted it */
            site->mark = a->walk;
            th->open[j].live_blocks--;
            th->open[j].live_bytes -= size;
        }
    }
    if (note->var)
        variable_end(a, note->var, size, true);
    if (note->obj) {
        struct ms_ref_object *o = &a->objs[note->obj - 1];
        o->freed = true;
        o->freed_while_held = o->held != 0;
        if (recycle(&a->freed_objs, note->obj - 1)) {
            free(o->holders);
            free(o->history);
            *o = (struct ms_ref_object){0};
        }
    }
}

void ms_annotations_adopt(struct ms_annotations *a, struct ms_block_note *note, uint64_t address,
                          uint64_t size, uint32_t stack)
{
    if (note->obj) {
        a->objs[note->obj - 1].address = address;
        a->objs[note->obj - 1].size = size;
    }
    if (!note->var)
        return;
    struct ms_variable *v = &a->vars[note->var - 1];
    v->address = address;
    v->size = size;
    v->stack = stack;
}

/* Appends a change to o's history while there is room. */
static int ref_change(struct ms_ref_object *o, uint64_t tsc, uint64_t holder, int delta)
{
    o->changes++;
    if (o->nhistory == MS_REF_HISTORY)
        return 0;
    if (ms_grow(&o->history, &o->caphistory, o->nhistory + 1, sizeof *o->history, 2))
        return MS_ENOMEM;
    o->history[o->nhistory++] =
        (struct ms_ref_change){.tsc = tsc, .holder = holder, .held = o->held, .delta = delta};
    return 0;
}

int ms_annotations_ref(struct ms_annotations *a, bool acquire, struct ms_block_note *note,
                       uint64_t address, uint64_t size, uint32_t stack, uint64_t holder,
                       uint64_t tsc)
{
    if (!note->obj) {
        if (!acquire) {
            a->errors[MS_API_REF_NOT_HELD]++;
            return 0;
        }
        uint32_t i = record_slot(&a->freed_objs, &a->objs, &a->nobjs, &a->capobjs, sizeof *a->objs);
        if (!i)
            return MS_ENOMEM;
        a->objs[i - 1] = (struct ms_ref_object){.address = address, .size = size, .stack = stack};
        note->obj = i;
    }
    struct ms_ref_object *o = &a->objs[note->obj - 1];
    size_t h = 0;
    while (h < o->nholders && o->holders[h].holder != holder)
        h++;
    if (!acquire) {
        if (h == o->nholders) {
            a->errors[MS_API_REF_NOT_HELD]++;
            return 0;
        }
        o->releases++;
        o->held--;
        if (--o->holders[h].count == 0)
            o->holders[h] = o->holders[--o->nholders];
        return ref_change(o, tsc, holder, -1);
    }
    if (h == o->nholders) {
        if (ms_grow(&o->holders, &o->capholders, o->nholders + 1, sizeof *o->holders, 4))
            return MS_ENOMEM;
        o->holders[o->nholders++] = (struct ms_ref_holder){.holder = holder};
    }
    o->holders[h].count++;
    o->acquires++;
    if (++o->held > o->max_held)
        o->max_held = o->held;
    return ref_change(o, tsc, holder, 1);
}

static uint32_t string_field(uint64_t id)
{
    return id > UINT32_MAX ? 0 : (uint32_t)id;
}

int ms_annotations_name(struct ms_annotations *a, const struct ms_event *ev, uint64_t address,
                        uint64_t size, uint32_t stack, struct ms_block_note *note)
{
    /* A block named again: its first name ends (listed, not freed), the new one begins. */
    if (note->var)
        variable_end(a, note->var, size, false);
    uint32_t i = record_slot(&a->ended_vars, &a->vars, &a->nvars, &a->capvars, sizeof *a->vars);
    if (!i)
        return MS_ENOMEM;
    note->var = i;
    /* x: ptr, name, type, type_size, file, line, func (MS_XFIELDS_VARIABLE) */
    a->vars[note->var - 1] = (struct ms_variable){
        .name = string_field(ev->x[1]),
        .type = string_field(ev->x[2]),
        .type_size = ev->x[3],
        .file = string_field(ev->x[4]),
        .line = ev->x[5],
        .func = string_field(ev->x[6]),
    };
    ms_annotations_adopt(a, note, address, size, stack);
    return 0;
}

void ms_annotations_move(struct ms_annotations *a, struct ms_block_note *from,
                         struct ms_block_note *to, uint64_t to_size, uint64_t to_address,
                         uint32_t to_stack)
{
    if (from == to)
        return;
    if (from->task != to->task) {
        /* The target's bytes now count for the source's task (which keeps the source's own
         * bytes until that block is freed). */
        if (to->task)
            a->tasks[to->task - 1].live_bytes -= to_size;
        if (from->task)
            task_add_live(&a->tasks[from->task - 1], to_size);
        to->task = from->task;
    }
    if (from->var) {
        if (to->var)
            variable_end(a, to->var, to_size, false); /* the target's own name ends */
        to->var = from->var;
        from->var = 0;
        ms_annotations_adopt(a, to, to_address, to_size, to_stack);
    }
}

static int string_event(struct ms_annotations *a, const struct ms_event *ev)
{
    uint32_t at;
    if (ev->value > UINT32_MAX || ms_id_map_get(&a->string_of_id, (uint32_t)ev->value, &at))
        return 0; /* an id no writer gives, or defined twice: the first definition stays */
    char *s = malloc(ev->name_len + 1);
    if (!s || ms_grow(&a->strings, &a->capstrings, a->nstrings + 1, sizeof *a->strings, 64)) {
        free(s);
        return MS_ENOMEM;
    }
    memcpy(s, ev->name, ev->name_len);
    s[ev->name_len] = 0;
    a->strings[a->nstrings] = s;
    if (ms_id_map_put(&a->string_of_id, (uint32_t)ev->value, (uint32_t)a->nstrings + 1)) {
        free(s);
        return MS_ENOMEM;
    }
    a->nstrings++;
    return 0;
}

static int task_event(struct ms_annotations *a, const struct ms_event *ev, uint32_t thread)
{
    struct thread_state *th = thread_of(a, thread);
    uint32_t ti = 0;
    struct ms_task_stats *t = task_of(a, ev->value, &ti);
    if (t)
        task_thread(t, ev->tid);
    uint64_t cpu = ev->size; /* 0: not read (a chunk restating its task) */
    if (!th || !cpu)
        return th ? 0 : MS_ENOMEM;
    if (th->cpu_task && th->last_cpu && cpu >= th->last_cpu)
        a->tasks[th->cpu_task - 1].cpu_ns += cpu - th->last_cpu;
    th->last_cpu = cpu;
    th->cpu_task = ti;
    return 0;
}

static uint32_t scope_key(uint32_t name, uint32_t file, uint64_t line)
{
    uint32_t h = (name * 0x9E3779B1u) ^ (file * 0x85EBCA6Bu) ^ (uint32_t)(line * 0xC2B2AE35u);
    return h ? h : 1;
}

/* The scope site (name, file, line), made on first sight; -1 when out of memory. */
static int64_t scope_site(struct ms_annotations *a, uint32_t name, uint32_t file, uint64_t line)
{
    uint32_t key = scope_key(name, file, line), at;
    bool known = ms_id_map_get(&a->scope_of_key, key, &at);
    if (known) {
        const struct ms_scope_stats *s = &a->scopes[at - 1];
        if (s->name == name && s->file == file && s->line == line)
            return at - 1;
        for (size_t i = 0; i < a->nscopes; i++) /* a hash collision: rare */
            if (a->scopes[i].name == name && a->scopes[i].file == file && a->scopes[i].line == line)
                return (int64_t)i;
    }
    if (ms_grow(&a->scopes, &a->capscopes, a->nscopes + 1, sizeof *a->scopes, 16))
        return -1;
    if (!known && ms_id_map_put(&a->scope_of_key, key, (uint32_t)a->nscopes + 1))
        return -1;
    a->scopes[a->nscopes] = (struct ms_scope_stats){.name = name, .file = file, .line = line};
    return (int64_t)a->nscopes++;
}

#define SCOPE_UNCOUNTED 0x80000000u

static size_t scope_home(const struct ms_annotations *a, uint64_t handle)
{
    return (size_t)(handle * 0x9E3779B97F4A7C15ull >> 20) & a->scope_mask;
}

static size_t scope_slot_of(const struct ms_annotations *a, uint64_t handle)
{
    size_t i = scope_home(a, handle);
    while (a->scope_map[i].handle && a->scope_map[i].handle != handle)
        i = (i + 1) & a->scope_mask;
    return i;
}

/* Records that scope handle is open at where; false when out of memory. A handle given twice
 * (only a hostile trace does that) keeps its first place. */
static bool scope_map_put(struct ms_annotations *a, uint64_t handle, uint32_t where)
{
    if ((a->scope_used + 1) * 2 > (a->scope_map ? a->scope_mask + 1 : 0)) {
        size_t cap = a->scope_map ? (a->scope_mask + 1) * 2 : 64;
        struct scope_slot *old = a->scope_map, *n = calloc(cap, sizeof *n);
        if (!n)
            return false;
        size_t old_cap = old ? a->scope_mask + 1 : 0;
        a->scope_map = n;
        a->scope_mask = cap - 1;
        for (size_t i = 0; i < old_cap; i++)
            if (old[i].handle)
                a->scope_map[scope_slot_of(a, old[i].handle)] = old[i];
        free(old);
    }
    size_t i = scope_slot_of(a, handle);
    if (!a->scope_map[i].handle) {
        a->scope_map[i] = (struct scope_slot){handle, where};
        a->scope_used++;
    }
    return true;
}

/* Where scope handle is open (0: not open), and forgets it. */
static uint32_t scope_map_take(struct ms_annotations *a, uint64_t handle)
{
    if (!a->scope_map || !handle)
        return 0;
    size_t i = scope_slot_of(a, handle), j = i;
    uint32_t where = a->scope_map[i].where;
    if (!a->scope_map[i].handle)
        return 0;
    for (;;) { /* backward shift: the slots after i that may move into it */
        j = (j + 1) & a->scope_mask;
        if (!a->scope_map[j].handle)
            break;
        size_t home = scope_home(a, a->scope_map[j].handle);
        if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
            a->scope_map[i] = a->scope_map[j];
            i = j;
        }
    }
    a->scope_map[i].handle = 0;
    a->scope_used--;
    return where;
}

static int scope_begin(struct ms_annotations *a, const struct ms_event *ev, uint32_t thread)
{
    /* x: scope, name, file, line (MS_XFIELDS_SCOPE_BEGIN) */
    struct thread_state *th = thread_of(a, thread);
    if (!th || !ev->x[0])
        return th ? 0 : MS_ENOMEM;
    if (th->nopen >= MS_SCOPE_DEPTH_MAX) {
        a->errors[MS_API_SCOPE_TOO_DEEP]++;
        return scope_map_put(a, ev->x[0], (thread + 1) | SCOPE_UNCOUNTED) ? 0 : MS_ENOMEM;
    }
    int64_t site = scope_site(a, string_field(ev->x[1]), string_field(ev->x[2]), ev->x[3]);
    if (site < 0 || ms_grow(&th->open, &th->capopen, th->nopen + 1, sizeof *th->open, 8) ||
        !scope_map_put(a, ev->x[0], thread + 1))
        return MS_ENOMEM;
    a->scopes[site].entries++;
    th->open[th->nopen++] = (struct open_scope){.handle = ev->x[0], .site = (uint32_t)site};
    return 0;
}

/* The end of scope handle, on whichever thread: it closes where it was opened, with the
 * scopes still open inside it. An uncounted scope (too deep) just leaves the map. */
static void scope_end(struct ms_annotations *a, const struct ms_event *ev)
{
    uint32_t where = scope_map_take(a, ev->x[0]);
    if (where & SCOPE_UNCOUNTED)
        return; /* begun too deep: nothing was counted */
    struct thread_state *th = where ? &a->threads[where - 1] : NULL;
    size_t j = th ? th->nopen : 0; /* the map holds only open scopes: it is on th's stack */
    while (j > 0 && th->open[j - 1].handle != ev->x[0])
        j--;
    if (j == 0) {
        a->errors[MS_API_SCOPE_NOT_OPEN]++;
        return;
    }
    while (th->nopen >= j) {
        const struct open_scope *o = &th->open[--th->nopen];
        if (o->handle != ev->x[0])
            scope_map_take(a, o->handle); /* a scope still open inside it ends with it */
        a->scopes[o->site].outlived_blocks += o->live_blocks;
        a->scopes[o->site].outlived_bytes += o->live_bytes;
    }
}

int ms_annotations_event(struct ms_annotations *a, const struct ms_event *ev, uint32_t thread)
{
    uint32_t ti;
    struct ms_task_stats *t;
    switch (ev->kind) {
    case MS_REC_STRING:
        return string_event(a, ev);
    case MS_REC_TASK:
        return task_event(a, ev, thread);
    case MS_REC_EXTENDED:
        break;
    default:
        return 0;
    }
    switch (ev->value) {
    case MS_EXT_TASK_BEGIN: /* x: task, parent, name */
        if ((t = task_of(a, ev->x[0], &ti)) != NULL) {
            t->parent = ev->x[1];
            t->name = string_field(ev->x[2]);
            t->begin_tsc = ev->tsc;
        }
        return 0;
    case MS_EXT_TASK_END: /* x: task */
        if ((t = task_of(a, ev->x[0], &ti)) != NULL)
            t->end_tsc = ev->tsc;
        return 0;
    case MS_EXT_SCOPE_BEGIN:
        return scope_begin(a, ev, thread);
    case MS_EXT_SCOPE_END:
        scope_end(a, ev);
        return 0;
    case MS_EXT_API_ERROR: /* x: what, arg */
        if (ev->x[0] > 0 && ev->x[0] < MS_API_ERROR_MAX)
            a->errors[ev->x[0]]++;
        return 0;
    default:
        return 0;
    }
}

void ms_annotations_error(struct ms_annotations *a, enum ms_api_error what)
{
    a->errors[what]++;
}

void ms_annotations_live_at_end(struct ms_annotations *a, const struct ms_block_note *note,
                                uint64_t size)
{
    if (note->var) {
        a->vars[note->var - 1].size = size;
        a->vars[note->var - 1].freed = false;
    }
}

/* The live objects sorted by address, to find a holder's object. */
static int by_address(const void *x, const void *y, void *ctx)
{
    const struct ms_annotations *a = ctx;
    uint64_t p = a->objs[*(const uint32_t *)x].address;
    uint64_t q = a->objs[*(const uint32_t *)y].address;
    return p < q ? -1 : p > q;
}

static int64_t object_at(const struct ms_annotations *a, const uint32_t *live, size_t n,
                         uint64_t address)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a->objs[live[mid]].address < address)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && a->objs[live[lo]].address == address ? (int64_t)lo : -1;
}

/* Reference cycles among the objects held at the end: the strongly connected components of
 * "holder object -> object it holds" with more than one object, or one that holds itself
 * (Tarjan's algorithm, without recursion). Out of memory: no cycles listed. */
static void find_cycles(struct ms_annotations *a)
{
    size_t n = 0, nedges = 0;
    uint32_t *live = malloc((a->nobjs ? a->nobjs : 1) * sizeof *live);
    if (!live)
        return;
    for (size_t i = 0; i < a->nobjs; i++)
        if (a->objs[i].address && !a->objs[i].freed && a->objs[i].held)
            live[n++] = (uint32_t)i;
    qsort_r(live, n, sizeof *live, by_address, a);
    for (size_t i = 0; i < n; i++)
        nedges += a->objs[live[i]].nholders;
    /* Edges grouped by source (the holder): counting sort into first[] / to[]. */
    size_t *first = calloc(n + 1, sizeof *first);
    uint32_t *to = malloc((nedges ? nedges : 1) * sizeof *to);
    uint32_t *index = malloc((n ? n : 1) * sizeof *index), *low = malloc((n ? n : 1) * sizeof *low);
    uint32_t *stack = malloc((n ? n : 1) * sizeof *stack);
    size_t *work = malloc((n ? n : 1) * sizeof *work), *edge = malloc((n ? n : 1) * sizeof *edge);
    bool *on = calloc(n ? n : 1, 1);
    a->cycle_objects = malloc((n ? n : 1) * sizeof *a->cycle_objects);
    a->cycle_start = malloc((n + 1) * sizeof *a->cycle_start);
    if (!first || !to || !index || !low || !stack || !work || !edge || !on || !a->cycle_objects ||
        !a->cycle_start)
        goto out;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < n; i++) {
            const struct ms_ref_object *o = &a->objs[live[i]];
            for (size_t h = 0; h < o->nholders; h++) {
                int64_t src =
                    o->holders[h].holder ? object_at(a, live, n, o->holders[h].holder) : -1;
                if (src < 0)
                    continue;
                if (pass == 0)
                    first[src + 1]++;
                else
                    to[edge[src]++] = (uint32_t)i;
            }
        }
        if (pass == 0)
            for (size_t i = 0; i < n; i++) {
                first[i + 1] += first[i];
                edge[i] = first[i];
            }
    }
    size_t next = 1, sp = 0, out_n = 0;
    a->ncycles = 0;
    a->cycle_start[0] = 0;
    for (size_t i = 0; i < n; i++)
        index[i] = 0;
    for (size_t root = 0; root < n; root++) {
        if (index[root])
            continue;
        size_t depth = 0;
        work[depth] = root;
        edge[root] = first[root];
        index[root] = low[root] = (uint32_t)next++;
        stack[sp++] = (uint32_t)root;
        on[root] = true;
        while (true) {
            size_t v = work[depth];
            if (edge[v] < first[v + 1]) {
                size_t w = to[edge[v]++];
                if (!index[w]) {
                    index[w] = low[w] = (uint32_t)next++;
                    stack[sp++] = (uint32_t)w;
                    on[w] = true;
                    edge[w] = first[w];
                    work[++depth] = w;
                } else if (on[w] && index[w] < low[v]) {
                    low[v] = index[w];
                }
                continue;
            }
            if (low[v] == index[v]) {
                size_t begin = out_n;
                uint32_t w;
                do {
                    w = stack[--sp];
                    on[w] = false;
                    a->cycle_objects[out_n++] = live[w];
                } while (w != v);
                bool self = false;
                for (size_t e = first[v]; e < first[v + 1] && !self; e++)
                    self = to[e] == v;
                if (out_n - begin > 1 || self)
                    a->cycle_start[++a->ncycles] = out_n;
                else
                    out_n = begin;
            }
            if (depth == 0)
                break;
            size_t parent = work[--depth];
            if (low[v] < low[parent])
                low[parent] = low[v];
        }
    }
out:
    free(live);
    free(first);
    free(to);
    free(index);
    free(low);
    free(stack);
    free(work);
    free(edge);
    free(on);
}

void ms_annotations_finish(struct ms_annotations *a, uint64_t end_tsc)
{
    for (size_t i = 0; i < a->ntasks; i++)
        a->tasks[i].stop_tsc = a->tasks[i].end_tsc ? a->tasks[i].end_tsc : end_tsc;
    /* The task tree: each task after its parent's earlier children (tasks are listed in the
     * order the replay met them, which is the order they began). */
    for (size_t i = a->ntasks; i-- > 0;) {
        struct ms_task_stats *t = &a->tasks[i];
        uint32_t p;
        t->root = !(t->parent && t->parent != t->id && t->parent <= UINT32_MAX &&
                    ms_id_map_get(&a->task_of_id, (uint32_t)t->parent, &p));
        if (!t->root) {
            t->sibling = a->tasks[p - 1].child;
            a->tasks[p - 1].child = (uint32_t)i + 1;
        }
    }
    find_cycles(a);
}

const char *ms_annotations_string(const struct ms_annotations *a, uint32_t id)
{
    uint32_t at;
    return id && ms_id_map_get(&a->string_of_id, id, &at) ? a->strings[at - 1] : NULL;
}

size_t ms_annotations_variable_count(const struct ms_annotations *a)
{
    return a->nvars;
}

const struct ms_variable *ms_annotations_variable(const struct ms_annotations *a, size_t i)
{
    return i < a->nvars && a->vars[i].address ? &a->vars[i] : NULL;
}

uint64_t ms_annotations_variables_forgotten(const struct ms_annotations *a)
{
    return a->ended_vars.forgotten;
}

size_t ms_annotations_task_count(const struct ms_annotations *a)
{
    return a->ntasks;
}

const struct ms_task_stats *ms_annotations_task(const struct ms_annotations *a, size_t i)
{
    return i < a->ntasks ? &a->tasks[i] : NULL;
}

size_t ms_annotations_scope_count(const struct ms_annotations *a)
{
    return a->nscopes;
}

const struct ms_scope_stats *ms_annotations_scope(const struct ms_annotations *a, size_t i)
{
    return i < a->nscopes ? &a->scopes[i] : NULL;
}

size_t ms_annotations_object_count(const struct ms_annotations *a)
{
    return a->nobjs;
}

const struct ms_ref_object *ms_annotations_object(const struct ms_annotations *a, size_t i)
{
    return i < a->nobjs && a->objs[i].address ? &a->objs[i] : NULL;
}

uint64_t ms_annotations_objects_forgotten(const struct ms_annotations *a)
{
    return a->freed_objs.forgotten;
}

uint64_t ms_annotations_storm_threshold(const struct ms_annotations *a)
{
    return a->storm;
}

size_t ms_annotations_cycle_count(const struct ms_annotations *a)
{
    return a->ncycles;
}

const uint32_t *ms_annotations_cycle(const struct ms_annotations *a, size_t i, size_t *n)
{
    if (i >= a->ncycles) {
        *n = 0;
        return NULL;
    }
    *n = a->cycle_start[i + 1] - a->cycle_start[i];
    return a->cycle_objects + a->cycle_start[i];
}

uint64_t ms_annotations_errors(const struct ms_annotations *a, enum ms_api_error what)
{
    return a->errors[what];
}
