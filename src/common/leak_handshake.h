/* The handshake by which memscope run scans its program's memory at exit for the leak kinds
 * (MEMSCOPE_LEAK_SCAN=1). The program's capture library, as the process exits with glibc's
 * freeing done and no other thread left, fills this structure in its own memory, writes its
 * address in the END chunk's scan field and waits. memscope run reads the structure and the
 * process's memory (process_vm_readv), appends a LEAK_SCAN chunk to the trace, and writes
 * MS_LEAK_DONE into done (process_vm_writev); the library then lets the process end. memscope
 * run first writes MS_LEAK_SEEN as soon as it has seen the END chunk. The library stops
 * waiting on its own when its parent changes (memscope run is gone), when nothing was seen
 * after MS_LEAK_SEEN_MAX_S seconds (memscope run could not follow the trace), or after
 * MS_LEAK_WAIT_MAX_S. Both sides are built from this file, 64-bit words in this order. */
#ifndef MS_LEAK_HANDSHAKE_H
#define MS_LEAK_HANDSHAKE_H

#include <stdint.h>

#define MS_LEAK_HANDSHAKE_MAGIC 0x314e414353534d4dull /* "MMSSCAN1" */
#define MS_LEAK_WAIT_MAX_S 600
#define MS_LEAK_SEEN_MAX_S 30

enum { MS_LEAK_WAITING = 0, MS_LEAK_DONE = 1, MS_LEAK_SEEN = 2 };

struct ms_leak_handshake {
    uint64_t magic;
    uint64_t done; /* memscope run: MS_LEAK_SEEN, then MS_LEAK_DONE once it has read it all */
    /* The exiting thread's stack below this address belongs to memscope's exit code: it is
     * left out, as memcheck, which runs outside the program, never sees such frames. */
    uint64_t stack_lo;
    /* libmemscope.so's loaded segments, from its first to the end of its last (.bss): its data
     * holds block addresses the program does not. */
    uint64_t lib_lo, lib_hi;
    /* memscope's own memory (capture/own_memory.h): nranges pairs {lo, hi} at ranges, sorted;
     * ranges_lost != 0 when the list is not exact. */
    uint64_t ranges, nranges, ranges_lost;
};

#endif
