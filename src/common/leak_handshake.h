/* How memscope run scans its program's memory at exit for the leak kinds
 * (MEMSCOPE_LEAK_SCAN=<memscope run's pid>). The program's capture library, as the process
 * exits with glibc's freeing done and no other thread left, fills this structure in its own
 * memory and makes a snapshot of the process: a copy (clone, copy-on-write) that is memscope
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
};

#endif
