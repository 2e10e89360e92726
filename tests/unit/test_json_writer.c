/* The JSON writer's strings: valid UTF-8 kept as it is, invalid bytes and control characters
 * escaped, so that any name a trace holds gives a document that parses to the same text. */
#include "ms_test.h"
#include "report/json_writer.h"

#include <stdio.h>
#include <stdlib.h>

static char *as_json(const char *s)
{
    static char buf[512];
    FILE *f = fmemopen(buf, sizeof buf, "w");
    struct ms_json j = {.out = f};
    ms_json_str(&j, NULL, s);
    fclose(f);
    return buf;
}

static void strings(void)
{
    ASSERT_STREQ(as_json("plain"), "\"plain\"");
    ASSERT_STREQ(as_json("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
                 "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
    ASSERT_STREQ(as_json("q\"b\\n\nt\t\x01\x7f"), "\"q\\\"b\\\\n\\nt\\t\\u0001\\u007f\"");
    /* A lone continuation byte, a truncated sequence, an overlong form, a surrogate, above
     * U+10FFFF: each byte escaped. */
    ASSERT_STREQ(as_json("a\x80z"), "\"a\\u0080z\"");
    ASSERT_STREQ(as_json("\xe2\x82"), "\"\\u00e2\\u0082\"");
    ASSERT_STREQ(as_json("\xc0\xaf"), "\"\\u00c0\\u00af\"");
    ASSERT_STREQ(as_json("\xed\xa0\x80"), "\"\\u00ed\\u00a0\\u0080\"");
    ASSERT_STREQ(as_json("\xf4\x90\x80\x80"), "\"\\u00f4\\u0090\\u0080\\u0080\"");
}

MS_TEST_MAIN(TEST(strings))
