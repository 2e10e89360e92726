/* Stopping the program's other threads for a snapshot (thread_stop.h). */
#define _GNU_SOURCE
#include "thread_stop.h"

#include "common/leak_handshake.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pthread_t server;
static bool running;
static pid_t program;

int ms_thread_stop_signal(void)
{
    return SIGRTMIN + MS_LEAK_STOP_RT;
}

void ms_thread_stop_block(sigset_t *was)
{
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, ms_thread_stop_signal());
    pthread_sigmask(SIG_BLOCK, &one, was);
}

static int remote(pid_t pid, uint64_t addr, void *buf, size_t len, bool write)
{
    struct iovec local = {buf, len}, far = {(void *)(uintptr_t)addr, len};
    ssize_t n = write ? process_vm_writev(pid, &local, 1, &far, 1, 0)
                      : process_vm_readv(pid, &local, 1, &far, 1, 0);
    return n == (ssize_t)len ? 0 : -1;
}

/* The threads stopped so far. */
struct stopped {
    struct ms_leak_thread *v; /* MS_LEAK_MAX_THREADS */
    size_t n;
};

static bool have(const struct stopped *s, uint64_t tid)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].tid == tid)
            return true;
    return false;
}

/* /proc/pid/task/tid/name into buf (NUL-terminated, cut to len - 1). Returns false when it
 * cannot be read. */
static bool read_task_file(pid_t pid, pid_t tid, const char *name, char *buf, size_t len)
{
    char path[80];
    snprintf(path, sizeof path, "/proc/%d/task/%d/%s", (int)pid, (int)tid, name);
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    size_t n = fread(buf, 1, len - 1, f);
    fclose(f);
    buf[n] = 0;
    return true;
}

/* A thread that exited: gone from /proc, or a zombie (a traced one waits there for its tracer's
 * wait). */
static bool thread_gone(pid_t pid, pid_t tid)
{
    char buf[256];
    if (!read_task_file(pid, tid, "stat", buf, sizeof buf))
        return true;
    const char *paren = strrchr(buf, ')'); /* the name may hold anything */
    return !paren || paren[1] != ' ' || paren[2] == 'Z' || paren[2] == 'X';
}

/* Threads seized and not let go yet: one not in its stop when let go (still on its way to it: a
 * vfork, an uninterruptible wait) cannot be detached until it gets there, and one that died
 * traced is a zombie until its tracer's wait. The server thread tries them again every 10 ms
 * until they are gone: left traced, a thread would stop for good, and a traced zombie would
 * keep the program from being reaped. */
static pid_t lingering[MS_LEAK_MAX_THREADS];
static size_t nlingering;

/* Detaches (or reaps) tid. Returns false when it must be tried again later. */
static bool release(pid_t tid)
{
    if (ptrace(PTRACE_DETACH, tid, NULL, NULL) == 0 || errno != ESRCH)
        return true;
    /* the leader's exit is the main thread's to wait for */
    if (tid == program)
        return true;
    /* a zombie: only the tracer's wait lets go of it */
    if (waitpid(tid, NULL, __WALL | WNOHANG) == tid)
        return true;
    char buf[8];
    return !read_task_file(program, tid, "stat", buf, sizeof buf); /* gone: nothing to do */
}

static void linger(pid_t tid)
{
    if (!release(tid) && nlingering < MS_LEAK_MAX_THREADS)
        lingering[nlingering++] = tid;
}

static void lingering_retry(void)
{
    size_t k = 0;
    for (size_t i = 0; i < nlingering; i++)
        if (!release(lingering[i]))
            lingering[k++] = lingering[i];
    nlingering = k;
}

/* Whether thread tid of pid is blocked in a call that a ptrace stop makes fail with EINTR
 * instead of resuming it (signal(7), "Interruption of system calls and library functions by
 * stop signals", and the socket calls, which do with a timeout set): then it is not stopped,
 * and t gets its stack pointer from /proc. */
static bool blocked_in_eintr_call(pid_t pid, pid_t tid, struct ms_leak_thread *t)
{
    static const long calls[] = {
#ifdef __NR_epoll_wait
        __NR_epoll_wait,
#endif
#ifdef __NR_semop
        __NR_semop,
#endif
        __NR_epoll_pwait,   __NR_semtimedop, __NR_rt_sigtimedwait, __NR_io_getevents, __NR_recvfrom,
        __NR_recvmsg,       __NR_recvmmsg,   __NR_sendto,          __NR_sendmsg,      __NR_sendmmsg,
        __NR_accept,        __NR_accept4,    __NR_connect,
#ifdef __NR_epoll_pwait2
        __NR_epoll_pwait2,
#endif
#ifdef __NR_io_pgetevents
        __NR_io_pgetevents,
#endif
    };
    char buf[512];
    if (!read_task_file(pid, tid, "syscall", buf, sizeof buf))
        return false;
    /* "nr arg1 ... arg6 sp pc" while in a system call; "running", or "-1 sp pc", else */
    char *p = buf, *end;
    long nr = strtol(p, &end, 10);
    if (end == p || nr < 0)
        return false;
    /* read and write on a socket fail so too when it has a timeout (SO_RCVTIMEO, SO_SNDTIMEO) */
    static const long on_sockets[] = {__NR_read, __NR_write, __NR_readv, __NR_writev,
                                      __NR_sendfile};
    bool eintr = false, if_socket = false;
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++)
        eintr |= calls[i] == nr;
    for (size_t i = 0; i < sizeof on_sockets / sizeof on_sockets[0]; i++)
        if_socket |= on_sockets[i] == nr;
    if (!eintr && !if_socket)
        return false;
    unsigned long long w[8];
    p = end;
    for (int i = 0; i < 8; i++) {
        w[i] = strtoull(p, &end, 16);
        if (end == p)
            return false;
        p = end;
    }
    if (if_socket) { /* its descriptor: the first argument (sendfile's out_fd too) */
        char fd[64], target[32];
        snprintf(fd, sizeof fd, "/proc/%d/fd/%llu", (int)pid, w[0]);
        ssize_t n = readlink(fd, target, sizeof target - 1);
        if (n < 7 || memcmp(target, "socket:", 7) != 0)
            return false;
    }
    t->sp = w[6];
    t->flags = MS_LEAK_THREAD_UNSTOPPED;
    return true;
}

/* Seizes and interrupts thread tid, without waiting for its stop. Returns 0, 1 when it is gone
 * (it exited meanwhile), or -1 with errno. */
static int interrupt_one(pid_t tid)
{
    if (ptrace(PTRACE_SEIZE, tid, NULL, NULL) != 0)
        return errno == ESRCH ? 1 : -1;
    /* ESRCH: it died since (its wait below finds it gone and lets go of it) */
    ptrace(PTRACE_INTERRUPT, tid, NULL, NULL);
    return 0;
}

/* Reads the registers of seized thread tid, once it is in its stop (t->tid set). Returns 0, 1
 * while it has not stopped yet, 2 when it is gone (then let go of), or -1 with errno. Its stop
 * is not waited for with waitpid: memscope run's main thread waits for the program (the
 * leader) and, the tracer being of its own thread group, would take the leader's stop as well
 * (it passes over stops). A traced thread's registers are readable once it is in its stop, and
 * not before. */
static int read_one(pid_t pid, struct ms_leak_thread *t)
{
    pid_t tid = (pid_t)t->tid;
    struct user_regs_struct regs;
    struct iovec io = {&regs, sizeof regs};
    if (ptrace(PTRACE_GETREGSET, tid, (void *)1 /* NT_PRSTATUS */, &io) == 0) {
        size_t words = io.iov_len / sizeof(uint64_t);
        memcpy(t->regs, &regs, (words < MS_LEAK_THREAD_REGS ? words : MS_LEAK_THREAD_REGS) * 8);
#if defined(__x86_64__)
        t->sp = regs.rsp;
#elif defined(__aarch64__)
        t->sp = regs.sp;
#endif
        return 0;
    }
    int e = errno;
    if (e == ESRCH && !thread_gone(pid, tid))
        return 1;
    if (e == ESRCH) {
        linger(tid);
        return 2;
    }
    linger(tid);
    errno = e;
    return -1;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Waits for the seized threads s->v[from, s->n) to stop and reads their registers, dropping
 * those that died; every thread is interrupted first and then waited for, so that the stops of
 * many threads overlap. Returns 0 or an errno. */
static int read_all(pid_t pid, struct stopped *s, size_t from)
{
    double give_up = now_s() + MS_LEAK_STOP_WAIT_MS / 1000.0 / 2;
    size_t left = s->n - from;
    bool *done = calloc(s->n, sizeof *done);
    if (!done)
        return ENOMEM;
    int rc = 0;
    while (left && !rc) {
        for (size_t i = from; i < s->n && !rc; i++) {
            if (done[i])
                continue;
            if (s->v[i].flags & MS_LEAK_THREAD_UNSTOPPED) {
                done[i] = true;
                left--;
                continue;
            }
            int r = read_one(pid, &s->v[i]);
            if (r == 1)
                continue;
            if (r < 0)
                rc = errno ? errno : EPERM;
            done[i] = true;
            left--;
            if (r == 2)
                s->v[i].tid = 0; /* gone: dropped below */
        }
        if (left && !rc) {
            if (now_s() > give_up)
                rc = ETIMEDOUT;
            struct timespec w = {0, 20000};
            nanosleep(&w, NULL);
        }
    }
    free(done);
    /* the gone ones out (and, on an error, the ones not read are let go with the rest) */
    size_t k = from;
    for (size_t i = from; i < s->n; i++)
        if (s->v[i].tid)
            s->v[k++] = s->v[i];
    s->n = k;
    return rc;
}

static void let_go(struct stopped *s)
{
    for (size_t i = 0; i < s->n; i++) {
        pid_t tid = (pid_t)s->v[i].tid;
        if (s->v[i].flags & MS_LEAK_THREAD_UNSTOPPED)
            continue; /* never seized */
        linger(tid);
    }
    s->n = 0;
}

/* Stops every thread of pid but caller, listing them again until no new one appears (a thread
 * not yet stopped may make another). Returns 0 or an errno. */
static int stop_all(pid_t pid, uint64_t caller, struct stopped *s)
{
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d/task", (int)pid);
    for (int pass = 0; pass < 16; pass++) {
        DIR *d = opendir(dir);
        if (!d)
            return errno;
        size_t from = s->n;
        struct dirent *e;
        int rc = 0;
        while (!rc && (e = readdir(d))) {
            long tid = strtol(e->d_name, NULL, 10);
            if (tid <= 0 || (uint64_t)tid == caller || have(s, (uint64_t)tid))
                continue;
            if (s->n == MS_LEAK_MAX_THREADS) {
                rc = E2BIG;
                break;
            }
            if (thread_gone(pid, (pid_t)tid))
                continue; /* a zombie (a leader that called pthread_exit): no stack, no registers */
            struct ms_leak_thread *t = &s->v[s->n];
            memset(t, 0, sizeof *t);
            t->tid = (uint64_t)tid;
            if (blocked_in_eintr_call(pid, (pid_t)tid, t)) {
                s->n++; /* left running: not seized, not read */
                continue;
            }
            int r = interrupt_one((pid_t)tid);
            if (r < 0)
                rc = errno ? errno : EPERM;
            else if (r == 0)
                s->n++;
        }
        closedir(d);
        int r = read_all(pid, s, from);
        if (rc || r)
            return rc ? rc : r;
        if (s->n == from)
            return 0;
    }
    return EAGAIN; /* threads made faster than they are stopped */
}

/* A task of pid whose memory can be read at addr: pid itself, or when its leader is gone (it
 * called pthread_exit: a zombie has no memory) another of its threads. 0: none. */
static pid_t memory_task(pid_t pid, uint64_t addr)
{
    uint64_t word;
    if (remote(pid, addr, &word, sizeof word, false) == 0)
        return pid;
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d/task", (int)pid);
    DIR *d = opendir(dir);
    pid_t found = 0;
    struct dirent *e;
    while (d && !found && (e = readdir(d))) {
        long tid = strtol(e->d_name, NULL, 10);
        if (tid > 0 && remote((pid_t)tid, addr, &word, sizeof word, false) == 0)
            found = (pid_t)tid;
    }
    if (d)
        closedir(d);
    return found;
}

/* Whether the request at addr is still the one read (serial), unanswered. */
static bool still_asked(pid_t mem, uint64_t addr, uint64_t serial)
{
    struct ms_leak_stop now;
    size_t len = offsetof(struct ms_leak_stop, threads);
    return remote(mem, addr, &now, len, false) == 0 && now.state == MS_LEAK_STOP_ASKED &&
           now.serial == serial;
}

/* One request, at addr in the program pid. */
static void serve(pid_t pid, uint64_t addr)
{
    struct ms_leak_stop head;
    size_t head_len = offsetof(struct ms_leak_stop, threads);
    pid_t mem = memory_task(pid, addr);
    if (!mem || remote(mem, addr, &head, head_len, false) != 0 ||
        head.magic != MS_LEAK_STOP_MAGIC || head.state != MS_LEAK_STOP_ASKED)
        return;
    struct stopped s = {calloc(MS_LEAK_MAX_THREADS, sizeof *s.v), 0};
    int rc = s.v ? stop_all(pid, head.caller_tid, &s) : ENOMEM;
    if (rc)
        let_go(&s);
    /* The program may have given up meanwhile: then nothing is written (the request stays the
     * program's for its life, so a write that comes late anyway lands in memscope's memory). */
    if (!still_asked(mem, addr, head.serial)) {
        let_go(&s);
        free(s.v);
        return;
    }
    uint64_t counts[2] = {s.n, (uint64_t)rc};
    uint64_t answer[2] = {rc ? MS_LEAK_STOP_FAILED : MS_LEAK_STOP_STOPPED, head.serial};
    /* the threads first, the state (with its answer) last: the program reads them once it sees
     * the state */
    if ((s.n && remote(mem, addr + head_len, s.v, s.n * sizeof *s.v, true) != 0) ||
        remote(mem, addr + offsetof(struct ms_leak_stop, nthreads), counts, sizeof counts, true) !=
            0 ||
        remote(mem, addr + offsetof(struct ms_leak_stop, state), answer, sizeof answer, true) !=
            0) {
        let_go(&s);
        free(s.v);
        return;
    }
    /* Until the program says it has its snapshot (or gives up, or is gone): it waits for the
     * state for MS_LEAK_STOP_WAIT_MS, so this waits longer, by the clock. */
    double give_up = now_s() + 4 * MS_LEAK_STOP_WAIT_MS / 1000.0;
    while (s.n && now_s() < give_up) {
        uint64_t state;
        if (remote(mem, addr + offsetof(struct ms_leak_stop, state), &state, sizeof state, false) !=
                0 ||
            state != MS_LEAK_STOP_STOPPED)
            break;
        struct timespec t = {0, 50000};
        nanosleep(&t, NULL);
    }
    let_go(&s);
    free(s.v);
}

static void *serve_main(void *arg)
{
    (void)arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, ms_thread_stop_signal());
    for (;;) {
        siginfo_t si;
        struct timespec ten_ms = {0, 10000000};
        int got = nlingering ? sigtimedwait(&set, &si, &ten_ms) : sigwaitinfo(&set, &si);
        lingering_retry();
        if (got < 0)
            continue;
        if (si.si_pid == getpid() && si.si_code == SI_QUEUE && !si.si_value.sival_ptr)
            return NULL; /* ms_thread_stop_end */
        /* from the program itself only: its snapshot is made by the thread that asks */
        if (si.si_code == SI_QUEUE && si.si_pid == program)
            serve(program, (uint64_t)(uintptr_t)si.si_value.sival_ptr);
    }
}

int ms_thread_stop_start(pid_t pid)
{
    program = pid;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* its signals stay the main thread's */
    running = pthread_create(&server, NULL, serve_main, NULL) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return running ? 0 : -1;
}

void ms_thread_stop_end(void)
{
    if (!running)
        return;
    pthread_sigqueue(server, ms_thread_stop_signal(), (union sigval){.sival_ptr = NULL});
    pthread_join(server, NULL);
    running = false;
}
