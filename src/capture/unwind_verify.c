/* MEMSCOPE_UNWIND_VERIFY: every stack the cached walk (unwind_fast.c) gives, repeats included,
 * is unwound again by libunwind and compared; the counts are printed at the end of the trace. A
 * diagnostic for the tests, not for normal runs (it costs a libunwind unwind per allocation). */
#include "unwind_verify.h"

#include "diag.h"

#include <stdatomic.h>
#include <string.h>

bool ms__unwind_verify_on;

static atomic_ulong verify_fast, verify_repeats, verify_continued, verify_fallback, verify_differ;

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

void ms__unwind_verify_stacks(const uintptr_t *fast, int a, const uintptr_t *lu, int b)
{
    atomic_fetch_add(&verify_fast, 1);
    if (a == b && !memcmp(fast, lu, (size_t)a * sizeof *lu))
        return;
    if (atomic_fetch_add(&verify_differ, 1) < 3) {
        say_stack("memscope's:", fast, a);
        say_stack("libunwind's:", lu, b);
    }
}

/* A difference: counted, and the first ones reported (two figures, each with its words). */
static void differ(const char *what_a, uint32_t a, const char *what_b, uint32_t b)
{
    if (atomic_fetch_add(&verify_differ, 1) < 3) {
        char sa[21], sb[21];
        ms__say("unwind verify: ", what_a, ms__utoa(a, sa));
        ms__say("unwind verify: ", what_b, ms__utoa(b, sb));
    }
}

/* Two stack ids that should be the same. */
static void compare_ids(const char *what_a, uint32_t a, const char *what_b, uint32_t b)
{
    if (a != b)
        differ(what_a, a, what_b, b);
}

void ms__unwind_verify_repeat_ids(uint32_t stack, uint32_t again)
{
    atomic_fetch_add(&verify_fast, 1);
    atomic_fetch_add(&verify_repeats, 1);
    compare_ids("a repeated walk reused stack ", stack, "libunwind's stack is ", again);
}

void ms__unwind_verify_ids(uint32_t given, uint32_t found)
{
    compare_ids("the interning gave stack ", given, "libunwind's stack in the table is ", found);
}

void ms__unwind_verify_cached(uint32_t cached, uint32_t interned)
{
    compare_ids("a shortcut of the interning gave stack ", cached,
                "the same addresses are in the shared table as stack ", interned);
}

void ms__unwind_verify_known(int frame, int known)
{
    differ("the walk said the last stack's first frames were known: ", (uint32_t)known,
           "but it differs at frame ", (uint32_t)frame);
}

void ms__unwind_count_continued(void)
{
    atomic_fetch_add(&verify_continued, 1);
}

void ms__unwind_count_fallback(void)
{
    atomic_fetch_add(&verify_fallback, 1);
}

void ms__unwind_verify_report(void)
{
    if (!ms__unwind_verify_on)
        return;
    char a[21], b[21], c[21], d[21], e[21], line[240];
    ms__utoa(atomic_load(&verify_fast), a);
    ms__utoa(atomic_load(&verify_repeats), d);
    ms__utoa(atomic_load(&verify_continued), e);
    ms__utoa(atomic_load(&verify_differ), b);
    ms__utoa(atomic_load(&verify_fallback), c);
    line[0] = 0;
    strcat(line, a);
    strcat(line, " stacks by the fast path (");
    strcat(line, d);
    strcat(line, " of them repeated walks, ");
    strcat(line, e);
    strcat(line, " continued from the previous walk), ");
    strcat(line, b);
    strcat(line, " differ from libunwind's; ");
    strcat(line, c);
    strcat(line, " left to libunwind");
    ms__say("unwind verify: ", line, "");
}
