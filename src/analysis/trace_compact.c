/* Compressing a trace written uncompressed, while it is written (trace_compact.h). */
#define _GNU_SOURCE
#include "trace_compact.h"

#include "common/errors.h"
#include "common/file_io.h"
#include "common/open_regular.h"
#include "common/trace_format.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <zstd.h>

/* The copy is abandoned when the disk has less room left than this. */
#define ROOM_LEFT (64u << 20)

struct ms_trace_compactor {
    char *path;
    int level;
    int in, out;    /* the trace, and the compressed copy: -1 until the trace exists */
    char *tmp;      /* the copy's name: from the start without O_TMPFILE, else at the end */
    struct stat st; /* the trace's, when opened */
    uint64_t off;   /* the trace's next byte to read */
    bool started;   /* the file header is copied */
    bool verbatim;  /* from off on, the trace is copied as it is */
    bool gained;    /* a chunk came out smaller */
    /* What was read, to check at the end that the program did not rewrite it meanwhile (as
     * the reader checks its headers, trace_file.c): the CRC of the file header and of every
     * chunk header, and where the trace began to be copied as it is and the CRC of that. */
    uint32_t heads, tail;
    uint64_t tail_from;
    const char *why; /* what failed, or NULL */
    int error;       /* its errno */
    bool changed;    /* the program shortened its trace while it was read: left to it */
    ZSTD_CCtx *z;
    uint8_t *buf, *zbuf;
    size_t cap, zcap;
};

ms_trace_compactor *ms_trace_compact_new(const char *path, int level)
{
    ms_trace_compactor *c = calloc(1, sizeof *c);
    if (!c || !(c->path = strdup(path)) || !(c->z = ZSTD_createCCtx()) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(c->z, ZSTD_c_compressionLevel, level))) {
        ms_trace_compact_discard(c);
        return NULL;
    }
    c->level = level;
    c->in = c->out = -1;
    c->tail_from = UINT64_MAX;
    return c;
}

/* Gives up: the copy goes at once (its blocks may be what the program's trace needs). */
static bool fail(ms_trace_compactor *c, const char *why)
{
    if (!c->why) {
        c->why = why;
        c->error = errno;
    }
    if (c->out >= 0)
        close(c->out);
    c->out = -1;
    if (c->tmp)
        unlink(c->tmp);
    free(c->tmp);
    c->tmp = NULL;
    return false;
}

/* A read that failed: an error, unless the program shortened its trace meanwhile. */
static bool read_failed(ms_trace_compactor *c, uint64_t end)
{
    struct stat st;
    if (fstat(c->in, &st) == 0 && (uint64_t)st.st_size < end) {
        c->changed = true;
        return false;
    }
    return fail(c, "reading it");
}

static bool reserve(ms_trace_compactor *c, uint8_t **buf, size_t *cap, size_t n)
{
    if (*cap >= n)
        return true;
    uint8_t *b = realloc(*buf, n);
    if (!b) {
        errno = ENOMEM;
        return fail(c, "compressing");
    }
    *buf = b;
    *cap = n;
    return true;
}

/* Gives the copy a name of its own in the trace's directory (short, whatever the trace's
 * length: .ms-compact-PID-N), with make(c, name): 0, or -1 and errno (EEXIST: try another). */
static bool name_copy(ms_trace_compactor *c, int (*make)(ms_trace_compactor *, const char *))
{
    const char *slash = strrchr(c->path, '/');
    size_t dl = slash ? (size_t)(slash - c->path) + 1 : 0, n = dl + 64;
    if (!(c->tmp = malloc(n))) {
        errno = ENOMEM;
        return fail(c, "compressing");
    }
    for (int i = 0; i < 100; i++) {
        snprintf(c->tmp, n, "%.*s.ms-compact-%ld-%d", (int)dl, c->path, (long)getpid(), i);
        if (make(c, c->tmp) == 0)
            return true;
        if (errno != EEXIST)
            break;
    }
    free(c->tmp);
    c->tmp = NULL; /* nothing of ours to remove */
    return false;
}

static int create_named(ms_trace_compactor *c, const char *name)
{
    c->out = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    return c->out < 0 ? -1 : 0;
}

/* Links the unnamed copy: by its descriptor (needs CAP_DAC_READ_SEARCH), else by /proc. */
static int link_unnamed(ms_trace_compactor *c, const char *name)
{
    if (linkat(c->out, "", AT_FDCWD, name, AT_EMPTY_PATH) == 0)
        return 0;
    if (errno == EEXIST)
        return -1;
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", c->out);
    return linkat(AT_FDCWD, proc, AT_FDCWD, name, AT_SYMLINK_FOLLOW);
}

/* Opens the trace once it exists, and its copy: unnamed in the trace's directory (so that the
 * program does not see one more file there), or named beside it without O_TMPFILE. */
static bool open_files(ms_trace_compactor *c)
{
    int fd = ms_open_regular(c->path, &c->st);
    if (fd == MS_ENOENT)
        return false; /* not created yet */
    if (fd < 0)
        return fail(c, "reading it");
    c->in = fd;
    char dir[PATH_MAX];
    const char *slash = strrchr(c->path, '/');
    size_t dl = slash ? (size_t)(slash - c->path) : 0;
    if (dl >= sizeof dir)
        return fail(c, "creating its copy");
    memcpy(dir, c->path, dl);
    strcpy(dir + dl, slash ? (dl ? "" : "/") : ".");
    /* Unnamed only when it can be named at the end without privileges, through /proc. */
    if (access("/proc/self/fd", X_OK) == 0)
        c->out = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
    if (c->out < 0 && !name_copy(c, create_named))
        return c->why ? false : fail(c, "creating its copy");
    return true;
}

static bool put(ms_trace_compactor *c, const void *p, size_t n)
{
    return ms_write_all(c->out, p, n) == 0 || fail(c, "writing its copy");
}

/* Copies the trace's bytes from off to end as they are. */
static bool copy(ms_trace_compactor *c, uint64_t end)
{
    if (!reserve(c, &c->buf, &c->cap, 1 << 16))
        return false;
    if (c->off < end && c->tail_from == UINT64_MAX)
        c->tail_from = c->off;
    while (c->off < end) {
        size_t n = end - c->off < c->cap ? (size_t)(end - c->off) : c->cap;
        if (ms_pread_all(c->in, c->buf, n, c->off) != 0)
            return read_failed(c, c->off + n);
        c->tail = ms_crc32c(c->tail, c->buf, n);
        if (!put(c, c->buf, n))
            return false;
        c->off += n;
    }
    return true;
}

/* Whether the trace still holds, up to off, the headers and the tail that were read. */
static bool unchanged(ms_trace_compactor *c)
{
    uint8_t h[MS_CHUNK_HEADER_SIZE];
    if (ms_pread_all(c->in, h, MS_FILE_HEADER_SIZE, 0) != 0)
        return false;
    uint32_t heads = ms_crc32c(0, h, MS_FILE_HEADER_SIZE);
    uint64_t at = MS_FILE_HEADER_SIZE, end = c->tail_from < c->off ? c->tail_from : c->off;
    while (at < end) {
        if (at + MS_CHUNK_HEADER_SIZE > end || ms_pread_all(c->in, h, sizeof h, at) != 0)
            return false;
        heads = ms_crc32c(heads, h, sizeof h);
        at += MS_CHUNK_HEADER_SIZE + ms_get_le(h + 4, 4);
    }
    if (at != end || heads != c->heads)
        return false;
    uint32_t tail = 0;
    for (; at < c->off; at += 1 << 16) {
        size_t n = c->off - at < 1 << 16 ? (size_t)(c->off - at) : 1 << 16;
        if (ms_pread_all(c->in, c->buf, n, at) != 0)
            return false;
        tail = ms_crc32c(tail, c->buf, n);
    }
    return tail == c->tail;
}

/* The chunk with header h and stored payload p: compressed as the capture's writer does
 * (write_chunk_raw in src/capture/trace_writer.c) when it is a known, uncompressed chunk whose
 * checksum holds and zstd makes it smaller; else as it is. */
static bool chunk(ms_trace_compactor *c, const uint8_t *h, const uint8_t *p, uint32_t stored)
{
    bool plain = h[0] >= MS_CHUNK_PROCESS && h[0] <= MS_CHUNK_LAST && h[1] == 0 &&
                 ms_get_le(h + 8, 4) == stored && stored > 0;
    if (plain &&
        ms_crc32c(ms_chunk_header_crc(h), p, stored) == ms_get_le(h + MS_CHUNK_CRC_OFFSET, 4) &&
        reserve(c, &c->zbuf, &c->zcap, ZSTD_compressBound(stored))) {
        size_t n = ZSTD_compress2(c->z, c->zbuf, c->zcap, p, stored);
        if (!ZSTD_isError(n) && n < stored) {
            uint8_t z[MS_CHUNK_HEADER_SIZE];
            memcpy(z, h, sizeof z);
            z[1] = MS_CHUNK_ZSTD;
            ms_put_le(z + 4, n, 4);
            ms_chunk_header_checksum(z, c->zbuf, (uint32_t)n);
            c->gained = true;
            return put(c, z, sizeof z) && put(c, c->zbuf, n);
        }
    }
    return put(c, h, MS_CHUNK_HEADER_SIZE) && put(c, p, stored);
}

/* The program's trace comes first: the copy gives way before the disk fills up. */
static bool room_left(ms_trace_compactor *c)
{
    struct statvfs fs;
    if (fstatvfs(c->out, &fs) == 0 && (uint64_t)fs.f_bavail * fs.f_frsize < ROOM_LEFT) {
        errno = ENOSPC;
        return fail(c, "less than 64 MiB left on its disk, kept for the program's trace");
    }
    return true;
}

/* Takes what the trace has gained; at the end (final), a cut chunk as well. */
static bool step(ms_trace_compactor *c, bool final)
{
    if (c->why || c->changed || (c->in < 0 && !open_files(c)))
        return false;
    struct stat st;
    if (fstat(c->in, &st) != 0)
        return fail(c, "reading it");
    uint64_t size = (uint64_t)st.st_size, start = c->off;
    if (!c->started && size >= MS_FILE_HEADER_SIZE) {
        uint8_t h[MS_FILE_HEADER_SIZE];
        if (ms_pread_all(c->in, h, sizeof h, 0) != 0)
            return read_failed(c, sizeof h);
        uint64_t version = ms_get_le(h + 8, 2);
        /* Only a trace this build writes is rewritten: anything else is copied. */
        c->verbatim = memcmp(h, MS_TRACE_MAGIC, MS_TRACE_MAGIC_LEN) != 0 ||
                      version < MS_TRACE_VERSION_CRC || version > MS_TRACE_VERSION ||
                      ms_get_le(h + 10, 2) != MS_FILE_HEADER_SIZE;
        c->started = true;
        if (!c->verbatim) {
            c->heads = ms_crc32c(0, h, sizeof h);
            if (!put(c, h, sizeof h))
                return false;
            c->off = MS_FILE_HEADER_SIZE;
        }
    }
    while (c->started && !c->verbatim && c->off + MS_CHUNK_HEADER_SIZE <= size) {
        uint8_t h[MS_CHUNK_HEADER_SIZE];
        if (ms_pread_all(c->in, h, sizeof h, c->off) != 0)
            return read_failed(c, c->off + sizeof h);
        uint32_t stored = (uint32_t)ms_get_le(h + 4, 4);
        if (stored > MS_CHUNK_MAX_RAW) {
            c->verbatim = true; /* no chunk the capture writes: the reader says what it is */
            break;
        }
        if (c->off + MS_CHUNK_HEADER_SIZE + stored > size)
            break; /* still being written */
        if (!reserve(c, &c->buf, &c->cap, stored > 1 << 16 ? stored : 1 << 16))
            return false;
        if (ms_pread_all(c->in, c->buf, stored, c->off + MS_CHUNK_HEADER_SIZE) != 0)
            return read_failed(c, c->off + MS_CHUNK_HEADER_SIZE + stored);
        c->heads = ms_crc32c(c->heads, h, sizeof h);
        if (!chunk(c, h, c->buf, stored) || !room_left(c))
            return false;
        c->off += MS_CHUNK_HEADER_SIZE + stored;
    }
    if ((c->verbatim || final) && !copy(c, size))
        return false;
    return c->off != start;
}

bool ms_trace_compact_poll(ms_trace_compactor *c)
{
    return c && step(c, false);
}

void ms_trace_compact_discard(ms_trace_compactor *c)
{
    if (!c)
        return;
    if (c->in >= 0)
        close(c->in);
    if (c->out >= 0)
        close(c->out);
    if (c->tmp)
        unlink(c->tmp);
    free(c->tmp);
    ZSTD_freeCCtx(c->z);
    free(c->buf);
    free(c->zbuf);
    free(c->path);
    free(c);
}

const char *ms_trace_compact_named_copy(const ms_trace_compactor *c)
{
    return c && c->out >= 0 ? c->tmp : NULL;
}

/* Gives the copy the trace's name, owner and mode as they are now, in one rename. */
static bool replace(ms_trace_compactor *c, const struct stat *now)
{
    if (fchown(c->out, now->st_uid, now->st_gid) != 0 && errno != EPERM)
        return fail(c, "writing its copy");
    if (fchmod(c->out, now->st_mode & 07777) != 0)
        return fail(c, "writing its copy");
    if (!c->tmp && !name_copy(c, link_unnamed))
        return fail(c, "naming its copy");
    if (rename(c->tmp, c->path) != 0)
        return fail(c, "replacing it");
    free(c->tmp);
    c->tmp = NULL; /* nothing to remove */
    return true;
}

int ms_trace_compact_finish(ms_trace_compactor *c, char *err, size_t errlen)
{
    if (!c)
        return 0;
    step(c, true);
    int rc = 0;
    struct stat named, now;
    /* Only the file read, whole: the program may have replaced or removed its trace. */
    bool same = c->in >= 0 && !c->why && !c->changed && c->gained && stat(c->path, &named) == 0 &&
                named.st_dev == c->st.st_dev && named.st_ino == c->st.st_ino &&
                fstat(c->in, &now) == 0 && (uint64_t)now.st_size == c->off && unchanged(c);
    if (same)
        rc = replace(c, &now) ? 1 : MS_EIO;
    if (c->why) {
        snprintf(err, errlen, "left the trace %s uncompressed (%s: %s)", c->path, c->why,
                 c->error == ENOSPC ? "free some space to have it compressed" : strerror(c->error));
        rc = MS_EIO;
    }
    ms_trace_compact_discard(c);
    return rc;
}
