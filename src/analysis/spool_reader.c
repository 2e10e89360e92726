/* Lists the event buffers of a spool file, checking every field read from it. */
#define _GNU_SOURCE
#include "spool_reader.h"

#include "common/errors.h"
#include "common/file_io.h"
#include "common/open_regular.h"
#include "common/spool_counts.h"
#include "common/trace_format.h"
#include "common/varint.h"
#include "grow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A writer makes one region per thread slot it ever needed (at most 4096, and the orphan
 * buffer) plus one per lost race for a slot: more than this is not a spool memscope wrote, and
 * a huge sparse file must not keep the reader busy for hours. */
#define REGIONS_MAX (1u << 16)

uint8_t *ms_spool_counts_chunk(const struct ms_spool_buffer *b, uint32_t *len)
{
    uint8_t *out = malloc(b->counts_len + MS_REC_MAXLEN_CLOCK + 8);
    if (!out)
        return NULL;
    uint8_t *p = ms_spool_clock_put(out, b->clock_tsc, b->clock_ns);
    if (b->counts_len)
        memcpy(p, b->counts, b->counts_len);
    *len = (uint32_t)(p - out) + b->counts_len;
    return out;
}

void ms_spool_buffers_free(struct ms_spool_buffer *list, int n)
{
    for (int i = 0; list && i < n; i++)
        free(list[i].counts);
    free(list);
}

int ms_spool_scan(const char *trace_path, int *fd_out, struct ms_spool_buffer **out)
{
    *fd_out = -1;
    *out = NULL;
    char path[4200];
    if (snprintf(path, sizeof path, "%s.spool", trace_path) >= (int)sizeof path)
        return 0;
    struct stat st;
    int fd = ms_open_regular(path, &st);
    if (fd < 0)
        return fd == MS_ENOENT ? 0 : fd;
    struct ms_spool_buffer *list = NULL;
    size_t n = 0, cap = 0;
    uint64_t size = (uint64_t)st.st_size;
    /* Regions are all the same size: the first valid head says which. */
    uint64_t region = 0;
    unsigned regions = 0;
    for (uint64_t off = 0; off + MS_SPOOL_HEAD_SIZE <= size && regions < REGIONS_MAX; regions++) {
        uint8_t h[MS_SPOOL_HEAD_LEN];
        if (ms_pread_all(fd, h, sizeof h, off) != 0)
            break;
        uint64_t magic = ms_get_le(h, 8);
        uint32_t tid = (uint32_t)ms_get_le(h + 8, 4), bsize = (uint32_t)ms_get_le(h + 12, 4);
        uint32_t committed = (uint32_t)ms_get_le(h + 16, 4);
        if (magic != MS_SPOOL_MAGIC || bsize == 0 || bsize > MS_CHUNK_MAX_RAW ||
            (region && MS_SPOOL_HEAD_SIZE + (uint64_t)bsize != region)) {
            if (!region)
                break;     /* not a spool this reader knows */
            off += region; /* a region never used, or damaged */
            continue;
        }
        region = MS_SPOOL_HEAD_SIZE + (uint64_t)bsize;
        uint64_t data = off + MS_SPOOL_HEAD_SIZE;
        off += region;
        if (committed > bsize || data + committed > size)
            continue;
        /* The buffer starts with its CLOCK record: kind, tsc, monotonic ns. */
        uint8_t clock[1 + 2 * MS_VARINT_MAX];
        size_t want = committed < sizeof clock ? committed : sizeof clock;
        if (committed < 3 || ms_pread_all(fd, clock, want, data) != 0 || clock[0] != MS_REC_CLOCK)
            continue;
        const uint8_t *p = clock + 1, *end = clock + want;
        uint64_t tsc, ns;
        if (ms_varint_get(&p, end, &tsc) != 0 || ms_varint_get(&p, end, &ns) != 0)
            continue;
        int err = ms_grow(&list, &cap, n + 1, sizeof *list, 16);
        if (err) {
            ms_spool_buffers_free(list, (int)n);
            close(fd);
            return err;
        }
        struct ms_spool_buffer *b = &list[n];
        *b = (struct ms_spool_buffer){.offset = data,
                                      .len = committed,
                                      .tid = tid,
                                      .clock_tsc = tsc,
                                      .clock_ns = ns,
                                      .records = (uint64_t)(p - clock) < committed};
        uint8_t page[MS_SPOOL_HEAD_SIZE], counts[MS_SPOOL_COUNTS_RECORDS_MAX];
        uint32_t len = 0;
        if (ms_pread_all(fd, page, sizeof page, data - MS_SPOOL_HEAD_SIZE) == 0)
            len = ms_spool_counts_encode(page + MS_SPOOL_COUNTS_AT, committed, counts);
        if (len && (b->counts = malloc(len)) == NULL) {
            ms_spool_buffers_free(list, (int)n);
            close(fd);
            return MS_ENOMEM;
        }
        if (len) {
            memcpy(b->counts, counts, len);
            b->counts_len = len;
        }
        if (b->records || b->counts_len)
            n++;
    }
    if (!n) {
        ms_spool_buffers_free(list, 0);
        close(fd);
        return 0;
    }
    *fd_out = fd;
    *out = list;
    return (int)n;
}
