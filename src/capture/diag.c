/* Allocation-free diagnostics for the capture library. */
#include "diag.h"

#include <string.h>
#include <unistd.h>

char *ms__utoa(unsigned long long v, char *buf)
{
    char tmp[21];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (int i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    buf[n] = 0;
    return buf;
}

void ms__say(const char *a, const char *b, const char *c)
{
    char line[1024];
    size_t n = 0;
    const char *parts[] = {"memscope: ", a, b, c, "\n"};
    for (size_t i = 0; i < sizeof parts / sizeof *parts; i++) {
        size_t len = parts[i] ? strlen(parts[i]) : 0;
        if (len > sizeof line - 1 - n)
            len = sizeof line - 1 - n;
        memcpy(line + n, parts[i], len);
        n += len;
    }
    ssize_t r = write(2, line, n);
    (void)r;
}
