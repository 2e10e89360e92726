/* Tests for the settings table (common/options.h): values are checked as the capture library
 * and memscope run check them, the README's table of variables says what the table says, and
 * the usage line of memscope run names every option the table gives it. */
#include "cli/cli.h"
#include "common/options.h"
#include "ms_test.h"

#include <stdio.h>
#include <string.h>

static void parse_values(void)
{
    long v;
    char why[128];
    const struct ms_option *depth = &ms_options[MS_OPT_DEPTH];
    ASSERT_TRUE(ms_option_parse(depth, "64", &v, why, sizeof why));
    ASSERT_EQ(v, 64);
    ASSERT_TRUE(!ms_option_parse(depth, "257", &v, why, sizeof why));
    ASSERT_STREQ(why, "is not a number from 1 to 256");
    ASSERT_TRUE(!ms_option_parse(depth, "12x", &v, why, sizeof why));
    ASSERT_TRUE(!ms_option_parse(depth, "", &v, why, sizeof why));
    const struct ms_option *level = &ms_options[MS_OPT_COMPRESSION];
    ASSERT_TRUE(ms_option_parse(level, "-7", &v, why, sizeof why));
    ASSERT_EQ(v, -7);
    ASSERT_TRUE(!ms_option_parse(level, "-8", &v, why, sizeof why));
    ASSERT_STREQ(why, "is not a number from -7 to 19");
    const struct ms_option *unwind = &ms_options[MS_OPT_UNWIND];
    ASSERT_TRUE(ms_option_parse(unwind, "fp", &v, why, sizeof why));
    ASSERT_EQ(v, 1);
    ASSERT_EQ(ms_option_default(unwind), 2);
    ASSERT_TRUE(!ms_option_parse(unwind, "f", &v, why, sizeof why));
    ASSERT_STREQ(why, "is not one of none, fp, libunwind");
    ASSERT_TRUE(ms_option_parse(&ms_options[MS_OPT_DISABLE], "0", &v, why, sizeof why));
    ASSERT_EQ(v, 0);
    ASSERT_TRUE(ms_option_parse(&ms_options[MS_OPT_DISABLE], "yes", &v, why, sizeof why));
    ASSERT_EQ(v, 1);
    ASSERT_EQ(ms_option_default(&ms_options[MS_OPT_UNWIND_FAST]), 1);
    /* A message that does not fit is cut, not overrun. */
    char tiny[8];
    ASSERT_TRUE(!ms_option_parse(depth, "0", &v, tiny, sizeof tiny));
    ASSERT_EQ(strlen(tiny), 7);
    for (int i = 0; i < MS_OPT_COUNT; i++) {
        ASSERT_EQ(ms_options[i].id, i);
        ASSERT_TRUE(ms_option_by_variable(ms_options[i].variable) == &ms_options[i]);
        if (ms_options[i].def)
            ASSERT_TRUE(ms_option_parse(&ms_options[i], ms_options[i].def, &v, why, sizeof why));
    }
    ASSERT_TRUE(ms_option_by_variable("MEMSCOPE_NOPE") == NULL);
}

static void readme_matches_table(void)
{
    static char doc[1 << 18];
    ASSERT_TRUE(ms_test_read_file(MS_SOURCE_DIR "/README.md", doc, sizeof doc));
    int rows = 0;
    bool seen[MS_OPT_COUNT] = {0};
    for (char *line = doc; line && *line;
         line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (strncmp(line, "| `MEMSCOPE_", 12))
            continue;
        char name[64], text[512];
        const char *end = strchr(line + 3, '`');
        ASSERT_TRUE(end != NULL);
        snprintf(name, sizeof name, "%.*s", (int)(end - line - 3), line + 3);
        const char *cell = strstr(end, "| ");
        ASSERT_TRUE(cell != NULL);
        cell += 2;
        const char *stop = strstr(cell, " |\n");
        ASSERT_TRUE(stop != NULL);
        snprintf(text, sizeof text, "%.*s", (int)(stop - cell), cell);
        const struct ms_option *o = ms_option_by_variable(name);
        if (!o)
            fprintf(stderr, "README names %s, which the settings table does not have\n", name);
        ASSERT_TRUE(o != NULL);
        ASSERT_TRUE(!seen[o->id]);
        seen[o->id] = true;
        ASSERT_STREQ(text, o->help);
        rows++;
    }
    ASSERT_EQ(rows, MS_OPT_COUNT);
}

static void usage_names_every_option(void)
{
    for (int i = 0; i < MS_OPT_COUNT; i++) {
        if (!ms_options[i].flag)
            continue;
        char want[64];
        snprintf(want, sizeof want, "--%s", ms_options[i].flag);
        if (i == MS_OPT_OUTPUT) /* -o TRACE is its short form */
            snprintf(want, sizeof want, "-o TRACE");
        ASSERT_TRUE(strstr(MS_USAGE_RUN, want) != NULL);
    }
}

MS_TEST_MAIN(TEST(parse_values), TEST(readme_matches_table), TEST(usage_names_every_option))
