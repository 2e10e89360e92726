/* memscope run's scan of its program at exit for the leak kinds (common/leak_handshake.h): the
 * roots from /proc/PID/maps as memcheck takes them (every readable and writable mapping but
 * device files, memscope's own memory and the allocator's heaps, the live blocks themselves,
 * and the stack below the exiting thread's frame), the memory read with process_vm_readv, the
 * blocks classified by leak_scan.h, and the LEAK_SCAN chunk's payload. */
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
    uint64_t scan_ns; /* how long the process waited for the scan of its memory */
    struct ms_leak_totals totals;
};

/* Tells process pid, waiting at its exit with its handshake at address hs, that the scan is
 * coming (it would stop waiting after MS_LEAK_SEEN_MAX_S otherwise). */
void ms_process_scan_seen(pid_t pid, uint64_t hs);

/* Scans process pid, waiting at its exit with its handshake at address hs (the END chunk's
 * scan field), whose live blocks are blocks[0..n) (sorted by address: the replay of its trace
 * up to END), then lets it go on. With status other than MS_SCAN_DONE nothing is scanned and
 * the payload only says why. Returns 0, or MS_ENOMEM (no payload; the process is let go). */
int ms_process_scan(pid_t pid, uint64_t hs, const struct ms_leak_block *blocks, size_t n,
                    int status, struct ms_process_scan *out);

#endif
