/* memscope run's scan of its program's snapshot at exit for the leak kinds
 * (common/leak_handshake.h): the roots from /proc/PID/maps as memcheck takes them (every
 * readable and writable mapping but device files, memscope's own memory and the allocator's
 * heaps, the live blocks themselves, and the stack below the frame that called exit()), the
 * memory read with process_vm_readv, the blocks classified by leak_scan.h, and the LEAK_SCAN
 * chunk's payload. */
#ifndef MS_PROCESS_SCAN_H
#define MS_PROCESS_SCAN_H

#include "leak_scan.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct ms_process_scan {
    uint8_t *payload; /* the LEAK_SCAN payload (malloc'd, the caller frees it) */
    size_t len;
    int status;       /* enum ms_scan_status */
    int error;        /* MS_SCAN_NO_ACCESS: the errno */
    uint64_t scan_ns; /* how long the scan took */
    struct ms_leak_totals totals;
};

/* Scans pid, the snapshot of a process at its exit (the END chunk's scan_pid), with its
 * handshake at address hs (END's scan), whose live blocks are blocks[0..n) (sorted by address:
 * the replay of its trace). With status other than MS_SCAN_DONE nothing is scanned and the
 * payload only says why. Returns 0, or MS_ENOMEM (no payload). */
int ms_process_scan(pid_t pid, uint64_t hs, const struct ms_leak_block *blocks, size_t n,
                    int status, struct ms_process_scan *out);

#endif
