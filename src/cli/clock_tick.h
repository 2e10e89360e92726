/* memscope run's clock for the processes it traces (MEMSCOPE_CLOCK): a page of a sealed memfd
 * whose counter a thread of memscope run advances every 10 ms (heaptrack's timer's period; a
 * tick every millisecond cost 3% of a core). The capture
 * library maps it read-only and times the first record a thread writes after it changed, so that
 * an event after a quiet spell carries its own time (docs/trace-format.md, "Time"). */
#ifndef MS_CLI_CLOCK_TICK_H
#define MS_CLI_CLOCK_TICK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define MS_CLOCK_TICK_NS 10000000L

struct ms_clock_tick {
    int fd;
    _Atomic uint32_t *page;
    pthread_t thread;
    atomic_bool stop;
    bool running;
    char path[64]; /* /proc/PID/fd/N, for MEMSCOPE_CLOCK; empty: no clock */
};

/* Starts the clock; without one (no memfd, no thread) path stays empty and the processes time
 * their records as they would alone. */
void ms_clock_tick_start(struct ms_clock_tick *c);
void ms_clock_tick_stop(struct ms_clock_tick *c);

#endif
