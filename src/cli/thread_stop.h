/* memscope run's side of stopping the program's other threads for a leak-scan snapshot
 * (common/leak_handshake.h): a thread of memscope run's own waits for the program's requests
 * (MS_LEAK_STOP_SIGNAL, queued with the request's address), stops every other thread of the
 * program with ptrace, writes their registers into the request and lets them go once the
 * program has made its snapshot. memscope run is the program's parent, so it may trace it
 * where Yama allows parents only. */
#ifndef MS_CLI_THREAD_STOP_H
#define MS_CLI_THREAD_STOP_H

#include <signal.h>
#include <sys/types.h>

/* The request signal (SIGRTMIN + MS_LEAK_STOP_RT). */
int ms_thread_stop_signal(void);
/* Blocks the request signal in the calling thread, before the program is forked and before any
 * other thread of memscope run is made, so that none of them dies of it; *was is the mask
 * before, which the program gets back in the child. */
void ms_thread_stop_block(sigset_t *was);
/* Starts the thread that serves the requests of the program pid. Returns 0, or -1 (then the
 * program's requests go unanswered and it scans without its other threads' registers: it gives
 * up after MS_LEAK_STOP_WAIT_MS). */
int ms_thread_stop_start(pid_t pid);
/* The program is reaped: the thread ends. */
void ms_thread_stop_end(void);

#endif
