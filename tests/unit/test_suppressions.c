/* LeakSanitizer-format suppressions (src/analysis/suppressions.c): the pattern rule (a substring,
 * '*', '^' and '$'), which frame fields it is matched against, and the one-line errors of a bad
 * file. */
#include "analysis/suppressions.h"
#include "common/errors.h"
#include "ms_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void matching(void)
{
    ASSERT_TRUE(ms_suppression_matches("leak_loop", "leak_loop"));
    ASSERT_TRUE(ms_suppression_matches("loop", "leak_loop_2")); /* a substring */
    ASSERT_TRUE(!ms_suppression_matches("^loop", "leak_loop"));
    ASSERT_TRUE(ms_suppression_matches("^leak", "leak_loop"));
    ASSERT_TRUE(ms_suppression_matches("loop$", "leak_loop"));
    ASSERT_TRUE(!ms_suppression_matches("leak$", "leak_loop"));
    ASSERT_TRUE(ms_suppression_matches("^leak_loop$", "leak_loop"));
    ASSERT_TRUE(!ms_suppression_matches("^leak_loop$", "leak_loop2"));
    ASSERT_TRUE(ms_suppression_matches("a*c", "xxabbbcyy"));
    ASSERT_TRUE(ms_suppression_matches("^a*c$", "abcbc"));
    ASSERT_TRUE(!ms_suppression_matches("^a*c$", "abcb"));
    ASSERT_TRUE(ms_suppression_matches("std::vector<*>::push_back", "std::vector<int>::push_back"));
    ASSERT_TRUE(ms_suppression_matches("*", "x"));
    ASSERT_TRUE(!ms_suppression_matches("x", ""));
    ASSERT_TRUE(!ms_suppression_matches("x", NULL));
}

static char dir[64];

static const char *file_with(const char *name, const char *text)
{
    static char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static void loading(void)
{
    snprintf(dir, sizeof dir, "/tmp/ms-supp-XXXXXX");
    ASSERT_TRUE(mkdtemp(dir) != NULL);
    struct ms_suppressions s = {0};
    char err[512] = "";
    const char *ok =
        file_with("ok.supp", "# comment\n\n  leak:foo  \nleak:libbar.so\r\nleak:^baz$\n");
    ASSERT_EQ(ms_suppressions_load(&s, ok, err, sizeof err), 0);
    ASSERT_EQ(s.n, 3);
    ASSERT_STREQ(s.v[0].pattern, "foo");
    ASSERT_EQ(s.v[0].line, 3);
    ASSERT_STREQ(s.v[1].pattern, "libbar.so");
    ASSERT_STREQ(s.v[2].pattern, "^baz$");
    /* matched against functions, files and modules (their path or its last part) */
    ms_frame frames[2] = {{"main", "/src/main.c", 3, "/usr/lib/libbar.so", 0x10, false},
                          {"bazz", NULL, 0, NULL, 0x20, false}};
    ASSERT_EQ(ms_suppressions_find(&s, frames, 2), 1);
    ms_frame baz = {"baz", NULL, 0, NULL, 0, false};
    ASSERT_EQ(ms_suppressions_find(&s, &baz, 1), 2);
    ms_frame none = {"qux", "/src/foo_not.c", 1, NULL, 0, false};
    ASSERT_EQ(ms_suppressions_find(&s, &none, 1), 0); /* foo: in the file's name */
    ms_frame other = {"qux", "/src/x.c", 1, "/lib/libc.so.6", 0, false};
    ASSERT_EQ(ms_suppressions_find(&s, &other, 1), -1);
    ms_suppressions_free(&s);

    struct {
        const char *text, *want;
    } bad[] = {{"race:foo\n", ":1: 'race:foo' is not a suppression: memscope reads leak:PATTERN"},
               {"\n\nleak:\n", ":3: leak: without a pattern"},
               {"foo\n", ":1: 'foo' is not a suppression"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *p = file_with("bad.supp", bad[i].text);
        err[0] = 0;
        ASSERT_EQ(ms_suppressions_load(&s, p, err, sizeof err), MS_EINVAL);
        ASSERT_TRUE(strstr(err, p) == err); /* names the file */
        ASSERT_TRUE(strstr(err, bad[i].want) != NULL);
        ms_suppressions_free(&s);
    }
    ASSERT_TRUE(ms_suppressions_load(&s, "/nonexistent/x.supp", err, sizeof err) < 0);
    ASSERT_TRUE(strstr(err, "/nonexistent/x.supp: cannot be opened") == err);
    ASSERT_TRUE(ms_suppressions_load(&s, dir, err, sizeof err) < 0); /* a directory */
    ASSERT_TRUE(strstr(err, "not a regular file") != NULL);
    unlink(file_with("ok.supp", ""));
    unlink(file_with("bad.supp", ""));
    rmdir(dir);
}

MS_TEST_MAIN(TEST(matching), TEST(loading))
