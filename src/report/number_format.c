/* Formatting of counts and durations for the text outputs. */
#include "number_format.h"

#include <inttypes.h>
#include <stdio.h>

const char *ms_format_count(char *buf, uint64_t v)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%" PRIu64, v);
    int o = 0;
    for (int i = 0; i < n; i++) {
        buf[o++] = tmp[i];
        if ((n - i - 1) % 3 == 0 && i != n - 1)
            buf[o++] = ',';
    }
    buf[o] = 0;
    return buf;
}

const char *ms_format_duration(char *buf, uint64_t ns)
{
    if (ns < 1000000)
        snprintf(buf, 32, "%.1f us", (double)ns / 1e3);
    else if (ns < 1000000000)
        snprintf(buf, 32, "%.1f ms", (double)ns / 1e6);
    else
        snprintf(buf, 32, "%.2f s", (double)ns / 1e9);
    return buf;
}

const char *ms_format_leak_kinds(char *buf, const uint64_t *bytes, const uint64_t *blocks)
{
    char k[4][2][32];
    for (int i = 0; i < 4; i++) {
        ms_format_count(k[i][0], bytes[i]);
        ms_format_count(k[i][1], blocks[i]);
    }
    snprintf(buf, MS_LEAK_KINDS_TEXT,
             "definitely lost %s bytes in %s blocks, indirectly lost %s in %s, possibly lost %s "
             "in %s, still reachable %s in %s",
             k[0][0], k[0][1], k[1][0], k[1][1], k[2][0], k[2][1], k[3][0], k[3][1]);
    return buf;
}
