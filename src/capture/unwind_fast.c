/* The cached standard-frame walk of unwind_fast.h, and its verification against libunwind. */
#define UNW_LOCAL_ONLY
#include "unwind_fast.h"

#include "config.h"
#include "diag.h"
#include "stack_capture.h"
#include "stack_intern.h"

#include <libunwind.h>
#include <string.h>

atomic_uint ms__unwind_gen;
bool ms__unwind_fast_on;
bool ms__unwind_verify_on;

static inline struct ms__cfi_rule rule_for(struct ms__slot *s, uintptr_t ip)
{
    struct ms__unwind_entry *e =
        &s->unwind_cache[(ip * 0x9e3779b97f4a7c15ull) >> (64 - MS_UNWIND_CACHE_BITS)];
    if (MS_UNLIKELY(e->ip != ip)) {
        e->rule = ms__cfi_rule_at(ip);
        e->ip = ip;
    }
    return e->rule;
}

int ms__unwind_fast(struct ms__slot *s, uintptr_t ip, uintptr_t sp, uintptr_t bp, uintptr_t *out,
                    int max)
{
    struct ms__walk_log *w = &s->walk;
    w->n = -1;
    if (MS_UNLIKELY(s->stack_pending))
        ms__slot_find_stack(s);
    uintptr_t hi = s->stack_hi;
    if (MS_UNLIKELY(sp < s->stack_lo || sp >= hi))
        return -1; /* bounds unknown (the orphan slot), or on another stack (sigaltstack) */
    unsigned gen = atomic_load_explicit(&ms__unwind_gen, memory_order_relaxed);
    if (MS_UNLIKELY(s->unwind_gen != gen)) {
        memset(s->unwind_cache, 0, sizeof s->unwind_cache);
        s->unwind_gen = gen;
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
        struct ms__cfi_rule r = rule_for(s, lookup);
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

/* ---- verification ---- */

static atomic_ulong verify_fast, verify_repeats, verify_fallback, verify_differ;

static void say_stack(const char *what, const uintptr_t *ips, int n)
{
    char line[900];
    size_t len = 0;
    for (int i = 0; i < n && len + 20 < sizeof line; i++) {
        line[len++] = ' ';
        line[len++] = '0';
        line[len++] = 'x';
        char hex[17];
        int k = 0;
        uintptr_t v = ips[i];
        do {
            hex[k++] = "0123456789abcdef"[v & 15];
            v >>= 4;
        } while (v);
        while (k)
            line[len++] = hex[--k];
    }
    line[len] = 0;
    ms__say("unwind verify: ", what, line);
}

__attribute__((noinline)) void ms__unwind_verify_stack(const uintptr_t *fast_ips, int n_fast)
{
    uintptr_t fast[MS_CAPTURE_MAX], lu[MS_CAPTURE_MAX];
    memcpy(fast, fast_ips, (size_t)n_fast * sizeof *fast);
    int n_lu = unw_backtrace((void **)lu, ms__config.depth + MS_CAPTURE_SLACK);
    int first_fast, first_lu;
    int a = ms__stack_trim(fast, n_fast, &first_fast);
    int b = ms__stack_trim(lu, n_lu, &first_lu);
    atomic_fetch_add(&verify_fast, 1);
    if (a == b && !memcmp(fast + first_fast, lu + first_lu, (size_t)a * sizeof *lu))
        return;
    if (atomic_fetch_add(&verify_differ, 1) < 3) {
        say_stack("memscope's:", fast + first_fast, a);
        say_stack("libunwind's:", lu + first_lu, b);
    }
}

__attribute__((noinline)) void ms__unwind_verify_repeat(struct ms__slot *s, uint32_t stack)
{
    uintptr_t lu[MS_CAPTURE_MAX];
    int n = unw_backtrace((void **)lu, ms__config.depth + MS_CAPTURE_SLACK);
    int first;
    n = ms__stack_trim(lu, n, &first);
    uint32_t again = ms__stack_intern(s, lu + first, n);
    atomic_fetch_add(&verify_fast, 1);
    atomic_fetch_add(&verify_repeats, 1);
    if (again == stack)
        return;
    if (atomic_fetch_add(&verify_differ, 1) < 3) {
        char a[21], b[21];
        ms__say("unwind verify: a repeated walk reused stack ", ms__utoa(stack, a), "");
        ms__say("unwind verify: libunwind's stack is ", ms__utoa(again, b), "");
    }
}

void ms__unwind_count_fallback(void)
{
    atomic_fetch_add(&verify_fallback, 1);
}

void ms__unwind_verify_report(void)
{
    if (!ms__unwind_verify_on)
        return;
    char a[21], b[21], c[21], d[21], line[200];
    ms__utoa(atomic_load(&verify_fast), a);
    ms__utoa(atomic_load(&verify_repeats), d);
    ms__utoa(atomic_load(&verify_differ), b);
    ms__utoa(atomic_load(&verify_fallback), c);
    line[0] = 0;
    strcat(line, a);
    strcat(line, " stacks by the fast path (");
    strcat(line, d);
    strcat(line, " of them repeated walks), ");
    strcat(line, b);
    strcat(line, " differ from libunwind's; ");
    strcat(line, c);
    strcat(line, " left to libunwind");
    ms__say("unwind verify: ", line, "");
}
