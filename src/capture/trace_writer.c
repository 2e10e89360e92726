/* Creates this process's trace file (mode 0600, never through a symlink, never over another
 * file), writes the header, PROCESS and MODULES chunks, then compresses and appends chunks. */
#define _GNU_SOURCE
#include "trace_writer.h"
#include "unwind_fast.h"

#include "../common/trace_format.h"
#include "../common/varint.h"
#include "config.h"
#include "diag.h"
#include "module_map.h"
#include "spinlock.h"
#include "thread_state.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>

#define MODULES_MAX (4u << 20)
#define POOL 4

static int fd = -1;
/* Set once the header, PROCESS and MODULES chunks are written: until then, other threads wait
 * on open_lock instead of appending their chunks before the header. */
static atomic_bool ready;
static bool failed;
static char path[4096];
static ms__spinlock open_lock;
static atomic_int write_owner; /* tid holding the write lock, 0 when free */
static uint64_t modules_gen = UINT64_MAX;
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
    void *p = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
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
    munmap(base, total);
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

static void put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Returns false, without locking, if this thread already holds the lock: a fatal-signal
 * handler interrupted a write, and writing more would split that chunk. */
static bool write_lock(void)
{
    int me = ms__self_tid();
    if (atomic_load(&write_owner) == me)
        return false;
    int free_ = 0;
    while (!atomic_compare_exchange_weak(&write_owner, &free_, me)) {
        free_ = 0;
        sched_yield();
    }
    return true;
}

static void write_unlock(void)
{
    atomic_store(&write_owner, 0);
}

static void write_all(const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (!failed)
                ms__say("cannot write the trace ", path, "; tracking stopped");
            failed = true;
            return;
        }
        p += w;
        n -= (size_t)w;
    }
}

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

static void write_chunk_raw(int type, uint32_t tid, uint64_t t0, uint64_t t1, const uint8_t *raw,
                            size_t len)
{
    if (fd < 0 || failed)
        return;
    uint8_t hdr[MS_CHUNK_HEADER_SIZE] = {0};
    const uint8_t *payload = raw;
    size_t stored = len;
    struct zctx *z = ms__config.zstd_level ? zctx_get() : NULL;
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
                hdr[1] = MS_CHUNK_ZSTD;
            }
        }
    }
    hdr[0] = (uint8_t)type;
    put_le(hdr + 4, stored, 4);
    put_le(hdr + 8, len, 4);
    put_le(hdr + 12, tid, 4);
    put_le(hdr + 16, t0, 8);
    put_le(hdr + 24, t1, 8);
    if (write_lock()) {
        write_all(hdr, sizeof hdr);
        write_all(payload, stored);
        write_unlock();
    }
    if (z)
        atomic_store(&z->busy, 0);
}

/* A scratch buffer for the small chunks written here (PROCESS, MODULES, END). */
static uint8_t *scratch(size_t size)
{
    static uint8_t *buf;
    if (!buf) {
        void *p =
            mmap(NULL, MODULES_MAX, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
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

static void write_process_chunk(void)
{
    uint8_t *buf = scratch(MODULES_MAX);
    if (!buf)
        return;
    uint8_t *p = buf;
    p = ms_varint_put(p, (uint64_t)getpid());
    p = ms_varint_put(p, (uint64_t)getppid());
    p = ms_varint_put(p, start_tsc);
    p = ms_varint_put(p, start_mono_ns);
    p = ms_varint_put(p, start_real_ns);
    p = ms_varint_put(p, (uint64_t)ms__config.unwind);
    p = ms_varint_put(p, (uint64_t)ms__config.depth);
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = 0;
    p = ms__put_str(p, exe, strlen(exe));
    /* argv from /proc/self/cmdline: NUL-separated, read into the tail of the buffer. */
    uint8_t *args = buf + MODULES_MAX / 2;
    size_t alen = read_file("/proc/self/cmdline", args, 64 * 1024);
    uint64_t argc = 0;
    for (size_t i = 0; i < alen; i++)
        argc += args[i] == 0;
    p = ms_varint_put(p, argc);
    for (size_t i = 0; i < alen;) {
        size_t l = strnlen((const char *)args + i, alen - i);
        p = ms__put_str(p, (const char *)args + i, l);
        i += l + 1;
    }
    p = ms_varint_put(p, (uint64_t)origin.parent_pid);
    p = ms_varint_put(p, origin.fork_tsc);
    p = ms_varint_put(p, origin.node_limit);
    p = ms__put_str(p, origin.parent_trace, strlen(origin.parent_trace));
    p = ms__put_str(p, MS_VERSION_STRING, strlen(MS_VERSION_STRING));
    write_chunk_raw(MS_CHUNK_PROCESS, 0, start_tsc, start_tsc, buf, (size_t)(p - buf));
}

static void write_modules_chunk(void)
{
    uint8_t *buf = scratch(MODULES_MAX);
    if (!buf)
        return;
    uint64_t now = ms__now();
    size_t n = ms__modules_encode(buf, MODULES_MAX, now);
    if (n)
        write_chunk_raw(MS_CHUNK_MODULES, 0, now, now, buf, n);
}

static void manifest_add(void)
{
    if (!ms__config.manifest)
        return;
    int m = open(ms__config.manifest, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
    if (m < 0)
        return;
    char line[4200];
    size_t len = strlen(path);
    memcpy(line, path, len);
    line[len] = '\n';
    ssize_t w = write(m, line, len + 1);
    (void)w;
    close(m);
}

static int try_create(const char *name)
{
    return open(name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_APPEND, 0600);
}

/* Builds "<base><suffix>" into path; returns false if it does not fit. */
static bool set_path(const char *base, const char *s1, const char *s2, const char *s3)
{
    size_t n = 0;
    const char *parts[] = {base, s1, s2, s3};
    for (int i = 0; i < 4; i++) {
        size_t l = parts[i] ? strlen(parts[i]) : 0;
        if (n + l >= sizeof path)
            return false;
        memcpy(path + n, parts[i], l);
        n += l;
    }
    path[n] = 0;
    return true;
}

/* Appends a and b to path; returns false if they do not fit. */
static bool append(const char *a, const char *b)
{
    char cur[sizeof path];
    memcpy(cur, path, sizeof cur);
    return set_path(cur, a, b, NULL);
}

static void open_trace(void)
{
    char pid[24], num[24];
    ms__utoa((unsigned long long)getpid(), pid);
    char base[4096];
    if (ms__config.output) {
        size_t l = strlen(ms__config.output);
        if (l >= sizeof base)
            l = sizeof base - 1;
        memcpy(base, ms__config.output, l);
        base[l] = 0;
    } else {
        /* memscope.<program>.<pid>.mstrace in the working directory. */
        char exe[4096];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        exe[n > 0 ? n : 0] = 0;
        const char *slash = strrchr(exe, '/');
        set_path("memscope.", slash ? slash + 1 : "program", ".", pid);
        memcpy(base, path, strlen(path) + 1);
        set_path(base, ".mstrace", NULL, NULL);
        memcpy(base, path, strlen(path) + 1);
    }
    /* The root process of `memscope run` writes the -o path itself; every other process
     * writes <path>.<pid>; a name that exists already gets .1, .2, ... appended. */
    bool root = ms__config.output && ms__config.root_pid == getpid();
    if (root && set_path(base, NULL, NULL, NULL))
        fd = try_create(path);
    for (int i = 0; fd < 0 && (i == 0 || errno == EEXIST) && i < 1000; i++) {
        if (root && i == 0 && errno != EEXIST)
            break;
        ms__utoa((unsigned long long)i, num);
        const char *dot = i ? "." : NULL, *n = i ? num : NULL;
        bool ok = ms__config.output ? set_path(base, ".", pid, NULL) && append(dot, n)
                                    : set_path(base, dot, n, NULL);
        if (!ok)
            break;
        fd = try_create(path);
    }
    if (fd < 0) {
        ms__say("cannot create the trace file ", path, strerror(errno));
        failed = true;
        atomic_store(&ms__active, false);
        return;
    }
    uint8_t hdr[MS_FILE_HEADER_SIZE] = {0};
    memcpy(hdr, MS_TRACE_MAGIC, MS_TRACE_MAGIC_LEN);
    put_le(hdr + 8, MS_TRACE_VERSION, 2);
    put_le(hdr + 10, MS_FILE_HEADER_SIZE, 2);
    write_all(hdr, sizeof hdr);
    write_process_chunk();
    modules_gen = ms__modules_generation();
    write_modules_chunk();
    manifest_add();
    if (ms__config.verbose)
        ms__say("writing trace ", path, "");
}

static bool ensure_open(void)
{
    if (atomic_load_explicit(&ready, memory_order_acquire))
        return true;
    if (failed)
        return false;
    if (!ms__spin_lock(&open_lock))
        return false; /* a signal handler interrupted this thread's own open */
    if (fd < 0 && !failed) {
        open_trace();
        if (fd >= 0)
            atomic_store_explicit(&ready, true, memory_order_release);
    }
    ms__spin_unlock(&open_lock);
    return atomic_load(&ready);
}

void ms__writer_events(uint32_t tid, uint64_t first_tsc, uint64_t last_tsc, const uint8_t *raw,
                       size_t len)
{
    if (!ensure_open())
        return;
    write_chunk_raw(MS_CHUNK_EVENTS, tid, first_tsc, last_tsc, raw, len);
    ms__writer_modules_if_changed();
}

void ms__writer_modules_if_changed(void)
{
    if (!atomic_load(&ready))
        return;
    uint64_t gen = ms__modules_generation();
    if (gen == modules_gen)
        return;
    if (!ms__spin_lock(&modules_lock))
        return;
    if (gen != modules_gen) {
        modules_gen = gen;
        write_modules_chunk();
        /* Loads and unloads memscope's dlopen/dlclose hooks did not see (glibc's own, for NSS
         * or iconv modules): cached unwind rules may describe code that is gone. */
        atomic_fetch_add(&ms__unwind_gen, 1);
    }
    ms__spin_unlock(&modules_lock);
}

void ms__writer_finish(int reason, int code, uint64_t dropped, unsigned threads)
{
    if (!ensure_open())
        return;
    ms__writer_modules_if_changed();
    uint8_t buf[64];
    uint8_t *p = buf;
    uint64_t now = ms__now();
    p = ms_varint_put(p, now);
    p = ms_varint_put(p, mono_ns(CLOCK_MONOTONIC));
    p = ms_varint_put(p, (uint64_t)reason);
    p = ms_varint_put(p, (uint64_t)code);
    p = ms_varint_put(p, dropped);
    p = ms_varint_put(p, threads);
    write_chunk_raw(MS_CHUNK_END, 0, now, now, buf, (size_t)(p - buf));
    if (reason != MS_END_EXEC && write_lock()) {
        atomic_store(&ready, false);
        int f = fd;
        fd = -1;
        failed = true;
        close(f);
        write_unlock();
    }
}

void ms__writer_after_fork_child(const struct ms__fork_origin *o)
{
    origin = *o;
    atomic_store(&ready, false);
    fd = -1;
    failed = false;
    path[0] = 0;
    ms__spin_init(&open_lock);
    ms__spin_init(&modules_lock);
    atomic_store(&write_owner, 0);
    /* A parent thread may have been inside a context at fork: start with fresh ones (the
     * parent's mappings are left alone). */
    for (int i = 0; i < POOL; i++) {
        pool[i].cctx = NULL;
        pool[i].out = NULL;
        pool[i].out_cap = 0;
        atomic_store(&pool[i].busy, 0);
    }
    ms__writer_init();
}

const char *ms__writer_open(void)
{
    return ensure_open() ? path : "";
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
