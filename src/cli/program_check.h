/* Whether LD_PRELOAD can trace a program, and how it is run: `memscope run` finds PROGRAM as
 * execvp finds it, refuses before anything runs what the dynamic loader would run untraced, and
 * executes it as execvp does (a file without #! line goes to /bin/sh). */
#ifndef MS_CLI_PROGRAM_CHECK_H
#define MS_CLI_PROGRAM_CHECK_H

#include <stddef.h>

/* Finds the program name names, as execvp does: name itself if it has a slash, else the first
 * executable regular file name in a PATH directory (an empty element is the current directory;
 * without PATH or with an empty one, /usr/local/bin:/usr/bin:/bin). On success returns 0 with its
 * path in path (cap bytes, at least PATH_MAX). Otherwise says why on stderr, in one line that names
 * the file and the fix, and returns the exit status a shell gives: 127 when there is no such
 * program, 126 when it exists but cannot be executed (not executable, on a noexec mount, a
 * directory, a path too long or with a symbolic link loop). */
int ms__program_find(const char *name, char *path, size_t cap);

/* Refuses a program that would run untraced, with one line on stderr, and returns the exit
 * status: 2 for an ELF file that libmemscope.so cannot be loaded into (another class or machine,
 * statically linked) or that the kernel runs in secure-execution mode, where the loader ignores
 * LD_PRELOAD (setuid, setgid, file capabilities, or memscope's own effective ids); 126 or 127 for
 * a #! interpreter or a dynamic loader that is missing or cannot be run, or too many nested #!
 * lines. For a script the checks apply to the ELF file the kernel runs: the interpreter of its
 * #! line. name, if not NULL, is what the messages call prog. Returns 0 when the program can be
 * traced, and for a file of no format known here, which execve judges (ms__program_exec). */
int ms__program_check(const char *prog, const char *name);

/* In the child, after fork: executes prog (as ms__program_find found it) with the arguments
 * cmd (cmd[0] is the program's own argv[0], as the user gave it), as execvp executes a file it
 * found. A file the kernel cannot execute (no ELF header, no valid #! line) is a script for
 * /bin/sh, which runs traced as `/bin/sh prog ARGS...` once ms__program_check accepts /bin/sh;
 * a file that is not text is refused rather than fed to the shell. Returns only on failure,
 * after one line on stderr: the exit status (127 when the file is gone, 126 otherwise, or
 * ms__program_check's status for /bin/sh). */
int ms__program_exec(const char *prog, char **cmd);

#endif
