/* Tests for the varint and zigzag encoding of the trace format. */
#include "common/varint.h"
#include "ms_test.h"

static void roundtrip(void)
{
    const uint64_t values[] = {
        0, 1, 127, 128, 300, 16383, 16384, UINT32_MAX, UINT64_MAX - 1, UINT64_MAX};
    for (size_t i = 0; i < sizeof values / sizeof *values; i++) {
        uint8_t buf[MS_VARINT_MAX + 8];
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
    uint8_t buf2[MS_VARINT_MAX + 8];
    (void)buf;
    /* 300 needs 9 bits: two bytes, (300 << 2) | 0b10 = 0x04b2, little-endian. */
    ASSERT_EQ(ms_varint_put(buf2, 300) - buf2, 2);
    ASSERT_EQ(buf2[0], 0xb2);
    ASSERT_EQ(buf2[1], 0x04);
    /* 5 fits in one byte: (5 << 1) | 1. */
    ASSERT_EQ(ms_varint_put(buf2, 5) - buf2, 1);
    ASSERT_EQ(buf2[0], 0x0b);
    /* 2^56 needs the 9-byte form: a zero byte and the value. */
    ASSERT_EQ(ms_varint_put(buf2, 1ull << 56) - buf2, 9);
    ASSERT_EQ(buf2[0], 0);
    ASSERT_EQ(buf2[8], 1);
    /* A padded encoding reads back the same value. */
    uint8_t *end = ms_varint_put_width(buf2, 5, 3);
    const uint8_t *p = buf2;
    uint64_t v;
    ASSERT_EQ(ms_varint_get(&p, end, &v), 0);
    ASSERT_EQ(v, 5);
    ASSERT_TRUE(p == buf2 + 3);
}

static void truncated_and_overlong(void)
{
    const uint8_t cut[] = {0x04, 0x80}; /* announces 3 bytes, has 2 */
    const uint8_t *p = cut;
    uint64_t v;
    ASSERT_EQ(ms_varint_get(&p, cut + sizeof cut, &v), -1);
    ASSERT_TRUE(p == cut);
    const uint8_t nine[4] = {0x00, 1, 2, 3}; /* announces 9 bytes */
    p = nine;
    ASSERT_EQ(ms_varint_get(&p, nine + sizeof nine, &v), -1);
    ASSERT_EQ(ms_varint_get(&p, nine, &v), -1);
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
