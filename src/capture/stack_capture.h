/* Captures the calling thread's stack as return addresses, innermost first, with memscope's
 * own frames removed: libunwind (default), frame pointers, or nothing. */
#ifndef MS_CAPTURE_STACK_CAPTURE_H
#define MS_CAPTURE_STACK_CAPTURE_H

#include "thread_state.h"

#include <stdint.h>

/* Prepares the chosen unwinder; records memscope's own code range so its frames are skipped. */
void ms__stack_capture_init(void);

/* Fills ips with up to MS_MAX_STACK_DEPTH return addresses of the caller of the hook; returns
 * the number of frames (0 with --unwind=none). */
int ms__stack_capture(struct ms__slot *s, uintptr_t *ips);

#endif
