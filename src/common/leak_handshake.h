/* How memscope run scans its program's memory at exit for the leak kinds
 * (MEMSCOPE_LEAK_SCAN=<memscope run's pid>). The program's capture library, as the process
 * exits with glibc's freeing done (its other threads stopped: below), fills this structure in its
 * own memory and makes a snapshot of the process: a copy (clone, copy-on-write) that is memscope
 * run's child, holds no descriptor, blocks every signal and only waits. The END chunk gives the
 * structure's address and the snapshot's pid, and the process exits at once. memscope run reads
 * the structure and the snapshot's memory (process_vm_readv), appends a LEAK_SCAN chunk to the
 * trace and kills the snapshot, which also ends by itself when memscope run is gone or after
 * MS_LEAK_SNAPSHOT_MAX_S seconds. Both sides are built from this file. */
#ifndef MS_LEAK_HANDSHAKE_H
#define MS_LEAK_HANDSHAKE_H

#include <stdint.h>

#define MS_LEAK_HANDSHAKE_MAGIC 0x314e414353534d4dull /* "MMSSCAN1" */
#define MS_LEAK_SNAPSHOT_MAX_S 600
/* The snapshot's name (its /proc/PID/comm, set first thing): how memscope run tells a snapshot
 * that no scan took from the other processes it may have as children (as a subreaper or PID 1,
 * the program's orphans), which it leaves alone. */
#define MS_LEAK_SNAPSHOT_NAME "ms-snapshot"
#define MS_LEAK_MAX_OWN_RANGES 4096
/* How long an on-demand check waits for the previous check's snapshot to be scanned. */
#define MS_LEAK_CHECK_WAIT_MS 5000 /* of memscope's own ranges, the most the handshake lists */

/* With other threads running (an exit that leaves them, an on-demand check), the thread that
 * makes the snapshot first has memscope run stop them, as memcheck and LeakSanitizer stop every
 * thread for their registers and stack pointers: it queues MS_LEAK_STOP_SIGNAL (SIGRTMIN +
 * MS_LEAK_STOP_RT) to memscope run, its value the address of a struct ms_leak_stop in memscope's
 * own memory. memscope run (src/cli/thread_stop.c) stops every other thread of the process with
 * ptrace (PTRACE_SEIZE, PTRACE_INTERRUPT: a system call under way resumes as if nothing
 * happened), writes each one's registers there (process_vm_writev) and sets state STOPPED, or
 * FAILED with the errno; the thread makes the snapshot, whose copy holds the registers, sets
 * CLONED (or GAVE_UP after MS_LEAK_STOP_WAIT_MS) and memscope run lets them go. */
#define MS_LEAK_STOP_RT 7
#define MS_LEAK_STOP_MAGIC 0x31504f5453534d4dull /* "MMSSTOP1" */
#define MS_LEAK_STOP_WAIT_MS 2000
/* How long a check tries to stop the other threads outside memscope (they go on recording). */
#define MS_LEAK_CHECK_STOP_MS 50
#define MS_LEAK_MAX_THREADS 1024
#define MS_LEAK_THREAD_REGS 40 /* words of the general registers (x86-64: 27, arm64: 34) */
enum ms_leak_stop_state {
    MS_LEAK_STOP_ASKED = 0,
    MS_LEAK_STOP_STOPPED = 1, /* by memscope run: nthreads entries are filled */
    MS_LEAK_STOP_FAILED = 2,  /* by memscope run: none stopped (error: the errno) */
    MS_LEAK_STOP_CLONED = 3,  /* by the program: let them go */
    MS_LEAK_STOP_GAVE_UP = 4, /* by the program: no answer in time */
};
/* A thread blocked in a call that a stop would make fail with EINTR (epoll_wait, semop, ...,
 * signal(7)) is left running: its stack pointer is from /proc (its registers are not read). */
#define MS_LEAK_THREAD_UNSTOPPED 1u
struct ms_leak_thread {
    uint64_t tid, sp;                   /* sp: its stack pointer; the stack below it is left out */
    uint64_t flags;                     /* MS_LEAK_THREAD_UNSTOPPED */
    uint64_t regs[MS_LEAK_THREAD_REGS]; /* roots */
};
struct ms_leak_stop {
    uint64_t magic, caller_tid; /* caller_tid: the thread that asks, not to be stopped */
    /* state, then answer, written together by memscope run: the serial of the request it
     * answers (the program, which reuses one request for the process's life, takes a state
     * with another answer as a late reply to a request it gave up on) */
    uint64_t state; /* enum ms_leak_stop_state */
    uint64_t answer;
    uint64_t nthreads, error;
    uint64_t serial; /* the program's, one per request */
    struct ms_leak_thread threads[MS_LEAK_MAX_THREADS];
};

struct ms_leak_handshake {
    uint64_t magic;
    /* The exiting thread's stack below this address belongs to exit() and memscope's exit
     * code: it is left out, as memcheck, which tracks the stack pointer, never counts the stale
     * words of frames that have returned. */
    uint64_t stack_lo;
    /* libmemscope.so's loaded segments, from its first to the end of its last (.bss): its data
     * holds block addresses the program does not. */
    uint64_t lib_lo, lib_hi;
    /* memscope's own memory (capture/own_memory.h): nranges pairs {lo, hi} at ranges, sorted;
     * ranges_lost != 0 when the list is not exact. */
    uint64_t ranges, nranges, ranges_lost;
    /* The other threads, stopped for the snapshot: nthreads struct ms_leak_thread at threads
     * (0: the snapshot's thread is the only one). */
    uint64_t threads, nthreads;
};

#endif
