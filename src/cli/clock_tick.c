/* memscope run's clock for the traced processes (clock_tick.h). */
#define _GNU_SOURCE
#include "clock_tick.h"

#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static void *tick(void *arg)
{
    struct ms_clock_tick *c = arg;
    const struct timespec ms = {0, MS_CLOCK_TICK_NS};
    while (!atomic_load_explicit(&c->stop, memory_order_relaxed)) {
        nanosleep(&ms, NULL);
        if (c->page)
            atomic_fetch_add_explicit(c->page, 1, memory_order_relaxed);
        ms_tick_fn fn = atomic_load_explicit(&c->each, memory_order_acquire);
        if (fn)
            fn(c->each_ctx);
    }
    return NULL;
}

void ms_clock_tick_start(struct ms_clock_tick *c)
{
    *c = (struct ms_clock_tick){.fd = -1};
    atomic_init(&c->stop, false);
    atomic_init(&c->each, NULL);
    int fd = memfd_create("memscope-clock", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    /* Sealed: nobody who opens it through /proc can cut it short under the mappings. */
    void *m = MAP_FAILED;
    if (fd >= 0 && ftruncate(fd, 4096) == 0 &&
        fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) == 0)
        m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m != MAP_FAILED) {
        c->fd = fd;
        c->page = m;
    } else if (fd >= 0) {
        close(fd);
    }
    /* The thread takes none of memscope run's signals. */
    sigset_t all, was;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &was);
    c->running = pthread_create(&c->thread, NULL, tick, c) == 0;
    pthread_sigmask(SIG_SETMASK, &was, NULL);
    if (c->running && c->page)
        snprintf(c->path, sizeof c->path, "/proc/%d/fd/%d", (int)getpid(), fd);
}

void ms_clock_tick_each(struct ms_clock_tick *c, ms_tick_fn fn, void *ctx)
{
    if (atomic_load_explicit(&c->each, memory_order_relaxed))
        return;
    c->each_ctx = ctx;
    atomic_store_explicit(&c->each, fn, memory_order_release); /* after its context */
}

void ms_clock_tick_stop(struct ms_clock_tick *c)
{
    if (c->running) {
        atomic_store_explicit(&c->stop, true, memory_order_relaxed);
        pthread_join(c->thread, NULL);
        c->running = false;
    }
    if (c->page)
        munmap((void *)c->page, 4096);
    if (c->fd >= 0)
        close(c->fd);
    c->page = NULL;
    c->fd = -1;
    c->path[0] = 0;
}
