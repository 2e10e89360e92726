/* MEMSCOPE_UNWIND_VERIFY: every stack the cached walk (unwind_fast.c) gives, repeats included,
 * is unwound again by libunwind and compared; the counts are printed at the end of the trace. A
 * diagnostic for the tests, not for normal runs (it costs a libunwind unwind per allocation). */
#define UNW_LOCAL_ONLY
#include "config.h"
#include "diag.h"
#include "stack_capture.h"
#include "stack_intern.h"
#include "unwind_fast.h"

#include <libunwind.h>
#include <string.h>

bool ms__unwind_verify_on;

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

__attribute__((noinline)) void ms__unwind_verify_cached(uint32_t cached, uint32_t interned)
{
    if (cached == interned)
        return;
    if (atomic_fetch_add(&verify_differ, 1) < 3) {
        char a[21], b[21];
        ms__say("unwind verify: the cache of whole stacks gave stack ", ms__utoa(cached, a), "");
        ms__say("unwind verify: interning the same addresses gives ", ms__utoa(interned, b), "");
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
