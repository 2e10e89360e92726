/* Per-thread unwind state (unwind_state.h). */
#define _GNU_SOURCE
#include "unwind_state.h"

#include "own_stack.h"
#include "symbol_lookup.h"

#include <pthread.h>

__thread int ms__in_getattr __attribute__((tls_model("initial-exec")));
static int (*real_getattr)(pthread_t, pthread_attr_t *);

void ms__unwind_state_init(void)
{
    real_getattr = (int (*)(pthread_t, pthread_attr_t *))ms__next_symbol("pthread_getattr_np");
}

void ms__unwind_state_reset(struct ms__unwind_state *u, bool need_bounds)
{
    u->cache_n = u->cache_log = 0;
    ms__walk_forget(u);
    u->stack_lo = u->stack_hi = 0;
    u->stack_pending = need_bounds;
    if (need_bounds)
        ms__unwind_find_stack(u);
}

static void find_stack(void *arg)
{
    struct ms__unwind_state *u = arg;
    u->stack_pending = 0;
    u->stack_lo = u->stack_hi = 0;
    pthread_attr_t attr;
    if (!real_getattr || real_getattr(pthread_self(), &attr) != 0)
        return;
    void *addr;
    size_t size;
    if (pthread_attr_getstack(&attr, &addr, &size) == 0) {
        u->stack_lo = (uintptr_t)addr;
        u->stack_hi = (uintptr_t)addr + size;
    }
    pthread_attr_destroy(&attr);
}

void ms__unwind_find_stack(struct ms__unwind_state *u)
{
    if (ms__in_getattr)
        return; /* stays pending */
    /* glibc's answer takes more stack than the thread may have left (for the main thread it
     * reads /proc/self/maps). */
    ms__on_own_stack(u->own_stack, find_stack, u);
}
