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

static inline struct ms__cfi_rule rule_for(struct ms__unwind_state *u, uintptr_t ip)
{
    struct ms__unwind_entry *e =
        &u->unwind_cache[(ip * 0x9e3779b97f4a7c15ull) >> (64 - MS_UNWIND_CACHE_BITS)];
    if (MS_UNLIKELY(e->ip != ip)) {
        /* Looked up aside, then stored with no ip while the rule changes: the entry is never
         * one ip's with another's rule, even if this is abandoned (a handler that longjmps). */
        struct ms__unwind_entry found = {.ip = ip};
        ms__on_own_stack(u->own_stack, rule_lookup, &found);
        e->ip = 0; /* never an ip the rule is not for, even between the stores */
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        e->rule = found.rule;
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        e->ip = ip;
    }
    return e->rule;
}

/* One standard frame under rule r, from (*sp, *bp) inside the stack that ends at hi: moves *sp
 * to the CFA (the caller's sp) and *bp to the caller's rbp, stores the return address in *ra,
 * and logs the words read in w (when not NULL) from *words on. False when the frame would
 * leave the stack. */
static inline __attribute__((always_inline)) bool frame_step(struct ms__cfi_rule r, uintptr_t *sp,
                                                             uintptr_t *bp, uintptr_t hi,
                                                             uintptr_t *ra, struct ms__walk_log *w,
                                                             int *words)
{
    uintptr_t cfa = (r.kind == MS_RULE_RSP ? *sp : *bp) + (intptr_t)r.cfa_off;
    if (MS_UNLIKELY(cfa <= *sp || cfa > hi))
        return false;
    const uintptr_t *ra_at = (const uintptr_t *)cfa - 1;
    *ra = *ra_at;
    if (w) {
        w->addr[*words] = ra_at;
        w->val[(*words)++] = *ra;
    }
    if (r.rbp_saved) {
        const uintptr_t *bp_at = (const uintptr_t *)(cfa + (intptr_t)r.rbp_off);
        if (MS_UNLIKELY((uintptr_t)bp_at < *sp || (uintptr_t)bp_at > hi - sizeof *bp_at))
            return false;
        *bp = *bp_at;
        if (w) {
            w->addr[*words] = bp_at;
            w->val[(*words)++] = *bp;
        }
    }
    *sp = cfa;
    return true;
}

/* The walk w, at frame n - 1, is in the state the previous walk p was in after its frame j, and
 * what p read after that still holds: w goes on exactly as p did. Copies p's remaining frames
 * (up to max in all) and their words into w and out; returns the frames w has then. */
static int follow_previous(struct ms__walk_log *w, const struct ms__walk_log *p, int j, int n,
                           uintptr_t *out, int max)
{
    int rest = p->frames - 1 - j;
    w->cut = p->cut;
    if (rest > max - n) {
        rest = max - n;
        w->cut = true;
    }
    int from = (int)p->frame[j].words;
    int words = rest < p->frames - 1 - j ? (int)p->frame[j + rest].words : p->n;
    int base = (int)w->frame[n - 1].words;
    memcpy(w->addr + base, p->addr + from, (size_t)(words - from) * sizeof *w->addr);
    memcpy(w->val + base, p->val + from, (size_t)(words - from) * sizeof *w->val);
    for (int k = 0; k < rest; k++) {
        struct ms__walk_frame f = p->frame[j + 1 + k];
        f.words = f.words - (uint32_t)from + (uint32_t)base;
        w->frame[n + k] = f;
        out[n + k] = f.ra;
    }
    w->n = base + words - from;
    w->frames = n + rest;
    return n + rest;
}

int ms__unwind_fast(struct ms__unwind_state *u, uintptr_t ip, uintptr_t sp, uintptr_t bp,
                    uintptr_t *out, int max)
{
    /* The previous walk stays as it is while this one is logged in the other log. */
    const struct ms__walk_log *p = u->last;
    struct ms__walk_log *w = p == &u->walk[0] ? &u->walk[1] : &u->walk[0];
    u->last = w;
    w->n = -1;
    if (MS_UNLIKELY(u->stack_pending))
        ms__unwind_find_stack(u);
    uintptr_t hi = u->stack_hi;
    if (MS_UNLIKELY(sp < u->stack_lo || sp >= hi))
        return -1; /* bounds unknown (the orphan slot), or on another stack (sigaltstack) */
    unsigned gen = atomic_load_explicit(&ms__code_gen, memory_order_relaxed);
    if (MS_UNLIKELY(u->unwind_gen != gen)) {
        ms__zero_memory(u->unwind_cache, sizeof u->unwind_cache);
        u->unwind_gen = gen;
    }
    w->ip = ip;
    w->sp = sp;
    w->bp = bp;
    w->gen = gen;
    w->cut = false;
    /* Frames of the previous walk, from the innermost out, are compared with this one's by
     * CFA: both rise frame by frame. */
    int j = 0, pj = p->n >= 0 && p->gen == gen ? p->frames : 0;
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
        uintptr_t ra;
        if (MS_UNLIKELY(!frame_step(r, &sp, &bp, hi, &ra, w, &words)))
            return -1;
        uintptr_t cfa = sp;
        if (ra < 0x4000) /* libunwind's end of a bogus chain */
            break;
        w->frame[n] = (struct ms__walk_frame){cfa, bp, ra, (uint32_t)words};
        out[n++] = ra;
        while (j < pj && p->frame[j].cfa < cfa)
            j++;
        if (j < pj && p->frame[j].cfa == cfa && p->frame[j].ra == ra && p->frame[j].bp == bp &&
            (!p->cut || n - 1 >= j) && ms__walk_words_hold(p, (int)p->frame[j].words)) {
            if (MS_UNLIKELY(ms__unwind_verify_on))
                ms__unwind_count_continued();
            return follow_previous(w, p, j, n, out, max);
        }
        lookup = ra - 1;
    }
    w->n = words;
    w->frames = n;
    w->cut = n == max;
    return n;
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
        if (r.kind == MS_RULE_LAST || r.kind == MS_RULE_OTHER ||
            !frame_step(r, &sp, &bp, hi, &ra, NULL, NULL) || ra < 0x4000)
            break;
        out[n++] = ra;
        lookup = ra - 1;
    }
    return n;
}
