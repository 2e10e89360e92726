/* Minimal assertions for the unit tests: print both values and the location on failure, and
 * run each test function by name (argv[1]) or all of them. */
#ifndef MS_TEST_H
#define MS_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int ms_test_failures;

#define ASSERT_EQ(a, b)                                                                            \
    do {                                                                                           \
        long long va_ = (long long)(a), vb_ = (long long)(b);                                      \
        if (va_ != vb_) {                                                                          \
            fprintf(stderr, "%s:%d: ASSERT_EQ(%s, %s) failed: %lld != %lld\n", __FILE__, __LINE__, \
                    #a, #b, va_, vb_);                                                             \
            ms_test_failures++;                                                                    \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define ASSERT_TRUE(c)                                                                             \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "%s:%d: ASSERT_TRUE(%s) failed\n", __FILE__, __LINE__, #c);            \
            ms_test_failures++;                                                                    \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define ASSERT_STREQ(a, b)                                                                         \
    do {                                                                                           \
        const char *sa_ = (a), *sb_ = (b);                                                         \
        if (!sa_ || !sb_ || strcmp(sa_, sb_) != 0) {                                               \
            fprintf(stderr, "%s:%d: ASSERT_STREQ(%s, %s) failed: \"%s\" != \"%s\"\n", __FILE__,    \
                    __LINE__, #a, #b, sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)");                 \
            ms_test_failures++;                                                                    \
            return;                                                                                \
        }                                                                                          \
    } while (0)

/* Reads the file at path into buf (capacity cap, NUL-terminated); false if it cannot be opened
 * or does not fit. */
static inline int ms_test_read_file(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t len = fread(buf, 1, cap - 1, f);
    int whole = len < cap - 1 || fgetc(f) == EOF;
    fclose(f);
    buf[len] = 0;
    return whole;
}

struct ms_test_case {
    const char *name;
    void (*fn)(void);
};

/* Runs the named test (or all) and returns the process exit status. */
static inline int ms_test_main(int argc, char **argv, const struct ms_test_case *cases, int n)
{
    int ran = 0;
    for (int i = 0; i < n; i++) {
        if (argc > 1 && strcmp(argv[1], cases[i].name) != 0)
            continue;
        int before = ms_test_failures;
        cases[i].fn();
        printf("%s %s\n", ms_test_failures == before ? "ok  " : "FAIL", cases[i].name);
        ran++;
    }
    if (!ran) {
        fprintf(stderr, "no test named %s\n", argc > 1 ? argv[1] : "(none)");
        return 2;
    }
    return ms_test_failures ? 1 : 0;
}

#define MS_TEST_MAIN(...)                                                                          \
    int main(int argc, char **argv)                                                                \
    {                                                                                              \
        static const struct ms_test_case cases[] = {__VA_ARGS__};                                  \
        return ms_test_main(argc, argv, cases, (int)(sizeof cases / sizeof *cases));               \
    }
#define TEST(name)                                                                                 \
    {                                                                                              \
#name, name                                                                                \
    }

#endif
