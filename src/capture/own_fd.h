/* Descriptors memscope opens for itself (the trace, libunwind's memory-check pipe), kept out of
 * the program's way: above the soft RLIMIT_NOFILE, where open(), dup() and pipe() never reach
 * and loops up to sysconf(_SC_OPEN_MAX) never look, and checked before every use, because
 * close_range() or a dup2() can still take them away. */
#ifndef MS_CAPTURE_OWN_FD_H
#define MS_CAPTURE_OWN_FD_H

#include <stdbool.h>
#include <sys/types.h>

/* Moves fd to a descriptor number the program does not use, close-on-exec, and closes fd.
 * The number is the lowest free one at or above the soft limit (raised for the moment of the
 * dup when it is below the hard limit); when the soft limit equals the hard limit, the lowest
 * free one in the top 64 below it. Returns the new descriptor, or fd itself (unchanged) when it
 * cannot be moved. */
int ms__fd_move_high(int fd);

/* A descriptor with the identity of the file it was opened on, so that a later use can tell
 * whether the number still refers to that file. */
struct ms__own_fd {
    _Atomic int fd; /* -1: none; read without a lock (the writer checks it before locking) */
    dev_t dev;
    ino_t ino;
};

/* Records fd's file as the one f refers to; returns false if fd cannot be inspected. */
bool ms__own_fd_set(struct ms__own_fd *f, int fd);

/* True if f->fd is open and still refers to the file it was set on. Fills *size with that
 * file's current size when it is (size may be NULL). */
bool ms__own_fd_valid(const struct ms__own_fd *f, off_t *size);

#endif
