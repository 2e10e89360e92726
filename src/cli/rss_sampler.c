/* memscope run's samples of the program's resident memory (rss_sampler.h). */
#define _GNU_SOURCE
#include "rss_sampler.h"

#include "analysis/trace_seal.h"
#include "common/chunk_codec.h"
#include "common/open_regular.h"
#include "common/trace_format.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* One sample: false when the process is gone (or its statm unreadable). A reading of 0 is no
 * sample: a zombie's (the thread reaping it stops the clock), or a main thread's that called
 * pthread_exit while the others run on (then the next readings are 0 too: the process's memory
 * is not told apart any more). */
static bool sample(struct ms_rss_sampler *r)
{
    char buf[128];
    ssize_t n = pread(r->fd, buf, sizeof buf - 1, 0);
    if (n <= 0)
        return false;
    buf[n] = 0;
    unsigned long size, resident;
    if (sscanf(buf, "%lu %lu", &size, &resident) != 2)
        return false;
    if (!resident)
        return true;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (r->n == MS_RSS_SAMPLES_MAX) {
        for (size_t i = 0; i < r->n / 2; i++)
            r->s[i] = r->s[2 * i];
        r->n /= 2;
        r->every *= 2;
    }
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 1024;
        struct ms_rss_sample *s = realloc(r->s, cap * sizeof *s);
        if (!s)
            return false;
        r->s = s;
        r->cap = cap;
    }
    r->s[r->n++] = (struct ms_rss_sample){(uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec,
                                          (uint64_t)resident * (uint64_t)r->page};
    return true;
}

void ms_rss_sampler_tick(void *arg)
{
    struct ms_rss_sampler *r = arg;
    if (r->fd < 0 || ++r->ticks < r->every)
        return;
    r->ticks = 0;
    if (!sample(r)) { /* gone: no more */
        close(r->fd);
        r->fd = -1;
    }
}

void ms_rss_sampler_open(struct ms_rss_sampler *r, pid_t pid)
{
    *r = (struct ms_rss_sampler){.fd = -1, .every = 1, .page = sysconf(_SC_PAGESIZE)};
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/statm", (int)pid);
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
}

int ms_rss_sampler_write(const struct ms_rss_sampler *r, const char *path)
{
    if (!r->n)
        return 0;
    /* a header and each sample: two varints of at most 10 bytes */
    uint8_t *payload = malloc(20 + r->n * 20);
    if (!payload)
        return -1;
    struct ms_chunk_RSS h = {r->n, r->s[0].mono_ns};
    uint8_t *p = ms_chunk_put_RSS(payload, &h);
    for (size_t i = 0; i < r->n; i++) {
        struct ms_chunk_RSS_SAMPLE e = {i ? r->s[i].mono_ns - r->s[i - 1].mono_ns : 0,
                                        r->s[i].bytes};
        p = ms_chunk_put_RSS_SAMPLE(p, &e);
    }
    size_t len = (size_t)(p - payload);
    struct stat st;
    int fd = ms_open_regular_as(path, O_WRONLY | O_APPEND | O_NOFOLLOW, &st);
    int rc = fd >= 0 && len <= UINT32_MAX &&
                     ms_trace_chunk_write(fd, MS_CHUNK_RSS, 0, 0, payload, (uint32_t)len) == 0
                 ? 0
                 : -1;
    if (fd >= 0)
        close(fd);
    free(payload);
    return rc;
}

void ms_rss_sampler_free(struct ms_rss_sampler *r)
{
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
    free(r->s);
    r->s = NULL;
    r->n = r->cap = 0;
}
