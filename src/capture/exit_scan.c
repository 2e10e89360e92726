/* The leak scan's snapshot at exit, the library's side (exit_scan.h). */
#define _GNU_SOURCE
#define UNW_LOCAL_ONLY
#include "exit_scan.h"

#include "../common/leak_handshake.h"
#include "../common/trace_format.h"
#include "config.h"
#include "module_map.h"
#include "own_memory.h"
#include "runtime.h"
#include "spinlock.h"
#include "thread_state.h"
#include "trace_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <libunwind.h>
#include <string.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static struct ms_leak_handshake handshake;

/* Whether the thread whose /proc/self/task entry is name has begun to exit: the kernel sets
 * PF_EXITING (0x4 in field 9 of its stat) at the start of its exit, before it wakes a
 * pthread_join, so a thread the program has joined never counts, however long the kernel
 * takes to remove it from the list under load. */
static bool task_exiting(int dir, const char *name)
{
    char path[64] = "";
    size_t n = strlen(name);
    if (n + sizeof "/stat" > sizeof path)
        return false;
    memcpy(path, name, n);
    memcpy(path + n, "/stat", sizeof "/stat");
    int fd = openat(dir, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return true; /* gone since the listing */
    char buf[512];
    long got = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (got <= 0)
        return true;
    buf[got] = 0;
    const char *p = strrchr(buf, ')'); /* the name (field 2) may hold spaces and parentheses */
    if (!p)
        return false;
    /* After ')': state (field 3), then fields 4..8, then flags (field 9). */
    for (int field = 2; field < 9 && p; field++)
        p = strchr(p + 1, ' ');
    if (!p)
        return false;
    unsigned long flags = 0;
    for (p++; *p >= '0' && *p <= '9'; p++)
        flags = flags * 10 + (unsigned long)(*p - '0');
    return (flags & 0x4) != 0;
}

int ms__exit_scan_threads(void)
{
    int fd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char buf[1024]; /* small: an on-demand check may run in a signal handler */
    int n = 0;
    for (;;) {
        long got = syscall(SYS_getdents64, fd, buf, sizeof buf);
        if (got <= 0)
            break;
        for (long off = 0; off < got;) {
            struct {
                uint64_t ino;
                int64_t off;
                unsigned short reclen;
                unsigned char type;
                char name[];
            } *d = (void *)(buf + off);
            n += d->name[0] != '.' && !task_exiting(fd, d->name);
            off += d->reclen;
        }
    }
    close(fd);
    return n;
}

/* The stack pointer of exit()'s caller as it called exit (main's caller after main returned),
 * or 0 if no frame of the walk is exit's. Below it lie exit's frames and memscope's, and the
 * frames of functions that have returned: memcheck, which tracks the stack pointer, sees the
 * stale words there as undefined and never counts them as pointers. */
static uintptr_t exit_caller_sp(void)
{
    uintptr_t ex = (uintptr_t)&exit;
    unw_context_t uc;
    unw_cursor_t c;
    if (unw_getcontext(&uc) != 0 || unw_init_local(&c, &uc) != 0)
        return 0;
    for (int i = 0; i < 16 && unw_step(&c) > 0; i++) {
        unw_word_t ip = 0, sp = 0;
        unw_get_reg(&c, UNW_REG_IP, &ip);
        /* exit ends with its call of __run_exit_handlers: its return address may lie just
         * past it, hence ip - 1 */
        if (ip - 1 >= ex && ip - 1 < ex + 256) {
            if (unw_step(&c) <= 0 || unw_get_reg(&c, UNW_REG_SP, &sp) != 0)
                return 0;
            return (uintptr_t)sp;
        }
    }
    return 0;
}

/* The snapshot: a copy of the exiting process (a clone without its descriptors, with every
 * signal blocked) that memscope run reads and then kills. It runs no code of libc's but system
 * calls, and ends by itself when memscope run is gone or after MS_LEAK_SNAPSHOT_MAX_S. */
static __attribute__((noreturn, noinline)) void snapshot_main(long scanner)
{
    uint64_t all = ~(uint64_t)0; /* blocked already by the clone's parent: kept so */
    syscall(SYS_rt_sigprocmask, SIG_BLOCK, &all, NULL, sizeof all);
    if (syscall(SYS_close_range, 0u, ~0u, 0u) != 0)
        for (int fd = 0; fd < 65536; fd++)
            syscall(SYS_close, fd);
    for (long t = 0; t < MS_LEAK_SNAPSHOT_MAX_S * 100L && syscall(SYS_getppid) == scanner; t++) {
        struct timespec ten_ms = {0, 10000000};
        syscall(SYS_nanosleep, &ten_ms, NULL);
    }
    for (;;)
        syscall(SYS_exit_group, 0);
}

/* Whether a seccomp filter (or strict mode) confines the process: a clone could then kill it
 * (SIGSYS) or run its own SIGSYS handler. Read with system calls only. */
static bool sandboxed(void)
{
    int fd = (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return true; /* cannot tell: no snapshot */
    char buf[4096];
    long n = syscall(SYS_read, fd, buf, sizeof buf - 1);
    syscall(SYS_close, fd);
    if (n <= 0)
        return true;
    buf[n] = 0;
    const char *p = strstr(buf, "\nSeccomp:");
    if (!p)
        return false; /* a kernel without seccomp */
    p += sizeof "\nSeccomp:" - 1;
    while (*p == ' ' || *p == '\t')
        p++;
    return *p != '0';
}

/* The ranges the program asked a fork not to copy as they are (madvise), with the advice that
 * undoes it; past FORK_FLAG_RANGES of them, every mapping smaps shows with either flag. Each
 * entry is whole once its advice is set. */
#define FORK_FLAG_RANGES 256
struct lifted {
    uintptr_t lo, hi;
    _Atomic int advice;
};
static struct lifted asked[FORK_FLAG_RANGES];
static atomic_size_t n_asked;

void ms__exit_scan_fork_flags_asked(void *addr, size_t len, int advice)
{
    size_t i = atomic_fetch_add(&n_asked, 1);
    if (i >= FORK_FLAG_RANGES)
        return;
    asked[i].lo = (uintptr_t)addr;
    asked[i].hi = (uintptr_t)addr + len;
    atomic_store(&asked[i].advice, advice == MADV_DONTFORK ? MADV_DOFORK : MADV_KEEPONFORK);
}

/* The start of smaps line l as a range, if it is a mapping's first line ("lo-hi perms ..."). */
static bool smaps_range(const char *l, uintptr_t *lo, uintptr_t *hi)
{
    char *end;
    unsigned long a = strtoul(l, &end, 16);
    if (end == l || *end != '-')
        return false;
    const char *b = end + 1;
    unsigned long z = strtoul(b, &end, 16);
    if (end == b || *end != ' ')
        return false;
    *lo = a;
    *hi = z;
    return true;
}

/* Whether the VmFlags line l has the two-letter flag f. */
static bool has_flag(const char *l, const char *f)
{
    for (const char *p = l + sizeof "VmFlags:" - 1; (p = strstr(p, f)); p += 2)
        if (p[-1] == ' ' && (p[2] == ' ' || p[2] == '\n' || p[2] == 0))
            return true;
    return false;
}

/* The ranges whose flags a snapshot lifts: the program's own list (asked), or one read from
 * smaps into memscope's own memory (buf, of len bytes). */
struct fork_flags {
    struct lifted *v;
    size_t n;
    void *buf;
    size_t len;
};

/* Memory that a fork leaves out (MADV_DONTFORK) or gives the child zeroed (MADV_WIPEONFORK) is
 * copied into the snapshot as it is: a block pointed to only from there would otherwise come
 * out lost where memcheck finds it reachable. The flags are lifted on the ranges the program
 * gave madvise only: the kernel and drivers set them on mappings of their own (perf ring
 * buffers, device memory), which must stay out of the clone. Past FORK_FLAG_RANGES calls, from
 * smaps (about 45 ms per GiB mapped), every mapping with either flag. */
static struct fork_flags fork_flags_from_smaps(void)
{
    enum { BUF = 65536, MAX = 4096 };
    struct fork_flags f = {NULL, 0, NULL, BUF + MAX * sizeof(struct lifted)};
    char *buf =
        ms__own_map(NULL, f.len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buf == MAP_FAILED)
        return (struct fork_flags){0};
    f.buf = buf;
    struct lifted *v = f.v = (struct lifted *)(buf + BUF);
    size_t n = 0, have = 0;
    uintptr_t lo = 0, hi = 0;
    int fd = (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/smaps", O_RDONLY | O_CLOEXEC);
    for (long r = 1; fd >= 0 && r > 0 && n < MAX;) {
        r = syscall(SYS_read, fd, buf + have, BUF - 1 - have);
        have += r > 0 ? (size_t)r : 0;
        buf[have] = 0;
        char *line = buf, *nl;
        while ((nl = strchr(line, '\n')) || (r <= 0 && *line)) {
            if (nl)
                *nl = 0;
            if (!smaps_range(line, &lo, &hi) && !strncmp(line, "VmFlags:", 8) && hi > lo) {
                if (has_flag(line, "dc") && n < MAX)
                    v[n++] = (struct lifted){lo, hi, MADV_DOFORK};
                if (has_flag(line, "wf") && n < MAX)
                    v[n++] = (struct lifted){lo, hi, MADV_KEEPONFORK};
            }
            if (!nl) {
                line += strlen(line);
                break;
            }
            line = nl + 1;
        }
        have -= (size_t)(line - buf);
        memmove(buf, line, have);
        if (have == BUF - 1)
            have = 0; /* a line longer than the buffer: not one of ours */
    }
    if (fd >= 0)
        syscall(SYS_close, fd);
    f.n = n;
    return f;
}

static struct fork_flags fork_flags(void)
{
    size_t n = atomic_load(&n_asked);
    if (n > FORK_FLAG_RANGES)
        return fork_flags_from_smaps();
    return (struct fork_flags){asked, n, NULL, 0};
}

/* Lifts the flags. Applied once smaps is closed: each call may split or merge the mappings it
 * lists. */
static void fork_flags_lift(const struct fork_flags *f)
{
    for (size_t i = 0; i < f->n; i++) {
        int advice = atomic_load(&f->v[i].advice);
        if (advice)
            syscall(SYS_madvise, f->v[i].lo, f->v[i].hi - f->v[i].lo, advice);
    }
}

static void fork_flags_free(struct fork_flags *f)
{
    if (f->buf)
        ms__own_unmap(f->buf, f->len);
}

void ms__exit_scan_lift_fork_flags(void)
{
    struct fork_flags f = fork_flags();
    fork_flags_lift(&f);
    fork_flags_free(&f);
}

/* ---- the other threads, stopped by memscope run for the snapshot (leak_handshake.h) ---- */

static void let_go(struct ms_leak_stop *r, uint64_t state);

static uint64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* Whether thread tid is one that memscope run stopped (ctx: the request). */
static bool is_stopped(const void *ctx, uint32_t tid)
{
    const struct ms_leak_stop *r = ctx;
    for (uint64_t i = 0; i < r->nthreads; i++)
        if (r->threads[i].tid == tid && !(r->threads[i].flags & MS_LEAK_THREAD_UNSTOPPED))
            return true;
    return false;
}

/* No other thread inside memscope (a hook, a flush, a lock), as far as this thread can tell:
 * with r, the threads it lists stopped (their hooks are looked at), else while they run. */
static bool others_quiet(const struct ms_leak_stop *r)
{
    return atomic_load(&ms__spin_held) <= 0 && ms__slots_quiet(r ? is_stopped : NULL, r);
}

/* The request: one for the process's life, never unmapped, so that a late write of memscope
 * run's (to a request the program gave up on) lands in memscope's own memory. Requests are
 * made one at a time (the finishing thread, a check: MS_CHECK_PENDING's rule). */
static struct ms_leak_stop *stop_map(void)
{
    static struct ms_leak_stop *request;
    if (!request) {
        void *p = ms__own_map(NULL, sizeof(struct ms_leak_stop), PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        request = p == MAP_FAILED ? NULL : p;
    }
    return request;
}

/* Has memscope run (scanner) stop the process's other threads. Returns the request, their
 * registers in it (to be given to let_go), or NULL when they could not be stopped. */
static struct ms_leak_stop *stop_others(long scanner)
{
    struct ms_leak_stop *r = stop_map();
    if (!r)
        return NULL;
    r->magic = MS_LEAK_STOP_MAGIC;
    r->caller_tid = (uint64_t)syscall(SYS_gettid);
    uint64_t serial = ++r->serial;
    __atomic_store_n(&r->state, MS_LEAK_STOP_ASKED, __ATOMIC_SEQ_CST);
    siginfo_t info;
    memset(&info, 0, sizeof info);
    info.si_signo = SIGRTMIN + MS_LEAK_STOP_RT;
    info.si_code = SI_QUEUE;
    info.si_pid = (pid_t)syscall(SYS_getpid);
    info.si_uid = (uid_t)syscall(SYS_getuid);
    info.si_value.sival_ptr = r;
    uint64_t state = MS_LEAK_STOP_FAILED;
    if (syscall(SYS_rt_sigqueueinfo, scanner, info.si_signo, &info) == 0) {
        /* memscope run writes the state with process_vm_writev: read it as memory it changes.
         * Waited for by the clock, not by the sleeps, which a loaded machine makes longer. */
        uint64_t give_up = mono_ms() + MS_LEAK_STOP_WAIT_MS;
        for (;;) {
            state = __atomic_load_n(&r->state, __ATOMIC_SEQ_CST);
            if (state != MS_LEAK_STOP_ASKED &&
                __atomic_load_n(&r->answer, __ATOMIC_SEQ_CST) != serial) {
                /* a late answer to the request before: this one is still asked */
                __atomic_compare_exchange_n(&r->state, &state, MS_LEAK_STOP_ASKED, false,
                                            __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
                state = MS_LEAK_STOP_ASKED;
            }
            if (state != MS_LEAK_STOP_ASKED || mono_ms() > give_up)
                break;
            struct timespec t = {0, 100000};
            syscall(SYS_nanosleep, &t, NULL);
        }
    }
    if (state == MS_LEAK_STOP_STOPPED && r->nthreads <= MS_LEAK_MAX_THREADS)
        return r;
    let_go(r, state == MS_LEAK_STOP_ASKED ? MS_LEAK_STOP_GAVE_UP : MS_LEAK_STOP_CLONED);
    return NULL;
}

/* Tells memscope run that the threads may go on (state: CLONED, or GAVE_UP). */
static void let_go(struct ms_leak_stop *r, uint64_t state)
{
    __atomic_store_n(&r->state, state, __ATOMIC_SEQ_CST);
}

/* What a snapshot needs that takes a lock another thread could hold (the loader's, for the
 * library's extent; memscope's own-memory list, for mappings), got before the other threads
 * are stopped. */
struct prepared {
    struct ms__own_range *r; /* MS_LEAK_MAX_OWN_RANGES */
    uintptr_t lo, hi;        /* memscope's library */
    struct fork_flags flags;
};

#define RANGES_LEN (MS_LEAK_MAX_OWN_RANGES * sizeof(struct ms__own_range))

/* at_exit: the fork flags are to be lifted for the clone. Not at a check, where the process goes
 * on: putting them back after the clone would undo what the program itself asked since (a
 * MADV_DOFORK, a range unmapped and mapped again), so such memory stays out of a check's
 * snapshot (docs/leak-kinds.md). */
static bool prepare(struct prepared *p, bool at_exit)
{
    p->r =
        ms__own_map(NULL, RANGES_LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p->r == MAP_FAILED)
        return false;
    ms__module_extent_of((const void *)&ms__exit_scan_at_exit, &p->lo, &p->hi);
    p->flags = at_exit ? fork_flags() : (struct fork_flags){0};
    ms__writer_modules_freeze(true); /* until the threads go on */
    return true;
}

static void prepared_free(struct prepared *p)
{
    ms__writer_modules_freeze(false);
    fork_flags_free(&p->flags);
    ms__own_unmap(p->r, RANGES_LEN);
}

/* The snapshot of the process as it is now, for memscope run (the scanner) to scan: the
 * handshake filled with memscope's own memory and this thread's stack from stack_lo up, the
 * madvise flags lifted for the clone at exit (prepare), the clone. others: the other threads,
 * stopped (ms__exit_scan_at_exit), whose registers the clone holds; they go on after it. */
static struct ms__exit_scan take(long scanner, uintptr_t stack_lo, bool at_exit, struct prepared *p,
                                 struct ms_leak_stop *others)
{
    bool lost = false;
    size_t n = 0;
    /* never waits: with the others stopped, none holds the lock (or none is there) */
    if (!ms__own_ranges_try(p->r, MS_LEAK_MAX_OWN_RANGES, &n, &lost)) {
        prepared_free(p);
        return (struct ms__exit_scan){0};
    }
    if (n > MS_LEAK_MAX_OWN_RANGES) {
        n = MS_LEAK_MAX_OWN_RANGES;
        lost = true;
    }
    /* The last block a realloc resized, kept for sampling: not the program's pointer. */
    uintptr_t realloc_old = ms__tls.realloc_old;
    ms__tls.realloc_old = 0;
    handshake =
        (struct ms_leak_handshake){.magic = MS_LEAK_HANDSHAKE_MAGIC,
                                   .stack_lo = stack_lo,
                                   .lib_lo = p->lo,
                                   .lib_hi = p->hi,
                                   .ranges = (uint64_t)(uintptr_t)p->r,
                                   .nranges = n,
                                   .ranges_lost = lost,
                                   .threads = others ? (uint64_t)(uintptr_t)others->threads : 0,
                                   .nthreads = others ? others->nthreads : 0};
    fork_flags_lift(&p->flags);
    /* memscope run's child, not this process's: the program never sees it (no SIGCHLD, no
     * child to wait for), and memscope run may read it (a process may read its children). No
     * fork handlers run: nothing of the program's happens in the copy. It has its name
     * (MS_LEAK_SNAPSHOT_NAME, by which memscope run kills it) from the start: this thread takes
     * it for the clone and gets its own back at once. */
    char name[17] = {0};
    syscall(SYS_prctl, PR_GET_NAME, (unsigned long)name, 0UL, 0UL, 0UL);
    syscall(SYS_prctl, PR_SET_NAME, (unsigned long)MS_LEAK_SNAPSHOT_NAME, 0UL, 0UL, 0UL);
    /* Every signal blocked across the clone: the copy has the program's handlers, and one run
     * there before snapshot_main blocks them would be the program's code in the snapshot (a
     * signal arriving meanwhile waits in the process and is delivered when it is unblocked). */
    uint64_t all = ~(uint64_t)0, mask;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, &mask, sizeof mask);
    long pid = syscall(SYS_clone, (unsigned long)(CLONE_PARENT | SIGCHLD), 0UL, NULL, NULL, 0UL);
    if (pid == 0)
        snapshot_main(scanner);
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &mask, NULL, sizeof mask);
    syscall(SYS_prctl, PR_SET_NAME, (unsigned long)name, 0UL, 0UL, 0UL);
    ms__tls.realloc_old = realloc_old;
    if (!at_exit)
        ms__own_unmap(p->r, RANGES_LEN); /* the snapshot has its copy */
    fork_flags_free(&p->flags);
    if (!others) /* else when they go on (ms__exit_scan_release) */
        ms__writer_modules_freeze(false);
    /* no snapshot (a process limit, say): the END still says one was asked for */
    return (struct ms__exit_scan){.handshake = (uint64_t)(uintptr_t)&handshake,
                                  .pid = pid > 0 ? (uint64_t)pid : 0};
}

/* memscope run's pid when it is this process's parent and asked for scans, else 0. */
static long scanner_now(void)
{
    long scanner = ms__config.leak_scan;
    return scanner && syscall(SYS_getppid) == scanner ? scanner : 0;
}

/* Has memscope run stop the other threads, until none of them is inside memscope (a hook, a
 * flush, a lock: this thread could wait for it for ever, and its event would be half
 * recorded), for at most wait_ms. At exit their hooks pass straight through meanwhile (the
 * caller has stopped tracking), so each leaves memscope soon; at a check they go on recording,
 * and the wait is short (a program whose threads allocate without pause gets no check). Returns
 * them stopped, or NULL with *refused set. */
static struct ms_leak_stop *stop_quiet(long scanner, int *refused, uint64_t wait_ms)
{
    uint64_t give_up = mono_ms() + wait_ms;
    for (int attempt = 0;; attempt++) {
        /* Running, they leave memscope as soon as they get the processor: waited for first, so
         * that they are not stopped inside it (one preempted there, on a loaded machine). */
        while (!others_quiet(NULL) && mono_ms() < give_up) {
            struct timespec t = {0, 200000};
            syscall(SYS_nanosleep, &t, NULL);
        }
        struct ms_leak_stop *r = stop_others(scanner);
        if (!r) {
            const struct ms_leak_stop *q = stop_map();
            *refused =
                q && q->error == E2BIG ? MS_SCAN_REFUSED_TOO_MANY : MS_SCAN_REFUSED_NOT_STOPPED;
            return NULL;
        }
        if (others_quiet(r))
            return r;
        let_go(r, MS_LEAK_STOP_CLONED);
        if (mono_ms() > give_up || attempt >= 8) {
            *refused = MS_SCAN_REFUSED_IN_MEMSCOPE;
            return NULL;
        }
    }
}

/* A snapshot while the process goes on (a check), or at exit with this thread the only one
 * (threads 1). With other threads (a check only), they are stopped for it: *others, for the
 * caller to let go (ms__exit_scan_release); none stopped, *others NULL. */
static struct ms__exit_scan snapshot(long scanner, uintptr_t stack_lo, bool at_exit, int threads,
                                     struct ms_leak_stop **others)
{
    *others = NULL;
    if (sandboxed()) /* the END says a snapshot was asked for and not made */
        return (struct ms__exit_scan){.handshake = (uint64_t)(uintptr_t)&handshake};
    struct prepared p;
    if (!prepare(&p, at_exit))
        return (struct ms__exit_scan){0};
    if (threads > 1) {
        int refused = 0;
        if (!(*others = stop_quiet(scanner, &refused, MS_LEAK_CHECK_STOP_MS))) {
            prepared_free(&p);
            return (struct ms__exit_scan){.refused = (uint64_t)refused};
        }
    }
    return take(scanner, stack_lo, at_exit, &p, *others);
}

void ms__exit_scan_release(struct ms_leak_stop *stopped)
{
    if (stopped)
        let_go(stopped, MS_LEAK_STOP_CLONED);
    ms__writer_modules_freeze(false);
}

struct ms__exit_scan ms__exit_scan_at_exit(uintptr_t stack_lo, int threads, bool (*flush)(void),
                                           bool *flushed)
{
    int refused = 0;
    long scanner = scanner_now();
    bool want = scanner && !ms__config.sample_bytes && stack_lo && threads >= 1;
    uintptr_t caller = exit_caller_sp();
    stack_lo = caller > stack_lo ? caller : stack_lo;
    if (!want || threads == 1 || sandboxed()) {
        *flushed = flush();
        struct ms_leak_stop *none;
        return want ? snapshot(scanner, stack_lo, true, 1, &none) : (struct ms__exit_scan){0};
    }
    struct prepared p;
    if (!prepare(&p, true)) {
        *flushed = flush();
        return (struct ms__exit_scan){0};
    }
    /* From here the other threads' allocations are not recorded: stopped before the last
     * flush, they have none between it and the snapshot, and the blocks live at the flush are
     * those of the snapshot, unless one of them allocated or freed before it was stopped. */
    atomic_store(&ms__passes, 0);
    atomic_store(&ms__count_passes, true);
    atomic_store(&ms__active, false);
    struct ms_leak_stop *others = stop_quiet(scanner, &refused, MS_LEAK_STOP_WAIT_MS);
    *flushed = flush();
    atomic_store(&ms__count_passes, false);
    if (others && atomic_load(&ms__passes)) {
        let_go(others, MS_LEAK_STOP_CLONED);
        others = NULL;
        refused = MS_SCAN_REFUSED_ALLOCATING;
    }
    if (!others) {
        prepared_free(&p);
        return (struct ms__exit_scan){.refused = (uint64_t)refused};
    }
    uint64_t unstopped = 0;
    for (uint64_t i = 0; i < others->nthreads; i++)
        unstopped += (others->threads[i].flags & MS_LEAK_THREAD_UNSTOPPED) != 0;
    struct ms__exit_scan scan = take(scanner, stack_lo, true, &p, others);
    ms__exit_scan_release(others); /* the snapshot has their registers: they go on */
    scan.unstopped = scan.pid ? unstopped : 0;
    return scan;
}

int ms__exit_scan_check(uintptr_t stack_lo, bool at_peak, int threads, struct ms__exit_scan *out,
                        struct ms_leak_stop **stopped)
{
    *out = (struct ms__exit_scan){0};
    *stopped = NULL;
    long scanner = scanner_now();
    if (!scanner)
        return MS_CHECK_NO_SCANNER;
    if (ms__config.sample_bytes)
        return MS_CHECK_SAMPLED;
    /* One snapshot at a time: memscope run reaps each once it is scanned (until then, even
     * dead, its pid stays taken). A check right after another waits for it, as valgrind's
     * checks are made one after the other, but at most MS_LEAK_CHECK_WAIT_MS, and once only
     * when memscope run does not keep up. A check at the peak waits for none: memscope run keeps
     * the last one's snapshot only, killing the one before once it has the next. */
    static long last;
    static bool gave_up;
    for (int ms = 0;
         !at_peak && last && !gave_up && ms < MS_LEAK_CHECK_WAIT_MS && !syscall(SYS_kill, last, 0);
         ms++) {
        struct timespec one_ms = {0, 1000000};
        syscall(SYS_nanosleep, &one_ms, NULL);
    }
    if (!at_peak && last && syscall(SYS_kill, last, 0) == 0) {
        gave_up = true;
        return MS_CHECK_PENDING;
    }
    *out = snapshot(scanner, stack_lo, false, threads, stopped);
    if (out->refused)
        return MS_CHECK_THREADS; /* they could not be stopped */
    if (!at_peak) {
        gave_up = false;
        last = (long)out->pid;
    } else if (out->pid) {
        /* The one before is of a lower high: killed now, not when memscope run's replay gets
         * here, so that the program's writes copy the pages of one snapshot only. Its pid stays
         * taken until memscope run reaps it, which it does at the next peak check only. */
        static long last_peak;
        if (last_peak)
            syscall(SYS_kill, last_peak, SIGKILL);
        last_peak = (long)out->pid;
    }
    if (!out->pid)
        return out->handshake ? MS_CHECK_SANDBOXED : MS_CHECK_NO_SNAPSHOT;
    return MS_CHECK_MADE;
}
