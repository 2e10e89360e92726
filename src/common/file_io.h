/* Whole reads and writes on a descriptor, past short counts and EINTR: the reader's, the
 * spool's, the sealer's and the compactor's. Header-only, like open_regular.h. */
#ifndef MS_FILE_IO_H
#define MS_FILE_IO_H

#include "errors.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <unistd.h>

/* Reads n bytes at offset off: 0, or MS_EIO (an error, errno says which, or the end of the
 * file before n bytes). */
static inline int ms_pread_all(int fd, void *buf, size_t n, uint64_t off)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(fd, (uint8_t *)buf + done, n - done, (off_t)(off + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r == 0)
                errno = EIO; /* the file ends before */
            return MS_EIO;
        }
        done += (size_t)r;
    }
    return 0;
}

/* Writes n bytes at the descriptor's offset: 0, or MS_EIO (errno says why). */
static inline int ms_write_all(int fd, const void *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;
            return MS_EIO;
        }
        p = (const uint8_t *)p + w;
        n -= (size_t)w;
    }
    return 0;
}

#endif
