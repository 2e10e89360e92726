/* The spool file: created beside the trace, grown one region per buffer, removed at a normal
 * finish. Everything here runs without allocating. */
#define _GNU_SOURCE
#include "spool.h"
#include "own_memory.h"

#include "own_fd.h"
#include "spinlock.h"

#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

static struct ms__own_fd spool = {.fd = -1};
static char spool_path[4096 + 8];
static ms__spinlock grow_lock;

bool ms__spool_create(const char *trace_path)
{
    size_t l = strlen(trace_path);
    if (l + 7 > sizeof spool_path)
        return false;
    memcpy(spool_path, trace_path, l);
    memcpy(spool_path + l, ".spool", 7);
    int f = open(spool_path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
    if (f < 0) {
        spool_path[0] = 0;
        return false;
    }
    if (!ms__own_fd_set(&spool, ms__fd_move_high(f))) {
        close(f);
        unlink(spool_path);
        spool_path[0] = 0;
        return false;
    }
    return true;
}

struct ms__spool_head *ms__spool_map(unsigned r, uint32_t size, void *fixed)
{
    if (spool.fd < 0)
        return NULL;
    size_t region = MS_SPOOL_HEAD + size;
    off_t off = (off_t)r * (off_t)region;
    struct rlimit fsize;
    /* Growing the file past RLIMIT_FSIZE would raise SIGXFSZ. */
    if (getrlimit(RLIMIT_FSIZE, &fsize) == 0 && fsize.rlim_cur != RLIM_INFINITY &&
        (uint64_t)off + region > fsize.rlim_cur)
        return NULL;
    if (!ms__spin_lock(&grow_lock))
        return NULL;
    /* The program may have closed the descriptor; the file is found again by its path. */
    if (!ms__own_fd_valid(&spool, NULL)) {
        int f = open(spool_path, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
        struct ms__own_fd again = {.fd = -1};
        if (f >= 0 && ms__own_fd_set(&again, f) && again.dev == spool.dev && again.ino == spool.ino)
            spool.fd = ms__fd_move_high(f);
        else if (f >= 0)
            close(f);
    }
    int err =
        ms__own_fd_valid(&spool, NULL) ? posix_fallocate(spool.fd, off, (off_t)region) : EBADF;
    void *p = MAP_FAILED;
    if (err == 0)
        p = ms__own_map(fixed, region, PROT_READ | PROT_WRITE, MAP_SHARED | (fixed ? MAP_FIXED : 0),
                        spool.fd, off);
    ms__spin_unlock(&grow_lock);
    if (p == MAP_FAILED)
        return NULL;
    struct ms__spool_head *h = p;
    h->tid = 0;
    h->size = size;
    atomic_store_explicit(&h->committed, 0, memory_order_relaxed);
    h->magic = MS_SPOOL_MAGIC;
    return h;
}

void ms__spool_remove(void)
{
    if (spool_path[0])
        unlink(spool_path);
    spool_path[0] = 0;
    /* Closed only while the number is still the spool's (see ms__spool_after_fork_child). */
    if (ms__own_fd_valid(&spool, NULL))
        close(spool.fd);
    spool.fd = -1;
}

void ms__spool_after_fork_child(void)
{
    /* After a close_range() or a dup2() in the parent, the number may be a descriptor of the
     * program's, which the child needs (a shell's `exec 1025>file`): closed only if it is
     * still the spool. */
    if (ms__own_fd_valid(&spool, NULL))
        close(spool.fd);
    spool.fd = -1;
    spool_path[0] = 0;
    ms__spin_init(&grow_lock);
}

_Static_assert(offsetof(struct ms__spool_head, tid) == 8 &&
                   offsetof(struct ms__spool_head, size) == 12 &&
                   offsetof(struct ms__spool_head, committed) == 16 &&
                   sizeof(struct ms__spool_head) <= MS_SPOOL_HEAD_SIZE,
               "the head's layout is the trace format's (trace_format.h)");
