/* memscope's fast path for libunwind-mode stacks: a walk of standard x86-64 frames with rules
 * read once per instruction address from .eh_frame (cfi_rules.h) and cached per thread slot.
 * It yields exactly the return addresses libunwind's unw_backtrace yields for such stacks;
 * any other frame makes it give up so that libunwind unwinds the whole stack. */
#ifndef MS_CAPTURE_UNWIND_FAST_H
#define MS_CAPTURE_UNWIND_FAST_H

#include "module_map.h"
#include "runtime.h"
#include "unwind_state.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* The fast path is in use (libunwind mode, glibc with _dl_find_object, not disabled). */
extern bool ms__unwind_fast_on;

/* Walks from the register state (ip, sp, bp) of a point inside a hook, up to max frames, into
 * the log u->walk, whose return addresses (outermost first) are the stack. Returns the number of
 * frames, or -1 when a frame is not a standard one (or leaves the thread's stack): the caller
 * must then use libunwind. */
int ms__unwind_fast(struct ms__unwind_state *u, uintptr_t ip, uintptr_t sp, uintptr_t bp, int max);

/* A walk like ms__unwind_fast for a signal handler that interrupted a hook, whose walk state
 * is in use: the rules come from .eh_frame each time (the cache is the hook's), nothing is
 * logged, and the walk ends at the first frame without a standard rule (the signal frame, whose
 * caller is the interrupted code) instead of giving up. Returns the return addresses stored in
 * out: none when the stack's bounds are unknown or the handler runs on another stack. */
int ms__unwind_plain(const struct ms__unwind_state *u, uintptr_t ip, uintptr_t sp, uintptr_t bp,
                     uintptr_t *out, int max);

/* The first max return addresses of a walk like ms__unwind_fast's, into out (innermost first),
 * with the thread's rule cache but nothing logged: the walk log stays the last stack's, which
 * the interning's shortcuts compare with. Ends at the first frame without a standard rule.
 * Returns how many were stored (0 when the stack's bounds are not known yet). */
int ms__unwind_peek(struct ms__unwind_state *u, uintptr_t ip, uintptr_t sp, uintptr_t bp,
                    uintptr_t *out, int max);

/* True when every stack word that walk w read for its frames [0, to) still holds the value
 * read then: compared from the innermost frame out, in the order the walk read them, so that no
 * address is read that a walk would not read. */
static inline bool ms__walk_frames_hold(const struct ms__walk_log *w, int to)
{
    for (int k = to - 1; k >= 0; k--) {
        if (*((const uintptr_t *)w->cfa[k] - 1) != w->ra[k])
            return false;
        if (w->rbp_off[k] != MS_WALK_NO_RBP &&
            *(const uintptr_t *)(w->cfa[k] + (intptr_t)w->rbp_off[k]) != w->bp[k])
            return false;
    }
    return true;
}

/* True when a walk from (ip, sp, bp) would repeat the thread's last walk exactly: same start,
 * same rules (no module loaded or unloaded since), and every stack word it read still holds
 * the value read then. The walk is a function of exactly these, so its stack id can be reused. */
static inline bool ms__walk_repeats(const struct ms__unwind_state *u, uintptr_t ip, uintptr_t sp,
                                    uintptr_t bp)
{
    const struct ms__walk_log *w = &u->logs[u->walk_i];
    if (w->start_ip != ip || w->start_sp != sp || w->start_bp != bp || w->frames < 0 ||
        w->gen != atomic_load_explicit(&ms__code_gen, memory_order_relaxed))
        return false;
    return ms__walk_frames_hold(w, w->frames);
}

/* The register state at this point of the calling function, for ms__unwind_fast. */
#define MS_UNWIND_HERE(ip, sp, bp)                                                                 \
    __asm__ volatile("leaq 0(%%rip), %0\n\tmovq %%rsp, %1\n\tmovq %%rbp, %2"                       \
                     : "=r"(ip), "=r"(sp), "=r"(bp))

#endif
