/*
 * window.c - three phases a known time apart, for memscope report's time window (--since,
 * --until, --at; tests/integration/analyses.py, docs/analyses.md):
 *   - phase_a: main allocates 100 blocks of 1000 bytes and keeps them;
 *   - 200 ms later, phase_b: main allocates 50 blocks of 2000 bytes and frees them all (the
 *     heap reaches 200,000 bytes);
 *   - 200 ms later, phase_c: a worker thread allocates 10 blocks of 5000 bytes, which it keeps,
 *     then frees 20 of phase_a's blocks (the heap reaches 150,000 bytes, then 130,000);
 *   - then the program sleeps 100 ms and returns.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void *kept_a[100], *kept_c[10];

static void nap(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static __attribute__((noinline)) void phase_a(void)
{
    for (int i = 0; i < 100; i++) {
        kept_a[i] = malloc(1000);
        memset(kept_a[i], 1, 1000);
    }
}

static __attribute__((noinline)) void phase_b(void)
{
    void *b[50];
    for (int i = 0; i < 50; i++)
        b[i] = malloc(2000);
    for (int i = 0; i < 50; i++)
        free(b[i]);
}

static __attribute__((noinline)) void *phase_c(void *arg)
{
    (void)arg;
    for (int i = 0; i < 10; i++)
        kept_c[i] = malloc(5000);
    for (int i = 0; i < 20; i++)
        free(kept_a[i]);
    return NULL;
}

int main(void)
{
    phase_a();
    nap(200);
    phase_b();
    nap(200);
    pthread_t t;
    if (pthread_create(&t, NULL, phase_c, NULL) != 0)
        return 1;
    pthread_join(t, NULL);
    nap(100);
    return 0;
}
