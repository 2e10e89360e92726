/* Start-up, thread exit, fork, exec, exit and fatal-signal handling for the capture library. */
#define _GNU_SOURCE
#include "lifecycle.h"

#include "allocator_stats.h"
#include "backend.h"
#include "check_heap.h"
#include "live_table.h"

#include "child_env.h"
#include "config.h"
#include "diag.h"
#include "exit_scan.h"
#include "leak_check.h"
#include "module_map.h"
#include "own_memory.h"
#include "real_fns.h"
#include "spinlock.h"
#include "stack_capture.h"
#include "stack_intern.h"
#include "string_table.h"
#include "thread_state.h"
#include "trace_writer.h"
#include "event_path.h"
#include "symbol_lookup.h"
#include "unwind_verify.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static atomic_int init_state; /* 0 none, 1 running, 2 done */
size_t ms__dtv_extra;
uintptr_t ms__ldso_lo, ms__ldso_hi;
static int self_pid;
static atomic_int finished;

static const int fatal_signals[] = {SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL, SIGTERM, SIGINT};
#define NFATAL (int)(sizeof fatal_signals / sizeof *fatal_signals)
static atomic_bool owns_signal[65];

static void finish(int reason, int code, bool freeres, uintptr_t stack_lo);

static void thread_exit_cb(void *arg)
{
    (void)arg;
    struct ms__tls *t = &ms__tls;
    int was_busy = t->busy;
    if (!was_busy)
        ms__record_deferred(t); /* what signal handlers deferred since the thread's last hook */
    t->busy = 1;
    ms__on_thread_task_end(t);
    ms__on_counts_own(t);
    if (ms__check_on())
        ms__check_thread_exit();
    ms__slot_detach(t);
    ms__child_env_thread_exit();
    t->dead = 1;
    t->busy = was_busy;
}

static void on_fatal_signal(int sig, siginfo_t *info, void *uctx)
{
    (void)uctx;
    int saved = errno;
    int was_busy = ms__tls.busy;
    ms__tls.busy = 1;
    if (!was_busy && !ms__tls.in_handler) /* the signal did not interrupt memscope itself */
        ms__on_tasks_at_finish(&ms__tls);
    else if (ms__tls.freeing) /* it interrupted the allocator, called by a hook */
        ms__on_free_fault(sig);
    finish(MS_END_SIGNAL, sig, false, 0);
    /* Die of the same signal, as the program would have without memscope: SA_RESETHAND has
     * restored the default action. A fault re-executes the faulting instruction on return; a
     * signal sent by kill/raise (si_code <= 0) or a termination signal is raised again. */
    errno = saved;
    bool fault = sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL;
    if (!fault || !info || info->si_code <= 0)
        raise(sig);
}

/* Through the C library's sigaction: memscope's own hook of it is for the program. */
static void install_signal_handlers(void)
{
    int (*real_sigaction)(int, const struct sigaction *, struct sigaction *) =
        (int (*)(int, const struct sigaction *, struct sigaction *))ms__next_symbol("sigaction");
    if (!real_sigaction)
        return;
    for (int i = 0; i < NFATAL; i++) {
        struct sigaction old;
        if (real_sigaction(fatal_signals[i], NULL, &old) != 0)
            continue;
        if (old.sa_handler != SIG_DFL || (old.sa_flags & SA_SIGINFO))
            continue;
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_fatal_signal;
        sa.sa_flags = SA_SIGINFO | SA_RESETHAND | SA_NODEFER;
        sigfillset(&sa.sa_mask);
        if (real_sigaction(fatal_signals[i], &sa, NULL) == 0)
            atomic_store(&owns_signal[fatal_signals[i]], true);
    }
}

bool ms__lifecycle_owns_signal(int sig)
{
    return sig > 0 && sig < 65 && atomic_load(&owns_signal[sig]);
}

void ms__lifecycle_signal_taken(int sig)
{
    if (sig > 0 && sig < 65)
        atomic_store(&owns_signal[sig], false);
}

void ms__lifecycle_signal_owned(int sig)
{
    if (sig > 0 && sig < 65)
        atomic_store(&owns_signal[sig], true);
}

/* The locks fork_prepare took, released after the fork on both sides. */
static bool fork_locked_intern, fork_locked_writer;
static uint64_t fork_tsc_prepared;

static int fork_was_busy;
static bool fork_set_busy;

static void fork_prepare(void)
{
    fork_locked_intern = fork_locked_writer = false;
    /* --check's heap is used whether tracking is on or not (frees passing through): its locks
     * are held across fork always, and let go by what was taken. */
    if (ms__check_on())
        ms__check_fork_prepare();
    if (!atomic_load(&ms__active)) {
        ms__own_memory_lock(); /* the list outlives tracing: a child may still map and unmap */
        return;
    }
    fork_was_busy = ms__tls.busy;
    fork_set_busy = true;
    /* Busy until fork returns: a signal handler's allocation meanwhile is deferred, not refused
     * by a lock this thread holds. */
    ms__tls.busy = 1;
    ms__writer_open();
    ms__child_env_hide();
    fork_locked_intern = ms__stack_intern_lock();
    fork_locked_writer = ms__writer_lock();
    ms__live_lock_all(&ms__core_table);
    ms__counts_fork_prepare();     /* sampling: the child's history has every thread's counts */
    fork_tsc_prepared = ms__now(); /* the child's history: what came before the copy */
    ms__own_memory_lock();         /* last: the handlers above may map memory */
}

/* After fork, in either process: busy as it was before fork_prepare. */
static void fork_unbusy(void)
{
    if (!fork_set_busy)
        return;
    fork_set_busy = false;
    if (fork_was_busy)
        ms__tls.busy = fork_was_busy;
    else
        ms__unbusy(); /* and what handlers deferred meanwhile */
}

static struct ms__fork_origin fork_origin;
static uint64_t fork_tsc;

static void fork_parent(void)
{
    ms__own_memory_unlock();
    ms__counts_fork_parent();
    if (atomic_load(&ms__active))
        ms__live_unlock_all(&ms__core_table);
    ms__check_fork_done();
    if (fork_locked_writer)
        ms__writer_unlock();
    if (fork_locked_intern)
        ms__stack_intern_unlock();
    fork_unbusy();
}

static void fork_child(void)
{
    /* The thread's id first: what follows (locks, the writer's operations) goes by it. */
    ms__cached_tid = 0;
    /* The child's own writes here are an operation of their own, not the interrupted one's. */
    ms__writer_enter();
    ms__own_memory_fork_child();
    ms__child_env_after_fork_child();
    if (!atomic_load(&ms__active)) {
        fork_parent();
        ms__writer_leave();
        atomic_store(&ms__spin_held, 0); /* the parent's other threads' are not the child's */
        return;
    }
    /* held across fork by this thread, under its parent's id */
    ms__live_unlock_all(&ms__core_table);
    ms__check_fork_done();
    fork_tsc = fork_tsc_prepared;
    memset(&fork_origin, 0, sizeof fork_origin);
    fork_origin.parent_pid = self_pid;
    fork_origin.fork_tsc = fork_tsc;
    fork_origin.node_limit = ms__stack_next_id();
    const char *parent_path = ms__writer_path();
    size_t l = strlen(parent_path);
    if (l >= sizeof fork_origin.parent_trace)
        l = sizeof fork_origin.parent_trace - 1;
    memcpy(fork_origin.parent_trace, parent_path, l);
    self_pid = getpid();
    ms__stack_intern_reset_lock();
    ms__writer_after_fork_child(&fork_origin);
    ms__slots_after_fork_child();
    ms__sampled_after_fork_child();
    ms__counts_fork_child(ms__tls.slot);
    ms__strings_after_fork_child();
    fork_unbusy();
    ms__writer_leave();
    atomic_store(&ms__spin_held, 0); /* every lock is reset: the parent's threads held them */
}

static void exit_handler(void)
{
    /* The frames below this one are memscope's: the leak scan leaves them out. */
    finish(MS_END_EXIT, 0, true, (uintptr_t)__builtin_frame_address(0));
}

/* Runs glibc's and libstdc++'s exit-time freeing like valgrind does, so that blocks those
 * libraries keep until exit are not reported as leaks. */
static void run_freeres(void)
{
    struct ms__tls *t = &ms__tls;
    int was_busy = t->busy;
    /* dlsym may allocate for itself: that must not be recorded. */
    t->busy = 1;
    void (*gnu_cxx_freeres)(void) =
        (void (*)(void))dlsym(RTLD_DEFAULT, "_ZN9__gnu_cxx9__freeresEv");
    void (*libc_freeres)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "__libc_freeres");
    if (!t->dead)
        ms__on_exit_freeing(t);
    t->busy = 0;
    if (gnu_cxx_freeres)
        gnu_cxx_freeres();
    if (libc_freeres)
        libc_freeres();
    t->busy = was_busy;
}

/* The last flush at exit, every buffer sealed (ms__exit_scan_at_exit makes it). */
static bool flush_final(void)
{
    atomic_store(&ms__active, false); /* with no scan to make: not done yet */
    return ms__slot_flush_all(NULL);
}

/* Ends the trace. stack_lo: at exit, where memscope's own frames begin on this thread's stack
 * (0: no leak scan). */
static void finish(int reason, int code, bool freeres, uintptr_t stack_lo)
{
    if (!atomic_load(&ms__active) || getpid() != self_pid)
        return;
    int expected = 0;
    if (!atomic_compare_exchange_strong(&finished, &expected, 1)) {
        /* Another thread is finishing (exit racing with _exit or a crash): let it complete
         * the trace before this thread ends the process, but never wait forever. */
        for (int i = 0; i < 2000 && atomic_load(&finished) == 1; i++)
            usleep(1000);
        return;
    }
    int was = ms__tls.busy;
    if (!was)
        ms__record_deferred(&ms__tls); /* what signal handlers deferred since the last hook */
    ms__tls.busy = 1;
    ms__writer_open(); /* before libc's internals are freed */
    if (!was && !ms__tls.in_handler)
        ms__on_tasks_at_finish(&ms__tls);
    ms__tls.busy = was;
    /* glibc's exit-time freeing assumes no other thread runs: valgrind runs it after killing
     * them. With threads still running it could pull their locale or stdio from under them,
     * so it is skipped and the report says so. */
    int threads = reason == MS_END_EXIT ? ms__exit_scan_threads() : 0;
    if (freeres && threads == 1)
        run_freeres();
    if (reason == MS_END_EXIT)
        ms__backend_at_finish(); /* not at a signal (it may hold libc's locks) nor at _exit */
    if (reason != MS_END_EXEC && ms__check_on()) {
        ms__tls.busy = 1;
        ms__check_at_finish();
        ms__tls.busy = was;
    }
    int was_busy = ms__tls.busy;
    ms__tls.busy = 1;
    /* The process ends: other threads' hooks pass straight through from here, as they will
     * once the trace is finished. Their records would be dropped at the seal anyway, and
     * threads that go on allocating would otherwise keep filling and flushing their buffers,
     * each flush contending for the slots and the trace with this one, which then may take
     * for ever to get through them (a hundred threads churning on two cores).
     * If exec fails the process goes on: its own thread keeps recording into the same trace
     * (other threads' buffers are sealed: flushing them without sealing would race with
     * their owners).
     * memscope run's leak scan, of a snapshot of this process: the root process alone, every
     * event recorded and glibc's freeing done unless other threads run, which memscope run
     * stops for the last flush and the snapshot, as memcheck stops them. */
    bool root = ms__config.output && ms__config.root_pid == self_pid;
    struct ms__exit_scan scan = {0};
    bool flushed;
    if (reason == MS_END_EXIT && freeres && root) {
        scan = ms__exit_scan_at_exit(stack_lo, threads, flush_final, &flushed);
    } else {
        if (reason != MS_END_EXEC)
            atomic_store(&ms__active, false);
        flushed = ms__slot_flush_all(reason == MS_END_EXEC ? ms__tls.slot : NULL);
    }
    uint64_t end_scan[4] = {scan.handshake, scan.pid, scan.refused, scan.unstopped};
    ms__writer_finish(reason, code, ms__slots_dropped(), threads > 0 ? (unsigned)threads : 0,
                      end_scan, flushed);
    ms__unwind_verify_report();
    if (reason != MS_END_EXEC) {
        atomic_store(&ms__active, false);
        atomic_store(&finished, 2);
    } else {
        atomic_store(&finished, 0);
    }
    ms__tls.busy = was_busy;
}

void ms__lifecycle_before_exec(void)
{
    finish(MS_END_EXEC, 0, false, 0);
}

void ms__lifecycle_before_quick_exit(int status)
{
    finish(MS_END_QUICK_EXIT, status, false, 0);
}

/* How much larger memscope makes each new thread's DTV (see ms__dtv_extra): one 16-byte
 * dtv_t per TLS module memscope brings, its own and libunwind's. */
static void dtv_init(void)
{
    extern void *__tls_get_addr(void *);
    ms__module_range_of((const void *)&__tls_get_addr, &ms__ldso_lo, &ms__ldso_hi);
    const void *mine = (const void *)&dtv_init, *unwinder = (const void *)&unw_backtrace;
    uintptr_t lo, hi;
    ms__module_range_of(unwinder, &lo, &hi);
    bool same = (uintptr_t)mine >= lo && (uintptr_t)mine < hi;
    ms__dtv_extra =
        16 * ((size_t)ms__module_has_tls(mine) + (size_t)(!same && ms__module_has_tls(unwinder)));
}

bool ms__lifecycle_init(void)
{
    int expected = 0;
    if (!atomic_compare_exchange_strong(&init_state, &expected, 1)) {
        while (atomic_load(&init_state) == 1)
            sched_yield();
        if (MS_UNLIKELY(atomic_load(&ms__count_passes))) /* ordered after ms__active's load */
            atomic_fetch_add(&ms__passes, 1);
        return atomic_load(&ms__active);
    }
    struct ms__tls *t = &ms__tls;
    int was_busy = t->busy;
    t->busy = 1;
    ms__real_resolve();
    ms__diag_init();
    ms__config_load();
    if (ms__config.clock)
        ms__clock_tick_map(ms__config.clock);
    ms__allocator_stats_init();
    ms__sample_init();
    ms__backend_start();
    self_pid = getpid();
    if (!ms__config.disabled)
        ms__writer_create(); /* first: the buffers live in its spool */
    if (!ms__config.disabled && ms__slots_init(thread_exit_cb) == 0 &&
        ms__stack_intern_init() == 0) {
        ms__writer_init();
        ms__stack_capture_init();
        dtv_init();
        pthread_atfork(fork_prepare, fork_parent, fork_child);
        install_signal_handlers();
        ms__leak_check_init();
        if (ms__config.scan_signal &&
            !ms__signal_take(ms__config.scan_signal, ms__leak_check_on_signal))
            ms__say("MEMSCOPE_SCAN_SIGNAL",
                    ": the signal has a handler already or is ignored; "
                    "no leak scans by signal",
                    "");
        atomic_store(&ms__active, true);
    }
    t->busy = was_busy;
    atomic_store(&init_state, 2);
    return atomic_load(&ms__active);
}

/* Runs before the program's own start-up code. The exit handler is registered here, with no
 * DSO handle, before libc registers the dynamic loader's finaliser: it therefore runs after
 * every destructor and atexit handler of the program, as late as exit() allows. */
__attribute__((constructor)) static void on_load(void)
{
    extern int __cxa_atexit(void (*fn)(void *), void *arg, void *dso);
    if (!ms__lifecycle_init())
        return;
    __cxa_atexit((void (*)(void *))exit_handler, NULL, NULL);
    /* The trace is created now, before the program runs: later its descriptors may all be in
     * use, or its working directory gone. */
    int was_busy = ms__tls.busy;
    ms__tls.busy = 1;
    ms__writer_open();
    ms__child_env_hide();
    ms__backend_announce();
    if (ms__check_on())
        ms__on_CHECK(MS_CHECK_REDZONE, (uint64_t)ms__config.quarantine_bytes);
    ms__tls.busy = was_busy;
}
