/*
 * patterns.c - call sites whose patterns are known by construction, for the patterns analysis
 * (tests/integration/analyses.py, docs/analyses.md). A loop of 1,000 iterations, one every
 * millisecond by the clock (about 1 s), in which:
 *   grow          allocates 1,000 bytes per iteration and never frees them: growing, unbounded,
 *                 1,000,000 bytes live at the end;
 *   cache_put     keeps the last 200 blocks of 512 bytes (a cache full after 200 iterations):
 *                 growth bounded at 102,400 bytes, allocations steady;
 *   tiny_loop     20 blocks of 16 bytes, each freed at once, per iteration: steady;
 *   periodic      100 blocks of 64 bytes, freed at once, every 50 ms: periodic, about 20 bursts;
 *   one_burst     5,000 blocks of 32 bytes at iteration 500, then freed: bursty;
 *   sporadic      one block at iterations 100, 400 and 800: sporadic;
 *   exact_24      one block of 24 bytes, freed at once, per iteration: no slack (glibc's
 *                 smallest chunk holds 24);
 *   slack_25      one of 25 bytes, freed at once, per iteration: 15 bytes of slack each (a
 *                 40-byte chunk);
 *   grow_by_one   a buffer grown by one byte per iteration with realloc, from 1 byte: 999
 *                 reallocs, each a small step, freed at the end;
 *   large_short   256 KiB, freed at once, every fifth iteration: 200 short-lived large blocks.
 * With "threads":
 *   hot_tiny      200,000 blocks of 25 bytes, each freed at once, in a tight loop: a hot loop of
 *                 tiny allocations, 15 bytes of slack each;
 *   handed_over   5,000 blocks of 64 bytes that another thread frees.
 * With "quiet": a thread that allocates little, whose events the clock times once in 10 ms:
 *   quiet_steady  one block of 64 bytes, freed at once, every millisecond for 1 s: steady;
 *   fast_cache    5,000 blocks of 64 bytes in a few milliseconds, held for the second, then
 *                 freed: growth bounded.
 * With "fork": a parent whose blocks its child inherits:
 *   parent_work   10,000 blocks of 32 bytes over 500 ms, held; then the program forks, and the
 *                 child's report has none of its allocations: they are where its live bytes
 *                 start;
 *   child_work    in the child, one block of 32 bytes, freed at once, every millisecond for
 *                 200 ms: steady.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ITERATIONS 1000
#define CACHE 200

static void *kept[ITERATIONS];
static void *cache[CACHE];

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_until(uint64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL))
        ;
}

static __attribute__((noinline)) void grow(int i)
{
    kept[i] = malloc(1000);
}

static __attribute__((noinline)) void cache_put(int i)
{
    free(cache[i % CACHE]);
    cache[i % CACHE] = malloc(512);
}

static __attribute__((noinline)) void tiny_loop(void)
{
    for (int k = 0; k < 20; k++) {
        char *volatile p = malloc(16);
        free(p);
    }
}

static __attribute__((noinline)) void periodic(void)
{
    for (int k = 0; k < 100; k++) {
        char *volatile p = malloc(64);
        free(p);
    }
}

static __attribute__((noinline)) void one_burst(void)
{
    static void *b[5000];
    for (int k = 0; k < 5000; k++)
        b[k] = malloc(32);
    for (int k = 0; k < 5000; k++)
        free(b[k]);
}

static __attribute__((noinline)) void exact_24(void)
{
    char *volatile p = malloc(24);
    free(p);
}

static __attribute__((noinline)) void slack_25(void)
{
    char *volatile p = malloc(25);
    free(p);
}

static char *grown;

static __attribute__((noinline)) void grow_by_one(int i)
{
    grown = realloc(grown, (size_t)i + 1); /* the first: realloc(NULL, 1), a malloc */
}

static __attribute__((noinline)) void large_short(void)
{
    char *volatile p = malloc(256 * 1024);
    free(p);
}

static __attribute__((noinline)) void sporadic(void)
{
    char *volatile p = malloc(100);
    free(p);
}

static __attribute__((noinline)) void *quiet_steady(void)
{
    return malloc(64);
}

static __attribute__((noinline)) void *fast_cache(void)
{
    return malloc(64);
}

static __attribute__((noinline)) void *parent_work(void)
{
    return malloc(32);
}

static __attribute__((noinline)) void *child_work(void)
{
    return malloc(32);
}

static __attribute__((noinline)) void *hot_tiny(void)
{
    return malloc(25);
}

static __attribute__((noinline)) void *handed_over(void)
{
    return malloc(64);
}

static void *handed[5000];

static void *consumer(void *arg)
{
    (void)arg;
    for (int i = 0; i < 5000; i++)
        free(handed[i]);
    return NULL;
}

static int threads(void)
{
    for (int i = 0; i < 200000; i++) {
        char *volatile p = hot_tiny();
        free(p);
    }
    for (int i = 0; i < 5000; i++)
        handed[i] = handed_over();
    pthread_t t;
    if (pthread_create(&t, NULL, consumer, NULL))
        return 1;
    return pthread_join(t, NULL) ? 1 : 0;
}

static int quiet(void)
{
    static void *held[5000];
    for (int i = 0; i < 5000; i++)
        held[i] = fast_cache();
    uint64_t start = now_ns();
    for (int i = 0; i < 1000; i++) {
        free(quiet_steady());
        sleep_until(start + (uint64_t)(i + 1) * 1000000u);
    }
    for (int i = 0; i < 5000; i++)
        free(held[i]);
    return 0;
}

static int forked(void)
{
    static void *held[10000];
    uint64_t start = now_ns();
    for (int i = 0; i < 10000; i++) {
        held[i] = parent_work();
        if (i % 20 == 19)
            sleep_until(start + (uint64_t)(i + 1) / 20 * 1000000u);
    }
    pid_t pid = fork();
    if (pid == 0) {
        start = now_ns();
        for (int i = 0; i < 200; i++) {
            free(child_work());
            sleep_until(start + (uint64_t)(i + 1) * 1000000u);
        }
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    for (int i = 0; i < 10000; i++)
        free(held[i]);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "quiet"))
        return quiet();
    if (argc > 1 && !strcmp(argv[1], "fork"))
        return forked();
    if (argc > 1 && !strcmp(argv[1], "threads"))
        return threads();
    uint64_t start = now_ns();
    for (int i = 0; i < ITERATIONS; i++) {
        grow(i);
        cache_put(i);
        tiny_loop();
        if (i % 50 == 0)
            periodic();
        if (i == 500)
            one_burst();
        if (i == 100 || i == 400 || i == 800)
            sporadic();
        exact_24();
        slack_25();
        grow_by_one(i);
        if (i % 5 == 0)
            large_short();
        sleep_until(start + (uint64_t)(i + 1) * 1000000u);
    }
    for (int i = 0; i < CACHE; i++)
        free(cache[i]);
    free(grown);
    return kept[ITERATIONS - 1] == NULL;
}
