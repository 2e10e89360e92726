/* memscope run's scans of its program's snapshots (snapshot_scans.h). */
#define _GNU_SOURCE
#include "snapshot_scans.h"

#include "analysis/process_scan.h"
#include "analysis/trace_seal.h"
#include "common/chunk_codec.h"
#include "common/leak_handshake.h"
#include "common/open_regular.h"
#include "common/trace_format.h"
#include "report/number_format.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Whether pid is a leak-scan snapshot (common/leak_handshake.h) and memscope run's child: by
 * its name and its parent. A pid from the trace, which the program wrote, is killed only then. */
static bool is_snapshot_state(long pid, char *state_out)
{
    char name[64], stat[512];
    snprintf(name, sizeof name, "/proc/%ld/stat", pid);
    FILE *f = fopen(name, "re");
    size_t n = f ? fread(stat, 1, sizeof stat - 1, f) : 0;
    if (f)
        fclose(f);
    stat[n] = 0;
    /* "pid (comm) state ppid ...": comm may hold anything, so the last ')' ends it */
    char *open = strchr(stat, '('), *close = strrchr(stat, ')');
    if (!open || !close || close < open)
        return false;
    long ppid = 0;
    char state;
    if (sscanf(close + 1, " %c %ld", &state, &ppid) != 2 || ppid != (long)getpid())
        return false;
    *close = 0;
    if (state_out)
        *state_out = state;
    return !strcmp(open + 1, MS_LEAK_SNAPSHOT_NAME);
}

static bool is_snapshot(long pid)
{
    return is_snapshot_state(pid, NULL);
}

static void kill_snapshot(pid_t pid)
{
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

/* Scans the snapshot pid (handshake hs) against the blocks given (rc: MS_ENOMEM when there
 * was no memory for them), and kills it. Returns 0 with *s set, or MS_ENOMEM. */
static int scan_blocks(pid_t pid, uint64_t hs, struct ms_leak_block *blocks, size_t n, int rc,
                       struct ms_process_scan *s)
{
    rc = ms_process_scan(pid, hs, blocks, n, rc ? MS_SCAN_NO_MEMORY : MS_SCAN_DONE, s);
    kill_snapshot(pid);
    return rc;
}

/* The same against the blocks live in a's model now. */
static int scan_snapshot(struct ms_analysis *a, pid_t pid, uint64_t hs, struct ms_process_scan *s)
{
    struct ms_leak_block *blocks;
    size_t n;
    int rc = ms_heap_model_live_blocks(a->model, true, &blocks, &n);
    rc = scan_blocks(pid, hs, blocks, n, rc, s);
    free(blocks);
    return rc;
}

size_t ms_exit_scan(struct ms_analysis *a, uint8_t **payload)
{
    const struct ms_end_info *e = ms_trace_end(a->trace);
    *payload = NULL;
    if (!e->present || !e->scan || !e->scan_pid || e->scan_pid > INT_MAX ||
        !is_snapshot((long)e->scan_pid))
        return 0;
    struct ms_process_scan s;
    if (scan_snapshot(a, (pid_t)e->scan_pid, e->scan, &s) != 0)
        return 0; /* out of memory: the trace has no kinds, and its report says why */
    *payload = s.payload;
    return s.len;
}

/* Adds scan s of check seq (at tsc, of the cause) to the scans kept, as a LEAK_CHECK chunk's
 * payload: the check's header, then the LEAK_SCAN payload (s's, freed). */
static void add_scan(struct ms_check_scans *c, uint64_t seq, uint64_t tsc, uint64_t cause,
                     uint64_t live_bytes, struct ms_process_scan *s)
{
    struct ms_chunk_LEAK_CHECK h = {.seq = seq, .tsc = tsc, .cause = cause};
    uint8_t head[3 * 10];
    size_t hn = (size_t)(ms_chunk_put_LEAK_CHECK(head, &h) - head);
    uint8_t *p = malloc(hn + s->len);
    if (!p) {
        free(s->payload);
        return;
    }
    memcpy(p, head, hn);
    memcpy(p + hn, s->payload, s->len);
    free(s->payload);
    if (c->n == MS_LEAK_CHECKS_KEPT) { /* the latest are kept */
        free(c->v[0].payload);
        memmove(c->v, c->v + 1, --c->n * sizeof *c->v);
    }
    c->v[c->n++] = (struct ms_check_scan){.seq = seq,
                                          .tsc = tsc,
                                          .cause = (int)cause,
                                          .status = s->status,
                                          .payload = p,
                                          .len = hn + s->len,
                                          .live_bytes = live_bytes,
                                          .totals = s->totals};
    c->scanned[cause == MS_CHECK_PEAK]++;
}

/* A check at the peak (ev): its snapshot and the blocks live now are kept in place of the last
 * one's, whose snapshot is killed. A snapshot dead already (the program kills each when it
 * makes the next: dead, a later one is coming) is only reaped. */
static void keep_peak(struct ms_check_scans *c, struct ms_analysis *a, const struct ms_event *ev,
                      bool dead)
{
    struct ms_peak_snapshot *k = &c->peak;
    if (k->pid)
        kill_snapshot((pid_t)k->pid);
    free(k->blocks);
    *k = (struct ms_peak_snapshot){0};
    if (dead) {
        kill_snapshot((pid_t)ev->x[3]);
        return;
    }
    *k = (struct ms_peak_snapshot){.seq = ev->x[0],
                                   .tsc = ev->tsc,
                                   .handshake = ev->x[2],
                                   .live_bytes = ms_heap_model_summary(a->model)->live_bytes,
                                   .pid = (long)ev->x[3]};
    /* sorted only if it is the last: most are replaced by the next */
    k->rc = ms_heap_model_live_blocks(a->model, false, &k->blocks, &k->n);
}

void ms_check_scans_on_check(void *ctx, struct ms_analysis *a, const struct ms_event *ev)
{
    struct ms_check_scans *c = ctx;
    /* x: seq, cause, handshake, pid, skipped, threads */
    int lane = ev->x[1] == MS_CHECK_PEAK;
    c->asked[lane]++;
    uint64_t skipped = ev->x[4], pid = ev->x[3];
    if (skipped) {
        c->skipped[lane][skipped < MS_CHECK_SKIPS ? skipped : 0]++;
        return;
    }
    char state = 0;
    if (!pid || pid > INT_MAX || !is_snapshot_state((long)pid, &state))
        return;
    if (lane) {
        keep_peak(c, a, ev, state == 'Z');
        return;
    }
    struct ms_process_scan s;
    if (scan_snapshot(a, (pid_t)pid, ev->x[2], &s) == 0)
        add_scan(c, ev->x[0], ev->tsc, ev->x[1], ms_heap_model_summary(a->model)->live_bytes, &s);
}

void ms_check_scans_peak(struct ms_check_scans *c)
{
    struct ms_peak_snapshot *k = &c->peak;
    if (!k->pid)
        return;
    struct ms_process_scan s;
    ms_leak_blocks_sort(k->blocks, k->n);
    if (scan_blocks((pid_t)k->pid, k->handshake, k->blocks, k->n, k->rc, &s) == 0)
        add_scan(c, k->seq, k->tsc, MS_CHECK_PEAK, k->live_bytes, &s);
    free(k->blocks);
    *k = (struct ms_peak_snapshot){0};
}

int ms_check_scans_write(const struct ms_check_scans *c, const char *trace)
{
    if (!c->n)
        return 0;
    struct stat st;
    int fd = ms_open_regular_as(trace, O_WRONLY | O_APPEND | O_NOFOLLOW, &st);
    if (fd < 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < c->n && !rc; i++)
        if (c->v[i].len > UINT32_MAX ||
            ms_trace_chunk_write(fd, MS_CHUNK_LEAK_CHECK, 0, 0, c->v[i].payload,
                                 (uint32_t)c->v[i].len) != 0)
            rc = -1;
    close(fd);
    return rc;
}

/* The latest scan of the lane kept, or NULL. */
static const struct ms_check_scan *latest(const struct ms_check_scans *c, int lane)
{
    for (size_t i = c->n; i-- > 0;)
        if ((c->v[i].cause == MS_CHECK_PEAK) == lane)
            return &c->v[i];
    return NULL;
}

static void print_skipped(const uint64_t *skipped)
{
    char n1[32];
    for (int why = 1; why < MS_CHECK_SKIPS; why++)
        if (skipped[why])
            fprintf(stderr, "; %s not made: %s", ms_format_count(n1, skipped[why]),
                    ms_check_skip_reason((unsigned)why));
}

void ms_check_scans_print(const struct ms_check_scans *c, const struct ms_analysis *a)
{
    char n1[32], n2[32], n3[32], kinds[MS_LEAK_KINDS_TEXT];
    const struct ms_check_scan *last = latest(c, 0), *peak = latest(c, 1);
    if (c->asked[0]) {
        fprintf(stderr, "memscope:   leak checks during the run: %s asked, %s scanned",
                ms_format_count(n1, c->asked[0]), ms_format_count(n2, c->scanned[0]));
        if (last && last->status == MS_SCAN_DONE) {
            const char *cause = ms_check_cause_name((unsigned)last->cause);
            fprintf(stderr, "; the last (%s, at %.3f s): %s", cause ? cause : "?",
                    (double)ms_analysis_ns(a, last->tsc) / 1e9,
                    ms_format_leak_kinds(kinds, last->totals.bytes, last->totals.blocks));
        }
        if (c->dropped)
            fprintf(stderr, "; the scans were dropped: the summary's replay had to start again, "
                            "so the blocks they were made against may not be the trace's");
        print_skipped(c->skipped[0]);
        fprintf(stderr, "\n");
    }
    if (!c->asked[1])
        return;
    uint64_t top = ms_heap_model_summary(a->model)->peak_bytes, made = c->asked[1];
    for (int why = 0; why < MS_CHECK_SKIPS; why++)
        made -= c->skipped[1][why];
    if (peak && peak->status == MS_SCAN_DONE)
        fprintf(stderr,
                "memscope:   at the peak: the last of %s snapshots, at %.3f s with %s bytes live "
                "(the peak: %s, %.1f%% more): %s",
                ms_format_count(n1, made), (double)ms_analysis_ns(a, peak->tsc) / 1e9,
                ms_format_count(n2, peak->live_bytes), ms_format_count(n3, top),
                peak->live_bytes
                    ? 100.0 * (double)(top - peak->live_bytes) / (double)peak->live_bytes
                    : 0.0,
                ms_format_leak_kinds(kinds, peak->totals.bytes, peak->totals.blocks));
    else
        fprintf(stderr, "memscope:   at the peak: no scan%s",
                c->dropped ? " (the summary's replay had to start again)" : "");
    print_skipped(c->skipped[1]);
    fprintf(stderr, "\n");
}

void ms_check_scans_free(struct ms_check_scans *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->v[i].payload);
    c->n = 0;
    free(c->peak.blocks); /* its snapshot: ms_snapshots_reap */
    c->peak = (struct ms_peak_snapshot){0};
}

void ms_snapshots_reap(void)
{
    char dir[64], line[4096];
    DIR *tasks = opendir("/proc/self/task");
    struct dirent *t;
    while (tasks && (t = readdir(tasks))) {
        if (t->d_name[0] == '.')
            continue;
        snprintf(dir, sizeof dir, "/proc/self/task/%.20s/children", t->d_name);
        FILE *f = fopen(dir, "re");
        size_t n = f ? fread(line, 1, sizeof line - 1, f) : 0;
        if (f)
            fclose(f);
        line[n] = 0;
        for (char *p = line, *end; *p; p = end) {
            long pid = strtol(p, &end, 10);
            if (end == p)
                break;
            if (pid > 0 && is_snapshot(pid))
                kill_snapshot((pid_t)pid);
        }
    }
    if (tasks)
        closedir(tasks);
}
