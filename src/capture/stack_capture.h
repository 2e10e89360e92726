/* Captures the calling thread's stack as return addresses, innermost first, with memscope's
 * own frames removed: libunwind (default), frame pointers, or nothing. */
#ifndef MS_CAPTURE_STACK_CAPTURE_H
#define MS_CAPTURE_STACK_CAPTURE_H

#define UNW_LOCAL_ONLY
#include "config.h"
#include "event_buffer.h"
#include "stack_intern.h"
#include "unwind_fast.h"
#include "unwind_state.h"
#include "unwind_verify.h"

#include <libunwind.h>
#include <stdint.h>

/* Room the capture needs: the frames kept plus memscope's own, dropped afterwards. */
#define MS_CAPTURE_SLACK 8
#define MS_CAPTURE_MAX (MS_MAX_STACK_DEPTH + MS_CAPTURE_SLACK)

/* Prepares the chosen unwinder; records memscope's own code range so its frames are skipped. */
void ms__stack_capture_init(void);

/* memscope's own executable range. */
extern uintptr_t ms__self_lo, ms__self_hi;

/* Walks frame pointers from the caller; bounded by the thread's stack. */
int ms__walk_fp(struct ms__unwind_state *u, uintptr_t *raw, int max);

/* MEMSCOPE_UNWIND_VERIFY: unwinds again with libunwind and compares (unwind_verify.h) the stack
 * the cached walk logged in w (its n return addresses: the interning may have forgotten the walk
 * since) and the id it got, or the stack id a repeated walk reused. */
void ms__unwind_verify_walk(const struct ms__walk_log *w, int n, uint32_t id);
void ms__unwind_verify_repeat(struct ms__unwind_state *u, struct ms__buffer *b, uint32_t stack);

/* Drops memscope's own frames: the hook's and the helpers' it called (the leading run), and the
 * wrappers' further out (memscope's fork, pthread_create and dlopen sit between the program and
 * libc, where an allocating pthread_atfork handler, a new thread's TLS or the loader allocates):
 * the program's stack is the one it would have without memscope. Then clips to the configured
 * depth. Returns the number of frames kept, starting at ips + *first_out. */
static inline int ms__stack_trim(uintptr_t *ips, int n, int *first_out)
{
    int first = 0;
    while (first < n && ips[first] >= ms__self_lo && ips[first] < ms__self_hi)
        first++;
    int kept = first;
    for (int i = first; i < n && kept - first < ms__config.depth; i++)
        if (MS_LIKELY(ips[i] < ms__self_lo || ips[i] >= ms__self_hi))
            ips[kept++] = ips[i];
    *first_out = first;
    return kept - first;
}

/* The stack of the walk logged in u->walk when a wrapper of memscope's is among its first s
 * frames (those further in are the hook's): trimmed as ms__stack_trim trims any stack, and
 * interned. */
uint32_t ms__stack_of_walk_trimmed(struct ms__unwind_state *u, struct ms__buffer *b, int s);

/* The stack id of the cached walk just logged in u->walk (its return addresses, outermost first,
 * are the stack), trimmed as ms__stack_trim trims and interned. The frames it shares with the
 * last walk are neither searched for memscope's frames nor compared with the last stack again. */
static inline uint32_t ms__stack_of_walk(struct ms__unwind_state *u, struct ms__buffer *b)
{
    struct ms__walk_log *w = ms__walk(u);
    const uintptr_t lo = ms__self_lo, span = ms__self_hi - ms__self_lo;
    int s = w->frames;
    while (s > 0 && w->ra[s - 1] - lo < span)
        s--; /* the hook's own frames and its helpers', innermost */
    int i = w->clean < s ? w->clean : s;
    while (i < s && w->ra[i] - lo >= span)
        i++;
    w->clean = i;
    uint32_t id;
    if (MS_LIKELY(i == s && s <= ms__config.depth)) {
        int log = u->cache_log_of == u->walk_i ? u->cache_log : 0;
        int known = log < w->kept ? log : w->kept;
        id = ms__stack_intern_outer(u, b, w->ra, s, known);
    } else if (i == s) { /* the innermost frames only: not where the last stack had them */
        id = ms__stack_intern_outer(u, b, w->ra + (s - ms__config.depth), ms__config.depth, 0);
    } else { /* a wrapper of memscope's further out */
        id = ms__stack_of_walk_trimmed(u, b, s);
    }
    w->stack = id;
    if (MS_UNLIKELY(!id && s > 0))
        ms__walk_forget(u); /* not interned (out of memory): nothing to reuse */
    return id;
}

/* The stack id of the hook's caller: captured, trimmed to the configured depth and interned
 * (0 with --unwind=none). Inlined into the hooks so that the walk starts in the hook itself. In
 * libunwind mode memscope's cached walk of standard frames (unwind_fast.h) comes first, and a
 * walk that would repeat the thread's previous one exactly reuses its id; libunwind takes any
 * stack the cached walk gives up on. */
static inline __attribute__((always_inline)) uint32_t ms__stack_id(struct ms__unwind_state *u,
                                                                   struct ms__buffer *b)
{
    if (ms__config.unwind == MS_UNWIND_NONE)
        return 0;
    _Static_assert(MS_CAPTURE_MAX <= MS_WALK_FRAMES, "the capture buffer holds a whole walk");
    uintptr_t *ips = u->ips;
    int want = ms__config.depth + MS_CAPTURE_SLACK, n;
    if (ms__config.unwind == MS_UNWIND_LIBUNWIND) {
#if defined(__x86_64__)
        if (MS_LIKELY(ms__unwind_fast_on)) {
            uintptr_t ip, sp, bp;
            MS_UNWIND_HERE(ip, sp, bp);
            if (ms__walk_repeats(u, ip, sp, bp)) {
                if (MS_UNLIKELY(ms__unwind_verify_on))
                    ms__unwind_verify_repeat(u, b, ms__walk(u)->stack);
                return ms__walk(u)->stack;
            }
            n = ms__unwind_fast(u, ip, sp, bp, want);
            if (MS_LIKELY(n >= 0)) {
                uint32_t id = ms__stack_of_walk(u, b);
                if (MS_UNLIKELY(ms__unwind_verify_on))
                    ms__unwind_verify_walk(ms__walk(u), n, id);
                return id;
            }
            if (MS_UNLIKELY(ms__unwind_verify_on))
                ms__unwind_count_fallback();
        }
#endif
        n = unw_backtrace((void **)ips, want);
    } else {
        n = ms__walk_fp(u, ips, want);
    }
    int first;
    n = ms__stack_trim(ips, n, &first);
    return ms__stack_intern(u, b, ips + first, n);
}

#endif
