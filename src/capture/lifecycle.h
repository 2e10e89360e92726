/* Start-up and shutdown of tracking: lazy initialisation from the first hook, thread exit,
 * fork, exec, exit (including glibc's and libstdc++'s exit-time freeing, as valgrind does) and
 * fatal signals, so that captured events always reach the trace. */
#ifndef MS_CAPTURE_LIFECYCLE_H
#define MS_CAPTURE_LIFECYCLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes that memscope's own thread-local storage adds to each new thread's DTV (the dynamic
 * loader's per-thread table of TLS modules, allocated with calloc in pthread_create): the
 * recorded size leaves them out so that totals match a run without memscope. The calloc comes
 * from the loader, whose code is at [ms__ldso_lo, ms__ldso_hi). */
extern size_t ms__dtv_extra;
extern uintptr_t ms__ldso_lo, ms__ldso_hi;

/* Initialises tracking once; safe to call from any hook. Returns true if tracking is on. */
bool ms__lifecycle_init(void);
/* The process image is about to be replaced: finish the trace (unless in a vfork child). */
void ms__lifecycle_before_exec(void);
/* _exit() was called: finish the trace without exit-time freeing. */
void ms__lifecycle_before_quick_exit(int status);
/* Records a signal disposition change made by the program (see the sigaction hook). Returns
 * true if memscope's handler is installed for sig and the program has not replaced it. */
bool ms__lifecycle_owns_signal(int sig);
void ms__lifecycle_signal_taken(int sig);
/* memscope's handler is installed for sig (the program is told SIG_DFL until it sets its own). */
void ms__lifecycle_signal_owned(int sig);
/* Installs memscope's own handler for sig, if its disposition is SIG_DFL: run through the
 * trampoline as the program's handlers are (so that one interrupting memscope defers its
 * events), and given up as the crash handler is when the program sets its own (the program is
 * told SIG_DFL meanwhile). Returns whether it was installed (signal_hooks.c). */
bool ms__signal_take(int sig, void (*handler)(int));

#endif
