/* Captures the calling thread's stack as return addresses, innermost first, with memscope's
 * own frames removed: libunwind (default), frame pointers, or nothing. */
#ifndef MS_CAPTURE_STACK_CAPTURE_H
#define MS_CAPTURE_STACK_CAPTURE_H

#define UNW_LOCAL_ONLY
#include "config.h"
#include "thread_state.h"

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
int ms__walk_fp(struct ms__slot *s, uintptr_t *raw, int max);

/* Fills ips (room for MS_CAPTURE_MAX) with return addresses; the stack of the hook's caller
 * and above starts at ips + *first and has the returned number of frames (at most the
 * configured depth; 0 with --unwind=none). Inlined into the hooks so that the unwinder walks
 * one frame of memscope's, not three. */
static inline __attribute__((always_inline)) int ms__stack_capture(struct ms__slot *s,
                                                                   uintptr_t *ips, int *first_out)
{
    int want = ms__config.depth + MS_CAPTURE_SLACK, n;
    if (ms__config.unwind == MS_UNWIND_LIBUNWIND)
        n = unw_backtrace((void **)ips, want);
    else if (ms__config.unwind == MS_UNWIND_FP)
        n = ms__walk_fp(s, ips, want);
    else
        return *first_out = 0;
    /* Skip the unwinder's and memscope's own frames: everything up to the last frame inside
     * libmemscope among the first few. */
    int first = 0;
    for (int i = 0; i < n && i < MS_CAPTURE_SLACK; i++)
        if (ips[i] >= ms__self_lo && ips[i] < ms__self_hi)
            first = i + 1;
    n -= first;
    if (n > ms__config.depth)
        n = ms__config.depth;
    *first_out = first;
    return n > 0 ? n : 0;
}

#endif
