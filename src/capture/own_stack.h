/* Stacks of memscope's own, for the parts of a hook that need more stack than a program's
 * thread may have left (a buffer flush compresses with zstd, attaching a thread's slot asks
 * glibc for the thread's stack): a thread with a 16 KiB stack, or one deep in recursion, then
 * lends memscope only the few hundred bytes of the hook's own frames. */
#ifndef MS_CAPTURE_OWN_STACK_H
#define MS_CAPTURE_OWN_STACK_H

#include <stddef.h>

/* The usable size of an own stack. A flush (zstd's compression) takes 2 to 3 KiB of it; the
 * rest is for a signal handler of the program that interrupts a flush (it runs on this stack).
 * Pages are touched only as used. */
#define MS_OWN_STACK_SIZE (256u << 10)

/* Maps an own stack (MS_OWN_STACK_SIZE bytes above a guard page, touched only as used).
 * Returns its top, or NULL. */
void *ms__own_stack_new(void);
/* Unmaps the own stack whose top is top (NULL: none). */
void ms__own_stack_free(void *top);

/* Calls fn(arg) on the own stack whose top is top, and returns when it returns; where the
 * thread already runs on an own stack (a signal handler that interrupted a flush finishes the
 * process), or top is NULL (none could be mapped), fn runs where the thread is. Unwinders (a
 * backtrace taken by a signal handler meanwhile) pass from that stack back to the caller's. */
void ms__on_own_stack(void *top, void (*fn)(void *), void *arg);

#endif
