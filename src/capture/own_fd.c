/* Placement and checking of memscope's own descriptors, without allocating. */
#define _GNU_SOURCE
#include "own_fd.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* Soft limits above this are not worth reaching: the kernel sizes a process's descriptor table
 * by its highest descriptor, and a table of a million entries costs 8 MiB of kernel memory. */
#define HIGHEST_TARGET (1 << 16)

int ms__fd_move_high(int fd)
{
    struct rlimit rl;
    if (fd < 0 || getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return fd;
    rlim_t soft = rl.rlim_cur, target;
    bool raised = false;
    if (soft < rl.rlim_max && soft < HIGHEST_TARGET) {
        /* Beyond the soft limit: the program can reach it only by raising its own limit and
         * then opening that many files. Raising the limit for the dup is the only way there. */
        struct rlimit up = {soft + 64 < rl.rlim_max ? soft + 64 : rl.rlim_max, rl.rlim_max};
        raised = setrlimit(RLIMIT_NOFILE, &up) == 0;
        target = soft;
    } else {
        rlim_t top = soft < HIGHEST_TARGET ? soft : HIGHEST_TARGET;
        target = top > 64 + 3 ? top - 64 : 3;
    }
    int high = fcntl(fd, F_DUPFD_CLOEXEC, (int)target);
    if (raised)
        setrlimit(RLIMIT_NOFILE, &rl);
    if (high < 0)
        return fd;
    close(fd);
    return high;
}

bool ms__own_fd_set(struct ms__own_fd *f, int fd)
{
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0)
        return false;
    f->fd = fd;
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    return true;
}

bool ms__own_fd_valid(const struct ms__own_fd *f, off_t *size)
{
    struct stat st;
    if (f->fd < 0 || fstat(f->fd, &st) != 0 || st.st_dev != f->dev || st.st_ino != f->ino)
        return false;
    if (size)
        *size = st.st_size;
    return true;
}
