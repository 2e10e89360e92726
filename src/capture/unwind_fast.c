/* The cached standard-frame walk of unwind_fast.h. */
#include "unwind_fast.h"

#include "own_stack.h"
#include "unwind_verify.h"

#include <string.h>

bool ms__unwind_fast_on;

/* A cache miss: the rule is read from the module's .eh_frame, on the thread's own stack (the
 * CFI interpreter's state is larger than a small stack may have left). */
static void rule_lookup(void *arg)
{
    struct ms__unwind_entry *e = arg;
    e->rule = ms__cfi_rule_at(e->ip);
}

/* Stores rule r for ip in entry e: with no ip while the rule changes, so that the entry is never
 * one ip's with another's rule, even if this is abandoned (a handler that longjmps). */
static inline void entry_set(struct ms__unwind_entry *e, uintptr_t ip, struct ms__cfi_rule r)
{
    e->ip = 0; /* never an ip the rule is not for, even between the stores */
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    e->rule = r;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    e->ip = ip;
}

static inline struct ms__cfi_rule rule_for(struct ms__unwind_state *u, uintptr_t ip)
{
    uint64_t h = ip * 0x9e3779b97f4a7c15ull;
    struct ms__unwind_entry *z = &u->unwind_l0[h >> (64 - MS_UNWIND_L0_BITS)];
    if (MS_LIKELY(z->ip == ip))
        return z->rule;
    struct ms__unwind_entry *e = &u->unwind_cache[h >> (64 - MS_UNWIND_CACHE_BITS)];
    if (MS_UNLIKELY(e->ip != ip)) {
        struct ms__unwind_entry found = {.ip = ip}; /* looked up aside */
        ms__on_own_stack(u->own_stack, rule_lookup, &found);
        entry_set(e, ip, found.rule);
    }
    struct ms__cfi_rule r = e->rule;
    entry_set(z, ip, r);
    return r;
}

/* One standard frame under rule r, from (*sp, *bp) inside the stack that ends at hi: moves *sp
 * to the CFA (the caller's sp) and *bp to the caller's rbp, stores the return address in *ra
 * and where the rbp was read, relative to the CFA, in *rbp_off (MS_WALK_NO_RBP: it was not).
 * False when the frame would leave the stack. */
static inline __attribute__((always_inline)) bool frame_step(struct ms__cfi_rule r, uintptr_t *sp,
                                                             uintptr_t *bp, uintptr_t hi,
                                                             uintptr_t *ra, int32_t *rbp_off)
{
    uintptr_t cfa = (r.kind == MS_RULE_RSP ? *sp : *bp) + (intptr_t)r.cfa_off;
    if (MS_UNLIKELY(cfa <= *sp || cfa > hi))
        return false;
    *ra = *((const uintptr_t *)cfa - 1);
    *rbp_off = MS_WALK_NO_RBP;
    if (r.rbp_saved) {
        const uintptr_t *bp_at = (const uintptr_t *)(cfa + (intptr_t)r.rbp_off);
        if (MS_UNLIKELY((uintptr_t)bp_at < *sp || (uintptr_t)bp_at > hi - sizeof *bp_at))
            return false;
        *bp = *bp_at;
        *rbp_off = r.rbp_off;
    }
    *sp = cfa;
    return true;
}

/* Puts the walk's n new frames (u->fresh, innermost first) into the log from frame base on. */
static inline void log_fresh(struct ms__walk_log *w, const struct ms__walk_frame *f, int base,
                             int n)
{
    for (int i = 0, k = base + n - 1; i < n; i++, k--) {
        w->cfa[k] = f[i].cfa;
        w->bp[k] = f[i].bp;
        w->ra[k] = f[i].ra;
        w->rbp_off[k] = (int16_t)f[i].rbp_off;
    }
}

/* The log's frames [from, to) moved down to [0, to - from). */
static void log_drop_outer(struct ms__walk_log *w, int from, int to)
{
    size_t len = (size_t)(to - from);
    memmove(w->cfa, w->cfa + from, len * sizeof *w->cfa);
    memmove(w->bp, w->bp + from, len * sizeof *w->bp);
    memmove(w->ra, w->ra + from, len * sizeof *w->ra);
    memmove(w->rbp_off, w->rbp_off + from, len * sizeof *w->rbp_off);
}

int ms__unwind_fast(struct ms__unwind_state *u, uintptr_t ip, uintptr_t sp, uintptr_t bp, int max)
{
    struct ms__walk_log *w = ms__walk(u);
    if (MS_UNLIKELY(u->stack_pending))
        ms__unwind_find_stack(u);
    uintptr_t hi = u->stack_hi;
    if (MS_UNLIKELY(sp < u->stack_lo || sp >= hi)) {
        w->frames = -1;
        return -1; /* bounds unknown (the orphan slot), or on another stack (sigaltstack) */
    }
    unsigned gen = atomic_load_explicit(&ms__code_gen, memory_order_relaxed);
    if (MS_UNLIKELY(u->unwind_gen != gen)) {
        ms__zero_memory(u->unwind_l0, sizeof u->unwind_l0);
        ms__zero_memory(u->unwind_cache, sizeof u->unwind_cache);
        u->unwind_gen = gen;
    }
    /* The last walk stays in the log while this one is under way; its frames, from the
     * innermost (the log's last) out, are compared with this one's by CFA: both rise frame by
     * frame. */
    int pf = w->frames >= 0 && w->gen == gen ? w->frames : 0, jo = pf - 1;
    const uintptr_t ip0 = ip, sp0 = sp, bp0 = bp;
    struct ms__walk_frame *f = u->fresh;
    /* The first rule is the hook's own, at ip (not recorded: it is memscope's frame); every
     * later one is a return address's, looked up one byte back so that it falls inside the call
     * instruction (as libunwind does). */
    uintptr_t lookup = ip;
    int n = 0, kept = 0;
    bool cut, moved = false;
    for (;;) {
        if (n == max) {
            cut = true;
            break;
        }
        struct ms__cfi_rule r = rule_for(u, lookup);
        if (r.kind == MS_RULE_LAST) {
            cut = false;
            break;
        }
        uintptr_t ra;
        int32_t rbp_off;
        if (MS_UNLIKELY(r.kind == MS_RULE_OTHER) ||
            MS_UNLIKELY(!frame_step(r, &sp, &bp, hi, &ra, &rbp_off))) {
            w->frames = -1;
            return -1;
        }
        if (ra < 0x4000) { /* libunwind's end of a bogus chain */
            cut = false;
            break;
        }
        f[n++] = (struct ms__walk_frame){sp, bp, ra, rbp_off};
        while (jo >= 0 && w->cfa[jo] < sp)
            jo--;
        /* The state the last walk had after its frame jo: it goes on as that one did, with the
         * frames further out (unless that one stopped at the most frames, before this one). */
        if (jo >= 0 && w->cfa[jo] == sp && w->ra[jo] == ra && w->bp[jo] == bp &&
            (!w->cut || n - 1 >= pf - 1 - jo) && ms__walk_frames_hold(w, jo)) {
            if (MS_UNLIKELY(ms__unwind_verify_on))
                ms__unwind_count_continued();
            cut = w->cut;
            kept = jo;
            if (MS_UNLIKELY(kept > max - n)) { /* only the innermost of them fit */
                log_drop_outer(w, kept - (max - n), kept);
                kept = max - n;
                cut = true;
                moved = true;
            }
            break;
        }
        lookup = ra - 1;
    }
    log_fresh(w, f, kept, n);
    w->frames = kept + n;
    w->kept = moved ? 0 : kept; /* frames moved down are not where the last walk had them */
    if (w->clean > w->kept)
        w->clean = w->kept;
    w->cut = cut;
    w->start_ip = ip0;
    w->start_sp = sp0;
    w->start_bp = bp0;
    w->gen = gen;
    return w->frames;
}

int ms__unwind_plain(const struct ms__unwind_state *u, uintptr_t ip, uintptr_t sp, uintptr_t bp,
                     uintptr_t *out, int max)
{
    uintptr_t lo = u->stack_lo, hi = u->stack_hi;
    uintptr_t own = (uintptr_t)u->own_stack; /* a handler that interrupted code running there */
    if (own && sp < own && sp >= own - MS_OWN_STACK_SIZE) {
        lo = own - MS_OWN_STACK_SIZE;
        hi = own;
    } else if (u->stack_pending || sp < lo || sp >= hi) {
        return 0; /* bounds unknown, or a handler on another stack (sigaltstack) */
    }
    uintptr_t lookup = ip;
    int n = 0;
    while (n < max) {
        /* On the own stack (in place when the handler interrupted code running there): the
         * CFI interpreter's state is more than a small stack may have left. */
        struct ms__unwind_entry found = {.ip = lookup};
        ms__on_own_stack(u->own_stack, rule_lookup, &found);
        struct ms__cfi_rule r = found.rule;
        uintptr_t ra;
        int32_t rbp_off;
        if (r.kind == MS_RULE_LAST || r.kind == MS_RULE_OTHER ||
            !frame_step(r, &sp, &bp, hi, &ra, &rbp_off) || ra < 0x4000)
            break;
        out[n++] = ra;
        lookup = ra - 1;
    }
    return n;
}

int ms__unwind_peek(struct ms__unwind_state *u, uintptr_t ip, uintptr_t sp, uintptr_t bp,
                    uintptr_t *out, int max)
{
    if (u->stack_pending || sp < u->stack_lo || sp >= u->stack_hi)
        return 0;
    if (u->unwind_gen != atomic_load_explicit(&ms__code_gen, memory_order_relaxed))
        return 0; /* rules cached for code since unloaded: the full walk refreshes them */
    uintptr_t lookup = ip;
    int n = 0;
    while (n < max) {
        struct ms__cfi_rule r = rule_for(u, lookup);
        uintptr_t ra;
        int32_t rbp_off;
        if (r.kind == MS_RULE_LAST || r.kind == MS_RULE_OTHER ||
            !frame_step(r, &sp, &bp, u->stack_hi, &ra, &rbp_off) || ra < 0x4000)
            break;
        out[n++] = ra;
        lookup = ra - 1;
    }
    return n;
}
