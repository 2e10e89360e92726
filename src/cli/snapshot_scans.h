/* memscope run's scans of its program's snapshots (common/leak_handshake.h): the one at exit,
 * which the END chunk names, and the on-demand ones (ms_leak_check(), MEMSCOPE_SCAN_SIGNAL),
 * which LEAK_CHECK events name and which are scanned while the program runs, when the live
 * replay reaches them. Each snapshot is killed and reaped once scanned; the ones no scan took
 * are reaped at the end. */
#ifndef MS_CLI_SNAPSHOT_SCANS_H
#define MS_CLI_SNAPSHOT_SCANS_H

#include "analysis/leak_scan.h"
#include "analysis/trace_analysis.h"
#include "common/trace_format.h"

#include <stddef.h>
#include <stdint.h>

/* The on-demand scans made (the latest MS_LEAK_CHECKS_KEPT of them), until they are appended
 * to the trace. */
struct ms_check_scans {
    struct ms_check_scan {
        uint64_t seq, tsc, live_bytes;
        int cause, status;
        uint8_t *payload; /* the LEAK_CHECK chunk's payload */
        size_t len;
        struct ms_leak_totals totals;
    } v[MS_LEAK_CHECKS_KEPT];
    size_t n;
    /* By lane: 0 the checks the program asked for (ms_leak_check(), the signal), 1 those at
     * the peak. */
    uint64_t asked[2], scanned[2];       /* LEAK_CHECK events seen; snapshots scanned */
    uint64_t skipped[2][MS_CHECK_SKIPS]; /* the checks that made no snapshot, by why */
    bool dropped; /* the live replay started again: the scans' blocks were not the trace's */
    /* Checks at the peak (MEMSCOPE_SCAN_AT_PEAK): the last one's snapshot is kept, with the
     * blocks live at it, and scanned at the end (ms_check_scans_peak); each earlier one is
     * killed when the next comes. */
    struct ms_peak_snapshot {
        uint64_t seq, tsc, handshake, live_bytes;
        long pid; /* 0: none kept */
        struct ms_leak_block *blocks;
        size_t n;
        int rc; /* 0, or MS_ENOMEM: no copy of the blocks */
    } peak;
};

/* An ms_check_fn (trace_analysis.h) for ms_analysis_live_on_check, with a struct
 * ms_check_scans as ctx. */
void ms_check_scans_on_check(void *ctx, struct ms_analysis *a, const struct ms_event *ev);
/* Scans the last peak check's snapshot, if one is kept, and adds it to the scans. */
void ms_check_scans_peak(struct ms_check_scans *c);
/* Appends the scans to the trace (LEAK_CHECK chunks), to be done whole: the caller blocks the
 * signals that would interrupt it. Returns 0, or -1 when the trace cannot be written. */
int ms_check_scans_write(const struct ms_check_scans *c, const char *trace);
/* One line on stderr about them, for the summary (nothing when the program asked for none). */
void ms_check_scans_print(const struct ms_check_scans *c, const struct ms_analysis *a);
void ms_check_scans_free(struct ms_check_scans *c);

/* The scan at exit of the snapshot a's END names, with the blocks live at the end of a's
 * replay; the snapshot is killed. Returns the LEAK_SCAN payload (malloc'd) in *payload, or 0
 * when there is none to write. */
size_t ms_exit_scan(struct ms_analysis *a, uint8_t **payload);

/* Kills and reaps the snapshots still waiting, which no scan took. */
void ms_snapshots_reap(void);

#endif
