/* A short-lived thread allocates 512 and 4096 bytes; the main thread, which holds 1 MiB, frees
 * them after pthread_join. The peak is 1 MiB + 4608 bytes, at the moment the thread ends: the
 * frees after the join must replay after the thread's allocations (massif --heap-admin=0
 * --peak-inaccuracy=0: 1,053,456 bytes with glibc 2.36's thread start-up allocations). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
static void *worker(void *arg)
{
    void **out = arg;
    out[0] = malloc(512);
    out[1] = malloc(4096);
    return NULL;
}
int main(void)
{
    void *big = malloc(1 << 20);
    void *blocks[2];
    pthread_t t;
    if (pthread_create(&t, NULL, worker, blocks) != 0)
        return 1;
    pthread_join(t, NULL);
    free(blocks[0]);
    free(blocks[1]);
    free(big);
    return 0;
}
