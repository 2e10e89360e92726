/* A thread with the smallest stack POSIX allows (PTHREAD_STACK_MIN, 16 KiB on x86-64 glibc)
 * allocates 100,000 times, its first allocation included (memscope attaches its buffer then):
 * memscope's hook path must fit beside the thread's own frames. Deterministic totals: 100,000
 * blocks of 32..131 bytes, all freed, and one of 77 bytes that the thread returns and main
 * leaks (LEAK: returned). */
#define _GNU_SOURCE
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static void *run(void *arg)
{
    (void)arg;
    for (int i = 0; i < 100000; i++) {
        char *volatile p = malloc(32 + (size_t)(i % 100));
        p[0] = 1;
        free(p);
    }
    return malloc(77); /* LEAK: returned */
}

int main(void)
{
    pthread_attr_t a;
    pthread_attr_init(&a);
    if (pthread_attr_setstacksize(&a, PTHREAD_STACK_MIN) != 0)
        return 1;
    pthread_t t;
    void *r;
    if (pthread_create(&t, &a, run, NULL) != 0)
        return 1;
    pthread_join(t, &r);
    printf("thread with a %d-byte stack done\n", (int)PTHREAD_STACK_MIN);
    return r ? 0 : 1;
}
