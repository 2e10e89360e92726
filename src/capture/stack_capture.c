/* Stack capture for the hooks. In libunwind mode, memscope's cached walk (unwind_fast.c) takes
 * the stacks made only of standard frames and libunwind's unw_backtrace, with its per-thread
 * cache of unwind info, the others; the frame-pointer walk checks every frame against the thread's
 * stack bounds, so a frame without a frame pointer ends the walk instead of faulting. */
#define UNW_LOCAL_ONLY
#include "stack_capture.h"

#include "config.h"
#include "module_map.h"

#include <libunwind.h>

uintptr_t ms__self_lo, ms__self_hi;

void ms__stack_capture_init(void)
{
    ms__module_range_of((const void *)&ms__stack_capture_init, &ms__self_lo, &ms__self_hi);
    if (ms__config.unwind == MS_UNWIND_LIBUNWIND) {
        unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
#if defined(__x86_64__)
        ms__unwind_fast_on = ms__config.unwind_fast && ms__cfi_available();
#endif
        ms__unwind_verify_on = ms__unwind_fast_on && ms__config.unwind_verify;
    }
}

__attribute__((noinline)) int ms__walk_fp(struct ms__slot *s, uintptr_t *raw, int max)
{
    uintptr_t *fp = __builtin_frame_address(0);
    if (MS_UNLIKELY(s->stack_pending))
        ms__slot_find_stack(s);
    uintptr_t hi = s->stack_hi;
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
