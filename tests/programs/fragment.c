/*
 * fragment.c - a heap with a known gap between what the program asks for and what glibc holds,
 * for the heap-and-RSS figures (tests/integration/analyses.py, docs/analyses.md): 20,000 blocks
 * of 1000 bytes (chunks of 1008), every other one freed, so that 10,000 chunks lie free between
 * live ones, where glibc cannot give them back (7 of them in the thread's cache, counted in use
 * by mallinfo2); then a pause of 60 ms (memscope run's clock ticks), one allocation of 16 bytes
 * (glibc's figures are sampled there) and another pause.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void *blocks[20000];

static void nap(long ms)
{
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

int main(void)
{
    for (int i = 0; i < 20000; i++) {
        blocks[i] = malloc(1000);
        memset(blocks[i], 1, 1000);
    }
    for (int i = 0; i < 20000; i += 2)
        free(blocks[i]);
    nap(60);
    char *volatile p = malloc(16);
    p[0] = 1;
    nap(60);
    return 0;
}
