/* On-demand leak scans of the running process: ms_leak_check() from the C API and
 * MEMSCOPE_SCAN_SIGNAL. Each makes a snapshot of the process for memscope run to scan
 * (exit_scan.h) and records a LEAK_CHECK event naming it, or saying why none was made (enum
 * ms_check_skip): memscope run, whose replay of the trace knows the blocks live at that record,
 * scans the snapshot when it gets there, while the program runs on. */
#ifndef MS_CAPTURE_LEAK_CHECK_H
#define MS_CAPTURE_LEAK_CHECK_H

#include <stdbool.h>

/* Makes the check now (cause: enum ms_check_cause), on this thread, with busy set. Returns 0 (a
 * snapshot was made) or the enum ms_check_skip recorded. */
int ms__leak_check(int cause);
/* MEMSCOPE_SCAN_SIGNAL's handler (lifecycle.c installs it): the check now, or, when the signal
 * interrupted memscope itself, once the interrupted code leaves memscope. */
void ms__leak_check_on_signal(int sig);
/* At start-up, before the handler is installed. */
void ms__leak_check_init(void);

/* MEMSCOPE_SCAN_AT_PEAK: a check (MS_CHECK_PEAK) each time the live bytes in the core backend's
 * table reach a new high at least 1/MS_PEAK_CHECK_STEP above the last one's, from
 * MS_PEAK_CHECK_FROM bytes on (event_path.h). memscope run keeps the last one's snapshot and scans
 * it at the end: the scan is of a moment within 1/MS_PEAK_CHECK_STEP of the peak. Such a check
 * waits for no earlier snapshot. */
/* Whether this process makes them: the root process, traced in full for memscope run's scans. */
bool ms__peak_check_wanted(void);
/* At start-up, after the backend: arms the first. */
void ms__peak_check_start(void);

#endif
