/*
 * threads_edge.c - exits with other threads in the states a thread stop at exit must survive
 * (each once broke memscope run's scan at exit: helper-27's review). The mode is argv[1]:
 *   leader    main calls pthread_exit; of the three threads left one idles holding a block on
 *             its stack (LEAK: leader_held, still reachable), one keeps only p + 16 of a block
 *             (LEAK: interior_block, possibly lost) and blocks in poll(), the last loses one
 *             (LEAK: leader_lost) and calls exit(3). The leader is a zombie: it has no memory.
 *   detached  16 detached threads start and end, then one idles; main exits 0. Threads that
 *             ended without giving back their buffers once made the exit crash (SIGSEGV).
 *   vfork     a thread is in vfork() (its child sleeps 1.5 s) when main exits 0: that thread
 *             reaches no ptrace stop until the child is done, and must not be left traced.
 * Each prints one line before it exits. tests/integration/oracle.py compares the first with
 * valgrind; harmless.py runs the others natively and under memscope run.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile int ready, polling;
static int pfd[2];

static void *leader_idle(void *a)
{
    void *volatile held = malloc(200); /* LEAK: leader_held */
    ready = 1;
    for (;;)
        pause();
    return held ? a : a;
}

static void *leader_exiter(void *a)
{
    (void)a;
    while (!ready || !polling)
        usleep(1000);
    usleep(100000);
    void *volatile lost = malloc(100); /* LEAK: leader_lost */
    lost = NULL;
    (void)lost;
    printf("threads_edge: leader gone, exiting from a thread\n");
    exit(3);
}

/* Overwrites the stack below its caller, where malloc's frames left the block's address. */
static __attribute__((noinline)) void scrub(void)
{
    volatile char area[8192];
    memset((char *)area, 0, sizeof area);
}

static void *interior_poll(void *a)
{
    char *volatile in = (char *)malloc(300) + 16; /* LEAK: interior_block */
    scrub();
    polling = 1;
    struct pollfd p = {pfd[0], POLLIN, 0};
    for (;;)
        poll(&p, 1, -1);
    return in ? a : a;
}

static void *short_lived(void *a)
{
    usleep(1000);
    return a;
}

static void *idle(void *a)
{
    for (;;)
        pause();
    return a;
}

static void *in_vfork(void *a)
{
    ready = 1;
    if (vfork() == 0) {
        struct timespec s = {1, 500000000};
        nanosleep(&s, NULL);
        _exit(0);
    }
    for (;;)
        pause();
    return a;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    pthread_t t, u;
    if (!strcmp(mode, "leader")) {
        if (pipe(pfd) != 0)
            return 1;
        pthread_t v;
        pthread_create(&t, NULL, leader_idle, NULL);
        pthread_create(&v, NULL, interior_poll, NULL);
        pthread_create(&u, NULL, leader_exiter, NULL);
        pthread_exit(NULL);
    }
    if (!strcmp(mode, "detached")) {
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        for (int i = 0; i < 16; i++)
            pthread_create(&t, &at, short_lived, NULL);
        usleep(200000);
        pthread_create(&t, NULL, idle, NULL);
        printf("threads_edge: detached\n");
        exit(0);
    }
    if (!strcmp(mode, "vfork")) {
        pthread_create(&t, NULL, in_vfork, NULL);
        while (!ready)
            usleep(1000);
        usleep(100000);
        printf("threads_edge: vfork\n");
        fflush(stdout);
        exit(0);
    }
    fprintf(stderr, "usage: threads_edge leader|detached|vfork\n");
    return 2;
}
