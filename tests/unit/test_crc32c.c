/* Tests for the CRC32C of trace chunks: the standard check values (the "123456789" check and
 * RFC 3720's iSCSI vectors) on the table and the SSE4.2 paths, and the two paths agreeing on
 * every length, alignment and split. */
#include "common/crc32c.h"
#include "ms_test.h"

#define ASSERT_U32_EQ(a, b)                                                                        \
    do {                                                                                           \
        uint32_t va_ = (a), vb_ = (b);                                                             \
        if (va_ != vb_) {                                                                          \
            fprintf(stderr, "%s:%d: ASSERT_U32_EQ(%s, %s) failed: 0x%08x != 0x%08x\n", __FILE__,   \
                    __LINE__, #a, #b, va_, vb_);                                                   \
            ms_test_failures++;                                                                    \
            return;                                                                                \
        }                                                                                          \
    } while (0)

typedef uint32_t (*crc_fn)(uint32_t crc, const void *p, size_t n);

/* The paths this machine can run: the table always, SSE4.2 when the CPU has it. */
static int paths(crc_fn out[2], const char *names[2])
{
    int n = 0;
    out[n] = ms_crc32c_table;
    names[n++] = "table";
#if defined(__x86_64__)
    if (ms_crc32c_have_sse42()) {
        out[n] = ms_crc32c_sse42;
        names[n++] = "sse4.2";
    } else {
        printf("note: no SSE4.2 on this CPU, its path is not tested\n");
    }
#endif
    return n;
}

static void check_values(void)
{
    crc_fn fn[2];
    const char *name[2];
    int n = paths(fn, name);
    uint8_t zeros[32] = {0}, ones[32], up[32], down[32];
    for (int i = 0; i < 32; i++) {
        ones[i] = 0xff;
        up[i] = (uint8_t)i;
        down[i] = (uint8_t)(31 - i);
    }
    for (int i = 0; i < n; i++) {
        printf("path %s\n", name[i]);
        ASSERT_U32_EQ(fn[i](0, "123456789", 9), 0xe3069283);
        ASSERT_U32_EQ(fn[i](0, "", 0), 0);
        ASSERT_U32_EQ(fn[i](0, zeros, 32), 0x8a9136aa);
        ASSERT_U32_EQ(fn[i](0, ones, 32), 0x62a8ab43);
        ASSERT_U32_EQ(fn[i](0, up, 32), 0x46dd794e);
        ASSERT_U32_EQ(fn[i](0, down, 32), 0x113fdb5c);
    }
    ASSERT_U32_EQ(ms_crc32c(0, "123456789", 9), 0xe3069283);
}

/* Every length 0..300 at every start 0..7 (the 8-byte loop, its tail, unaligned loads), and
 * every split of a buffer into two calls, give the table path's one-call result. */
static void paths_agree(void)
{
    crc_fn fn[2];
    const char *name[2];
    int n = paths(fn, name);
    uint8_t buf[512];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof buf; i++) {
        x = x * 1103515245 + 12345;
        buf[i] = (uint8_t)(x >> 16);
    }
    for (size_t start = 0; start < 8; start++)
        for (size_t len = 0; len <= 300; len++) {
            uint32_t want = ms_crc32c_table(0, buf + start, len);
            for (int i = 0; i < n; i++)
                ASSERT_U32_EQ(fn[i](0, buf + start, len), want);
            ASSERT_U32_EQ(ms_crc32c(0, buf + start, len), want);
        }
    uint32_t whole = ms_crc32c_table(0, buf, 300);
    for (size_t cut = 0; cut <= 300; cut++)
        for (int i = 0; i < n; i++)
            ASSERT_U32_EQ(fn[i](fn[i](0, buf, cut), buf + cut, 300 - cut), whole);
}

MS_TEST_MAIN(TEST(check_values), TEST(paths_agree))
