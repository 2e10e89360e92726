/* Opens a file that untrusted input names (a trace names its parent's trace and the modules to
 * read symbols from) only if it is a regular file: a FIFO or a device named there must neither
 * block the reader nor be read. Header-only, like varint.h, for the reader and the symbolizer. */
#ifndef MS_OPEN_REGULAR_H
#define MS_OPEN_REGULAR_H

#include "errors.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

/* Opens path with flags (O_RDONLY, or O_WRONLY | O_APPEND to add to it; close-on-exec) and
 * returns the descriptor, with its fstat in *st; or MS_ENOENT (no such file), MS_EINVAL (not a
 * regular file), MS_EIO (any other failure, errno says which). The descriptor reads and writes
 * normally: O_NONBLOCK, needed only to open, is cleared. */
static inline int ms_open_regular_as(const char *path, int flags, struct stat *st)
{
    /* stat first: opening a device can itself act (a tape rewinds, a watchdog starts). The
     * open cannot block on a FIFO (O_NONBLOCK) nor take a terminal (O_NOCTTY), and fstat
     * checks the file actually opened, in case the name changed in between. */
    if (stat(path, st) == 0 && !S_ISREG(st->st_mode))
        return MS_EINVAL;
    int fd = open(path, flags | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? MS_ENOENT : MS_EIO;
    int rc = fd, fl;
    if (fstat(fd, st) != 0)
        rc = MS_EIO;
    else if (!S_ISREG(st->st_mode))
        rc = MS_EINVAL;
    else if ((fl = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0)
        rc = MS_EIO;
    if (rc < 0) {
        int e = errno;
        close(fd);
        errno = e;
    }
    return rc;
}

/* ms_open_regular_as, read-only. */
static inline int ms_open_regular(const char *path, struct stat *st)
{
    return ms_open_regular_as(path, O_RDONLY, st);
}

#endif
