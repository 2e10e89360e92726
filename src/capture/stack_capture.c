/* Stack capture for the hooks. In libunwind mode, memscope's cached walk (unwind_fast.c) takes
 * the stacks made only of standard frames and libunwind's unw_backtrace, with its per-thread
 * cache of unwind info, the others; the frame-pointer walk checks every frame against the thread's
 * stack bounds, so a frame without a frame pointer ends the walk instead of faulting. */
#define UNW_LOCAL_ONLY
#include "stack_capture.h"

#include "config.h"
#include "module_map.h"

#include <libunwind.h>
#include <string.h>

uintptr_t ms__self_lo, ms__self_hi;

void ms__stack_capture_init(void)
{
    ms__module_range_of((const void *)&ms__stack_capture_init, &ms__self_lo, &ms__self_hi);
    ms__unwind_state_init();
    if (ms__config.unwind == MS_UNWIND_LIBUNWIND) {
        unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
#if defined(__x86_64__)
        ms__unwind_fast_on = ms__config.unwind_fast && ms__cfi_available();
#endif
        ms__unwind_verify_on = ms__unwind_fast_on && ms__config.unwind_verify;
    }
}

__attribute__((noinline)) int ms__walk_fp(struct ms__unwind_state *u, uintptr_t *raw, int max)
{
    uintptr_t *fp = __builtin_frame_address(0);
    if (MS_UNLIKELY(u->stack_pending))
        ms__unwind_find_stack(u);
    uintptr_t hi = u->stack_hi;
    if (!hi)
        return 0; /* stack bounds unknown (the orphan slot): no safe walk */
    int n = 0;
    while (n < max) {
        if ((uintptr_t)fp & 7 || (hi && (uintptr_t)(fp + 2) > hi))
            break;
        uintptr_t ip = fp[1];
        uintptr_t *next = (uintptr_t *)fp[0];
        if (!ip)
            break;
        raw[n++] = ip;
        /* Frames grow downwards: the caller's frame is above ours, and not absurdly far. */
        if (next <= fp || (uintptr_t)(next - fp) > (64u << 20) / sizeof(uintptr_t))
            break;
        fp = next;
    }
    return n;
}

uint32_t ms__stack_of_walk_trimmed(struct ms__unwind_state *u, struct ms__buffer *b, int s)
{
    const struct ms__walk_log *w = ms__walk(u);
    int k = 0;
    for (int i = 0; i < s; i++)
        if (w->ra[i] < ms__self_lo || w->ra[i] >= ms__self_hi)
            u->outer[k++] = w->ra[i];
    int depth = ms__config.depth, from = k > depth ? k - depth : 0; /* the innermost are kept */
    return ms__stack_intern_outer(u, b, u->outer + from, k - from, 0);
}

__attribute__((noinline)) void ms__unwind_verify_walk(const struct ms__walk_log *w, int n_fast,
                                                      uint32_t id)
{
    uintptr_t fast[MS_CAPTURE_MAX], lu[MS_CAPTURE_MAX];
    for (int k = 0; k < n_fast; k++)
        fast[k] = w->ra[n_fast - 1 - k];
    int n_lu = unw_backtrace((void **)lu, ms__config.depth + MS_CAPTURE_SLACK);
    int first_fast, first_lu;
    int a = ms__stack_trim(fast, n_fast, &first_fast);
    int b = ms__stack_trim(lu, n_lu, &first_lu);
    ms__unwind_verify_stacks(fast + first_fast, a, lu + first_lu, b);
    if (id) /* 0: out of memory, nothing to compare */
        ms__unwind_verify_ids(id, ms__stack_find(lu + first_lu, b));
}

__attribute__((noinline)) void ms__unwind_verify_repeat(struct ms__unwind_state *u,
                                                        struct ms__buffer *b, uint32_t stack)
{
    uintptr_t lu[MS_CAPTURE_MAX];
    int n = unw_backtrace((void **)lu, ms__config.depth + MS_CAPTURE_SLACK);
    int first;
    n = ms__stack_trim(lu, n, &first);
    ms__unwind_verify_repeat_ids(stack, ms__stack_intern(u, b, lu + first, n));
}
