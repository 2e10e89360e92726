/*
 * threads_at_exit.c - main returns while three other threads still run, and the only
 * references to some blocks are in those threads' stacks and registers. A leak scan that
 * left out the other threads would call them lost; valgrind's memcheck (and LeakSanitizer)
 * scan every thread's stack and registers, so they are still reachable.
 *
 * Pattern:
 *   - holder: builds a 3-node list (LEAK: stack_list) whose head is
 *     only in a volatile local of its own, then blocks in read() on a pipe nobody writes to.
 *   - spinner (x86-64): malloc(777) (LEAK: register_block), the pointer kept XOR-ed until its
 *     stack below is scrubbed, then un-XOR-ed into r12 by an asm loop that spins forever on
 *     it and touches no memory: the register is the block's only reference.
 *   - sleeper: nanosleep in a loop, holding nothing.
 *   - main: malloc(64) lost (LEAK: lost_block), waits until the others are ready, exits 0.
 * The allocation counts do not depend on scheduling.
 * tests/integration/oracle.py compares memscope with a live valgrind run.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct node {
    struct node *next;
    char pad[88];
};

static sem_t g_ready;
static int g_pipe[2];
static volatile int g_spinning;

static void *holder(void *arg)
{
    (void)arg;
    struct node *volatile head = NULL;
    for (int i = 0; i < 3; i++) {
        struct node *n = malloc(sizeof *n); /* LEAK: stack_list */
        memset(n->pad, i, sizeof n->pad);
        n->next = head;
        head = n;
    }
    sem_post(&g_ready);
    char c;
    for (;;) {
        if (read(g_pipe[0], &c, 1) <= 0)
            pause();
    }
    return NULL;
}

/* Overwrites the stack below its caller, where malloc's frames left the block's address. */
static __attribute__((noinline)) void scrub(void)
{
    volatile char area[8192];
    memset((char *)area, 0, sizeof area);
}

#define KEY 0x5a5a5a5a5a5a5a5aull

static void *spinner(void *arg)
{
    (void)arg;
    volatile uintptr_t hidden = (uintptr_t)malloc(777) ^ KEY; /* LEAK: register_block */
    scrub();
#if defined(__x86_64__)
    uintptr_t h = hidden;
    __asm__ volatile("mov %0, %%r12\n\t"
                     "xor %1, %%r12\n\t"
                     "xor %0, %0\n\t"
                     "movl $1, %2\n\t"
                     "1: pause\n\t"
                     "jmp 1b\n\t"
                     : "+r"(h)
                     : "r"(KEY), "m"(g_spinning)
                     : "r12", "memory");
#else
    /* no register-only reference elsewhere: the block stays on this stack */
    void *volatile p = (void *)(hidden ^ KEY);
    g_spinning = 1;
    for (;;)
        pause();
    (void)p;
#endif
    return NULL;
}

static void *sleeper(void *arg)
{
    (void)arg;
    for (;;) {
        struct timespec t = {0, 10 * 1000 * 1000};
        nanosleep(&t, NULL);
    }
    return NULL;
}

int main(void)
{
    char *lost = malloc(64); /* LEAK: lost_block */
    memset(lost, 'l', 64);
    lost = NULL;
    if (pipe(g_pipe) != 0 || sem_init(&g_ready, 0, 0) != 0) {
        perror("setup");
        return 1;
    }
    pthread_t t[3];
    if (pthread_create(&t[0], NULL, holder, NULL) != 0 ||
        pthread_create(&t[1], NULL, spinner, NULL) != 0 ||
        pthread_create(&t[2], NULL, sleeper, NULL) != 0)
        return 1;
    while (sem_wait(&g_ready) != 0)
        ;
    while (!g_spinning) {
        struct timespec w = {0, 1000 * 1000};
        nanosleep(&w, NULL);
    }
    printf("threads_at_exit: 3 threads running\n");
    return 0;
}
