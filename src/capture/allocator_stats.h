/* glibc's own figures beside memscope run's samples of resident memory (docs/analyses.md,
 * "Heap and RSS"), when asked (MEMSCOPE_ALLOCATOR_STATS=1, memscope run --allocator-stats): at
 * most once per tick of memscope run's clock (every 10 ms), the first allocation after the tick
 * calls mallinfo2() and writes its figures as an ALLOCATOR_STATS annotation, so that the report
 * can split the gap between the heap the program asked for and its RSS into the allocator's
 * overhead, the memory free in its arenas, and the rest. Nothing runs without memscope run's
 * clock, when the allocator is not glibc's (a preloaded jemalloc or tcmalloc: glibc's figures
 * would describe an arena nobody uses), or while any of the program's signal handlers runs on
 * the thread (it may have interrupted glibc holding an arena's lock: mallinfo2 takes every
 * arena's). mallinfo2 walks the free chunks of every arena under its lock: ticks are skipped so
 * that it takes at most 1% of the thread's CPU, and after a call over 1 ms (a heap of millions
 * of free chunks, which the call stalls) sampling stops for the rest of the run. */
#ifndef MS_CAPTURE_ALLOCATOR_STATS_H
#define MS_CAPTURE_ALLOCATOR_STATS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* The tick of the last sample (or of the last look at one). */
extern _Atomic uint32_t ms__stats_tick;

/* mallinfo2's figures that the trace keeps (ALLOCATOR_STATS). */
struct ms__allocator_sample {
    uint64_t arena, mmapped, in_use, free, top;
};

/* At start-up, after the clock is mapped: whether sampling can run. */
void ms__allocator_stats_init(void);
/* A thread's last timed record saw tick, which is not ms__stats_tick: takes the sample into
 * *out and returns true when one is due (the event path records it). */
bool ms__allocator_stats_take(uint32_t tick, struct ms__allocator_sample *out);

#endif
