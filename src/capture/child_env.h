/* memscope's own environment variables (MEMSCOPE_* and its LD_PRELOAD entry): kept out of the
 * environment the program sees, and put back into the environment of every program it
 * executes, so that the program behaves and allocates as it does natively while its children
 * are still traced. */
#ifndef MS_CAPTURE_CHILD_ENV_H
#define MS_CAPTURE_CHILD_ENV_H

#include <stdbool.h>
#include <stddef.h>

/* At start-up, before the program's own code runs: copies memscope's variables into
 * memscope's memory and removes them from environ (LD_PRELOAD keeps the program's own
 * libraries, without libmemscope). Does not allocate. */
void ms__child_env_hide(void);

/* The environment for a program about to be executed with envp: envp plus memscope's
 * variables (but a MEMSCOPE_* variable the program set itself stays, and memscope's of that
 * name is left out), with libmemscope first in LD_PRELOAD (then envp's own preloads). The
 * array lives in memory mapped for the calling thread and reused by its next call, because in a
 * vfork child a successful exec never returns to free it; ms__child_env_free gives it back
 * (exec failed, or posix_spawn returned). Returns envp itself when memscope hid nothing or has
 * no memory. */
char **ms__child_env(char *const envp[]);
void ms__child_env_free(char **env, char *const envp[]);
/* The thread is exiting: unmaps its array. */
void ms__child_env_thread_exit(void);

/* Around system() and popen(), which start /bin/sh with environ from inside glibc: while any
 * of them runs, environ also holds memscope's variables (other threads see them meanwhile).
 * Concurrent calls share one window; the last to leave takes memscope's entries out again,
 * keeping whatever the program's setenv/unsetenv did meanwhile. enter returns whether leave
 * must close it. No string of the window is ever unmapped. */
bool ms__child_environ_enter(void);
void ms__child_environ_leave(bool entered);
/* In a forked child: a window another thread of the parent had open is closed. */
void ms__child_env_after_fork_child(void);

#endif
