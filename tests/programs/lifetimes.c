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
 *     clock memscope run advances every 10 ms), so it lives 100 ms to 1 s;
 *   - cross_thread: 50 blocks of 64 bytes allocated by main and freed by a worker thread;
 *   - at_thread_exit: 10 blocks of 80 bytes that a thread allocates and frees itself in its
 *     pthread_key destructor (after memscope's own teardown of the thread: none is another
 *     thread's free);
 *   - inherited: 100 blocks of 96 bytes allocated, then a fork: the child frees them at once
 *     and sleeps 50 ms (in its trace: not another thread's frees, and not long-lived: a forked
 *     child's inherited blocks count from its start), the parent after the child's end.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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

static pthread_key_t key;

static void free_own(void *p)
{
    void **own = p;
    for (int k = 0; k < 10; k++)
        free(own[k]);
    free(own);
}

static __attribute__((noinline)) void own_blocks(void **own)
{
    for (int k = 0; k < 10; k++)
        own[k] = malloc(80);
}

static void *exiting(void *arg)
{
    (void)arg;
    void **own = malloc(10 * sizeof *own);
    own_blocks(own);
    pthread_setspecific(key, own);
    return NULL;
}

static __attribute__((noinline)) void at_thread_exit(void)
{
    pthread_key_create(&key, free_own);
    pthread_t t;
    if (pthread_create(&t, NULL, exiting, NULL) != 0)
        abort();
    pthread_join(t, NULL);
}

static __attribute__((noinline)) void inherited_blocks(char **b)
{
    for (int k = 0; k < 100; k++)
        b[k] = malloc(96);
}

static __attribute__((noinline)) void inherited(void)
{
    char **b = malloc(100 * sizeof *b);
    inherited_blocks(b);
    pid_t pid = fork();
    if (pid == 0) {
        for (int k = 0; k < 100; k++)
            free(b[k]);
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
        _exit(0);
    }
    waitpid(pid, NULL, 0);
    for (int k = 0; k < 100; k++)
        free(b[k]);
    free(b);
}

int main(void)
{
    forever();
    tiny_loop();
    batch();
    quiet();
    cross_thread();
    at_thread_exit();
    inherited();
    struct timespec ts = {0, 300 * 1000 * 1000};
    nanosleep(&ts, NULL);
    return 0;
}
