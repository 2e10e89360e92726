/* memscope run's samples of the program's resident memory: /proc/PID/statm read every 10 ms on
 * memscope run's clock thread (clock_tick.h; nothing inside the program), appended to its trace
 * as an RSS chunk once it has ended (docs/trace-format.md, 7c), for the timeline. */
#ifndef MS_CLI_RSS_SAMPLER_H
#define MS_CLI_RSS_SAMPLER_H

#include "analysis/trace_reader.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct ms_rss_sampler {
    int fd; /* /proc/PID/statm; -1: none, or the process has gone */
    long page;
    /* A sample every this many ticks: doubles when the samples reach MS_RSS_SAMPLES_MAX (and
     * every other one goes), so that they still span the run. */
    unsigned every, ticks;
    struct ms_rss_sample *s;
    size_t n, cap;
};

/* Opens process pid's statm (nothing is sampled when it cannot). */
void ms_rss_sampler_open(struct ms_rss_sampler *r, pid_t pid);
/* One tick of the clock (an ms_tick_fn, on the clock's thread). */
void ms_rss_sampler_tick(void *r);
/* Appends the samples to the trace at path as an RSS chunk (none: nothing). Returns 0, or -1
 * when it could not (the trace stays as it was, but perhaps for a partial chunk that the reader
 * reports as damage). Only once the clock's thread is stopped. */
int ms_rss_sampler_write(const struct ms_rss_sampler *r, const char *path);
/* Closes and frees (only once the clock's thread is stopped). */
void ms_rss_sampler_free(struct ms_rss_sampler *r);

#endif
