/*
 * lifetimes.c - blocks whose lifetimes are known by construction, for the lifetimes analysis
 * (tests/integration/analyses.py, docs/analyses.md):
 *   - forever: one block of 4000 bytes allocated first and never freed: live at the end, and
 *     long-lived (the program then sleeps, so that it lives for most of the run);
 *   - tiny_loop: 1000 blocks of 16 bytes, each freed before the next allocation: no allocation
 *     in between, each short-lived;
 *   - batch: 100 blocks of 48 bytes allocated one after another, then freed in the same order:
 *     block k has the 99 - k allocated after it in between (1 block with none, 9 with 1..9,
 *     90 with 10..99);
 *   - quiet: a block of 256 bytes freed 100 ms after its allocation, with nothing allocated in
 *     between: its free is the first record after a quiet spell, and carries its own time (the
 *     clock memscope run advances every millisecond), so it lives 100 ms to 1 s;
 *   - cross_thread: 50 blocks of 64 bytes allocated by main and freed by a worker thread.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void *keep;

static __attribute__((noinline)) void forever(void)
{
    keep = malloc(4000);
    memset(keep, 1, 4000);
}

static __attribute__((noinline)) void tiny_loop(void)
{
    for (int i = 0; i < 1000; i++) {
        char *volatile p = malloc(16);
        p[0] = (char)i;
        free(p);
    }
}

static __attribute__((noinline)) void batch(void)
{
    char *b[100];
    for (int k = 0; k < 100; k++)
        b[k] = malloc(48);
    for (int k = 0; k < 100; k++)
        free(b[k]);
}

static __attribute__((noinline)) void quiet(void)
{
    char *volatile p = malloc(256);
    p[0] = 1;
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
    free(p);
}

static void *blocks[50];

static void *worker(void *arg)
{
    (void)arg;
    for (int k = 0; k < 50; k++)
        free(blocks[k]);
    return NULL;
}

static __attribute__((noinline)) void cross_thread(void)
{
    for (int k = 0; k < 50; k++)
        blocks[k] = malloc(64);
    pthread_t t;
    if (pthread_create(&t, NULL, worker, NULL) != 0)
        abort();
    pthread_join(t, NULL);
}

int main(void)
{
    forever();
    tiny_loop();
    batch();
    quiet();
    cross_thread();
    struct timespec ts = {0, 300 * 1000 * 1000};
    nanosleep(&ts, NULL);
    return 0;
}
