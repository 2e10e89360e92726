/*
 * timeline.c - a heap whose course is known by construction, for the timeline
 * (tests/integration/analyses.py, docs/analyses.md): 1,000,000 bytes in use for 100 ms, then
 * none for 100 ms, then 2,000,000 bytes for 100 ms, then none. The peaks are 2,000,000 bytes at
 * about 200 ms and 1,000,000 at the start; bytes allocated in all, 3,000,000. Each block is
 * written whole (mapped pages, given back at its free): the resident memory follows the heap.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void pause_ms(long ms)
{
    struct timespec ts = {0, ms * 1000 * 1000};
    nanosleep(&ts, NULL);
}

static __attribute__((noinline)) void hold(size_t n)
{
    char *volatile p = malloc(n);
    memset(p, 1, n);
    pause_ms(100);
    free(p);
}

int main(void)
{
    hold(1000000);
    pause_ms(100);
    hold(2000000);
    pause_ms(100);
    return 0;
}
