/* Record buffers (event_buffer.h). */
#define _GNU_SOURCE
#include "event_buffer.h"
#include "own_memory.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

_Atomic uint32_t ms__time_period = 256;

static const _Atomic uint32_t no_tick;
const _Atomic uint32_t *ms__clock_tick = &no_tick;

bool ms__clock_tick_mapped(void)
{
    return ms__clock_tick != &no_tick;
}

void ms__clock_tick_map(const char *path)
{
    /* Looked at before it is opened: an open of whatever is at the path now (memscope run gone
     * and its pid another process's) could wake a FIFO's writer, or reset a device. */
    int at = open(path, O_PATH | O_CLOEXEC);
    if (at < 0)
        return;
    struct stat st;
    char self[64];
    snprintf(self, sizeof self, "/proc/self/fd/%d", at);
    int fd = fstat(at, &st) == 0 && S_ISREG(st.st_mode) ? open(self, O_RDONLY | O_CLOEXEC) : -1;
    close(at);
    if (fd < 0)
        return;
    /* Only memscope run's page: a memfd (no name in any directory) of one page, sealed against
     * shrinking (a page of a file cut short would fault) and growing. */
    int seals = fcntl(fd, F_GET_SEALS);
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 4096 && st.st_nlink == 0 &&
        seals >= 0 && (seals & F_SEAL_SHRINK) && (seals & F_SEAL_GROW)) {
        void *m = ms__own_map(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
        if (m != MAP_FAILED)
            ms__clock_tick = m;
    }
    close(fd);
}

void ms__buffer_begin_chunk(struct ms__buffer *b)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t tsc = ms__now();
    b->pos = b->buf;
    uint8_t *kind;
    uint8_t *p = ms__rec_begin_untimed(b, &kind);
    p = ms_rec_put_CLOCK(&b->base, kind, p, tsc,
                         (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
    if (b->task) {
        /* The chunk restates the thread's task; CPU time 0 (not read): the thread flushing this
         * buffer may be another one. */
        kind = p;
        *kind = 0;
        p = ms_rec_put_TASK(&b->base, kind, p + 1, b->task, 0);
    }
    b->free_lo = 0;
    atomic_store_explicit(&b->free_span, 0, memory_order_relaxed);
    b->free_every = false;
    b->pos = p;
    atomic_store_explicit(&b->head->committed, (uint32_t)(p - b->buf), memory_order_release);
    b->last_tsc = tsc;
    b->first_tsc = tsc;
    b->untimed = 0;
    b->tick = atomic_load_explicit(ms__clock_tick, memory_order_relaxed);
}

void ms__buffer_init(struct ms__buffer *b, struct ms__spool_head *head,
                     void (*full)(struct ms__buffer *))
{
    b->head = head;
    b->buf = (uint8_t *)head + MS_SPOOL_HEAD;
    b->limit = b->buf + MS_SLOT_BUFFER - MS_RECORD_MAX;
    b->full = full;
    ms__buffer_begin_chunk(b);
}
