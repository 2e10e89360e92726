/*
 * orphan_peak.c - a main thread that ends with pthread_exit: its TLS destructor's reallocs and
 * its atexit handler's mallocs and frees come after memscope's teardown of the thread, in the
 * orphan stream (tests/integration/analyses.py). The heap's course is known: 40 blocks of
 * 64*i+8 bytes (50,240 in all), the destructor grows the first 20 to 777+i bytes (53,650), the
 * handler frees each and allocates 1000+i bytes before the next: the peak is at least 53,873
 * bytes (glibc's own allocations add to it), reached after the orphan stream's first events.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static void *blocks[40];
static pthread_key_t key;

static void at_exit_handler(void)
{
    for (int i = 0; i < 40; i++) {
        free(blocks[i]);
        char *volatile x = malloc(1000 + (size_t)i);
        memset(x, 0, 8);
        free(x);
    }
}

static void destructor(void *p)
{
    free(p);
    for (int i = 0; i < 20; i++)
        blocks[i] = realloc(blocks[i], 777 + (size_t)i);
}

int main(void)
{
    for (int i = 0; i < 40; i++)
        blocks[i] = malloc(64 * (size_t)i + 8);
    pthread_key_create(&key, destructor);
    pthread_setspecific(key, malloc(123));
    atexit(at_exit_handler);
    pthread_exit(NULL);
}
