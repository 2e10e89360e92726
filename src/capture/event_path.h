/* The one event path: every hook, whatever the entry point (malloc, operator new, tc_malloc,
 * mallocx, ...), reports what happened here, and this is where a capture backend (issue 7:
 * core, lockfree, async, unified) plugs in. Today's path records each event, with its stack,
 * into the calling thread's slot. Callers have set tls.busy (allocations made on the way pass
 * straight through) and call only while tracking is active. */
#ifndef MS_CAPTURE_EVENT_PATH_H
#define MS_CAPTURE_EVENT_PATH_H

#include "allocator_stats.h"
#include "sampler.h"
#include "stack_capture.h"
#include "thread_state.h"

#include <stddef.h>
#include <stdint.h>

/* Events a signal handler made while it interrupted this thread inside memscope (no slot to
 * write: see ms__tls.in_handler): kept in the slot's deferred list, with the allocator call's
 * return address as their stack, until ms__unbusy records them. Lost (and counted as dropped)
 * only when the thread had no slot yet or the list is full. */
void ms__defer(int rec, int family, uintptr_t ptr, uintptr_t old, size_t size, size_t align,
               uintptr_t caller);
void ms__record_deferred(struct ms__tls *t);
/* A deferred event that is no allocator call: an on-demand leak check asked for by a signal
 * that interrupted memscope (leak_check.h), which ms__record_deferred runs through
 * ms__deferred_leak_check (set by the layer above). */
#define MS_DEFERRED_LEAK_CHECK 0x100
extern void (*ms__deferred_leak_check)(int cause);
/* Asks for a leak check of the cause (enum ms_check_cause) once the hook in progress on this
 * thread (whose slot is s) leaves memscope, as ms__unbusy records deferred events. Dropped when
 * the deferred list is full. */
void ms__defer_check(struct ms__slot *s, int cause);

/* Leaves a hook: clears busy, then records what signal handlers deferred meanwhile. */
static inline void ms__unbusy(void)
{
    ms__tls.busy = 0;
    if (MS_UNLIKELY(ms__tls.n_deferred != 0))
        ms__record_deferred(&ms__tls);
}

/* The backends (include/memscope.h, MEMSCOPE_BACKEND): every one counts each thread's events for
 * ms_stats; ms__backend_extra is set when one does more (async and core count each task's
 * events, and core, ms__core_on, keeps its table of live blocks), which ms__backend_alloc and
 * ms__backend_free do. */
extern atomic_bool ms__backend_extra, ms__core_on;
/* MEMSCOPE_SCAN_AT_PEAK (leak_check.h): the live bytes in core's table at which the next leak
 * check (MS_CHECK_PEAK) is due; 0: none. ms__backend_alloc asks for it (ms__defer_check) when
 * they reach it, and sets the next 1/MS_PEAK_CHECK_STEP above. */
extern _Atomic uint64_t ms__peak_check_at;
#define MS_PEAK_CHECK_FROM 65536
#define MS_PEAK_CHECK_STEP 16
void ms__backend_alloc(struct ms__slot *s, void *ptr, size_t size, uint32_t stack);
void ms__backend_free(struct ms__slot *s, void *ptr);

/* Adds v to a counter only its slot's owner writes (under the lock, for the orphan slot):
 * relaxed, and no read-modify-write instruction, so as cheap as a plain add, while ms_stats in
 * another thread reads it without a data race. */
static inline void ms__stat_add(_Atomic uint64_t *c, uint64_t v)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
                          memory_order_relaxed);
}

static inline __attribute__((always_inline)) void ms__count_alloc(struct ms__slot *s, void *ptr,
                                                                  size_t size, uint32_t stack)
{
    ms__stat_add(&s->stats.allocs, 1);
    ms__stat_add(&s->stats.bytes, size);
    if (MS_UNLIKELY(atomic_load_explicit(&ms__backend_extra, memory_order_relaxed)))
        ms__backend_alloc(s, ptr, size, stack);
}

static inline __attribute__((always_inline)) void ms__count_free(struct ms__slot *s, void *ptr)
{
    ms__stat_add(&s->stats.frees, 1);
    if (MS_UNLIKELY(atomic_load_explicit(&ms__backend_extra, memory_order_relaxed)))
        ms__backend_free(s, ptr);
}

/* Before a realloc-like call of the live block old (busy set): the core backend's table lets go
 * of it now, before the allocator may give its address to another thread, and holds it in the
 * slot until ms__on_realloc counts the call or ms__count_realloc_failed puts it back. */
void ms__backend_realloc_begin(void *old);
void ms__count_realloc_failed(void);
static inline void ms__count_realloc_begin(void *old)
{
    if (MS_UNLIKELY(ms__sample_mean) && !ms__tls.in_handler) {
        /* Out of the sampled set before the allocator may give its address to another thread
         * (a handler's realloc asks when its deferred event is recorded). */
        ms__tls.realloc_old = (uintptr_t)old;
        ms__tls.realloc_sampled = ms__sampled_take((uintptr_t)old);
    }
    if (MS_UNLIKELY(atomic_load_explicit(&ms__core_on, memory_order_relaxed)))
        ms__backend_realloc_begin(old);
}

/* The records of the event path, written into the slot s with the stack id given. */
static inline __attribute__((always_inline)) void ms__put_alloc(struct ms__slot *s, int kind,
                                                                int family, void *ptr, size_t size,
                                                                size_t align, uint32_t stack)
{
    uint8_t *kb;
    uint8_t *p = ms__rec_begin(&s->b, &kb);
    *kb |= (uint8_t)(family << MS_REC_FAMILY_SHIFT);
    if (kind == MS_REC_ALLOC_ALIGNED)
        p = ms_rec_put_ALLOC_ALIGNED(&s->b.base, kb, p, (uintptr_t)ptr, size, stack, align);
    else
        p = ms_rec_put_ALLOC(&s->b.base, kb, p, (uintptr_t)ptr, size, stack);
    ms__rec_end(&s->b, p);
}

static inline void ms__put_free(struct ms__slot *s, int family, void *ptr)
{
    uint8_t *kb;
    uint8_t *p = ms__rec_begin(&s->b, &kb);
    *kb |= (uint8_t)(family << MS_REC_FAMILY_SHIFT);
    p = ms_rec_put_FREE(&s->b.base, kb, p, (uintptr_t)ptr);
    ms__rec_end(&s->b, p);
}

static inline void ms__put_realloc(struct ms__slot *s, int family, void *old, void *ptr,
                                   size_t size, uint32_t stack, uint64_t before)
{
    uint8_t *kb;
    uint8_t *q = before ? ms__rec_begin_at(&s->b, &kb, before) : ms__rec_begin(&s->b, &kb);
    *kb |= (uint8_t)(family << MS_REC_FAMILY_SHIFT);
    q = ms_rec_put_REALLOC(&s->b.base, kb, q, (uintptr_t)old, (uintptr_t)ptr, size, stack);
    ms__rec_end(&s->b, q);
}

/* A tick of memscope run's clock has passed since glibc's figures were last looked at: an
 * ALLOCATOR_STATS annotation when a sample is due (allocator_stats.h). */
void ms__allocator_stats_due(uint32_t tick);

/* A block of size bytes at ptr came from an allocator of the family (enum ms_family); kind is
 * MS_REC_ALLOC, or MS_REC_ALLOC_ALIGNED with the alignment asked for. Inlined into the hooks:
 * the stack walk starts in the hook itself. */
static inline __attribute__((always_inline)) void ms__on_alloc(int kind, int family, void *ptr,
                                                               size_t size, size_t align)
{
    struct ms__slot *s = ms__slot_get(&ms__tls);
    if (MS_UNLIKELY(!s)) {
        ms__defer(kind, family, (uintptr_t)ptr, 0, size, align,
                  (uintptr_t)__builtin_return_address(0));
        return;
    }
    if (MS_UNLIKELY(ms__sample_mean) &&
        !ms__sample_alloc(s, (uintptr_t)__builtin_return_address(0), (uintptr_t)ptr, size)) {
        ms__count_alloc(s, ptr, size, 0);
        ms__slot_release(s);
        return;
    }
    uint32_t stack = ms__stack_id(&s->u, &s->b);
    ms__put_alloc(s, kind, family, ptr, size, align, stack);
    ms__count_alloc(s, ptr, size, stack);
    uint32_t tick = s->b.tick;
    ms__slot_release(s);
    if (MS_UNLIKELY(tick != atomic_load_explicit(&ms__stats_tick, memory_order_relaxed)))
        ms__allocator_stats_due(tick);
}

/* A free called from ra, outside the module the chunk's last FREE_CALLER named: a FREE_CALLER
 * record with the free's stack (walked from here: inlined into the hook, ms__on_free) goes
 * first. ms__free_caller_at takes a stack already interned (a deferred free's). */
void ms__free_caller(struct ms__slot *s, uintptr_t ra);
void ms__free_caller_at(struct ms__slot *s, uintptr_t ra, uint32_t stack);

/* The crash handler, for signal sig, in a thread inside the allocator's release of a block
 * (ms__tls.freeing): a FREE_FAULT record with the stack of the call. */
void ms__on_free_fault(int sig);

/* --check (check_heap.h) found the block at ptr of size bytes damaged at offset, or refused a
 * realloc of ptr (kind: enum ms_heap_error; found: enum ms_heap_found): a HEAP_ERROR record,
 * with the program's stack when stack is set. */
void ms__on_heap_error(int kind, uintptr_t ptr, uint64_t size, int64_t offset, int found,
                       bool stack);

/* The block at ptr is about to be released by a deallocator of the family. Its caller's module
 * is the freer of the block's passport (include/memscope.h): a free from another module than
 * the chunk's last one is preceded by a FREE_CALLER record. */
static inline __attribute__((always_inline)) void ms__on_free(int family, void *ptr)
{
    uintptr_t ra = (uintptr_t)__builtin_return_address(0);
    struct ms__slot *s = ms__slot_get(&ms__tls);
    if (MS_UNLIKELY(!s)) {
        ms__defer(MS_REC_FREE, family, (uintptr_t)ptr, 0, 0, 0, ra);
        return;
    }
    if (MS_UNLIKELY(ms__sample_mean) && !ms__sampled_take((uintptr_t)ptr)) {
        ms__count_unsampled(s, 1, 0);
        ms__count_free(s, ptr);
        ms__slot_release(s);
        return;
    }
    if (MS_UNLIKELY(ra - s->b.free_lo >=
                    atomic_load_explicit(&s->b.free_span, memory_order_relaxed)))
        ms__free_caller(s, ra);
    ms__put_free(s, family, ptr);
    ms__count_free(s, ptr);
    ms__slot_release(s);
}

/* The time to date a realloc-like call of a live block with, taken before the call: the real
 * call releases the old block before the record is written, and with threads another thread
 * may be given that address at once. 0: no time needed (one thread). */
static inline uint64_t ms__on_realloc_time(void)
{
    return atomic_load_explicit(&ms__time_period, memory_order_relaxed) < 256 ? ms__now() : 0;
}

/* With sampling, the records of a realloc call from ip of the live block old, now p: a REALLOC
 * when both blocks are sampled, a FREE or an ALLOC when one is, nothing else; counted
 * (sampler.h). Returns the new block's stack (0 when not sampled). */
uint32_t ms__sample_realloc(struct ms__slot *s, int family, void *old, void *p, size_t size,
                            uint64_t before, uintptr_t ip);
/* The call counts of the thread of slot t are written out into its records: it exits. (At the
 * finish every slot's become a chunk of their own when the slot is sealed, thread_state.c; at a
 * fork the child writes a copy of every slot's, sampler.h.) */
void ms__on_counts_own(struct ms__tls *t);

/* The live block old is now the block p of size bytes (perhaps old itself), by a call of the
 * family (MS_FAMILY_MALLOC, or MS_FAMILY_OTHER for an allocator library's own) from ra (the
 * program's call site) that began at time before (ms__on_realloc_time). Inlined into the
 * caller, as ms__on_alloc. */
static inline __attribute__((always_inline)) void
ms__on_realloc(int family, void *old, void *p, size_t size, uint64_t before, uintptr_t ra)
{
    struct ms__slot *s = ms__slot_get(&ms__tls);
    if (MS_UNLIKELY(!s)) {
        ms__defer(MS_REC_REALLOC, family, (uintptr_t)p, (uintptr_t)old, size, 0, ra);
        return;
    }
    uint32_t stack;
    if (MS_UNLIKELY(ms__sample_mean))
        stack = ms__sample_realloc(s, family, old, p, size, before, ra);
    else
        ms__put_realloc(s, family, old, p, size, stack = ms__stack_id(&s->u, &s->b), before);
    /* Counted as valgrind counts it: a free and an allocation; the table let go of old at the
     * call's start (ms__count_realloc_begin) when it could. */
    if (MS_UNLIKELY(s->realloc_held.ptr == (uintptr_t)old && old)) {
        s->realloc_held.ptr = 0;
        ms__stat_add(&s->stats.frees, 1);
    } else {
        ms__count_free(s, old);
    }
    ms__count_alloc(s, p, size, stack);
    ms__slot_release(s);
}

/* This thread created the thread whose pthread_t is thread, by a call that began at time
 * before: the record is dated then, before the new thread's first record, so that this
 * thread's earlier events are known to precede all of the new thread's (the reader's bounds on
 * the peak rely on it, see src/analysis/peak_order.h). */
void ms__on_thread_created(uint64_t thread, uint64_t before);
/* This process forked the child pid. */
void ms__on_forked(uint64_t pid);
/* Exit-time freeing of libc's and libstdc++'s internals begins (from this thread's slot t,
 * which must not be dead). */
void ms__on_exit_freeing(struct ms__tls *t);

/* The C API's current task of this thread is now task (0: none): a TASK record with the thread's
 * CPU clock, and the thread's later chunks restate it. A thread whose TLS is gone (the orphan
 * slot, shared) has no task. */
void ms__on_task_current(uint64_t task);
/* The calling thread's current task. */
uint64_t ms__task_current(void);
/* The thread (slot t) exits: a TASK record with its CPU clock closes its task's last stretch. */
void ms__on_thread_task_end(struct ms__tls *t);
/* The process finishes, from the thread of slot t: its task's last stretch is closed as at a
 * thread's exit, and for every other thread running a task its CPU clock (read through its
 * thread id) goes into t's slot as a TASK_CPU annotation. */
void ms__on_tasks_at_finish(struct ms__tls *t);

/* The annotations of the C API, one function per EXTENDED sub-kind of the record table
 * (record_table.h): ms__on_VARIABLE(ptr, name, type, ...), ms__on_TASK_BEGIN(task, parent,
 * name), ... with the table's fields as arguments. Each is timed: a block another thread named
 * must come after its allocation in the replay. */
#define MS__ON_ANNOTATION(NAME, code, summary)                                                     \
    void ms__on_##NAME(MS__DROP1(MS_XFIELDS_##NAME(MS__PARAM)));
MS_EXT_RECORDS(MS__ON_ANNOTATION)
#undef MS__ON_ANNOTATION

#endif
