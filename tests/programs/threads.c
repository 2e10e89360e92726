/*
 * threads.c - 4 named worker threads allocate and free; worker 2 leaks.
 *
 * Pattern: main starts 4 threads ("worker-0".."worker-3", named with
 * pthread_setname_np from inside each thread).  Each worker makes 25
 * malloc(64*(id+1)) + free pairs and one calloc(4, 32) it frees; worker 2
 * additionally leaks one malloc(1234) (LEAK: thread_leak).  Main joins all
 * threads (thread creation order, join order and the per-thread counts are
 * fixed, so totals do not depend on scheduling) and prints one line.
 * pthread_create itself also allocates (glibc: one 272-byte DTV per thread).
 *
 * memscope-expect: threads=5
 * memscope-expect-thread-names: worker-0,worker-1,worker-2,worker-3
 *
 * Observed with valgrind 3.19 (Debian 12, glibc 2.36, gcc 12, -g -O0, stdout a pipe;
 * a tty would make the stdout buffer 1024 bytes instead of 4096):
 *   total heap usage: 110 allocs, 109 frees, 22,930 bytes allocated
 *   in use at exit: 1,234 bytes in 1 blocks
 *   (4 of the allocs are glibc's 272-byte per-thread DTVs from pthread_create, freed by
 *   __libc_freeres at exit)
 * tests/integration/oracle.py compares memscope with a live valgrind run; these
 * figures are documentation, not hard-coded expectations.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NTHREADS 4

static unsigned long g_result[NTHREADS];

static void *leaky_alloc(size_t n)
{
    return malloc(n); /* LEAK: thread_leak */
}

static void *worker(void *arg)
{
    int id = (int)(long)arg;
    char name[16];
    snprintf(name, sizeof name, "worker-%d", id);
    pthread_setname_np(pthread_self(), name);

    unsigned long sum = 0;
    for (int i = 0; i < 25; i++) {
        size_t n = (size_t)(64 * (id + 1));
        unsigned char *p = malloc(n);
        memset(p, i, n);
        sum += p[n - 1];
        free(p);
    }
    int *c = calloc(4, 32);
    sum += (unsigned long)c[3];
    free(c);
    if (id == 2) {
        char *leak = leaky_alloc(1234);
        memset(leak, 'x', 1234);
        sum += (unsigned long)leak[7];
    }
    g_result[id] = sum;
    return NULL;
}

int main(void)
{
    pthread_t t[NTHREADS];
    for (long i = 0; i < NTHREADS; i++) {
        if (pthread_create(&t[i], NULL, worker, (void *)i) != 0) {
            perror("pthread_create");
            return 1;
        }
    }
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    printf("threads:");
    for (int i = 0; i < NTHREADS; i++)
        printf(" %lu", g_result[i]);
    printf("\n");
    return 0;
}
