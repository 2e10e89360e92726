/* The out-of-line part of the event path (event_path.h). */
#include "event_path.h"

#include "module_map.h"
#include "task_registry.h"
#include "own_stack.h"
#include "config.h"
#include "live_table.h"

#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* An event of one unsigned field, with its encoder, dated at before (0: now). */
static void on_u64(uint8_t *(*put)(struct ms_rec_base *, uint8_t *, uint8_t *, uint64_t),
                   uint64_t v, uint64_t before)
{
    struct ms__slot *s = ms__slot_get(&ms__tls);
    if (!s)
        return;
    uint8_t *kb;
    uint8_t *p = before ? ms__rec_begin_at(&s->b, &kb, before) : ms__rec_begin(&s->b, &kb);
    ms__rec_end(&s->b, put(&s->b.base, kb, p, v));
    ms__slot_release(s);
}

void ms__on_thread_created(uint64_t thread, uint64_t before)
{
    on_u64(ms_rec_put_THREAD_CREATE, thread, before);
}

void ms__on_forked(uint64_t pid)
{
    on_u64(ms_rec_put_FORK, pid, 0);
}

void ms__on_exit_freeing(struct ms__tls *t)
{
    struct ms__slot *s = ms__slot_get(t);
    if (!s)
        return;
    uint8_t *kb;
    uint8_t *p = ms__rec_begin(&s->b, &kb);
    ms__rec_end(&s->b, ms_rec_put_FREERES(&s->b.base, kb, p));
    ms__slot_release(s);
}

/* A CPU clock in nanoseconds (0: it could not be read). */
static uint64_t cpu_ns(clockid_t clock)
{
    struct timespec ts;
    return clock_gettime(clock, &ts) == 0 ? (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec
                                          : 0;
}

/* Writes the TASK record of task into s, with the thread's CPU clock. */
static void put_task(struct ms__slot *s, uint64_t task)
{
    uint64_t cpu = cpu_ns(CLOCK_THREAD_CPUTIME_ID);
    uint8_t *kb;
    uint8_t *p = ms__rec_begin_at(&s->b, &kb, ms__now());
    ms__rec_end(&s->b, ms_rec_put_TASK(&s->b.base, kb, p, task, cpu ? cpu : 1));
}

void ms__on_task_current(uint64_t task)
{
    struct ms__slot *s = ms__slot_get(&ms__tls);
    if (!s)
        return;
    if (s != ms__orphan_slot) {
        s->b.task = task;
        put_task(s, task);
    }
    ms__slot_release(s);
}

uint64_t ms__task_current(void)
{
    struct ms__slot *s = ms__slot_get(&ms__tls);
    if (!s)
        return 0;
    uint64_t task = s == ms__orphan_slot ? 0 : s->b.task;
    ms__slot_release(s);
    return task;
}

/* Another thread's slot s, running a task as the process finishes: its CPU clock, read through
 * its thread id, goes into the slot to (the finishing thread's). Its task and tid are read
 * without a lock: the thread may change them meanwhile, and the record then dates its last
 * stretch a little off. */
static void other_task_cpu(struct ms__slot *s, void *to)
{
    uint64_t task = s->b.task;
    uint32_t tid = s->b.tid;
    /* The thread's CPU clock as pthread_getcpuclockid makes it: (~tid << 3) | CPUCLOCK_SCHED |
     * CPUCLOCK_PERTHREAD. */
    uint64_t cpu = tid ? cpu_ns((clockid_t)((~(unsigned)tid << 3) | 6u)) : 0;
    if (!task || !cpu)
        return;
    struct ms__buffer *b = &((struct ms__slot *)to)->b;
    uint8_t *kb;
    uint8_t *p = ms__rec_begin_at(b, &kb, ms__now());
    ms__rec_end(b, ms_ext_put_TASK_CPU(kb, p, tid, task, cpu));
}

void ms__on_thread_task_end(struct ms__tls *t)
{
    struct ms__slot *s = t->slot;
    if (s && s != ms__orphan_slot && s->b.task && !t->dead)
        put_task(s, s->b.task);
}

void ms__on_tasks_at_finish(struct ms__tls *t)
{
    ms__on_thread_task_end(t);
    if (t->slot && t->slot != ms__orphan_slot && !t->dead)
        ms__slots_each_other(other_task_cpu, t->slot);
}

/* ---- the backends' work beyond the records (event_path.h) ---- */

atomic_bool ms__backend_extra, ms__core_on;
_Atomic uint64_t ms__peak_check_at;

static void peak_check_due(struct ms__slot *s, uint64_t at)
{
    struct ms__live_totals t;
    ms__live_totals(&ms__core_table, &t);
    if (t.live_bytes < 0 || (uint64_t)t.live_bytes < at)
        return;
    uint64_t live = (uint64_t)t.live_bytes;
    /* One thread wins the new high; the next is MS_PEAK_CHECK_STEP above it. */
    if (!atomic_compare_exchange_strong(&ms__peak_check_at, &at, live + live / MS_PEAK_CHECK_STEP))
        return;
    if (ms__config.root_pid != (int)syscall(SYS_getpid)) {
        atomic_store(&ms__peak_check_at, 0); /* a forked child: its parent's scans only */
        return;
    }
    ms__defer_check(s, MS_CHECK_PEAK);
}

void ms__backend_alloc(struct ms__slot *s, void *ptr, size_t size, uint32_t stack)
{
    bool core = atomic_load_explicit(&ms__core_on, memory_order_relaxed);
    uint64_t task = s == ms__orphan_slot ? 0 : s->b.task;
    if (task) /* async and core both count tasks' events */
        ms__task_count(task, 1, size, core ? (int64_t)size : 0, core ? 1 : 0);
    if (core) {
        struct ms__live_block b = {
            .ptr = (uintptr_t)ptr,
            .size = size,
            .task = task,
            .owner = s == ms__orphan_slot ? NULL : &s->stats.live,
            .stack = stack,
            .gen = atomic_load_explicit(&s->stats.live.gen, memory_order_relaxed)};
        uint64_t at = atomic_load_explicit(&ms__peak_check_at, memory_order_relaxed);
        if (ms__live_add(&ms__core_table, &b) && MS_UNLIKELY(at) && s != ms__orphan_slot)
            peak_check_due(s, at);
    }
}

void ms__backend_free(struct ms__slot *s, void *ptr)
{
    (void)s;
    struct ms__live_block b;
    if (atomic_load_explicit(&ms__core_on, memory_order_relaxed) &&
        ms__live_remove(&ms__core_table, (uintptr_t)ptr, &b) && b.task)
        ms__task_count(b.task, 0, 0, -(int64_t)b.size, -1);
}

void ms__backend_realloc_begin(void *old)
{
    struct ms__slot *s = ms__tls.slot; /* none (a handler, a thread with no slot yet, the
                                           orphan slot's shared use): removed at the count */
    if (!s || s == ms__orphan_slot || ms__tls.in_handler)
        return;
    struct ms__live_block b;
    if (ms__live_remove(&ms__core_table, (uintptr_t)old, &b)) {
        if (b.task)
            ms__task_count(b.task, 0, 0, -(int64_t)b.size, -1);
        s->realloc_held = b;
    } else {
        /* Not in the table (allocated before core began): looked for once only. */
        s->realloc_held = (struct ms__live_block){.ptr = (uintptr_t)old, .gen = UINT32_MAX};
    }
}

void ms__count_realloc_failed(void)
{
    if (ms__tls.realloc_old && !ms__tls.in_handler) {
        /* The call failed: the old block is still live, and still sampled if it was. (A
         * handler's realloc took nothing out of the set: these are the interrupted call's.) */
        if (ms__tls.realloc_sampled && !ms__sampled_add(ms__tls.realloc_old))
            ms__slots_drop(); /* no memory for it: its free will go unrecorded */
        ms__tls.realloc_old = 0;
        ms__tls.realloc_sampled = 0;
    }
    struct ms__slot *s = ms__tls.slot;
    if (!s || s == ms__orphan_slot || !s->realloc_held.ptr)
        return;
    struct ms__live_block b = s->realloc_held;
    s->realloc_held.ptr = 0;
    if (b.gen != UINT32_MAX && ms__live_add(&ms__core_table, &b) && b.task)
        ms__task_count(b.task, 0, 0, (int64_t)b.size, 1);
}

/* ---- sampling (event_path.h, sampler.h) ---- */

/* The records of a realloc call of old (sampled or not) now p of size bytes (sampled or not,
 * with stack), dated at before (0: now): a REALLOC when both blocks are sampled, a FREE or an
 * ALLOC when one is. */
static void sampled_realloc_records(struct ms__slot *s, int family, void *old, bool old_sampled,
                                    void *p, size_t size, bool new_sampled, uint32_t stack,
                                    uint64_t before, uintptr_t ip)
{
    if (old_sampled && new_sampled) {
        ms__put_realloc(s, family, old, p, size, stack, before);
    } else if (old_sampled) {
        if (MS_UNLIKELY(s->b.free_every)) {
            /* The last FREE_CALLER holds for every free: not for this one, made by a realloc
             * from ip, whose stack is not walked. */
            s->b.free_every = false;
            uint8_t *kf; /* untimed: the FREE keeps the time before the call */
            uint8_t *f = ms__rec_begin_untimed(&s->b, &kf);
            ms__rec_end(&s->b, ms_ext_put_FREE_CALLER(kf, f, 0, ip, 0));
        }
        /* Dated before the call, as the REALLOC would be: the address may be another thread's
         * block by now. */
        uint8_t *kb;
        uint8_t *q = before ? ms__rec_begin_at(&s->b, &kb, before) : ms__rec_begin(&s->b, &kb);
        *kb |= (uint8_t)(family << MS_REC_FAMILY_SHIFT);
        ms__rec_end(&s->b, ms_rec_put_FREE(&s->b.base, kb, q, (uintptr_t)old));
    } else if (new_sampled) {
        ms__put_alloc(s, MS_REC_ALLOC, family, p, size, 0, stack);
    }
}

uint32_t ms__sample_realloc(struct ms__slot *s, int family, void *old, void *p, size_t size,
                            uint64_t before, uintptr_t ip)
{
    /* Taken out of the set before the call (ms__count_realloc_begin), unless a handler's. */
    bool taken = ms__tls.realloc_old == (uintptr_t)old && !ms__tls.in_handler;
    bool old_sampled = taken ? ms__tls.realloc_sampled : ms__sampled_take((uintptr_t)old);
    if (taken) {
        ms__tls.realloc_old = 0;
        ms__tls.realloc_sampled = 0;
    }
    ms__count_unsampled(s, !old_sampled, 1);
    bool new_sampled = ms__sample_alloc(s, ip, (uintptr_t)p, size);
    uint32_t stack = new_sampled ? ms__stack_id(&s->u, &s->b) : 0;
    sampled_realloc_records(s, family, old, old_sampled, p, size, new_sampled, stack, before, ip);
    return stack;
}

void ms__on_counts_own(struct ms__tls *t)
{
    struct ms__slot *s = t->slot;
    if (ms__sample_mean && s && s != ms__orphan_slot && !t->dead)
        ms__call_counts_flush(s);
}

/* ---- the callers of frees (event_path.h) ---- */

struct module_query {
    uintptr_t ra;
    struct ms__module_range m;
};

static void module_query(void *arg)
{
    struct module_query *q = arg;
    q->m.runtime = ms__module_range_of((const void *)q->ra, &q->m.lo, &q->m.hi);
}

static void sole_query(void *arg)
{
    struct ms__module_range *m = arg;
    if (!ms__module_sole_program(&m->lo, &m->hi))
        m->lo = m->hi = 0;
}

/* The module containing ra, from the slot's cache or else the loader's list (for code in no
 * module, its page). */
static const struct ms__module_range *free_module(struct ms__slot *s, uintptr_t ra)
{
    unsigned gen = atomic_load_explicit(&ms__code_gen, memory_order_relaxed);
    const size_t n = sizeof s->free_modules / sizeof *s->free_modules;
    if (s->free_modules_gen != gen || !s->free_modules_next) {
        memset(s->free_modules, 0, sizeof s->free_modules);
        s->free_modules_gen = gen;
        s->free_modules_next = 1;
        s->sole_module = (struct ms__module_range){0};
        ms__on_own_stack(s->u.own_stack, sole_query, &s->sole_module);
    }
    for (size_t i = 0; i < n; i++)
        if (ra - s->free_modules[i].lo < s->free_modules[i].hi - s->free_modules[i].lo)
            return &s->free_modules[i];
    struct module_query q = {.ra = ra};
    ms__on_own_stack(s->u.own_stack, module_query, &q); /* the loader's list takes some stack */
    struct ms__module_range m = q.m;
    if (m.lo >= m.hi) {
        /* Code in no module (a JIT's): its page stands for a module, so that the frees it
         * makes cost one lookup and one record, not one each (the reader places them by the
         * first frame of the stack that is in a module). */
        m.lo = ra & ~(uintptr_t)4095;
        m.hi = m.lo + 4096;
        m.runtime = false;
    }
    struct ms__module_range *slot = &s->free_modules[s->free_modules_next++ % n];
    *slot = m;
    return slot;
}

/* Records that the thread's frees now come from the module m (NULL: none known), with the stack
 * of this one. Its range is set before the record ends: should the record fill the buffer, the
 * new chunk starts with none (the reader keeps a thread's caller from one chunk to the next, so
 * the free that follows still has it). */
static void put_free_caller(struct ms__slot *s, const struct ms__module_range *m, uintptr_t ra,
                            uint32_t stack)
{
    /* With MEMSCOPE_FREE_STACKS no range is kept: every free comes here, for its own stack, and
     * the record holds for the frees after it that have the same. */
    bool every = ms__config.free_stacks;
    bool keep = m && !every;
    s->b.free_lo = keep ? m->lo : 0;
    atomic_store_explicit(&s->b.free_span, keep ? m->hi - m->lo : 0, memory_order_relaxed);
    s->b.free_every = every;
    s->b.free_every_stack = stack;
    uint8_t *kb;
    uint8_t *p = ms__rec_begin(&s->b, &kb);
    ms__rec_end(&s->b, ms_ext_put_FREE_CALLER(kb, p, stack, ra, every));
}

void ms__free_caller_at(struct ms__slot *s, uintptr_t ra, uint32_t stack)
{
    const struct ms__module_range *m = free_module(s, ra);
    put_free_caller(s, m && !m->runtime ? m : NULL, ra, stack);
}

/* The frees a runtime module's code makes (libstdc++'s, fclose's, called from ra) belong to the
 * module of the first frame outside memscope and the runtime: a short walk from here, with the
 * thread's rule cache, finds it. Returns true when it is the module of the chunk's last
 * FREE_CALLER (nothing to record); else sets *m to it (NULL: the walk cannot tell). */
static __attribute__((noinline)) bool runtime_caller(struct ms__slot *s, uintptr_t ra,
                                                     const struct ms__module_range **m)
{
    *m = NULL;
    if (s->sole_module.lo < s->sole_module.hi) {
        *m = &s->sole_module; /* the only module whose code is not the runtime's */
        return s->sole_module.lo == s->b.free_lo &&
               s->sole_module.hi - s->sole_module.lo ==
                   atomic_load_explicit(&s->b.free_span, memory_order_relaxed);
    }
#if defined(__x86_64__)
    if (!ms__unwind_fast_on || ms__config.unwind != MS_UNWIND_LIBUNWIND)
        return false;
    uintptr_t ip, sp, bp, out[8];
    MS_UNWIND_HERE(ip, sp, bp);
    int n = ms__unwind_peek(&s->u, ip, sp, bp, out, 8);
    for (int i = 0; i < n; i++) {
        if (out[i] - ms__self_lo < ms__self_hi - ms__self_lo || out[i] == ra)
            continue; /* the hook, then the runtime function that called it */
        if (out[i] - 1 - s->b.free_lo < atomic_load_explicit(&s->b.free_span, memory_order_relaxed))
            return true;
        const struct ms__module_range *r = free_module(s, out[i] - 1);
        if (!r)
            return false;
        if (!r->runtime) {
            *m = r;
            return false;
        }
    }
#else
    (void)s, (void)ra;
#endif
    return false;
}

/* The free's stack, walked with the frees' own walk log: a loop that allocates and frees
 * repeats both walks. */
static inline __attribute__((always_inline)) uint32_t free_stack(struct ms__slot *s)
{
    s->u.walk_i = MS_WALK_FREES;
    uint32_t stack = ms__stack_id(&s->u, &s->b);
    s->u.walk_i = MS_WALK_ALLOCS;
    return stack;
}

__attribute__((noinline)) void ms__free_caller(struct ms__slot *s, uintptr_t ra)
{
    if (ms__config.free_stacks) {
        uint32_t stack = free_stack(s);
        if (stack && s->b.free_every && s->b.free_every_stack == stack)
            return; /* the chunk's last FREE_CALLER holds for this free too */
        /* No range is kept: the module is the reader's, from the stack (or ra). */
        put_free_caller(s, NULL, ra, stack);
        return;
    }
    const struct ms__module_range *m = free_module(s, ra);
    if (m && m->runtime && runtime_caller(s, ra, &m))
        return;
    put_free_caller(s, m && !m->runtime ? m : NULL, ra, free_stack(s));
}

/* ---- a death inside the allocator (event_path.h) ---- */

void ms__on_free_fault(int sig)
{
    struct ms__tls *t = &ms__tls;
    uintptr_t ptr = t->freeing;
    if (!ptr || t->in_handler)
        return;
    t->freeing = 0;
    struct ms__slot *s = ms__slot_get(t);
    if (!s)
        return;
    uint32_t stack = 0;
    if (ms__config.unwind != MS_UNWIND_NONE) {
        /* From here through the signal frame and the allocator's abort out to the program: the
         * frames up to the hook's, the last of memscope's, are the crash's, not the call's. */
        uintptr_t *ips = s->u.ips;
        int n = unw_backtrace((void **)ips, MS_WALK_FRAMES);
        int last = -1;
        for (int i = 0; i < n; i++)
            if (ips[i] >= ms__self_lo && ips[i] < ms__self_hi)
                last = i;
        int keep = n - (last + 1);
        if (keep > ms__config.depth)
            keep = ms__config.depth;
        if (last >= 0 && keep > 0)
            stack = ms__stack_intern(&s->u, &s->b, ips + last + 1, keep);
    }
    uint8_t *kb;
    uint8_t *p = ms__rec_begin_at(&s->b, &kb, ms__now());
    ms__rec_end(&s->b, ms_ext_put_FREE_FAULT(kb, p, ptr, (uint64_t)(t->freeing_realloc != 0),
                                             (uint64_t)sig, stack));
    ms__slot_release(s);
}

void ms__on_heap_error(int kind, uintptr_t ptr, uint64_t size, int64_t offset, int found,
                       bool stack)
{
    struct ms__slot *s = ms__slot_get(&ms__tls);
    if (!s) {
        if (ms__tls.in_handler || ms__tls.dead)
            ms__slots_drop();
        return;
    }
    uint32_t id = stack ? ms__stack_id(&s->u, &s->b) : 0;
    uint8_t *kb;
    uint8_t *p = ms__rec_begin_at(&s->b, &kb, ms__now());
    ms__rec_end(&s->b, ms_ext_put_HEAP_ERROR(kb, p, (uint64_t)kind, ptr, size, (uint64_t)offset,
                                             (uint64_t)found, id));
    ms__slot_release(s);
}

#define MS__ON_ANNOTATION(NAME, code, summary)                                                     \
    void ms__on_##NAME(MS__DROP1(MS_XFIELDS_##NAME(MS__PARAM)))                                    \
    {                                                                                              \
        struct ms__slot *s = ms__slot_get(&ms__tls);                                               \
        if (!s) {                                                                                  \
            if (ms__tls.in_handler || ms__tls.dead) /* else ms__slot_attach counted it */          \
                ms__slots_drop();                                                                  \
            return;                                                                                \
        }                                                                                          \
        uint8_t *kb;                                                                               \
        uint8_t *p = ms__rec_begin_at(&s->b, &kb, ms__now());                                      \
        ms__rec_end(&s->b, ms_ext_put_##NAME(kb, p MS_XFIELDS_##NAME(MS__ARG)));                   \
        ms__slot_release(s);                                                                       \
    }
MS_EXT_RECORDS(MS__ON_ANNOTATION)
#undef MS__ON_ANNOTATION

void ms__allocator_stats_due(uint32_t tick)
{
    struct ms__allocator_sample a;
    if (ms__allocator_stats_take(tick, &a))
        ms__on_ALLOCATOR_STATS(a.arena, a.mmapped, a.in_use, a.free, a.top);
}

/* ---- events deferred by signal handlers (event_path.h) ---- */

/* The stack of a signal handler that interrupted a hook (whose walk state u is in use), from
 * here out to the signal frame, into ips (MS_WALK_FRAMES of them); returns the frames. */
static __attribute__((noinline)) int handler_stack(const struct ms__unwind_state *u, uintptr_t *ips)
{
    int want = ms__config.depth + MS_CAPTURE_SLACK;
    if (ms__config.unwind == MS_UNWIND_FP) {
        /* The frame-pointer walk is safe from inside the thread's stack only: it climbs from
         * here to the stack's top. A handler on another stack (memscope's own, interrupting a
         * flush whose code keeps no frame pointers; a sigaltstack) gets the caller alone. */
        uintptr_t here = (uintptr_t)__builtin_frame_address(0);
        if (u->stack_pending || here < u->stack_lo || here >= u->stack_hi)
            return 0;
        return ms__walk_fp((struct ms__unwind_state *)u, ips, want);
    }
#if defined(__x86_64__)
    if (ms__config.unwind == MS_UNWIND_LIBUNWIND && ms__unwind_fast_on) {
        uintptr_t ip, sp, bp;
        MS_UNWIND_HERE(ip, sp, bp);
        return ms__unwind_plain(u, ip, sp, bp, ips, want);
    }
#endif
    return 0;
}

void ms__defer(int rec, int family, uintptr_t ptr, uintptr_t old, size_t size, size_t align,
               uintptr_t caller)
{
    struct ms__tls *t = &ms__tls;
    if (!t->in_handler)
        return; /* no slot for the thread: ms__slot_attach counted the event as dropped */
    if (!t->held) {
        ms__slots_drop();
        return;
    }
    /* Claimed before it is written: a handler that interrupts this one claims the next. */
    int i = __atomic_fetch_add(&t->n_deferred, 1, __ATOMIC_RELAXED);
    if (i >= MS_DEFERRED_MAX) {
        __atomic_fetch_sub(&t->n_deferred, 1, __ATOMIC_RELAXED);
        ms__slots_drop();
        return;
    }
    struct ms__slot *s = t->held;
    s->deferred[i] = (struct ms__deferred_event){
        .rec = rec,
        .family = family,
        .ptr = ptr,
        .old = old,
        .size = size,
        .align = align,
        .caller = caller,
        .frames = handler_stack(&s->u, s->deferred_ips[i]),
    };
}

/* The deferred event's stack: the handler's, trimmed as any stack is, or else the allocator
 * call's return address alone (none when it is memscope's own: an entry point that calls
 * another, as realloc does). Interned now that the walk state is free again. */
static uint32_t deferred_stack(struct ms__slot *s, struct ms__deferred_event *e, uintptr_t *ips)
{
    if (ms__config.unwind == MS_UNWIND_NONE)
        return 0;
    int n = e->frames;
    if (n <= 0) {
        ips[0] = e->caller;
        n = 1;
    }
    int first;
    n = ms__stack_trim(ips, n, &first);
    return ms__stack_intern(&s->u, &s->b, ips + first, n);
}

/* A deferred event of a sampled process, counted and recorded as the event path does. */
static void record_deferred_sampled(struct ms__slot *s, struct ms__deferred_event *e,
                                    uintptr_t *ips)
{
    if (e->rec == MS_REC_FREE) {
        if (!ms__sampled_take(e->ptr)) {
            ms__count_unsampled(s, 1, 0);
        } else {
            ms__free_caller_at(s, e->caller, deferred_stack(s, e, ips));
            ms__put_free(s, e->family, (void *)e->ptr);
        }
        ms__count_free(s, (void *)e->ptr);
        return;
    }
    uint32_t stack = 0;
    if (e->rec == MS_REC_REALLOC) {
        bool old_sampled = ms__sampled_take(e->old);
        ms__count_unsampled(s, !old_sampled, 1);
        bool new_sampled = ms__sample_alloc(s, e->caller, e->ptr, e->size);
        if (new_sampled)
            stack = deferred_stack(s, e, ips);
        sampled_realloc_records(s, e->family, (void *)e->old, old_sampled, (void *)e->ptr, e->size,
                                new_sampled, stack, 0, e->caller);
        ms__count_free(s, (void *)e->old);
    } else if (ms__sample_alloc(s, e->caller, e->ptr, e->size)) {
        stack = deferred_stack(s, e, ips);
        ms__put_alloc(s, e->rec, e->family, (void *)e->ptr, e->size, e->align, stack);
    }
    ms__count_alloc(s, (void *)e->ptr, e->size, stack);
}

void (*ms__deferred_leak_check)(int cause);

void ms__defer_check(struct ms__slot *s, int cause)
{
    struct ms__tls *t = &ms__tls;
    /* Claimed before it is written, as ms__defer does: a handler's claims the next. */
    int i = __atomic_fetch_add(&t->n_deferred, 1, __ATOMIC_RELAXED);
    if (i >= MS_DEFERRED_MAX) {
        __atomic_fetch_sub(&t->n_deferred, 1, __ATOMIC_RELAXED);
        return;
    }
    s->deferred[i] =
        (struct ms__deferred_event){.rec = MS_DEFERRED_LEAK_CHECK, .size = (size_t)cause};
}

void ms__record_deferred(struct ms__tls *t)
{
    /* Inside the handler (its own hook is leaving), the interrupted code records them. */
    if (t->in_handler || !t->slot)
        return;
    int was_busy = t->busy;
    t->busy = 1;
    struct ms__slot *s = t->slot;
    int done = 0;
    for (;;) {
        int n = __atomic_load_n(&t->n_deferred, __ATOMIC_ACQUIRE);
        if (done == n) {
            /* Nothing came in meanwhile (a handler interrupting this loop appends): empty. */
            if (__atomic_compare_exchange_n(&t->n_deferred, &n, 0, false, __ATOMIC_ACQ_REL,
                                            __ATOMIC_ACQUIRE))
                break;
            continue;
        }
        uintptr_t *ips = s->deferred_ips[done];
        struct ms__deferred_event *e = &s->deferred[done++];
        if (e->rec == MS_DEFERRED_LEAK_CHECK) {
            if (ms__deferred_leak_check)
                ms__deferred_leak_check((int)e->size);
            continue;
        }
        if (ms__sample_mean) {
            record_deferred_sampled(s, e, ips);
            continue;
        }
        switch (e->rec) {
        case MS_REC_FREE:
            ms__free_caller_at(s, e->caller, deferred_stack(s, e, ips));
            ms__put_free(s, e->family, (void *)e->ptr);
            ms__count_free(s, (void *)e->ptr);
            break;
        case MS_REC_REALLOC: {
            uint32_t stack = deferred_stack(s, e, ips);
            ms__put_realloc(s, e->family, (void *)e->old, (void *)e->ptr, e->size, stack, 0);
            ms__count_free(s, (void *)e->old);
            ms__count_alloc(s, (void *)e->ptr, e->size, stack);
            break;
        }
        default: {
            uint32_t stack = deferred_stack(s, e, ips);
            ms__put_alloc(s, e->rec, e->family, (void *)e->ptr, e->size, e->align, stack);
            ms__count_alloc(s, (void *)e->ptr, e->size, stack);
            break;
        }
        }
    }
    t->busy = was_busy;
}
