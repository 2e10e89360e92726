/* Unit test for src/analysis/symbolize.c: runs fixture builds of symbolize_fixture.c, which print
 * their module map and a few known return sites, and checks the offline symbolization of those
 * addresses (names, file:line, inline chains, demangling, fallbacks, build-id mismatch, cache).
 *
 * Build (from the repository root; W = the project warning flags):
 *   W="-Wall -Wextra -Wshadow -Wmissing-prototypes -Wstrict-prototypes -Wvla -Wwrite-strings \
 *      -Wformat=2 -fno-common"
 *   gcc -std=gnu11 $W -g -O0 tests/unit/symbolize_fixture.c -o /tmp/symbolize_fixture_O0
 *   gcc -std=gnu11 $W -g -O2 tests/unit/symbolize_fixture.c -o /tmp/symbolize_fixture_O2
 *   g++ -x c++ -Wall -Wextra -g -O0 tests/unit/symbolize_fixture.c -o /tmp/symbolize_fixture_cxx
 *   g++ -x c++ -Wall -Wextra -O2 tests/unit/symbolize_fixture.c \
 *       -o /tmp/symbolize_fixture_cxx_nodebug
 *   gcc -std=gnu11 $W -g src/analysis/symbolize.c src/common/errors.c tests/unit/test_symbolize.c \
 *       $(pkg-config --cflags --libs libdw) -lstdc++ -o /tmp/test_symbolize
 * Run:
 *   /tmp/test_symbolize /tmp/symbolize_fixture_O0 /tmp/symbolize_fixture_O2 \
 *       /tmp/symbolize_fixture_cxx /tmp/symbolize_fixture_cxx_nodebug
 * The fixtures must be built without -s and with the default --build-id. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/analysis/symbolize.h"
#include "../../src/common/errors.h"

#define MAX_MODS 32

struct fx_module {
    char path[4096];
    uint64_t bias, lo, hi;
    uint8_t build_id[64];
    size_t build_id_len;
};

/* What one fixture run printed. */
struct fx_run {
    const char *exe_arg;
    struct fx_module mods[MAX_MODS];
    int nmods;
    uint64_t direct, inl, func, libc;
    unsigned direct_line, inner_line, outer_line;
};

static int failures;

static const char *show(const char *s)
{
    return s ? s : "(null)";
}

static void check_str(const char *what, const char *expected, const char *actual)
{
    if ((expected == NULL) != (actual == NULL) || (expected && strcmp(expected, actual) != 0)) {
        printf("FAIL %s: expected \"%s\", got \"%s\"\n", what, show(expected), show(actual));
        failures++;
    }
}

static void check_prefix(const char *what, const char *prefix, const char *actual)
{
    if (!actual || strncmp(prefix, actual, strlen(prefix)) != 0) {
        printf("FAIL %s: expected prefix \"%s\", got \"%s\"\n", what, prefix, show(actual));
        failures++;
    }
}

static void check_contains(const char *what, const char *needle, const char *actual)
{
    if (!actual || !strstr(actual, needle)) {
        printf("FAIL %s: expected something containing \"%s\", got \"%s\"\n", what, needle,
               show(actual));
        failures++;
    }
}

static void check_int(const char *what, long long expected, long long actual)
{
    if (expected != actual) {
        printf("FAIL %s: expected %lld, got %lld\n", what, expected, actual);
        failures++;
    }
}

static const char *base_name(const char *p)
{
    if (!p)
        return NULL;
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static int hex_to_bytes(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = strlen(hex);
    if (n % 2 || n / 2 > cap)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (uint8_t)v;
    }
    return (int)(n / 2);
}

/* Runs the fixture at path and parses its output into *r. Returns 0 or -1. */
static int run_fixture(const char *path, struct fx_run *r)
{
    memset(r, 0, sizeof(*r));
    r->exe_arg = path;
    FILE *p = popen(path, "r");
    if (!p) {
        perror(path);
        return -1;
    }
    char line[8192];
    int seen = 0;
    while (fgets(line, sizeof(line), p)) {
        char hex[256];
        unsigned long long a, b, c;
        unsigned l1, l2;
        if (strncmp(line, "module ", 7) == 0 && r->nmods < MAX_MODS) {
            struct fx_module *m = &r->mods[r->nmods];
            if (sscanf(line, "module %4095s %llx %llx %llx %255s", m->path, &a, &b, &c, hex) != 5)
                continue;
            m->bias = a;
            m->lo = b;
            m->hi = c;
            int n = strcmp(hex, "-") == 0 ? 0 : hex_to_bytes(hex, m->build_id, 64);
            m->build_id_len = n > 0 ? (size_t)n : 0;
            r->nmods++;
        } else if (sscanf(line, "direct %llx %u", &a, &l1) == 2) {
            r->direct = a;
            r->direct_line = l1;
            seen |= 1;
        } else if (sscanf(line, "inline %llx %u %u", &a, &l1, &l2) == 3) {
            r->inl = a;
            r->inner_line = l1;
            r->outer_line = l2;
            seen |= 2;
        } else if (sscanf(line, "func %llx", &a) == 1) {
            r->func = a;
            seen |= 4;
        } else if (sscanf(line, "libc %llx", &a) == 1) {
            r->libc = a;
            seen |= 8;
        }
    }
    int st = pclose(p);
    if (st != 0 || seen != 15 || r->nmods == 0) {
        printf("FAIL running fixture %s: status %d, fields seen 0x%x, %d modules\n", path, st, seen,
               r->nmods);
        failures++;
        return -1;
    }
    return 0;
}

static ms_symbolizer *symbolizer_for(const struct fx_run *r)
{
    ms_symbolizer *s = NULL;
    int rc = ms_symbolizer_new(&s);
    check_int("ms_symbolizer_new", 0, rc);
    if (rc < 0)
        return NULL;
    for (int i = 0; i < r->nmods; i++) {
        const struct fx_module *m = &r->mods[i];
        rc = ms_symbolizer_add_module(s, m->path, m->bias, m->lo, m->hi, m->build_id,
                                      m->build_id_len);
        check_int("ms_symbolizer_add_module", 0, rc);
    }
    return s;
}

/* Names the fixture's functions get in the C and the C++ builds. fixture_inlined has internal
 * linkage and is always inlined, so GCC emits no linkage name for it: no parameter list. */
struct names {
    const char *outer, *inlined;
};
static const struct names c_names = {"fixture_outer", "fixture_inlined"};
static const struct names cxx_names = {"ms_fx::fixture_outer(ms_fx::sites*)",
                                       "ms_fx::fixture_inlined"};

/* Checks a fixture built with -g. */
static void test_with_debug(const char *label, const char *path, const struct names *nm)
{
    struct fx_run r;
    if (run_fixture(path, &r) < 0)
        return;
    ms_symbolizer *s = symbolizer_for(&r);
    if (!s)
        return;
    const char *exe = r.mods[0].path;
    char what[256];
    ms_frame f[8];

    /* A plain call: one frame in fixture_outer at the call's line. */
    int n = ms_symbolize(s, r.direct, true, f, 8);
    snprintf(what, sizeof(what), "%s direct: frame count", label);
    check_int(what, 1, n);
    if (n >= 1) {
        snprintf(what, sizeof(what), "%s direct: function", label);
        check_str(what, nm->outer, f[0].function);
        snprintf(what, sizeof(what), "%s direct: file", label);
        check_str(what, "symbolize_fixture.c", base_name(f[0].file));
        snprintf(what, sizeof(what), "%s direct: file is absolute", label);
        check_int(what, 1, f[0].file && f[0].file[0] == '/');
        snprintf(what, sizeof(what), "%s direct: line", label);
        check_int(what, r.direct_line, f[0].line);
        snprintf(what, sizeof(what), "%s direct: module", label);
        check_str(what, exe, f[0].module);
        snprintf(what, sizeof(what), "%s direct: address", label);
        check_int(what, (long long)r.direct, (long long)f[0].address);
        snprintf(what, sizeof(what), "%s direct: inlined", label);
        check_int(what, 0, f[0].inlined);
    }

    /* A call inside always_inline code: the inlined frame, then its caller at the call site. */
    n = ms_symbolize(s, r.inl, true, f, 8);
    snprintf(what, sizeof(what), "%s inline: frame count", label);
    check_int(what, 2, n);
    if (n >= 2) {
        snprintf(what, sizeof(what), "%s inline[0]: function", label);
        check_str(what, nm->inlined, f[0].function);
        snprintf(what, sizeof(what), "%s inline[0]: file", label);
        check_str(what, "symbolize_fixture.c", base_name(f[0].file));
        snprintf(what, sizeof(what), "%s inline[0]: line", label);
        check_int(what, r.inner_line, f[0].line);
        snprintf(what, sizeof(what), "%s inline[0]: inlined", label);
        check_int(what, 1, f[0].inlined);
        snprintf(what, sizeof(what), "%s inline[1]: function", label);
        check_str(what, nm->outer, f[1].function);
        snprintf(what, sizeof(what), "%s inline[1]: file", label);
        check_str(what, "symbolize_fixture.c", base_name(f[1].file));
        snprintf(what, sizeof(what), "%s inline[1]: file is absolute", label);
        check_int(what, 1, f[1].file && f[1].file[0] == '/');
        snprintf(what, sizeof(what), "%s inline[1]: line", label);
        check_int(what, r.outer_line, f[1].line);
        snprintf(what, sizeof(what), "%s inline[1]: inlined", label);
        check_int(what, 0, f[1].inlined);
        snprintf(what, sizeof(what), "%s inline[1]: address", label);
        check_int(what, (long long)r.inl, (long long)f[1].address);
    }
    /* max smaller than the chain: the innermost frames. */
    n = ms_symbolize(s, r.inl, true, f, 1);
    snprintf(what, sizeof(what), "%s inline max=1: count", label);
    check_int(what, 1, n);
    snprintf(what, sizeof(what), "%s inline max=1: inlined", label);
    check_int(what, 1, f[0].inlined);

    /* A function's entry address, not a return address. */
    n = ms_symbolize(s, r.func, false, f, 8);
    snprintf(what, sizeof(what), "%s func: frame count", label);
    check_int(what, 1, n);
    snprintf(what, sizeof(what), "%s func: function", label);
    check_str(what, nm->outer, f[0].function);

    /* libc has no debug info here: symbol+offset from .dynsym (or DWARF if installed). */
    n = ms_symbolize(s, r.libc, false, f, 8);
    snprintf(what, sizeof(what), "%s libc puts: frame count", label);
    check_int(what, 1, n >= 1);
    snprintf(what, sizeof(what), "%s libc puts: function", label);
    check_contains(what, "puts", f[0].function);
    snprintf(what, sizeof(what), "%s libc puts: module", label);
    check_contains(what, "libc.so", f[0].module);

    /* Cache: 4 distinct (address, is_return) keys so far; repeats add none, same strings. */
    snprintf(what, sizeof(what), "%s cache count", label);
    check_int(what, 4, (long long)ms_symbolizer_cache_count(s));
    ms_frame g[8];
    n = ms_symbolize(s, r.direct, true, f, 8);
    int n2 = ms_symbolize(s, r.direct, true, g, 8);
    snprintf(what, sizeof(what), "%s cached lookup returns the same strings", label);
    check_int(what, 1, n == n2 && f[0].function == g[0].function && f[0].file == g[0].file);
    snprintf(what, sizeof(what), "%s cache count after repeats", label);
    check_int(what, 4, (long long)ms_symbolizer_cache_count(s));
    /* The same address as a non-return address is a separate key. */
    ms_symbolize(s, r.direct, false, f, 8);
    snprintf(what, sizeof(what), "%s cache count after non-return lookup", label);
    check_int(what, 5, (long long)ms_symbolizer_cache_count(s));

    ms_symbolizer_free(s);
}

/* Parses the offset of "name+0xOFF". */
static uint64_t plus_offset(const char *s)
{
    const char *p = s ? strstr(s, "+0x") : NULL;
    return p ? strtoull(p + 3, NULL, 16) : UINT64_MAX;
}

/* Checks a C++ fixture built without -g: demangled .symtab names with offsets. */
static void test_nodebug(const char *path)
{
    struct fx_run r;
    if (run_fixture(path, &r) < 0)
        return;
    ms_symbolizer *s = symbolizer_for(&r);
    if (!s)
        return;
    ms_frame f[8];
    int n = ms_symbolize(s, r.func, false, f, 8);
    check_int("nodebug func: count", 1, n);
    check_str("nodebug func: function", "ms_fx::fixture_outer(ms_fx::sites*)+0x0", f[0].function);
    check_str("nodebug func: file", NULL, f[0].file);
    check_int("nodebug func: line", 0, f[0].line);
    check_int("nodebug func: inlined", 0, f[0].inlined);

    n = ms_symbolize(s, r.direct, true, f, 8);
    check_int("nodebug direct: count", 1, n);
    check_prefix("nodebug direct: function", "ms_fx::fixture_outer(ms_fx::sites*)+0x",
                 f[0].function);
    check_int("nodebug direct: offset from the return address", (long long)(r.direct - r.func),
              (long long)plus_offset(f[0].function));
    check_str("nodebug direct: module", r.mods[0].path, f[0].module);
    ms_symbolizer_free(s);
}

/* Checks build-id mismatch, missing files, addresses in no module and argument checking. */
static void test_fallbacks(const char *path)
{
    struct fx_run r;
    if (run_fixture(path, &r) < 0)
        return;
    const struct fx_module *exe = &r.mods[0];
    ms_symbolizer *s = NULL;
    check_int("new", 0, ms_symbolizer_new(&s));
    if (!s)
        return;
    char expect[4096 + 64];
    ms_frame f[4];

    /* Wrong build-id: symbols must not be used. */
    uint8_t bad[64];
    memcpy(bad, exe->build_id, sizeof(bad));
    bad[0] ^= 0xff;
    check_int("add mismatched module", 0,
              ms_symbolizer_add_module(s, exe->path, exe->bias, exe->lo, exe->hi, bad,
                                       exe->build_id_len ? exe->build_id_len : 20));
    int n = ms_symbolize(s, r.direct, true, f, 4);
    check_int("mismatch: count", 1, n);
    snprintf(expect, sizeof(expect), "%s+0x%" PRIx64 " [build-id mismatch]", base_name(exe->path),
             r.direct - exe->bias);
    check_str("mismatch: function", expect, f[0].function);
    check_str("mismatch: file", NULL, f[0].file);
    check_str("mismatch: module", exe->path, f[0].module);

    /* Missing file: registered without error, module+offset text. */
    const char *gone = "/nonexistent/memscope-test/libgone.so";
    uint64_t gb = 0x7f0000000000ULL;
    check_int("add missing module", 0,
              ms_symbolizer_add_module(s, gone, gb, gb + 0x1000, gb + 0x2000, NULL, 0));
    n = ms_symbolize(s, gb + 0x1234, true, f, 4);
    check_int("missing: count", 1, n);
    check_str("missing: function", "libgone.so+0x1234", f[0].function);
    check_str("missing: module", gone, f[0].module);
    check_int("missing: address", (long long)(gb + 0x1234), (long long)f[0].address);

    /* Not an ELF file: also registered without error. */
    check_int(
        "add non-ELF module", 0,
        ms_symbolizer_add_module(s, "/etc/hostname", 0x1000000, 0x1000000, 0x1001000, NULL, 0));
    n = ms_symbolize(s, 0x1000010, false, f, 4);
    check_int("non-ELF: count", 1, n);
    check_str("non-ELF: function", "hostname+0x10", f[0].function);

    /* No module at all. */
    n = ms_symbolize(s, 0x10, false, f, 4);
    check_int("no module: count", 1, n);
    check_str("no module: function", "0x10", f[0].function);
    check_str("no module: module", NULL, f[0].module);
    check_str("no module: file", NULL, f[0].file);
    n = ms_symbolize(s, 0xdeadbeef, true, f, 4);
    check_str("no module, return address: function", "0xdeadbeef", f[0].function);
    check_int("no module, return address: address", 0xdeadbeef, (long long)f[0].address);

    /* max 0 fills nothing. */
    check_int("max 0", 0, ms_symbolize(s, 0x10, false, f, 0));

    /* Argument checking. */
    check_int("add NULL path", MS_EINVAL, ms_symbolizer_add_module(s, NULL, 0, 0, 1, NULL, 0));
    check_int("add hi < lo", MS_EINVAL, ms_symbolizer_add_module(s, "/x", 0, 2, 1, NULL, 0));
    check_int("add NULL build-id", MS_EINVAL, ms_symbolizer_add_module(s, "/x", 0, 1, 2, NULL, 3));
    check_int("symbolize NULL frames", MS_EINVAL, ms_symbolize(s, 0x10, false, NULL, 1));
    check_int("new NULL", MS_EINVAL, ms_symbolizer_new(NULL));
    ms_symbolizer_free(s);
    ms_symbolizer_free(NULL);

    /* The right build-id, and an unchecked (empty) one, both give real symbols. */
    s = NULL;
    check_int("new", 0, ms_symbolizer_new(&s));
    if (!s)
        return;
    check_int("add module without build-id", 0,
              ms_symbolizer_add_module(s, exe->path, exe->bias, exe->lo, exe->hi, NULL, 0));
    n = ms_symbolize(s, r.direct, true, f, 4);
    check_str("no build-id recorded: function", "fixture_outer", n >= 1 ? f[0].function : NULL);
    ms_symbolizer_free(s);
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s FIXTURE_O0 FIXTURE_O2 FIXTURE_CXX FIXTURE_CXX_NODEBUG\n",
                argv[0]);
        return 2;
    }
    /* Never reach out to debuginfod servers from a unit test. */
    unsetenv("DEBUGINFOD_URLS");
    test_with_debug("C -O0", argv[1], &c_names);
    test_with_debug("C -O2", argv[2], &c_names);
    test_with_debug("C++ -O0", argv[3], &cxx_names);
    test_nodebug(argv[4]);
    test_fallbacks(argv[1]);
    if (failures) {
        printf("%d check(s) failed\n", failures);
        return 1;
    }
    printf("all symbolize checks passed\n");
    return 0;
}
