/* Tests that `memscope report` opens only regular files among the paths a trace names: module
 * paths naming a FIFO or a device give module+offset frames, unread; a FIFO where libdwfl would
 * look for a module's separate debug file is not opened; a parent trace naming a FIFO or a
 * device is refused. Opening a FIFO would block for ever: ctest's TIMEOUT fails the test then.
 * Also checks that the symbolizer's own debug link lookup still finds a separate debug file.
 * usage: test_module_paths [TEST]; MS_FIXTURE_NODEBUG and MS_FIXTURE_SPLIT name the fixtures. */
#include "analysis/trace_analysis.h"
#include "common/errors.h"
#include "ms_test.h"
#include "report/report.h"
#include "trace_builder.h"

#include <fcntl.h>
#include <gelf.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];
static char trace_path[128];

/* The value of symbol name in the ELF file at path, or 0. */
static uint64_t symbol_value(const char *path, const char *name)
{
    uint64_t value = 0;
    elf_version(EV_CURRENT);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    Elf *elf = fd < 0 ? NULL : elf_begin(fd, ELF_C_READ, NULL);
    for (Elf_Scn *scn = NULL; elf && !value && (scn = elf_nextscn(elf, scn)) != NULL;) {
        GElf_Shdr sh;
        Elf_Data *data = elf_getdata(scn, NULL);
        if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB || !data || !sh.sh_entsize)
            continue;
        for (size_t i = 0; i < sh.sh_size / sh.sh_entsize && !value; i++) {
            GElf_Sym sym;
            const char *n =
                gelf_getsym(data, (int)i, &sym) ? elf_strptr(elf, sh.sh_link, sym.st_name) : NULL;
            if (n && !strcmp(n, name))
                value = sym.st_value;
        }
    }
    if (elf)
        elf_end(elf);
    if (fd >= 0)
        close(fd);
    return value;
}

static int copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    int rc = in && out ? 0 : -1;
    char buf[65536];
    size_t n;
    while (rc == 0 && (n = fread(buf, 1, sizeof buf, in)) > 0)
        rc = fwrite(buf, 1, n, out) == n ? 0 : -1;
    if (in)
        fclose(in);
    if (out && fclose(out) != 0)
        rc = -1;
    return rc;
}

/* A trace whose MODULES chunk names a FIFO and /dev/zero; one allocation's stack is a frame in
 * each (node 1 in the FIFO's range, node 2, innermost, in /dev/zero's). */
static void fifo_and_device_modules(void)
{
    char fifo[128];
    snprintf(fifo, sizeof fifo, "%s/libfifo.so", dir);
    ASSERT_EQ(mkfifo(fifo, 0600), 0);
    struct tb b, p;
    tb_begin(&b, 7);
    tb_modules(&p, 1000, 2);
    tb_module(&p, fifo, 0x400000, 0x401000, 0x402000);
    tb_module(&p, "/dev/zero", 0x500000, 0x501000, 0x502000);
    tb_chunk(&b, MS_CHUNK_MODULES, 0, &p, 0);
    struct tb_ev e = tb_events(&p, 1000);
    tb_node(&e, 1, 0, 0x401234);
    tb_node(&e, 2, 1, 0x501456);
    tb_alloc(&e, 1100, 0x10000, 64, 2);
    tb_chunk(&b, MS_CHUNK_EVENTS, 1, &p, 1);
    p.len = 0;
    tb_end(&p, 2000);
    tb_chunk(&b, MS_CHUNK_END, 0, &p, 0);
    ASSERT_EQ(tb_write(&b, trace_path), 0);

    struct ms_analysis *a;
    char err[512];
    ASSERT_EQ(ms_analysis_run(trace_path, &a, err, sizeof err), 0);
    ms_frame f[8];
    ASSERT_EQ(ms_analysis_stack(a, 2, f, 8), 2);
    ASSERT_STREQ(f[0].function, "zero+0x1456");
    ASSERT_STREQ(f[0].module, "/dev/zero");
    ASSERT_STREQ(f[1].function, "libfifo.so+0x1234");
    ASSERT_STREQ(f[1].module, fifo);
    /* The whole report is made, with those frames. */
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    ASSERT_TRUE(out != NULL);
    struct ms_report_options o = {.top = 10};
    int rc = ms_report_text(out, a, &o);
    fclose(out);
    ms_analysis_free(a);
    ASSERT_EQ(rc, 0);
    ASSERT_TRUE(strstr(text, "64 bytes in 1 block") != NULL);
    ASSERT_TRUE(strstr(text, "at zero+0x1456") != NULL);
    ASSERT_TRUE(strstr(text, "by libfifo.so+0x1234") != NULL);
    free(text);
    unlink(fifo);
}

/* A module without debug information (a real ELF file, with a build-id) whose separate debug
 * file, where libdwfl looks for it by name (<dir>/<name>.debug, <dir>/.debug/<name>.debug), is
 * a FIFO: symbolizing falls back to the symbol table without opening it. */
static void fifo_debug_file(void)
{
    char mod[128], fifo[160], sub[128], subfifo[160];
    snprintf(mod, sizeof mod, "%s/mod", dir);
    snprintf(fifo, sizeof fifo, "%s.debug", mod);
    snprintf(sub, sizeof sub, "%s/.debug", dir);
    snprintf(subfifo, sizeof subfifo, "%s/mod.debug", sub);
    ASSERT_EQ(copy_file(MS_FIXTURE_NODEBUG, mod), 0);
    ASSERT_EQ(mkfifo(fifo, 0600), 0);
    ASSERT_EQ(mkdir(sub, 0700), 0);
    ASSERT_EQ(mkfifo(subfifo, 0600), 0);
    uint64_t main_at = symbol_value(mod, "main");
    ASSERT_TRUE(main_at != 0);
    ms_symbolizer *s;
    ASSERT_EQ(ms_symbolizer_new(&s), 0);
    ASSERT_EQ(ms_symbolizer_add_module(s, mod, 0, 0, main_at + 0x100000, NULL, 0), 0);
    ms_frame f[4];
    int n = ms_symbolize(s, main_at, false, f, 4);
    ASSERT_EQ(n, 1);
    ASSERT_STREQ(f[0].function, "main+0x0");
    ASSERT_TRUE(f[0].file == NULL);
    ms_symbolizer_free(s);
    unlink(subfifo);
    rmdir(sub);
    unlink(fifo);
    unlink(mod);
}

/* A module stripped of its debug information, with a debug link to the separate debug file
 * next to it: the lookup that replaces libdwfl's finds it and gives file:line. */
static void debug_link_found(void)
{
    if (!MS_FIXTURE_SPLIT[0]) {
        printf("note: no objcopy, the split fixture was not built\n");
        return;
    }
    uint64_t leaf = symbol_value(MS_FIXTURE_SPLIT, "fixture_leaf");
    ASSERT_TRUE(leaf != 0);
    ms_symbolizer *s;
    ASSERT_EQ(ms_symbolizer_new(&s), 0);
    ASSERT_EQ(ms_symbolizer_add_module(s, MS_FIXTURE_SPLIT, 0, 0, leaf + 0x100000, NULL, 0), 0);
    ms_frame f[4];
    int n = ms_symbolize(s, leaf, false, f, 4);
    ASSERT_EQ(n, 1);
    ASSERT_STREQ(f[0].function, "fixture_leaf");
    ASSERT_TRUE(f[0].file != NULL && strstr(f[0].file, "symbolize_fixture.c") != NULL);
    ASSERT_TRUE(f[0].line > 0);
    ms_symbolizer_free(s);
}

/* A forked child's trace naming a FIFO, then a device, as its parent's trace: the report is
 * made without the parent's history and says why. */
static void fifo_parent_trace(void)
{
    char fifo[128];
    snprintf(fifo, sizeof fifo, "%s/parent.mstrace", dir);
    ASSERT_EQ(mkfifo(fifo, 0600), 0);
    const char *parents[] = {fifo, "/dev/zero"};
    for (int i = 0; i < 2; i++) {
        struct tb b, p;
        b.len = 0;
        tb_file_header(&b, MS_TRACE_VERSION);
        tb_process_forked(&p, 8, 7, parents[i]);
        tb_chunk(&b, MS_CHUNK_PROCESS, 0, &p, 0);
        struct tb_ev e = tb_events(&p, 1000);
        tb_alloc(&e, 1100, 0x10000, 64, 0);
        tb_chunk(&b, MS_CHUNK_EVENTS, 8, &p, 0);
        ASSERT_EQ(tb_write(&b, trace_path), 0);
        struct ms_analysis *a;
        char err[512];
        ASSERT_EQ(ms_analysis_run(trace_path, &a, err, sizeof err), 0);
        ASSERT_EQ(a->nancestors, 0);
        ASSERT_TRUE(strstr(a->ancestry_note, "not a regular file") != NULL);
        ms_analysis_free(a);
    }
    unlink(fifo);
}

int main(int argc, char **argv)
{
    /* Never reach out to debuginfod servers from a unit test. */
    unsetenv("DEBUGINFOD_URLS");
    snprintf(dir, sizeof dir, "/tmp/ms-test-paths-XXXXXX");
    if (!mkdtemp(dir)) {
        perror(dir);
        return 1;
    }
    snprintf(trace_path, sizeof trace_path, "%s/trace.mstrace", dir);
    static const struct ms_test_case cases[] = {TEST(fifo_and_device_modules),
                                                TEST(fifo_debug_file), TEST(debug_link_found),
                                                TEST(fifo_parent_trace)};
    int rc = ms_test_main(argc, argv, cases, (int)(sizeof cases / sizeof *cases));
    /* What a failed test left behind. */
    static const char *const left[] = {"trace.mstrace", "libfifo.so",       "mod",
                                       "mod.debug",     ".debug/mod.debug", ".debug",
                                       "parent.mstrace"};
    for (size_t i = 0; i < sizeof left / sizeof *left; i++) {
        char name[128];
        snprintf(name, sizeof name, "%s/%s", dir, left[i]);
        if (unlink(name) != 0)
            rmdir(name);
    }
    rmdir(dir);
    return rc;
}
