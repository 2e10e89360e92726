/* Tests for the error codes: every code has a name and a message from the one X-macro list. */
#include "common/errors.h"
#include "ms_test.h"

static void names_and_messages(void)
{
    ASSERT_STREQ(ms_err_name(MS_ECORRUPT), "MS_ECORRUPT");
    ASSERT_STREQ(ms_strerror(MS_ECORRUPT), "trace is corrupt");
    ASSERT_STREQ(ms_err_name(MS_OK), "MS_OK");
    ASSERT_STREQ(ms_strerror(MS_OK), "success");
    ASSERT_STREQ(ms_err_name(12345), "MS_E?");
    ASSERT_STREQ(ms_strerror(-1), "unknown error");
    ASSERT_TRUE(MS_EIO < 0 && MS_ENOSYM < 0 && MS_EIO != MS_ENOSYM);
}

MS_TEST_MAIN(TEST(names_and_messages))
