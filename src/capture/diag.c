/* Allocation-free diagnostics for the capture library. */
#include "diag.h"

#include "own_fd.h"

#include <stdbool.h>
#include <string.h>
#include <unistd.h>

static struct ms__own_fd err_fd = {.fd = -1};
static enum { ERR_UNKNOWN, ERR_KNOWN, ERR_CLOSED } err_state;

void ms__diag_init(void)
{
    err_state = ms__own_fd_set(&err_fd, 2) ? ERR_KNOWN : ERR_CLOSED;
}

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
    /* Before start-up (a bad setting found while reading them) stderr is the one inherited;
     * a program started with descriptor 2 closed may open any file there later. */
    if (err_state == ERR_CLOSED || (err_state == ERR_KNOWN && !ms__own_fd_valid(&err_fd, NULL)))
        return;
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
