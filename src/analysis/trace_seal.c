/* Appending a killed process's spool buffers and an END chunk to its trace. */
#define _GNU_SOURCE
#include "trace_seal.h"

#include "common/chunk_codec.h"
#include "common/errors.h"
#include "common/file_io.h"
#include "common/open_regular.h"
#include "common/trace_format.h"
#include "common/varint.h"
#include "spool_reader.h"
#include "trace_reader.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int ms_trace_chunk_write(int fd, int type, uint32_t tid, uint64_t t0, const uint8_t *payload,
                         uint32_t len)
{
    uint8_t h[MS_CHUNK_HEADER_SIZE];
    ms_chunk_header_put(h, type, 0, tid, t0, payload, len, len);
    int err = ms_write_all(fd, h, sizeof h);
    return err ? err : ms_write_all(fd, payload, len);
}

/* Whether the trace (file header checked by the caller) has an END chunk, and whether one of
 * its EVENTS chunks is thread tid's starting at clock tsc, for each spool buffer. */
static int scan_trace(int fd, uint64_t size, struct ms_spool_buffer *bufs, int n, bool *dup,
                      bool *has_end)
{
    *has_end = false;
    for (uint64_t off = MS_FILE_HEADER_SIZE; off + MS_CHUNK_HEADER_SIZE <= size;) {
        uint8_t h[MS_CHUNK_HEADER_SIZE];
        if (pread(fd, h, sizeof h, (off_t)off) != (ssize_t)sizeof h)
            return MS_EIO;
        uint64_t stored = ms_get_le(h + 4, 4);
        if (h[0] == MS_CHUNK_END)
            *has_end = true;
        for (int i = 0; i < n && h[0] == MS_CHUNK_EVENTS; i++)
            dup[i] |=
                ms_get_le(h + 12, 4) == bufs[i].tid && ms_get_le(h + 16, 8) == bufs[i].clock_tsc;
        off += MS_CHUNK_HEADER_SIZE + stored;
    }
    return 0;
}

/* True while the process that writes the trace at path still runs (a daemon that outlived the
 * run, say): its trace is not finished, it is being written. */
static bool writer_alive(const char *path)
{
    ms_trace *t;
    if (ms_trace_open(path, &t, NULL, 0) != 0)
        return false;
    pid_t pid = (pid_t)ms_trace_process(t)->pid;
    ms_trace_close(t);
    /* Even with an END chunk: after a failed exec the process goes on writing. (A pid reused
     * by another process only leaves the spool for the reader.) */
    return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

int ms_trace_seal(const char *path, int signal, char *err, size_t errlen)
{
    if (writer_alive(path))
        return 0;
    int spool = -1;
    struct ms_spool_buffer *bufs = NULL;
    int n = ms_spool_scan(path, &spool, &bufs);
    if (n <= 0)
        return n;
    int rc = 0, fd = -1;
    bool *dup = calloc((size_t)n, sizeof *dup), has_end = false;
    uint8_t *raw = NULL, hdr[MS_FILE_HEADER_SIZE];
    struct stat st;
    if (!dup) {
        rc = MS_ENOMEM;
        goto out;
    }
    /* read here (pread), appended to below */
    if ((fd = ms_open_regular_as(path, O_RDWR | O_APPEND | O_NOFOLLOW, &st)) < 0) {
        rc = fd;
        goto out;
    }
    /* Only a version 2 trace of this memscope takes chunks checksummed as above. */
    if (pread(fd, hdr, sizeof hdr, 0) != (ssize_t)sizeof hdr ||
        memcmp(hdr, MS_TRACE_MAGIC, MS_TRACE_MAGIC_LEN) ||
        ms_get_le(hdr + 8, 2) != MS_TRACE_VERSION ||
        (rc = scan_trace(fd, (uint64_t)st.st_size, bufs, n, dup, &has_end)) != 0) {
        rc = rc ? rc : MS_ENOTRACE;
        goto out;
    }
    /* A trace with an END chunk and a spool: a fatal signal interrupted a thread's own flush,
     * so the spool holds that buffer; it joins the trace, and the END chunk stays the one the
     * process wrote (the reader takes the last END, and a thread's chunks in file order). */
    uint64_t last_tsc = 0, last_ns = 0;
    for (int i = 0; i < n && !rc; i++) {
        if (bufs[i].clock_tsc > last_tsc) {
            last_tsc = bufs[i].clock_tsc;
            last_ns = bufs[i].clock_ns;
        }
        if (dup[i] || !bufs[i].records) {
            /* Its records are in the trace (or it has none): its counts alone, if any. */
            if (!bufs[i].counts_len)
                continue;
            uint32_t len;
            uint8_t *c = ms_spool_counts_chunk(&bufs[i], &len);
            rc = c ? ms_trace_chunk_write(fd, MS_CHUNK_EVENTS, bufs[i].tid, bufs[i].clock_tsc, c,
                                          len)
                   : MS_ENOMEM;
            free(c);
            continue;
        }
        uint32_t len = bufs[i].len + bufs[i].counts_len;
        uint8_t *r = realloc(raw, len ? len : 1);
        if (!r) {
            rc = MS_ENOMEM;
            break;
        }
        raw = r;
        if (pread(spool, raw, bufs[i].len, (off_t)bufs[i].offset) != (ssize_t)bufs[i].len) {
            rc = MS_EIO;
            break;
        }
        if (bufs[i].counts_len) /* the head page's counts follow the buffer's records */
            memcpy(raw + bufs[i].len, bufs[i].counts, bufs[i].counts_len);
        rc = ms_trace_chunk_write(fd, MS_CHUNK_EVENTS, bufs[i].tid, bufs[i].clock_tsc, raw, len);
    }
    if (!rc && !has_end) {
        /* The END chunk: the time of the newest buffer's CLOCK (a lower bound of the death) */
        struct ms_chunk_END e = {
            last_tsc, last_ns, MS_END_KILLED, (uint64_t)(signal > 0 ? signal : 0), 0, 0, 0, 0,
            0,        0};
        uint8_t end[128];
        uint8_t *p = ms_chunk_put_END(end, &e);
        rc = ms_trace_chunk_write(fd, MS_CHUNK_END, 0, last_tsc, end, (uint32_t)(p - end));
    }
    if (!rc) {
        char sp[4200];
        snprintf(sp, sizeof sp, "%s.spool", path);
        unlink(sp);
        rc = 1;
    }
out:
    if (rc < 0 && err && errlen)
        snprintf(err, errlen, "%s: cannot complete it from its spool: %s", path, ms_strerror(rc));
    if (fd >= 0)
        close(fd);
    if (spool >= 0)
        close(spool);
    free(raw);
    free(dup);
    ms_spool_buffers_free(bufs, n);
    return rc;
}
