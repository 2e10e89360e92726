/* memscope run's samples of the program's resident memory: a thread reads /proc/PID/statm every
 * 10 ms while the program runs (nothing inside the program), and the samples are appended to its
 * trace as an RSS chunk once it has ended (docs/trace-format.md, 7c), for the timeline. */
#ifndef MS_CLI_RSS_SAMPLER_H
#define MS_CLI_RSS_SAMPLER_H

#include "analysis/trace_reader.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct ms_rss_sampler {
    int fd; /* /proc/PID/statm */
    long page;
    pthread_t thread;
    atomic_bool stop;
    bool running;
    long period_ms; /* doubles when the samples reach MS_RSS_SAMPLES_MAX (every other dropped) */
    struct ms_rss_sample *s;
    size_t n, cap;
};

/* Starts sampling process pid (nothing when its statm cannot be opened). */
void ms_rss_sampler_start(struct ms_rss_sampler *r, pid_t pid);
void ms_rss_sampler_stop(struct ms_rss_sampler *r);
/* Appends the samples to the trace at path as an RSS chunk (none: nothing). Returns 0, or -1
 * when it could not (the trace stays as it was, but perhaps for a partial chunk that the reader
 * reports as damage). */
int ms_rss_sampler_write(const struct ms_rss_sampler *r, const char *path);
void ms_rss_sampler_free(struct ms_rss_sampler *r);

#endif
