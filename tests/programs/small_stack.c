/* A thread with the smallest stack POSIX allows (PTHREAD_STACK_MIN, 16 KiB on x86-64 glibc)
 * allocates 100,000 times, its first allocation included (memscope attaches its buffer then):
 * memscope's hook path must fit beside the thread's own frames. Deterministic totals: 100,000
 * blocks of 32..131 bytes, all freed, and one of 77 bytes that the thread returns and main
 * leaks (LEAK: returned).
 * With an argument N (not for the valgrind oracle: valgrind's own frames differ), the thread
 * first allocates once, then recurses until only about N bytes of its stack are left, and then
 * allocates as above: the hook path, buffer flushes included, must fit in N bytes. With a second
 * argument `first`, the thread's first allocation (memscope attaches a buffer to the thread then)
 * is the one down there too. */
#define _GNU_SOURCE
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t leave;      /* 0: no recursion */
static int first_deep;    /* the thread's first allocation is made down there too */
static uintptr_t low_end; /* the lowest address of the thread's stack */
#define WORK_FRAME 64     /* work()'s frame and return address, rounded up */

__attribute__((noinline)) static void *work(void)
{
    for (int i = 0; i < 100000; i++) {
        char *volatile p = malloc(32 + (size_t)(i % 100));
        p[0] = 1;
        free(p);
    }
    return malloc(77); /* LEAK: returned */
}

/* Frames of about 300 bytes down to `leave` bytes above the stack's end, then a gap that takes
 * the rest of the way, so that work() starts about `leave` bytes above the end whatever the
 * alignment of the frames (the stack's top moves with the size of the thread-local storage). */
__attribute__((noinline)) static void *descend(void)
{
    char pad[256];
    pad[0] = 1;
    __asm__ volatile("" ::"r"(pad) : "memory");
    size_t above = (uintptr_t)pad - low_end; /* about this frame's lowest address */
    if (above > leave + WORK_FRAME + 320)    /* room for one more frame */
        return descend();
    size_t gap = above > leave + WORK_FRAME ? above - leave - WORK_FRAME : 0;
    char *volatile g = __builtin_alloca(gap);
    __asm__ volatile("" ::"r"(g) : "memory");
    return work();
}

static void *run(void *arg)
{
    (void)arg;
    if (!leave)
        return work();
    if (!first_deep)
        free(malloc(1)); /* the thread's first allocation (memscope attaches its buffer) up here */
    pthread_attr_t at;
    void *base;
    size_t size;
    if (pthread_getattr_np(pthread_self(), &at) != 0 ||
        pthread_attr_getstack(&at, &base, &size) != 0)
        return NULL;
    pthread_attr_destroy(&at);
    low_end = (uintptr_t)base;
    return descend();
}

int main(int argc, char **argv)
{
    if (argc > 1)
        leave = (size_t)atol(argv[1]);
    first_deep = argc > 2 && strcmp(argv[2], "first") == 0;
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
