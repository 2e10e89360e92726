/* The compressor of traces written raw (src/analysis/trace_compact.c): every chunk comes out
 * as the capture's writer would have written it, a trace read while it grows comes out whole,
 * damage is copied as it is, and a trace the program replaced or rewrote is left alone. */
#define _GNU_SOURCE
#include "analysis/trace_compact.h"
#include "analysis/trace_reader.h"
#include "common/errors.h"
#include "ms_test.h"
#include "trace_builder.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

static char dir[] = "/tmp/ms-compact-XXXXXX";
static char path[256];

static void write_file(const char *p, const void *data, size_t n, const char *mode)
{
    FILE *f = fopen(p, mode);
    fwrite(data, 1, n, f);
    fclose(f);
}

static size_t read_file(const char *p, uint8_t *buf, size_t cap)
{
    FILE *f = fopen(p, "rb");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

/* A payload zstd shrinks: n bytes of a short repeating pattern (seeded by k). */
static void compressible(struct tb *p, size_t n, int k)
{
    p->len = 0;
    for (size_t i = 0; i < n; i++)
        p->data[p->len++] = (uint8_t)("abcabcabd"[i % 9] + k);
}

/* A file header, a PROCESS chunk, three raw EVENTS chunks zstd shrinks, a 3-byte one it cannot
 * and one compressed already; ends[] gets each chunk's end offset. */
static void build(struct tb *t, size_t ends[6])
{
    struct tb p;
    t->len = 0;
    tb_file_header(t, MS_TRACE_VERSION);
    tb_process(&p, 42);
    tb_chunk(t, MS_CHUNK_PROCESS, 0, &p, 0);
    ends[0] = t->len;
    for (int k = 0; k < 3; k++) {
        compressible(&p, 4000 + 1000 * (size_t)k, k);
        tb_chunk_full(t, MS_CHUNK_EVENTS, 7 + (uint32_t)k, 100 + (uint64_t)k, &p, 0, 0);
        ends[1 + k] = t->len;
    }
    p.len = 3;
    memcpy(p.data, "xyz", 3);
    tb_chunk(t, MS_CHUNK_EVENTS, 7, &p, 0);
    ends[4] = t->len;
    compressible(&p, 2000, 5);
    tb_chunk(t, MS_CHUNK_EVENTS, 8, &p, 1);
    ends[5] = t->len;
}

/* Walks the chunks of a (whole) and b (compacted) side by side: same types, threads, times
 * and raw payloads; in b each chunk zstd can shrink is compressed, with its checksum right. */
static int same_chunks(const uint8_t *a, size_t na, const uint8_t *b, size_t nb)
{
    if (na < MS_FILE_HEADER_SIZE || nb < MS_FILE_HEADER_SIZE || memcmp(a, b, MS_FILE_HEADER_SIZE))
        return 0;
    size_t i = MS_FILE_HEADER_SIZE, j = MS_FILE_HEADER_SIZE;
    static uint8_t ra[1 << 16], rb[1 << 16];
    int chunks = 0;
    while (i < na && j < nb) {
        const uint8_t *ha = a + i, *hb = b + j;
        uint32_t sa = (uint32_t)ms_get_le(ha + 4, 4), sb = (uint32_t)ms_get_le(hb + 4, 4);
        if (ha[0] != hb[0] || memcmp(ha + 8, hb + 8, 4) || memcmp(ha + 12, hb + 12, 12))
            return 0;
        if (ms_crc32c(ms_chunk_header_crc(hb), hb + 32, sb) != ms_get_le(hb + 24, 4))
            return 0;
        size_t la = sa, lb = sb;
        const uint8_t *pa = ha + 32, *pb = hb + 32;
        if (ha[1] & MS_CHUNK_ZSTD) {
            la = ZSTD_decompress(ra, sizeof ra, pa, sa);
            pa = ra;
        }
        if (hb[1] & MS_CHUNK_ZSTD) {
            lb = ZSTD_decompress(rb, sizeof rb, pb, sb);
            pb = rb;
        } else if (ZSTD_compress(rb, sizeof rb, pb, sb, 1) < sb) {
            return 0; /* left raw, though zstd shrinks it */
        }
        if (la != lb || memcmp(pa, pb, la))
            return 0;
        i += 32 + sa;
        j += 32 + sb;
        chunks++;
    }
    return i == na && j == nb ? chunks : 0;
}

static size_t files_in_dir(void)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

static struct tb t;
static uint8_t out[1 << 17];

static void whole(void)
{
    size_t ends[6];
    build(&t, ends);
    write_file(path, t.data, t.len, "wb");
    chmod(path, 0640);
    char err[512] = "";
    ms_trace_compactor *c = ms_trace_compact_new(path, 1);
    ASSERT_EQ(ms_trace_compact_finish(c, err, sizeof err), 1);
    size_t n = read_file(path, out, sizeof out);
    ASSERT_TRUE(n < t.len);
    ASSERT_EQ(same_chunks(t.data, t.len, out, n), 6);
    struct stat st;
    stat(path, &st);
    ASSERT_EQ(st.st_mode & 0777, 0640);
    ASSERT_EQ(files_in_dir(), 1);
    /* The reader takes it. */
    ms_trace *tr;
    ASSERT_EQ(ms_trace_open(path, &tr, err, sizeof err), 0);
    ASSERT_EQ(ms_trace_process(tr)->pid, 42);
    ms_trace_close(tr);
    /* Once more: nothing left to compress, nothing done. */
    uint8_t again[sizeof out];
    c = ms_trace_compact_new(path, 1);
    ASSERT_EQ(ms_trace_compact_finish(c, err, sizeof err), 0);
    ASSERT_EQ(read_file(path, again, sizeof again), n);
    ASSERT_TRUE(!memcmp(again, out, n));
    unlink(path);
}

/* Polled while the trace grows: a header, then chunks, some cut in two by the poll. */
static void growing(void)
{
    size_t ends[6];
    build(&t, ends);
    ms_trace_compactor *c = ms_trace_compact_new(path, 1);
    ASSERT_TRUE(!ms_trace_compact_poll(c)); /* no file yet */
    size_t at = 0, cuts[] = {10, ends[0], ends[1] + 40, ends[2] + 5, ends[4], t.len};
    struct stat before, after;
    for (int i = 0; i < 6; i++) {
        write_file(path, t.data + at, cuts[i] - at, "ab");
        at = cuts[i];
        ms_trace_compact_poll(c);
        if (i == 0)
            stat(path, &before);
    }
    stat(path, &after);
    ASSERT_EQ(before.st_ino, after.st_ino); /* not replaced before the end */
    char err[512] = "";
    ASSERT_EQ(ms_trace_compact_finish(c, err, sizeof err), 1);
    size_t n = read_file(path, out, sizeof out);
    ASSERT_EQ(same_chunks(t.data, t.len, out, n), 6);
    unlink(path);
}

/* A chunk whose checksum fails stays as it is, and so does a cut tail: the reader finds the
 * same damage in the copy. */
static void damage_copied(void)
{
    size_t ends[6];
    build(&t, ends);
    struct tb d = t;
    d.data[ends[1] + 100] ^= 0x20; /* inside the second EVENTS chunk's payload */
    size_t cut = ends[3] + 50;     /* the file ends inside the fifth chunk */
    write_file(path, d.data, cut, "wb");
    char err[512] = "";
    ASSERT_EQ(ms_trace_compact_finish(ms_trace_compact_new(path, 1), err, sizeof err), 1);
    size_t n = read_file(path, out, sizeof out);
    /* that chunk as it was; the tail, the fifth chunk's first 50 bytes, too */
    ASSERT_TRUE(memmem(out, n, d.data + ends[1], ends[2] - ends[1]) != NULL);
    ASSERT_TRUE(!memcmp(out + n - (cut - ends[3]), d.data + ends[3], cut - ends[3]));
    ASSERT_TRUE(n < cut);
    unlink(path);

    /* A header claiming more than any chunk holds: from there, everything as it is. */
    d = t;
    ms_put_le(d.data + ends[2] + 4, MS_CHUNK_MAX_RAW + 1, 4);
    write_file(path, d.data, d.len, "wb");
    ASSERT_EQ(ms_trace_compact_finish(ms_trace_compact_new(path, 1), err, sizeof err), 1);
    n = read_file(path, out, sizeof out);
    ASSERT_TRUE(!memcmp(out + n - (d.len - ends[2]), d.data + ends[2], d.len - ends[2]));
    unlink(path);
}

/* The program replaced, truncated or rewrote its trace after the compressor read it, or it is
 * no trace at all: left as it is. */
static void left_alone(void)
{
    size_t ends[6];
    build(&t, ends);
    char err[512] = "";
    static const char *how[] = {"replace", "truncate", "overwrite", "notrace", "missing"};
    for (int k = 0; k < 5; k++) {
        write_file(path, t.data, t.len, "wb");
        if (k == 3)
            write_file(path, "hello, this is no trace at all, it is text", 42, "wb");
        if (k == 4)
            unlink(path);
        ms_trace_compactor *c = ms_trace_compact_new(path, 1);
        ms_trace_compact_poll(c);
        uint8_t want[sizeof out];
        size_t wn = 0;
        if (k == 0) {
            char other[300];
            snprintf(other, sizeof other, "%s.other", path);
            write_file(other, t.data, t.len, "wb");
            rename(other, path);
        } else if (k == 1) {
            truncate(path, (off_t)ends[2]);
        } else if (k == 2) {
            int fd = open(path, O_WRONLY);
            ASSERT_EQ(pwrite(fd, "xxxxxxxx", 8, 0), 8);
            close(fd);
        }
        wn = read_file(path, want, sizeof want);
        int rc = ms_trace_compact_finish(c, err, sizeof err);
        if (rc != 0)
            fprintf(stderr, "case %s: %d %s\n", how[k], rc, err);
        ASSERT_EQ(rc, 0);
        ASSERT_EQ(read_file(path, out, sizeof out), wn);
        ASSERT_TRUE(!memcmp(out, want, wn));
        ASSERT_EQ(files_in_dir(), k == 4 ? 0 : 1);
        unlink(path);
    }
    ms_trace_compact_discard(NULL);
    ASSERT_EQ(ms_trace_compact_finish(NULL, err, sizeof err), 0);
}

/* Discarded midway: the trace stays as it is and no file is left behind. */
static void discarded(void)
{
    size_t ends[6];
    build(&t, ends);
    write_file(path, t.data, t.len, "wb");
    ms_trace_compactor *c = ms_trace_compact_new(path, 1);
    ASSERT_TRUE(ms_trace_compact_poll(c));
    ms_trace_compact_discard(c);
    ASSERT_EQ(read_file(path, out, sizeof out), t.len);
    ASSERT_TRUE(!memcmp(out, t.data, t.len));
    ASSERT_EQ(files_in_dir(), 1);
    unlink(path);
}

int main(int argc, char **argv)
{
    if (!mkdtemp(dir))
        return 2;
    snprintf(path, sizeof path, "%s/t.mstrace", dir);
    static const struct ms_test_case cases[] = {TEST(whole), TEST(growing), TEST(damage_copied),
                                                TEST(left_alone), TEST(discarded)};
    int rc = ms_test_main(argc, argv, cases, (int)(sizeof cases / sizeof *cases));
    rmdir(dir);
    return rc;
}
