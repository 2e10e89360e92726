/* Packing a trace as it is written (trace_pack.h). */
#define _GNU_SOURCE
#include "trace_pack.h"

#include "common/crc32c.h"
#include "common/open_regular.h"
#include "common/trace_format.h"
#include "grow.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <zstd.h>

struct ms_trace_pack {
    char *path;
    int in, out;      /* the trace, and the copy (-1 until opened) */
    char *tmp;        /* the copy's name; NULL while it has none (O_TMPFILE) */
    struct stat st;   /* the trace, as opened */
    uint64_t in_off;  /* the next byte of the trace to pack */
    uint64_t out_off; /* bytes in the copy */
    bool header_done; /* the file header is copied */
    bool verbatim;    /* from in_off on, the trace is copied as it is, at the end */
    bool failed;      /* the copy was given up (why says why) */
    char why[160];
    /* What was packed, to check at the end that the program did not rewrite it (as the live
     * replay checks, trace_reader.c): the file header, and each chunk's offset and header. */
    uint8_t file_header[MS_FILE_HEADER_SIZE];
    struct packed_chunk {
        uint64_t offset;
        uint8_t header[MS_CHUNK_HEADER_SIZE];
    } * chunks;
    size_t nchunks, capchunks;
    ZSTD_CCtx *cctx;
    uint8_t *buf, *zbuf;
    size_t cap, zcap;
};

ms_trace_pack *ms_trace_pack_new(const char *path, int level)
{
    ms_trace_pack *p = calloc(1, sizeof *p);
    if (!p || !(p->path = strdup(path)) || !(p->cctx = ZSTD_createCCtx())) {
        if (p)
            free(p->path);
        free(p);
        return NULL;
    }
    ZSTD_CCtx_setParameter(p->cctx, ZSTD_c_compressionLevel, level);
    p->in = p->out = -1;
    return p;
}

static void give_up(ms_trace_pack *p, const char *what, int err)
{
    if (p->failed)
        return;
    p->failed = true;
    snprintf(p->why, sizeof p->why, "%s%s%s", what, err ? ": " : "", err ? strerror(err) : "");
}

/* The copy, in the trace's directory (a rename must not cross file systems): unnamed while it
 * is written where the file system allows it, so that nothing is left behind if memscope is
 * killed. */
static bool open_out(ms_trace_pack *p)
{
    char dir[4096];
    const char *slash = strrchr(p->path, '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (slash == p->path ? 1 : (int)(slash - p->path)) : 1,
             slash ? p->path : ".");
    p->out = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
    if (p->out < 0) {
        size_t n = strlen(p->path) + sizeof ".packing-XXXXXX";
        if (!(p->tmp = malloc(n))) {
            give_up(p, "out of memory", 0);
            return false;
        }
        snprintf(p->tmp, n, "%s.packing-XXXXXX", p->path);
        p->out = mkostemp(p->tmp, O_CLOEXEC);
        if (p->out < 0) {
            give_up(p, "cannot create its compressed copy", errno);
            free(p->tmp);
            p->tmp = NULL;
            return false;
        }
    }
    return true;
}

static bool read_at(int fd, void *buf, size_t n, uint64_t off)
{
    for (size_t done = 0; done < n;) {
        ssize_t r = pread(fd, (char *)buf + done, n - done, (off_t)(off + done));
        if (r <= 0 && !(r < 0 && errno == EINTR))
            return false;
        done += r > 0 ? (size_t)r : 0;
    }
    return true;
}

/* Appends n bytes to the copy, if the file system keeps room after them for the program to
 * write as much again as its trace holds now (the copy must never be what fills the disk), and
 * within the file size limit (which would end memscope with SIGXFSZ). */
static bool put(ms_trace_pack *p, const void *buf, size_t n, uint64_t trace_size)
{
    struct rlimit fsize;
    if (getrlimit(RLIMIT_FSIZE, &fsize) == 0 && fsize.rlim_cur != RLIM_INFINITY &&
        p->out_off + n > fsize.rlim_cur) {
        give_up(p, "its compressed copy would exceed the file size limit (ulimit -f)", 0);
        return false;
    }
    struct statvfs vfs;
    if (fstatvfs(p->out, &vfs) == 0 &&
        (uint64_t)vfs.f_bavail * vfs.f_frsize < (uint64_t)n + trace_size) {
        give_up(p, "the file system is nearly full", 0);
        return false;
    }
    for (size_t done = 0; done < n;) {
        ssize_t w = write(p->out, (const char *)buf + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            give_up(p, "cannot write its compressed copy", w < 0 ? errno : EIO);
            return false;
        }
        done += (size_t)w;
    }
    p->out_off += n;
    return true;
}

static bool reserve(uint8_t **b, size_t *cap, size_t n)
{
    if (*cap >= n)
        return true;
    uint8_t *nb = realloc(*b, n);
    if (!nb)
        return false;
    *b = nb;
    *cap = n;
    return true;
}

/* Packs the chunk at in_off if it is whole in a trace of size bytes. Returns 1 when it did, 0
 * when the chunk is not whole yet, -1 when packing stops here (verbatim, or failed). */
static int pack_chunk(ms_trace_pack *p, uint64_t size)
{
    uint8_t h[MS_CHUNK_HEADER_SIZE];
    if (p->in_off + MS_CHUNK_HEADER_SIZE > size)
        return 0;
    if (!read_at(p->in, h, sizeof h, p->in_off)) {
        give_up(p, "cannot read the trace", errno ? errno : EIO);
        return -1;
    }
    uint64_t stored = ms_get_le(h + 4, 4), raw = ms_get_le(h + 8, 4);
    if (raw > MS_CHUNK_MAX_RAW || stored > ZSTD_compressBound(MS_CHUNK_MAX_RAW)) {
        p->verbatim = true; /* not a chunk the reader takes either: copied as it is */
        return -1;
    }
    if (p->in_off + MS_CHUNK_HEADER_SIZE + stored > size)
        return 0;
    if (ms_grow(&p->chunks, &p->capchunks, p->nchunks + 1, sizeof *p->chunks, 256) ||
        !reserve(&p->buf, &p->cap, stored ? stored : 1)) {
        give_up(p, "out of memory", 0);
        return -1;
    }
    if (!read_at(p->in, p->buf, stored, p->in_off + MS_CHUNK_HEADER_SIZE)) {
        give_up(p, "cannot read the trace", errno ? errno : EIO);
        return -1;
    }
    const uint8_t *hdr = h, *payload = p->buf;
    size_t len = stored;
    uint8_t packed[MS_CHUNK_HEADER_SIZE];
    if (h[0] == MS_CHUNK_EVENTS && h[1] == 0 && stored == raw) {
        if (ms_crc32c(ms_chunk_header_crc(h), p->buf, stored) !=
            ms_get_le(h + MS_CHUNK_CRC_OFFSET, 4)) {
            p->verbatim = true; /* damaged: the reader must find it damaged in the copy too */
            return -1;
        }
        if (!reserve(&p->zbuf, &p->zcap, ZSTD_compressBound(stored))) {
            give_up(p, "out of memory", 0);
            return -1;
        }
        size_t n = ZSTD_compress2(p->cctx, p->zbuf, p->zcap, p->buf, stored);
        if (!ZSTD_isError(n) && n < stored) {
            ms_chunk_header_put(packed, MS_CHUNK_EVENTS, MS_CHUNK_ZSTD,
                                (uint32_t)ms_get_le(h + 12, 4), ms_get_le(h + 16, 8), p->zbuf,
                                (uint32_t)n, (uint32_t)raw);
            hdr = packed;
            payload = p->zbuf;
            len = n;
        }
    }
    if (!put(p, hdr, sizeof h, size) || !put(p, payload, len, size))
        return -1;
    p->chunks[p->nchunks].offset = p->in_off;
    memcpy(p->chunks[p->nchunks++].header, h, sizeof h);
    p->in_off += MS_CHUNK_HEADER_SIZE + stored;
    return 1;
}

bool ms_trace_pack_step(ms_trace_pack *p)
{
    if (p->failed)
        return false;
    if (p->in < 0) {
        int fd = ms_open_regular(p->path, &p->st);
        if (fd < 0)
            return false; /* not created yet */
        p->in = fd;
    }
    if (p->out < 0 && !open_out(p))
        return false;
    struct stat st;
    if (fstat(p->in, &st) != 0) {
        give_up(p, "cannot read the trace", errno);
        return false;
    }
    uint64_t size = (uint64_t)st.st_size;
    if (!p->header_done) {
        uint8_t h[MS_FILE_HEADER_SIZE];
        if (size < sizeof h)
            return false;
        if (!read_at(p->in, h, sizeof h, 0)) {
            give_up(p, "cannot read the trace", errno ? errno : EIO);
            return false;
        }
        p->header_done = true;
        /* Another format or version: copied as it is (the finish then keeps the original). */
        p->verbatim = memcmp(h, MS_TRACE_MAGIC, MS_TRACE_MAGIC_LEN) != 0 ||
                      ms_get_le(h + 8, 2) != MS_TRACE_VERSION ||
                      ms_get_le(h + 10, 2) != MS_FILE_HEADER_SIZE;
        if (p->verbatim)
            return false;
        if (!put(p, h, sizeof h, size))
            return false;
        memcpy(p->file_header, h, sizeof h);
        p->in_off = sizeof h;
    }
    bool did = false;
    while (!p->verbatim && pack_chunk(p, size) > 0)
        did = true;
    return did;
}

/* Whether the trace still has every header that was packed: a program that truncates or
 * overwrites its own trace must find it so afterwards, not repaired by the copy. */
static bool headers_unchanged(ms_trace_pack *p, uint64_t size)
{
    uint8_t h[MS_CHUNK_HEADER_SIZE];
    if (size < p->in_off || !read_at(p->in, h, MS_FILE_HEADER_SIZE, 0) ||
        memcmp(h, p->file_header, MS_FILE_HEADER_SIZE) != 0)
        return false;
    for (size_t i = 0; i < p->nchunks; i++)
        if (!read_at(p->in, h, sizeof h, p->chunks[i].offset) ||
            memcmp(h, p->chunks[i].header, sizeof h) != 0)
            return false;
    return true;
}

/* Puts the finished copy in the trace's place. */
static bool replace(ms_trace_pack *p)
{
    struct stat now;
    if (stat(p->path, &now) != 0 || now.st_dev != p->st.st_dev || now.st_ino != p->st.st_ino) {
        give_up(p, "the trace was moved or replaced while it was written", 0);
        return false;
    }
    if (fchmod(p->out, p->st.st_mode & 07777) != 0) {
        give_up(p, "cannot set its compressed copy's mode", errno);
        return false;
    }
    if (!p->tmp) {
        /* Named only now, for the rename (which may replace the trace, as linkat may not). */
        char fdpath[64];
        snprintf(fdpath, sizeof fdpath, "/proc/self/fd/%d", p->out);
        size_t n = strlen(p->path) + 32;
        if (!(p->tmp = malloc(n))) {
            give_up(p, "out of memory", 0);
            return false;
        }
        snprintf(p->tmp, n, "%s.packing-%ld", p->path, (long)getpid());
        if (linkat(AT_FDCWD, fdpath, AT_FDCWD, p->tmp, AT_SYMLINK_FOLLOW) != 0) {
            give_up(p, "cannot name its compressed copy", errno);
            free(p->tmp);
            p->tmp = NULL;
            return false;
        }
    }
    if (rename(p->tmp, p->path) != 0) {
        give_up(p, "cannot put its compressed copy in its place", errno);
        return false;
    }
    free(p->tmp);
    p->tmp = NULL; /* renamed: nothing to remove */
    return true;
}

int ms_trace_pack_finish(ms_trace_pack *p, char *why, size_t cap)
{
    ms_trace_pack_step(p);
    int rc = 0;
    if (p->in >= 0 && !p->failed) {
        if (!p->header_done || (p->verbatim && p->in_off == 0)) {
            rc = 0; /* nothing packed: the trace stays as it is */
            ms_trace_pack_discard(p);
            return rc;
        }
        /* The rest as it is: a chunk cut short, or everything from a damaged chunk on. */
        struct stat st;
        if (fstat(p->in, &st) != 0)
            give_up(p, "cannot read the trace", errno);
        uint64_t size = p->failed ? 0 : (uint64_t)st.st_size;
        if (!p->failed && !headers_unchanged(p, size))
            give_up(p, "the program rewrote its trace", 0);
        while (!p->failed && p->in_off < size) {
            size_t n = size - p->in_off < (1u << 20) ? (size_t)(size - p->in_off) : 1u << 20;
            if (!reserve(&p->buf, &p->cap, n)) {
                give_up(p, "out of memory", 0);
            } else if (!read_at(p->in, p->buf, n, p->in_off)) {
                give_up(p, "cannot read the trace", errno ? errno : EIO);
            } else if (put(p, p->buf, n, size)) {
                p->in_off += n;
            }
        }
        if (!p->failed)
            replace(p);
    }
    if (p->failed) {
        snprintf(why, cap, "%s", p->why);
        rc = -1;
    }
    ms_trace_pack_discard(p);
    return rc;
}

void ms_trace_pack_discard(ms_trace_pack *p)
{
    if (!p)
        return;
    if (p->tmp)
        unlink(p->tmp);
    if (p->in >= 0)
        close(p->in);
    if (p->out >= 0)
        close(p->out);
    ZSTD_freeCCtx(p->cctx);
    free(p->tmp);
    free(p->buf);
    free(p->zbuf);
    free(p->chunks);
    free(p->path);
    free(p);
}
