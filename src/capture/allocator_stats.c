/* glibc's own figures, sampled at memscope run's clock ticks (allocator_stats.h). */
#define _GNU_SOURCE
#include "allocator_stats.h"

#include "config.h"
#include "event_buffer.h"
#include "real_fns.h"
#include "thread_state.h"

#include <dlfcn.h>
#include <malloc.h>
#include <string.h>
#include <time.h>

_Atomic uint32_t ms__stats_tick;

static struct mallinfo2 (*stats_fn)(void); /* NULL: no sampling */
static _Atomic uint32_t next_tick;         /* the first tick a sample may be taken at */
static _Atomic bool stopped;               /* a call was too slow: no more samples */

void ms__allocator_stats_init(void)
{
    if (!ms__config.allocator_stats || !ms__clock_tick_mapped())
        return;
    /* Only when the allocator memscope's hooks call is glibc's own. */
    Dl_info info;
    if (!dladdr((void *)ms__real.malloc, &info) || !info.dli_fname ||
        !strstr(info.dli_fname, "/libc.so"))
        return;
    stats_fn = (struct mallinfo2(*)(void))dlsym(RTLD_NEXT, "mallinfo2");
}

/* The thread's CPU time: what a call cost, whether or not the thread was descheduled in it. */
static uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

bool ms__allocator_stats_take(uint32_t tick, struct ms__allocator_sample *out)
{
    uint32_t seen = atomic_load_explicit(&ms__stats_tick, memory_order_relaxed);
    /* one thread per tick, the others go on at once */
    if (seen == tick || !atomic_compare_exchange_strong(&ms__stats_tick, &seen, tick))
        return false;
    if (!stats_fn || atomic_load_explicit(&stopped, memory_order_relaxed) || ms__tls.in_handler ||
        ms__tls.handlers ||
        (int32_t)(tick - atomic_load_explicit(&next_tick, memory_order_relaxed)) < 0)
        return false;
    uint64_t before = cpu_ns();
    struct mallinfo2 mi = stats_fn();
    uint64_t cost = cpu_ns() - before;
    /* A call over 1 ms held an arena's lock that long (a heap of very many free chunks): never
     * again. Else at most 1% of the run: a tick (10 ms) skipped per 100 us the call took. */
    if (cost > 1000000)
        atomic_store_explicit(&stopped, true, memory_order_relaxed);
    atomic_store_explicit(&next_tick, tick + 1 + (uint32_t)(cost / 100000), memory_order_relaxed);
    *out =
        (struct ms__allocator_sample){mi.arena, mi.hblkhd, mi.uordblks, mi.fordblks, mi.keepcost};
    return true;
}
