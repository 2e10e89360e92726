/* Start-up and shutdown of tracking: lazy initialisation from the first hook, thread exit,
 * fork, exec, exit (including glibc's and libstdc++'s exit-time freeing, as valgrind does) and
 * fatal signals, so that captured events always reach the trace. */
#ifndef MS_CAPTURE_LIFECYCLE_H
#define MS_CAPTURE_LIFECYCLE_H

#include <stdbool.h>

/* Initialises tracking once; safe to call from any hook. Returns true if tracking is on. */
bool ms__lifecycle_init(void);
/* A thread got its first slot: arrange for its flush at thread exit. */
void ms__lifecycle_thread_attached(void);
/* Counts an event that could not be recorded (reported in the END chunk). */
void ms__lifecycle_drop_event(void);
/* The process image is about to be replaced: finish the trace (unless in a vfork child). */
void ms__lifecycle_before_exec(void);
/* _exit() was called: finish the trace without exit-time freeing. */
void ms__lifecycle_before_quick_exit(int status);
/* Records a signal disposition change made by the program (see the sigaction hook). Returns
 * true if memscope's handler is installed for sig and the program has not replaced it. */
bool ms__lifecycle_owns_signal(int sig);
void ms__lifecycle_signal_taken(int sig);

#endif
