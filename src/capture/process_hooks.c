/* Interposed process-level calls: thread creation (so every record carries a time from then
 * on), exec and _exit (so captured events reach the trace before the image goes), dlopen and
 * dlclose (module map updates), and descriptors memscope must keep out of the program's way.
 * Signal dispositions are in signal_hooks.c. */
#define _GNU_SOURCE
#include "child_env.h"
#include "exit_scan.h"
#include "hooks_common.h"
#include "lifecycle.h"
#include "module_map.h"
#include "own_fd.h"
#include "thread_state.h"
#include "trace_writer.h"
#include "unwind_fast.h"

#define UNW_LOCAL_ONLY
#include <dlfcn.h>
#include <libunwind.h>
#include <pthread.h>
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* The next definition of name, looked up once (hooks_common.h). */
#define NEXT(type, name)                                                                           \
    static void *name##_cache;                                                                     \
    __typeof__(&name) real_##name = (__typeof__(&name))next_of(&name##_cache, #name)

/* Reports an event (call: one of event_path.h's ms__on_*) unless inside a hook. */
#define REPORT(call)                                                                               \
    do {                                                                                           \
        if (atomic_load(&ms__active) && !ms__tls.busy) {                                           \
            ms__tls.busy = 1;                                                                      \
            call;                                                                                  \
            ms__unbusy();                                                                          \
        }                                                                                          \
    } while (0)

HOOK(int, pthread_create,
     (pthread_t * thread, const pthread_attr_t *attr, void *(*fn)(void *), void *arg))
{
    NEXT(int (*)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *), pthread_create);
    ms__lifecycle_init();
    /* From now on another thread may run: records carry their time more often. */
    atomic_store(&ms__time_period, 16);
    ms__tls.creating_thread = 1;
    uint64_t before = ms__now();
    int r = real_pthread_create(thread, attr, fn, arg);
    ms__tls.creating_thread = 0;
    if (r == 0)
        REPORT(ms__on_thread_created((uint64_t)*thread, before));
    return r;
}

/* A join returned: the joined thread's events all happened before whatever this thread
 * records next, which therefore carries its time. Returns r. */
static int joined(int r)
{
    if (r == 0 && ms__tls.slot)
        ms__rec_time_next(&ms__tls.slot->b);
    return r;
}

HOOK(int, pthread_join, (pthread_t thread, void **ret))
{
    NEXT(int (*)(pthread_t, void **), pthread_join);
    return joined(real_pthread_join(thread, ret));
}

HOOK(int, pthread_tryjoin_np, (pthread_t thread, void **ret))
{
    NEXT(int (*)(pthread_t, void **), pthread_tryjoin_np);
    return joined(real_pthread_tryjoin_np(thread, ret));
}

HOOK(int, pthread_timedjoin_np, (pthread_t thread, void **ret, const struct timespec *abstime))
{
    NEXT(int (*)(pthread_t, void **, const struct timespec *), pthread_timedjoin_np);
    return joined(real_pthread_timedjoin_np(thread, ret, abstime));
}

HOOK(pid_t, fork, (void))
{
    NEXT(pid_t(*)(void), fork);
    pid_t pid = real_fork();
    if (pid > 0)
        REPORT(ms__on_forked((uint64_t)pid));
    return pid;
}

/* ---- exec: finish the trace first; if exec fails, tracking goes on in the same file. The new
 * program gets memscope's variables back in its environment (child_env.h). ---- */

#define EXEC_WITH_ENV(call, envp)                                                                  \
    do {                                                                                           \
        ms__lifecycle_before_exec();                                                               \
        char **env_ = ms__child_env(envp);                                                         \
        int r_ = call;                                                                             \
        int errno_ = errno;                                                                        \
        ms__child_env_free(env_, envp);                                                            \
        errno = errno_;                                                                            \
        return r_;                                                                                 \
    } while (0)

HOOK(int, execve, (const char *path, char *const argv[], char *const envp[]))
{
    NEXT(int (*)(const char *, char *const[], char *const[]), execve);
    EXEC_WITH_ENV(real_execve(path, argv, env_), envp);
}

HOOK(int, execv, (const char *path, char *const argv[]))
{
    NEXT(int (*)(const char *, char *const[], char *const[]), execve);
    EXEC_WITH_ENV(real_execve(path, argv, env_), environ);
}

HOOK(int, execvpe, (const char *file, char *const argv[], char *const envp[]))
{
    NEXT(int (*)(const char *, char *const[], char *const[]), execvpe);
    EXEC_WITH_ENV(real_execvpe(file, argv, env_), envp);
}

HOOK(int, execvp, (const char *file, char *const argv[]))
{
    NEXT(int (*)(const char *, char *const[], char *const[]), execvpe);
    EXEC_WITH_ENV(real_execvpe(file, argv, env_), environ);
}

HOOK(int, fexecve, (int fd, char *const argv[], char *const envp[]))
{
    NEXT(int (*)(int, char *const[], char *const[]), fexecve);
    EXEC_WITH_ENV(real_fexecve(fd, argv, env_), envp);
}

/* posix_spawn does not go through the exec functions above: the new program's environment is
 * given here. */
HOOK(int, posix_spawn,
     (pid_t * pid, const char *path, const posix_spawn_file_actions_t *acts,
      const posix_spawnattr_t *attr, char *const argv[], char *const envp[]))
{
    NEXT(int (*)(pid_t *, const char *, const posix_spawn_file_actions_t *,
                 const posix_spawnattr_t *, char *const[], char *const[]),
         posix_spawn);
    char **env = ms__child_env(envp);
    int r = real_posix_spawn(pid, path, acts, attr, argv, env);
    ms__child_env_free(env, envp);
    return r;
}

HOOK(int, posix_spawnp,
     (pid_t * pid, const char *file, const posix_spawn_file_actions_t *acts,
      const posix_spawnattr_t *attr, char *const argv[], char *const envp[]))
{
    NEXT(int (*)(pid_t *, const char *, const posix_spawn_file_actions_t *,
                 const posix_spawnattr_t *, char *const[], char *const[]),
         posix_spawnp);
    char **env = ms__child_env(envp);
    int r = real_posix_spawnp(pid, file, acts, attr, argv, env);
    ms__child_env_free(env, envp);
    return r;
}

/* system() and popen() start /bin/sh with environ from inside glibc, out of the hooks' reach:
 * for the duration of the call environ also holds memscope's variables (child_env.h). */
#define WITH_CHILD_ENVIRON(type, call)                                                             \
    do {                                                                                           \
        bool entered_ = ms__child_environ_enter();                                                 \
        type r_ = call;                                                                            \
        int errno_ = errno;                                                                        \
        ms__child_environ_leave(entered_);                                                         \
        errno = errno_;                                                                            \
        return r_;                                                                                 \
    } while (0)

HOOK(int, system, (const char *command))
{
    NEXT(int (*)(const char *), system);
    WITH_CHILD_ENVIRON(int, real_system(command));
}

HOOK(FILE *, popen, (const char *command, const char *mode))
{
    NEXT(FILE * (*)(const char *, const char *), popen);
    WITH_CHILD_ENVIRON(FILE *, real_popen(command, mode));
}

/* execl, execlp and execle collect their arguments into an array on the stack and go through
 * the array forms above. */
#define MAX_LIST_ARGS 4096
#define COLLECT_ARGS(arg0, ap, argv)                                                               \
    do {                                                                                           \
        int n_ = 1;                                                                                \
        (argv)[0] = (char *)(arg0);                                                                \
        while (n_ < MAX_LIST_ARGS && ((argv)[n_] = va_arg(ap, char *)) != NULL)                    \
            n_++;                                                                                  \
        (argv)[n_ < MAX_LIST_ARGS ? n_ : MAX_LIST_ARGS - 1] = NULL;                                \
    } while (0)

HOOK(int, execl, (const char *path, const char *arg, ...))
{
    char *argv[MAX_LIST_ARGS];
    va_list ap;
    va_start(ap, arg);
    COLLECT_ARGS(arg, ap, argv);
    va_end(ap);
    return ms__hook_execv(path, argv);
}

HOOK(int, execlp, (const char *file, const char *arg, ...))
{
    char *argv[MAX_LIST_ARGS];
    va_list ap;
    va_start(ap, arg);
    COLLECT_ARGS(arg, ap, argv);
    va_end(ap);
    return ms__hook_execvp(file, argv);
}

HOOK(int, execle, (const char *path, const char *arg, ...))
{
    char *argv[MAX_LIST_ARGS];
    va_list ap;
    va_start(ap, arg);
    COLLECT_ARGS(arg, ap, argv);
    char **envp = va_arg(ap, char **);
    va_end(ap);
    return ms__hook_execve(path, argv, envp);
}

/* ---- _exit skips atexit handlers: finish the trace here (without exit-time freeing, which
 * would flush stdio buffers that _exit deliberately drops). ---- */

HOOK(void, _exit, (int status))
{
    NEXT(void (*)(int), _exit);
    ms__lifecycle_before_quick_exit(status);
    real__exit(status);
    __builtin_unreachable();
}

HOOK(void, _Exit, (int status))
{
    ms__hook__exit(status);
}

/* quick_exit reaches _exit inside glibc, past the hook above. */
HOOK(void, quick_exit, (int status))
{
    NEXT(void (*)(int), quick_exit);
    ms__lifecycle_before_quick_exit(status);
    real_quick_exit(status);
    __builtin_unreachable();
}

/* glibc's pthread_getattr_np allocates while holding the thread's lock, which memscope's own
 * lookup of the thread's stack bounds needs: that lookup waits while this runs. */
HOOK(int, pthread_getattr_np, (pthread_t thread, pthread_attr_t *attr))
{
    NEXT(int (*)(pthread_t, pthread_attr_t *), pthread_getattr_np);
    ms__in_getattr++;
    int r = real_pthread_getattr_np(thread, attr);
    ms__in_getattr--;
    return r;
}

/* ---- modules ---- */

HOOK(void *, dlopen, (const char *file, int mode))
{
    NEXT(void *(*)(const char *, int), dlopen);
    void *h = real_dlopen(file, mode);
    atomic_fetch_add(&ms__code_gen, 1);
    if (atomic_load(&ms__active))
        ms__writer_modules_if_changed();
    /* The next record of this thread carries its time: the reader tells by it which of the
     * modules loaded at an address one after the other a stack node belongs to. */
    if (ms__tls.slot)
        ms__rec_time_next(&ms__tls.slot->b);
    return h;
}

HOOK(int, dlclose, (void *handle))
{
    NEXT(int (*)(void *), dlclose);
    if (atomic_load(&ms__active) && !ms__tls.busy) {
        /* The module must be in the trace's module map before it goes away. */
        ms__tls.busy = 1;
        ms__writer_open();
        ms__writer_modules_if_changed();
        ms__unbusy();
    }
    int r = real_dlclose(handle);
    atomic_fetch_add(&ms__code_gen, 1);
    /* Frees from code loaded later at the unloaded one's addresses are another module's. */
    ms__slots_free_ranges_reset();
    if (atomic_load(&ms__active))
        ms__writer_modules_if_changed();
    if (ms__tls.slot)
        ms__rec_time_next(&ms__tls.slot->b);
    return r;
}

/* ---- memory a fork does not copy as it is ---- */

HOOK(int, madvise, (void *addr, size_t len, int advice))
{
    NEXT(int (*)(void *, size_t, int), madvise);
    int r = real_madvise(addr, len, advice);
    if (r == 0 && (advice == MADV_DONTFORK || advice == MADV_WIPEONFORK))
        ms__exit_scan_fork_flags_asked(addr, len, advice);
    return r;
}

/* ---- descriptors ---- */

/* libunwind creates a pipe for its memory checks when it starts, on the program's lowest free
 * descriptors, and when a check finds the pipe gone it closes those numbers and opens it again:
 * whatever file the program then has there would be read from and written to. The pipe
 * libunwind creates is moved out of the program's way (own_fd.h). */
HOOK(int, pipe2, (int fds[2], int flags))
{
    NEXT(int (*)(int[2], int), pipe2);
    int r = real_pipe2(fds, flags);
    if (r == 0) {
        uintptr_t lo, hi, caller = (uintptr_t)__builtin_return_address(0);
        ms__module_range_of((const void *)&unw_backtrace, &lo, &hi);
        if (caller >= lo && caller < hi) {
            fds[0] = ms__fd_move_high(fds[0]);
            fds[1] = ms__fd_move_high(fds[1]);
        }
    }
    return r;
}
