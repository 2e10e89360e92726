/* The cached standard-frame walk of unwind_fast.h. */
#include "unwind_fast.h"

#include <string.h>

bool ms__unwind_fast_on;

static inline struct ms__cfi_rule rule_for(struct ms__unwind_state *u, uintptr_t ip)
{
    struct ms__unwind_entry *e =
        &u->unwind_cache[(ip * 0x9e3779b97f4a7c15ull) >> (64 - MS_UNWIND_CACHE_BITS)];
    if (MS_UNLIKELY(e->ip != ip)) {
        e->rule = ms__cfi_rule_at(ip);
        e->ip = ip;
    }
    return e->rule;
}

int ms__unwind_fast(struct ms__unwind_state *u, uintptr_t ip, uintptr_t sp, uintptr_t bp,
                    uintptr_t *out, int max)
{
    struct ms__walk_log *w = &u->walk;
    w->n = -1;
    if (MS_UNLIKELY(u->stack_pending))
        ms__unwind_find_stack(u);
    uintptr_t hi = u->stack_hi;
    if (MS_UNLIKELY(sp < u->stack_lo || sp >= hi))
        return -1; /* bounds unknown (the orphan slot), or on another stack (sigaltstack) */
    unsigned gen = atomic_load_explicit(&ms__code_gen, memory_order_relaxed);
    if (MS_UNLIKELY(u->unwind_gen != gen)) {
        memset(u->unwind_cache, 0, sizeof u->unwind_cache);
        u->unwind_gen = gen;
    }
    w->ip = ip;
    w->sp = sp;
    w->bp = bp;
    w->gen = gen;
    /* The first rule is the hook's own, at ip (not recorded: it is memscope's frame); every
     * later one is a return address's, looked up one byte back so that it falls inside the call
     * instruction (as libunwind does). */
    uintptr_t lookup = ip;
    int n = 0, words = 0;
    while (n < max) {
        struct ms__cfi_rule r = rule_for(u, lookup);
        if (r.kind == MS_RULE_LAST)
            break;
        if (MS_UNLIKELY(r.kind == MS_RULE_OTHER))
            return -1;
        uintptr_t cfa = (r.kind == MS_RULE_RSP ? sp : bp) + (intptr_t)r.cfa_off;
        if (MS_UNLIKELY(cfa <= sp || cfa > hi))
            return -1;
        const uintptr_t *ra_at = (const uintptr_t *)cfa - 1;
        uintptr_t ra = *ra_at;
        w->addr[words] = ra_at;
        w->val[words++] = ra;
        if (r.rbp_saved) {
            const uintptr_t *bp_at = (const uintptr_t *)(cfa + (intptr_t)r.rbp_off);
            if (MS_UNLIKELY((uintptr_t)bp_at < sp || (uintptr_t)bp_at > hi - sizeof *bp_at))
                return -1;
            bp = *bp_at;
            w->addr[words] = bp_at;
            w->val[words++] = bp;
        }
        sp = cfa;
        if (ra < 0x4000) /* libunwind's end of a bogus chain */
            break;
        out[n++] = ra;
        lookup = ra - 1;
    }
    w->n = words;
    return n;
}
