/* Creates this process's trace file (mode 0600, never through a symlink, never over another
 * file), writes the header, PROCESS and MODULES chunks, then compresses and appends chunks. */
#define _GNU_SOURCE
#include "trace_writer.h"
#include "own_memory.h"

#include "../common/chunk_codec.h"
#include "config.h"
#include "diag.h"
#include "module_map.h"
#include "own_fd.h"
#include "spinlock.h"
#include "spool.h"
#include "runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>

#define MODULES_MAX (4u << 20)
#define POOL 4

/* The trace, on a descriptor out of the program's reach (own_fd.h); written under the write
 * lock only. */
static struct ms__own_fd out = {.fd = -1};
/* Set once the header, PROCESS and MODULES chunks are written: until then, other threads wait
 * on open_lock instead of appending their chunks before the header. */
static atomic_bool ready;
/* Set when the trace cannot be written (any more): nothing is written after that. */
static atomic_bool failed;
/* Set when a chunk was not written because a fatal-signal handler interrupted this thread's
 * own write: the spool then still holds events the trace lacks, and must stay. */
static atomic_bool incomplete;
static char path[4096]; /* absolute: the program may change directory */
/* The zstd level of this process's chunks: MEMSCOPE_COMPRESSION's, or 0 for the root's trace
 * under MEMSCOPE_DEFER_COMPRESSION. Set when the trace is created. */
static atomic_int out_level;
/* Set while out_level is 0 for MEMSCOPE_DEFER_COMPRESSION: a file size limit that the program
 * sets itself makes it compress its chunks after all (raw ones would reach the limit sooner). */
static atomic_bool deferred;
static ms__spinlock open_lock;
static ms__spinlock write_owner;                  /* tid holding the write lock, 0 when free */
static _Atomic uint64_t modules_gen = UINT64_MAX; /* read without the lock */
static ms__spinlock modules_lock;

static uint64_t start_tsc, start_mono_ns, start_real_ns;
static struct ms__fork_origin origin;

struct zctx {
    atomic_int busy;
    ZSTD_CCtx *cctx;
    uint8_t *out;
    size_t out_cap;
};
static struct zctx pool[POOL];

static void *zalloc(void *opaque, size_t size)
{
    (void)opaque;
    size_t total = size + 16;
    void *p = ms__own_map(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    memcpy(p, &total, sizeof total);
    return (uint8_t *)p + 16;
}

static void zfree(void *opaque, void *addr)
{
    (void)opaque;
    if (!addr)
        return;
    uint8_t *base = (uint8_t *)addr - 16;
    size_t total;
    memcpy(&total, base, sizeof total);
    ms__own_unmap(base, total);
}

static uint64_t mono_ns(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void ms__writer_init(void)
{
    start_tsc = ms__now();
    start_mono_ns = mono_ns(CLOCK_MONOTONIC);
    start_real_ns = mono_ns(CLOCK_REALTIME);
}

/* Returns false, without locking, if this thread already holds the lock: a fatal-signal
 * handler interrupted a write, and writing more would split that chunk. */
static bool write_lock(void)
{
    return ms__spin_lock(&write_owner);
}

static void write_unlock(void)
{
    ms__spin_unlock(&write_owner);
}

/* Room kept below RLIMIT_FSIZE for the END chunk that says why tracking stopped. */
#define END_RESERVE 256

static void stop_tracking(const char *why, const char *detail)
{
    if (!atomic_exchange(&failed, true))
        ms__say(why, path, detail);
    atomic_store(&ms__active, false);
    ms__spool_remove();
}

/* The trace's descriptor, checked before each write: the program may have closed it (a loop
 * or close_range() over every descriptor) or put another file on its number (dup2). The trace
 * is then opened again by its path, and must be the same file. Returns false when it is gone. */
static bool trace_fd_check(off_t *size)
{
    if (ms__own_fd_valid(&out, size))
        return true;
    int f = open(path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
    if (f < 0)
        return false;
    struct ms__own_fd again = {.fd = -1};
    if (!ms__own_fd_set(&again, f) || again.dev != out.dev || again.ino != out.ino) {
        close(f);
        return false;
    }
    out.fd = ms__fd_move_high(f);
    return ms__own_fd_valid(&out, size);
}

/* The output operations this thread is in, innermost last: each a buffer's flush or one of the
 * entry points below, with the thread id it began under. A signal handler that forks in the
 * middle of one leaves, in the child, an operation that began in the parent and resumes when
 * the handler returns: what it writes is the parent's (its events were read from the parent's
 * buffer) and must not reach the child's trace, which has no header yet (the chunk would come
 * first: "bad magic"). The child's thread has a new id, so such an operation is told apart by
 * its tid. What the handler does in the child before it returns (allocate, exit, exec) begins
 * operations of its own, above the stale one, and those write. The code inside an operation
 * calls the *_in_op functions, never an entry point, so that the rest of a stale one stays
 * stale. Nested operations of one thread are one run of frames: a new run begins only where the
 * thread id changes (a fork), so MS_OP_RUNS runs are that many nested forks from signal
 * handlers; past them, the innermost run kept stands for the ones above it. */
#define MS_OP_RUNS 8
static __thread struct {
    unsigned runs, extra; /* runs kept; operations entered while all MS_OP_RUNS were in use */
    int tid[MS_OP_RUNS];
    unsigned depth[MS_OP_RUNS];
} op __attribute__((tls_model("initial-exec")));

void ms__writer_enter(void)
{
    int me = ms__self_tid();
    if (op.runs && op.tid[op.runs - 1] == me) {
        op.depth[op.runs - 1]++;
    } else if (op.runs < MS_OP_RUNS) {
        op.tid[op.runs] = me;
        op.depth[op.runs++] = 1;
    } else {
        op.extra++;
    }
}

void ms__writer_leave(void)
{
    if (op.extra)
        op.extra--;
    else if (op.runs && --op.depth[op.runs - 1] == 0)
        op.runs--;
}

/* The innermost operation began in the parent of this forked child: it writes nothing. */
static bool op_stale(void)
{
    return op.runs && op.tid[op.runs - 1] != ms__self_tid();
}

static bool write_iov(struct iovec *iov, int n)
{
    while (n > 0) {
        /* The number first, then the check: a fork between them leaves the parent's number,
         * which the child closed after opening its own trace on another one (EBADF). */
        int fd = atomic_load_explicit(&out.fd, memory_order_relaxed);
        atomic_signal_fence(memory_order_seq_cst);
        if (op_stale())
            return false;
        ssize_t w = writev(fd, iov, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        size_t left = (size_t)w;
        for (; n > 0 && left >= iov->iov_len; iov++, n--)
            left -= iov->iov_len;
        if (n > 0) {
            iov->iov_base = (uint8_t *)iov->iov_base + left;
            iov->iov_len -= left;
        }
    }
    return true;
}

/* Set once a chunk was refused for the file size limit: only the END chunk follows. */
static atomic_bool stopping;

/* Appends one chunk (header and payload) to the trace, under the write lock. A file size limit
 * (ulimit -f) would kill the program with SIGXFSZ: a chunk that would pass it is not written,
 * room is kept for the END chunk that says tracking stopped, and the program runs on untracked.
 * Returns MS_STOP_FILE_SIZE to the one caller that must then write that END chunk, else 0;
 * *written tells whether the chunk is in the trace. */
static int append_chunk(const uint8_t *hdr, const uint8_t *payload, size_t stored, bool is_end,
                        bool *written)
{
    if (atomic_load(&failed) || (!is_end && atomic_load(&stopping)))
        return 0;
    off_t size = 0;
    if (!trace_fd_check(&size)) {
        stop_tracking("the program closed the trace ",
                      ", which cannot be reopened; tracking stopped");
        return 0;
    }
    struct rlimit fsize;
    size_t n = MS_CHUNK_HEADER_SIZE + stored;
    if (getrlimit(RLIMIT_FSIZE, &fsize) == 0 && fsize.rlim_cur != RLIM_INFINITY &&
        (uint64_t)size + n + (is_end ? 0 : END_RESERVE) > fsize.rlim_cur) {
        if (is_end)
            return 0;
        return atomic_exchange(&stopping, true) ? 0 : MS_STOP_FILE_SIZE;
    }
    struct iovec iov[2] = {{(void *)hdr, MS_CHUNK_HEADER_SIZE}, {(void *)payload, stored}};
    if (!write_iov(iov, stored ? 2 : 1)) {
        if (op_stale())
            return 0; /* the parent's chunk, in a child forked meanwhile: the parent writes it */
        char detail[160] = ": ";
        size_t l = strlen(detail);
        const char *e = strerror(errno);
        size_t el = strlen(e);
        if (el > sizeof detail - l - 24)
            el = sizeof detail - l - 24;
        memcpy(detail + l, e, el);
        memcpy(detail + l + el, "; tracking stopped", 19);
        stop_tracking("cannot write the trace ", detail);
        return 0;
    }
    *written = true;
    return 0;
}

static bool write_end(int reason, int code, uint64_t dropped, unsigned threads,
                      const uint64_t scan[4]);

static struct zctx *zctx_get(void)
{
    for (int spin = 0; spin < 1000; spin++) {
        for (int i = 0; i < POOL; i++) {
            int idle = 0;
            if (atomic_compare_exchange_strong(&pool[i].busy, &idle, 1))
                return &pool[i];
        }
        sched_yield();
    }
    return NULL;
}

/* Returns true when the chunk reached the trace. */
static bool write_chunk_in_op(int type, uint32_t tid, uint64_t t0, const uint8_t *raw, size_t len)
{
    if (op_stale())
        return false; /* the parent's chunk, in a child forked meanwhile: the parent writes it */
    if (out.fd < 0 || atomic_load(&failed))
        return false;
    uint8_t hdr[MS_CHUNK_HEADER_SIZE];
    int flags = 0;
    const uint8_t *payload = raw;
    size_t stored = len;
    struct rlimit fsize;
    if (atomic_load(&deferred) && getrlimit(RLIMIT_FSIZE, &fsize) == 0 &&
        fsize.rlim_cur != RLIM_INFINITY && atomic_exchange(&deferred, false))
        atomic_store(&out_level, ms__config.zstd_level);
    struct zctx *z = atomic_load(&out_level) ? zctx_get() : NULL;
    if (z) {
        size_t bound = ZSTD_compressBound(len);
        if (!z->cctx) {
            ZSTD_customMem mem = {zalloc, zfree, NULL};
            z->cctx = ZSTD_createCCtx_advanced(mem);
            if (z->cctx)
                ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_compressionLevel, ms__config.zstd_level);
        }
        if (z->cctx && z->out_cap < bound) {
            zfree(NULL, z->out);
            z->out = zalloc(NULL, bound);
            z->out_cap = z->out ? bound : 0;
        }
        if (z->cctx && z->out) {
            size_t n = ZSTD_compress2(z->cctx, z->out, z->out_cap, raw, len);
            if (!ZSTD_isError(n) && n < len) {
                payload = z->out;
                stored = n;
                flags = MS_CHUNK_ZSTD;
            }
        }
    }
    ms_chunk_header_put(hdr, type, flags, tid, t0, payload, (uint32_t)stored, (uint32_t)len);
    int stop = 0;
    bool written = false;
    if (write_lock()) {
        stop = append_chunk(hdr, payload, stored, type == MS_CHUNK_END, &written);
        write_unlock();
    } else {
        atomic_store(&incomplete, true);
    }
    if (z)
        atomic_store(&z->busy, 0);
    if (stop) {
        write_end(MS_END_STOPPED, stop, 0, 0, NULL);
        stop_tracking("the trace ", " reached the file size limit (ulimit -f); tracking "
                                    "stopped, the program runs on");
    }
    return written;
}

/* A scratch buffer for the small chunks written here (PROCESS, MODULES, END). */
static uint8_t *scratch(size_t size)
{
    static uint8_t *buf;
    if (!buf) {
        void *p = ms__own_map(NULL, MODULES_MAX, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        buf = p == MAP_FAILED ? NULL : p;
    }
    return size <= MODULES_MAX ? buf : NULL;
}

static size_t read_file(const char *name, uint8_t *buf, size_t cap)
{
    int f = open(name, O_RDONLY | O_CLOEXEC);
    if (f < 0)
        return 0;
    size_t n = 0;
    while (n < cap) {
        ssize_t r = read(f, buf + n, cap - n);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(f);
    return n;
}

/* Static, not on the stack: the first chunk may be flushed by a thread with a small stack
 * (PTHREAD_STACK_MIN). Used under open_lock only. */
static char base[sizeof path], cwd[sizeof path], exe_name[sizeof path], default_name[sizeof path];

static void write_process_chunk(void)
{
    uint8_t *buf = scratch(MODULES_MAX);
    if (!buf)
        return;
    ssize_t n = readlink("/proc/self/exe", exe_name, sizeof exe_name - 1);
    exe_name[n > 0 ? n : 0] = 0;
    /* argv from /proc/self/cmdline: NUL-separated, read into the tail of the buffer. */
    char *args = (char *)buf + MODULES_MAX / 2;
    struct ms_chunk_PROCESS pr = {
        .pid = (uint64_t)getpid(),
        .ppid = (uint64_t)getppid(),
        .start_tsc = start_tsc,
        .start_mono_ns = start_mono_ns,
        .start_real_ns = start_real_ns,
        .unwind = (uint64_t)ms__config.unwind,
        .depth = (uint64_t)ms__config.depth,
        .exe = exe_name,
        .exe_len = strlen(exe_name),
        .argv = args,
        .argv_len = read_file("/proc/self/cmdline", (uint8_t *)args, 64 * 1024),
        .fork_parent_pid = (uint64_t)origin.parent_pid,
        .fork_tsc = origin.fork_tsc,
        .node_limit = origin.node_limit,
        .parent_trace = origin.parent_trace,
        .parent_trace_len = strlen(origin.parent_trace),
        .version = MS_VERSION_STRING,
        .version_len = strlen(MS_VERSION_STRING),
        .sample_bytes = ms__config.sample_bytes > 0 ? (uint64_t)ms__config.sample_bytes : 0,
    };
    if (ms_chunk_maxlen_PROCESS(&pr) > MODULES_MAX / 2)
        pr.argv_len = 0; /* cannot happen with 64 KiB of arguments; never overwrite them */
    uint8_t *p = ms_chunk_put_PROCESS(buf, &pr);
    write_chunk_in_op(MS_CHUNK_PROCESS, 0, start_tsc, buf, (size_t)(p - buf));
}

static void write_modules_chunk(void)
{
    uint8_t *buf = scratch(MODULES_MAX);
    if (!buf)
        return;
    uint64_t now = ms__now();
    size_t n = ms__modules_encode(buf, MODULES_MAX, now);
    if (n)
        write_chunk_in_op(MS_CHUNK_MODULES, 0, now, buf, n);
}

static void manifest_add(void)
{
    if (!ms__config.manifest)
        return;
    /* Never blocks on, nor writes into, anything but a regular file (a FIFO or a device put in
     * the manifest's place). */
    int m = open(ms__config.manifest,
                 O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
    if (m < 0)
        return;
    struct stat st;
    if (fstat(m, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(m);
        return;
    }
    size_t len = strlen(path);
    static char newline = '\n';
    struct iovec v[2] = {{path, len}, {&newline, 1}};
    ssize_t w = writev(m, v, 2);
    (void)w;
    close(m);
}

static int try_create(const char *name)
{
    return open(name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_APPEND | O_NOCTTY,
                0600);
}

/* Concatenates the parts (up to a NULL) into path; returns false if they do not fit. */
static bool set_path(const char *const *parts)
{
    size_t n = 0;
    for (; *parts; parts++) {
        size_t l = strlen(*parts);
        if (n + l >= sizeof path)
            return false;
        memcpy(path + n, *parts, l);
        n += l;
    }
    path[n] = 0;
    return true;
}

/* Creates the trace file (and its spool) under a name that exists nowhere yet. */
static void create_trace(void)
{
    char pid[24], num[24];
    ms__utoa((unsigned long long)getpid(), pid);
    const char *dir = "";
    const char *want = ms__config.output;
    if (!want) {
        /* memscope.<program>.<pid>.mstrace in the working directory. */
        ssize_t n = readlink("/proc/self/exe", exe_name, sizeof exe_name - 1);
        exe_name[n > 0 ? n : 0] = 0;
        const char *slash = strrchr(exe_name, '/');
        const char *parts[] = {"memscope.", slash ? slash + 1 : "program", ".", pid, ".mstrace",
                               NULL};
        /* Built in path, then kept apart: path is rebuilt from it below. */
        want = set_path(parts) ? memcpy(default_name, path, sizeof path) : "memscope.mstrace";
    }
    /* Absolute, so that the trace can be reopened after the program changed directory. */
    if (want[0] != '/' && getcwd(cwd, sizeof cwd))
        dir = cwd;
    {
        const char *parts[] = {dir, dir[0] && dir[1] ? "/" : "", want, NULL};
        if (!set_path(parts))
            path[0] = 0;
        memcpy(base, path, sizeof base);
    }
    /* The root process of `memscope run` writes the -o path itself; every other process
     * writes <path>.<pid>; a name that exists already gets .1, .2, ... appended. */
    bool root = ms__config.output && ms__config.root_pid == getpid();
    int f = root && base[0] ? try_create(base) : -1;
    /* Whoever asked for the root's trace raw compresses it (memscope run, trace_compact.h). */
    bool defer = f >= 0 && ms__config.defer_compression && ms__config.zstd_level;
    atomic_store(&deferred, defer);
    atomic_store(&out_level, defer ? 0 : ms__config.zstd_level);
    for (int i = 0; f < 0 && base[0] && (i == 0 || errno == EEXIST) && i < 1000; i++) {
        if (root && i == 0 && errno != EEXIST)
            break;
        ms__utoa((unsigned long long)i, num);
        const char *dot = i ? "." : "", *n = i ? num : "";
        const char *with_pid[] = {base, ".", pid, dot, n, NULL}, *plain[] = {base, dot, n, NULL};
        if (!set_path(ms__config.output ? with_pid : plain))
            break;
        f = try_create(path);
    }
    if (f < 0 || !ms__own_fd_set(&out, ms__fd_move_high(f))) {
        const char *e = base[0] ? strerror(errno) : "the path is too long";
        char detail[128] = ": ";
        size_t el = strlen(e) < sizeof detail - 3 ? strlen(e) : sizeof detail - 3;
        memcpy(detail + 2, e, el);
        detail[2 + el] = 0;
        ms__say("cannot create the trace file ", base[0] ? path : want, detail);
        atomic_store(&failed, true);
        atomic_store(&ms__active, false);
        return;
    }
    manifest_add();
    ms__spool_create(path);
}

/* Writes the header, PROCESS and MODULES chunks: the trace can take events after that. */
static void start_trace(void)
{
    uint8_t hdr[MS_FILE_HEADER_SIZE] = {0};
    memcpy(hdr, MS_TRACE_MAGIC, MS_TRACE_MAGIC_LEN);
    ms_put_le(hdr + 8, MS_TRACE_VERSION, 2);
    ms_put_le(hdr + 10, MS_FILE_HEADER_SIZE, 2);
    struct iovec v = {hdr, sizeof hdr};
    if (!write_iov(&v, 1)) {
        if (!op_stale())
            stop_tracking("cannot write the trace ", "; tracking stopped");
        return;
    }
    write_process_chunk();
    atomic_store(&modules_gen, ms__modules_generation());
    write_modules_chunk();
    if (ms__config.verbose)
        ms__say("writing trace ", path, "");
}

static bool open_in_op(void)
{
    if (atomic_load_explicit(&ready, memory_order_acquire))
        return true;
    if (ms__config.no_trace)
        return false; /* MEMSCOPE_OUTPUT=none: nothing is written, and nothing fails */
    if (atomic_load(&failed))
        return false;
    if (!ms__spin_lock(&open_lock))
        return false; /* a signal handler interrupted this thread's own open */
    if (out.fd < 0 && !atomic_load(&failed))
        create_trace();
    if (out.fd >= 0 && !atomic_load(&failed) && !atomic_load(&ready)) {
        start_trace();
        if (!atomic_load(&failed) && !op_stale())
            atomic_store_explicit(&ready, true, memory_order_release);
    }
    ms__spin_unlock(&open_lock);
    return atomic_load(&ready);
}

static void modules_in_op(void);

/* Inside the caller's operation (a buffer's flush, the fork handler): see ms__writer_enter. */
bool ms__writer_events(uint32_t tid, uint64_t first_tsc, const uint8_t *raw, size_t len)
{
    if (!open_in_op())
        return false;
    bool w = write_chunk_in_op(MS_CHUNK_EVENTS, tid, first_tsc, raw, len);
    modules_in_op();
    return w;
}

/* While the other threads are stopped for a snapshot (ms__writer_modules_freeze): one of them may
 * hold the loader's lock, which ms__modules_generation (dl_iterate_phdr) takes. */
static atomic_bool modules_frozen;

static void modules_in_op(void)
{
    if (!atomic_load(&ready) || atomic_load(&modules_frozen))
        return;
    uint64_t gen = ms__modules_generation();
    if (gen == atomic_load_explicit(&modules_gen, memory_order_relaxed))
        return;
    if (!ms__spin_lock(&modules_lock))
        return;
    if (gen != atomic_load_explicit(&modules_gen, memory_order_relaxed)) {
        atomic_store_explicit(&modules_gen, gen, memory_order_relaxed);
        write_modules_chunk();
        /* Loads and unloads memscope's dlopen/dlclose hooks did not see (glibc's own, for NSS
         * or iconv modules): cached unwind rules may describe code that is gone. */
        atomic_fetch_add(&ms__code_gen, 1);
    }
    ms__spin_unlock(&modules_lock);
}

static bool write_end(int reason, int code, uint64_t dropped, unsigned threads,
                      const uint64_t scan[4])
{
    uint64_t now = ms__now();
    struct ms_chunk_END e = {now,
                             mono_ns(CLOCK_MONOTONIC),
                             (uint64_t)reason,
                             (uint64_t)code,
                             dropped,
                             threads,
                             scan ? scan[0] : 0,
                             scan ? scan[1] : 0,
                             scan ? scan[2] : 0,
                             scan ? scan[3] : 0};
    uint8_t buf[128];
    _Static_assert(sizeof buf >= 8 * MS_VARINT_MAX + 8, "room for the END payload");
    uint8_t *p = ms_chunk_put_END(buf, &e);
    return write_chunk_in_op(MS_CHUNK_END, 0, now, buf, (size_t)(p - buf));
}

static void finish_in_op(int reason, int code, uint64_t dropped, unsigned threads,
                         const uint64_t scan[4], bool flushed)
{
    if (!open_in_op())
        return;
    modules_in_op();
    /* Only when every buffer and the END chunk are in the trace may the spool go: a fatal
     * signal that interrupted this thread's own flush or write left events that only the
     * spool holds now. (If an exec fails, the buffers go on in memory; only a SIGKILL after
     * that loses them.) */
    if (write_end(reason, code, dropped, threads, scan) && flushed && !atomic_load(&incomplete))
        ms__spool_remove();
    if (reason != MS_END_EXEC && write_lock()) {
        atomic_store(&ready, false);
        /* Closed only if the number is still the trace's: the program may have put a file
         * of its own there. */
        if (ms__own_fd_valid(&out, NULL))
            close(out.fd);
        out.fd = -1;
        atomic_store(&failed, true);
        write_unlock();
    }
}

void ms__writer_modules_freeze(bool frozen)
{
    if (frozen)
        ms__writer_modules_if_changed(); /* the list as it is, first */
    atomic_store(&modules_frozen, frozen);
}

void ms__writer_modules_if_changed(void)
{
    ms__writer_enter();
    modules_in_op();
    ms__writer_leave();
}

void ms__writer_finish(int reason, int code, uint64_t dropped, unsigned threads,
                       const uint64_t scan[4], bool flushed)
{
    ms__writer_enter();
    finish_in_op(reason, code, dropped, threads, scan, flushed);
    ms__writer_leave();
}

void ms__writer_after_fork_child(const struct ms__fork_origin *o)
{
    origin = *o;
    atomic_store(&ready, false);
    /* The parent's trace is the parent's: the child neither writes to it nor keeps it open.
     * The number is closed only while it is still the trace: after a close_range() or a dup2()
     * in the parent it is the program's own descriptor, which its child needs. */
    int parents = ms__own_fd_valid(&out, NULL) ? out.fd : -1;
    out.fd = -1;
    atomic_store(&failed, false);
    atomic_store(&stopping, false);
    atomic_store(&incomplete, false);
    ms__spool_after_fork_child();
    path[0] = 0;
    ms__spin_init(&open_lock);
    ms__spin_init(&modules_lock);
    ms__spin_init(&write_owner);
    /* A parent thread may have been inside a context at fork: start with fresh ones (the
     * parent's mappings are left alone). */
    for (int i = 0; i < POOL; i++) {
        pool[i].cctx = NULL;
        pool[i].out = NULL;
        pool[i].out_cap = 0;
        atomic_store(&pool[i].busy, 0);
    }
    ms__writer_init();
    /* The child's trace and spool exist from now on, before its buffers are remapped into the
     * spool (MODULES and the rest wait: the loader's lock may be held by a thread that the fork
     * did not copy). With MEMSCOPE_OUTPUT=none, none. */
    if (!ms__config.no_trace)
        create_trace();
    /* Closed only now, so that the child's trace is on another number: an operation that the
     * fork interrupted may still write to the number it read (see op). */
    if (parents >= 0)
        close(parents);
}

void ms__writer_create(void)
{
    if (!ms__config.no_trace && ms__spin_lock(&open_lock)) {
        if (out.fd < 0 && !atomic_load(&failed))
            create_trace();
        ms__spin_unlock(&open_lock);
    }
}

const char *ms__writer_open(void)
{
    ms__writer_enter();
    bool ready_ = open_in_op();
    ms__writer_leave();
    return ready_ ? path : "";
}

const char *ms__writer_path(void)
{
    return path;
}

bool ms__writer_lock(void)
{
    return write_lock();
}

void ms__writer_unlock(void)
{
    write_unlock();
}
