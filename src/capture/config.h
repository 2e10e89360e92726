/* Settings of the capture library, read once from MEMSCOPE_* environment variables at start-up
 * without allocating (the hooks may be running before libc is fully initialised). */
#ifndef MS_CAPTURE_CONFIG_H
#define MS_CAPTURE_CONFIG_H

#include <stdbool.h>

struct ms__config {
    int unwind;             /* enum ms_unwind_mode */
    bool unwind_fast;       /* MEMSCOPE_UNWIND_FAST=0: libunwind for every stack (no cached walk) */
    bool unwind_verify;     /* MEMSCOPE_UNWIND_VERIFY=1: compare the cached walk with libunwind */
    int depth;              /* frames per stack, 1..MS_MAX_STACK_DEPTH */
    const char *output;     /* MEMSCOPE_OUTPUT: trace path of the root process, or NULL */
    const char *manifest;   /* MEMSCOPE_MANIFEST: file that lists every trace written, or NULL */
    int root_pid;           /* MEMSCOPE_ROOT_PID: the process that writes `output` itself */
    bool disabled;          /* MEMSCOPE_DISABLE=1: pass every call through untracked */
    bool verbose;           /* MEMSCOPE_VERBOSE=1: say on stderr where traces go */
    int zstd_level;         /* MEMSCOPE_COMPRESSION: zstd level, 0 = store chunks uncompressed */
    bool defer_compression; /* MEMSCOPE_DEFER_COMPRESSION=1: the root's trace stays raw */
    long leak_scan;         /* MEMSCOPE_LEAK_SCAN: the pid of the parent that scans, 0: none */
    int backend;            /* MEMSCOPE_BACKEND: enum ms_backend (common/trace_format.h) */
    bool no_trace;          /* MEMSCOPE_OUTPUT=none: write no trace */
    long sample_bytes;      /* MEMSCOPE_SAMPLE_BYTES: mean bytes between samples, 0: no sampling */
    int scan_signal;      /* MEMSCOPE_SCAN_SIGNAL: the signal that asks for a leak check, 0: none */
    bool scan_at_peak;    /* MEMSCOPE_SCAN_AT_PEAK=1: a leak check at each new high of the heap */
    bool free_stacks;     /* MEMSCOPE_FREE_STACKS=1: every free has its stack (a FREE_CALLER) */
    bool allocator_stats; /* MEMSCOPE_ALLOCATOR_STATS=1: mallinfo2 at each tick */
    bool check;           /* MEMSCOPE_CHECK=1: the check heap (check_heap.h) */
    long quarantine_bytes; /* MEMSCOPE_QUARANTINE_BYTES */
    const char *clock;     /* MEMSCOPE_CLOCK: memscope run's clock page (10 ms ticks), or NULL */
};

extern struct ms__config ms__config;

/* Fills ms__config from the environment. Unknown values fall back to the defaults and are
 * reported once on stderr. */
void ms__config_load(void);

#endif
