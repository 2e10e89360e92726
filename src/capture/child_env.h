/* memscope's own environment variables (MEMSCOPE_* and its LD_PRELOAD entry): kept out of the
 * environment the program sees, and put back into the environment of every program it
 * executes, so that the program behaves and allocates as it does natively while its children
 * are still traced. */
#ifndef MS_CAPTURE_CHILD_ENV_H
#define MS_CAPTURE_CHILD_ENV_H

#include <stddef.h>

/* At start-up, before the program's own code runs: copies memscope's variables into
 * memscope's memory and removes them from environ (LD_PRELOAD keeps the program's own
 * libraries, without libmemscope). Does not allocate. */
void ms__child_env_hide(void);

/* The environment for a program about to be executed with envp: envp without any MEMSCOPE_*
 * variable, plus memscope's, with libmemscope first in LD_PRELOAD (then envp's own preloads).
 * The array lives in memory mapped for it (exec replaces it; if exec fails, the caller frees
 * it with ms__child_env_free). Returns envp itself when memscope hid nothing or has no memory. */
char **ms__child_env(char *const envp[]);
void ms__child_env_free(char **env, char *const envp[]);

#endif
