/* Tests for the varint and zigzag encoding of the trace format. */
#include "common/varint.h"
#include "ms_test.h"

static void roundtrip(void)
{
    const uint64_t values[] = {0, 1, 127, 128, 300, 16383, 16384, UINT32_MAX, UINT64_MAX - 1,
                               UINT64_MAX};
    for (size_t i = 0; i < sizeof values / sizeof *values; i++) {
        uint8_t buf[MS_VARINT_MAX];
        uint8_t *end = ms_varint_put(buf, values[i]);
        const uint8_t *p = buf;
        uint64_t out = 0;
        ASSERT_EQ(ms_varint_get(&p, end, &out), 0);
        ASSERT_TRUE(out == values[i]);
        ASSERT_TRUE(p == end);
    }
}

static void known_bytes(void)
{
    uint8_t buf[MS_VARINT_MAX];
    ASSERT_EQ(ms_varint_put(buf, 300) - buf, 2);
    ASSERT_EQ(buf[0], 0xac);
    ASSERT_EQ(buf[1], 0x02);
}

static void truncated_and_overlong(void)
{
    const uint8_t cut[] = {0x80, 0x80};
    const uint8_t *p = cut;
    uint64_t v;
    ASSERT_EQ(ms_varint_get(&p, cut + sizeof cut, &v), -1);
    ASSERT_TRUE(p == cut);
    const uint8_t toolong[11] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0};
    p = toolong;
    ASSERT_EQ(ms_varint_get(&p, toolong + sizeof toolong, &v), -1);
}

static void zigzag(void)
{
    ASSERT_EQ(ms_zigzag(0), 0);
    ASSERT_EQ(ms_zigzag(-1), 1);
    ASSERT_EQ(ms_zigzag(1), 2);
    ASSERT_EQ(ms_unzigzag(ms_zigzag(-123456789)), -123456789);
    ASSERT_TRUE(ms_unzigzag(ms_zigzag(INT64_MIN)) == INT64_MIN);
}

MS_TEST_MAIN(TEST(roundtrip), TEST(known_bytes), TEST(truncated_and_overlong), TEST(zigzag))
