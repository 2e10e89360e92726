/* The capture library's side of memscope run's leak scan at exit (common/leak_handshake.h):
 * asked for with MEMSCOPE_LEAK_SCAN=1, in the root process, when it exits with no other thread
 * left and every allocation recorded (not sampled). */
#ifndef MS_CAPTURE_EXIT_SCAN_H
#define MS_CAPTURE_EXIT_SCAN_H

#include <stdint.h>

/* Fills the handshake (memscope's own memory as it is now; the exiting thread's stack below
 * exit()'s caller is left out, or else below stack_lo, memscope's frames) and returns its address
 * for the END chunk, or 0 when no scan is to be done. Allocates nothing through the program's
 * allocator. */
uint64_t ms__exit_scan_publish(uintptr_t stack_lo);

/* After END is written: waits until memscope run has scanned the process, it is gone, or
 * MS_LEAK_WAIT_MAX_S have passed. No-op when nothing was published. */
void ms__exit_scan_wait(void);

#endif
