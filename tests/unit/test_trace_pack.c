/* Tests for the packing of a trace as it is written (trace_pack.h): the copy holds the same
 * chunks with EVENTS payloads compressed and reads exactly as the original; a damaged chunk
 * and everything after it are copied as they are, a cut-short end too; a trace the program
 * rewrote is left as it is; nothing is left behind in the directory. */
#include "analysis/trace_analysis.h"
#include "analysis/trace_pack.h"
#include "common/errors.h"
#include "ms_test.h"
#include "trace_builder.h"

#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256], path[512], plain[512];

/* A trace of pid 9: PROCESS, MODULES, three EVENTS chunks of one thread (compressible: many
 * alternating allocations and frees), END. Offsets of the EVENTS chunks go to at[]. */
static void build(struct tb *b, size_t at[3])
{
    tb_begin(b, 9);
    struct tb p = {.len = 0};
    tb_modules(&p, 1000, 0);
    tb_chunk(b, MS_CHUNK_MODULES, 0, &p, 0);
    uint64_t tsc = 1000;
    for (int c = 0; c < 3; c++) {
        struct tb_ev e = tb_events(&p, tsc);
        if (c == 0)
            tb_thread_start(&e, ++tsc, "main");
        for (int i = 0; i < 1500; i++) {
            uint64_t ptr = 0x10000 + (uint64_t)(i % 64) * 32;
            tb_alloc(&e, ++tsc, ptr, 24, 0);
            tb_free(&e, ++tsc, ptr);
        }
        at[c] = b->len;
        tb_chunk_full(b, MS_CHUNK_EVENTS, 9, tsc, &p, 0, 0);
    }
    p.len = 0;
    tb_end(&p, tsc + 1);
    tb_chunk(b, MS_CHUNK_END, 0, &p, 0);
}

static size_t read_all(const char *file, uint8_t *buf, size_t cap)
{
    FILE *f = fopen(file, "rb");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

/* The summary and damage of the trace at file. */
static void numbers(const char *file, struct ms_summary *s, struct ms_trace_damage *d)
{
    struct ms_analysis *a = NULL;
    char err[512];
    ASSERT_EQ(ms_analysis_run_numbers(file, &a, err, sizeof err), 0);
    if (!a)
        return;
    *s = *ms_heap_model_summary(a->model);
    *d = *ms_trace_damage(a->trace);
    ms_analysis_free(a);
}

/* Whether the directory holds only the trace (and plain, if it was written). */
static int files_in_dir(void)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

/* Writes b as the trace, packs it in one go (or in two steps, the second half appended in
 * between), and checks that the copy reads as the original (written to plain). */
static void pack_and_compare(const struct tb *b, size_t split, int want_rc)
{
    unlink(path);
    ASSERT_EQ(tb_write(b, plain), 0);
    ms_trace_pack *p = ms_trace_pack_new(path, 1);
    ASSERT_TRUE(p != NULL);
    ASSERT_TRUE(!ms_trace_pack_step(p)); /* the trace does not exist yet */
    FILE *f = fopen(path, "wb");
    fwrite(b->data, 1, split, f);
    fclose(f);
    chmod(path, 0640);
    ms_trace_pack_step(p);
    f = fopen(path, "ab");
    fwrite(b->data + split, 1, b->len - split, f);
    fclose(f);
    char why[256] = "";
    ASSERT_EQ(ms_trace_pack_finish(p, why, sizeof why), want_rc);
    ASSERT_EQ(files_in_dir(), 2);
    struct stat st;
    ASSERT_EQ(stat(path, &st), 0);
    ASSERT_EQ(st.st_mode & 0777, 0640);
    struct ms_summary s1 = {0}, s2 = {0};
    struct ms_trace_damage d1 = {0}, d2 = {0};
    numbers(plain, &s1, &d1);
    numbers(path, &s2, &d2);
    ASSERT_EQ(s2.allocs, s1.allocs);
    ASSERT_EQ(s2.frees, s1.frees);
    ASSERT_EQ(s2.bytes_allocated, s1.bytes_allocated);
    ASSERT_EQ(s2.peak_bytes, s1.peak_bytes);
    ASSERT_EQ(s2.peak_tsc, s1.peak_tsc);
    ASSERT_EQ(s2.live_bytes, s1.live_bytes);
    ASSERT_EQ(s2.last_tsc, s1.last_tsc);
    ASSERT_EQ(d2.chunks_bad, d1.chunks_bad);
    ASSERT_EQ(d2.bytes_lost, d1.bytes_lost);
}

/* Whole trace: every EVENTS chunk compressed, everything else byte for byte. */
static void packs_events(void)
{
    static struct tb b;
    size_t at[3];
    build(&b, at);
    for (size_t split = 0; split <= b.len; split += b.len / 7 + 1) {
        pack_and_compare(&b, split, 0);
        static uint8_t got[1 << 16];
        size_t n = read_all(path, got, sizeof got);
        ASSERT_TRUE(n < b.len / 2);
        ASSERT_EQ(memcmp(got, b.data, at[0]), 0); /* header, PROCESS, MODULES */
        ASSERT_EQ(got[at[0]], MS_CHUNK_EVENTS);
        ASSERT_EQ(got[at[0] + 1], MS_CHUNK_ZSTD);
    }
}

/* A payload byte flipped in the second EVENTS chunk: the first is packed, the rest copied as
 * it is, so that the copy is damaged exactly where the original is. */
static void damage_copied(void)
{
    static struct tb b;
    size_t at[3];
    build(&b, at);
    b.data[at[1] + MS_CHUNK_HEADER_SIZE + 40] ^= 0x10;
    pack_and_compare(&b, b.len, 0);
    static uint8_t got[1 << 16];
    size_t n = read_all(path, got, sizeof got);
    size_t rest = b.len - at[1];
    ASSERT_TRUE(n > rest);
    ASSERT_EQ(memcmp(got + n - rest, b.data + at[1], rest), 0);
    ASSERT_EQ(got[at[0] + 1], MS_CHUNK_ZSTD);
}

/* The trace ends in a chunk cut short (a process killed in a write): copied as it is. */
static void cut_short(void)
{
    static struct tb b;
    size_t at[3];
    build(&b, at);
    b.len = at[2] + 100;
    pack_and_compare(&b, at[1] + 50, 0);
    static uint8_t got[1 << 16];
    size_t n = read_all(path, got, sizeof got);
    ASSERT_EQ(memcmp(got + n - 100, b.data + at[2], 100), 0);
}

/* Not a trace (another format): left as it is, nothing packed. */
static void not_a_trace(void)
{
    static struct tb b;
    size_t at[3];
    build(&b, at);
    b.data[0] ^= 0xff;
    unlink(path);
    ASSERT_EQ(tb_write(&b, path), 0);
    ms_trace_pack *p = ms_trace_pack_new(path, 1);
    char why[256];
    ASSERT_EQ(ms_trace_pack_finish(p, why, sizeof why), 0);
    static uint8_t got[1 << 16];
    ASSERT_EQ(read_all(path, got, sizeof got), b.len);
    ASSERT_EQ(memcmp(got, b.data, b.len), 0);
}

/* The program truncates or overwrites what was packed: the trace stays as the program left
 * it, and the copy goes. */
static void rewritten(void)
{
    for (int how = 0; how < 3; how++) {
        static struct tb b;
        size_t at[3];
        build(&b, at);
        unlink(path);
        unlink(plain);
        ASSERT_EQ(tb_write(&b, path), 0);
        ms_trace_pack *p = ms_trace_pack_new(path, 1);
        ASSERT_TRUE(ms_trace_pack_step(p));
        FILE *f = fopen(path, how == 0 ? "wb" : "r+b");
        if (how == 1)
            fputs("not a trace any more", f); /* the file header */
        if (how == 2) {
            fseek(f, (long)at[1] + 4, SEEK_SET); /* a chunk header's stored size */
            fputc(0, f);
        }
        fclose(f);
        char why[256] = "";
        ASSERT_EQ(ms_trace_pack_finish(p, why, sizeof why), -1);
        ASSERT_TRUE(strstr(why, "rewrote") != NULL);
        ASSERT_EQ(files_in_dir(), 1);
        static uint8_t got[1 << 16];
        size_t n = read_all(path, got, sizeof got);
        ASSERT_EQ(n, how == 0 ? 0 : b.len);
    }
}

int main(int argc, char **argv)
{
    snprintf(dir, sizeof dir, "/tmp/ms-test-pack-%d", (int)getpid());
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/t.mstrace", dir);
    snprintf(plain, sizeof plain, "%s/plain.mstrace", dir);
    static const struct ms_test_case cases[] = {TEST(packs_events), TEST(damage_copied),
                                                TEST(cut_short), TEST(not_a_trace),
                                                TEST(rewritten)};
    int rc = ms_test_main(argc, argv, cases, (int)(sizeof cases / sizeof *cases));
    unlink(path);
    unlink(plain);
    rmdir(dir);
    return rc;
}
