/* memscope run's clock for the processes it traces (MEMSCOPE_CLOCK): a page of a sealed memfd
 * whose counter a thread of memscope run advances every 10 ms (heaptrack's timer's period; a
 * tick every millisecond cost 3% of a core). The capture library maps it read-only and times
 * the first record a thread writes after it changed, so that an event after a quiet spell
 * carries its own time (docs/trace-format.md, "Time"). The same thread does memscope run's
 * other periodic work at each tick (ms_clock_tick_each: the RSS samples, rss_sampler.h). */
#ifndef MS_CLI_CLOCK_TICK_H
#define MS_CLI_CLOCK_TICK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define MS_CLOCK_TICK_NS 10000000L

typedef void (*ms_tick_fn)(void *ctx);

struct ms_clock_tick {
    int fd;
    _Atomic uint32_t *page; /* NULL: no memfd (the thread still runs what each asks) */
    pthread_t thread;
    atomic_bool stop;
    bool running;
    _Atomic(ms_tick_fn) each;
    void *each_ctx;
    char path[64]; /* /proc/PID/fd/N, for MEMSCOPE_CLOCK; empty: no clock */
};

/* Starts the clock; without one (no memfd, no thread) path stays empty and the processes time
 * their records as they would alone. */
void ms_clock_tick_start(struct ms_clock_tick *c);
/* fn(ctx) runs on the clock's thread at each tick from now on (once: a later call is ignored). */
void ms_clock_tick_each(struct ms_clock_tick *c, ms_tick_fn fn, void *ctx);
/* Stops the thread (after it, nothing runs fn) and the clock. */
void ms_clock_tick_stop(struct ms_clock_tick *c);

#endif
