/* Processes that die without any chance to finish their trace: a SIGKILL (what the OOM killer
 * sends) while several threads hold unwritten events, a stack overflow (the SIGSEGV handler
 * itself has no stack to run on), and a program whose own SIGSEGV handler re-raises the signal.
 * Their events must survive in the spool (tests/CMakeLists.txt checks the counts).
 *
 * usage: killed kill THREADS N | overflow | reraise
 *   kill: each thread allocates N blocks of 24 bytes and frees all but N/10 (LEAK: kept), then
 *   waits; main, once all are done, SIGKILLs the process: THREADS*N allocations of the threads
 *   plus the main thread's own.
 *   overflow: recursion that allocates 100 bytes per level (LEAK: deep) until the stack ends.
 *   reraise: 1000 blocks of 48 bytes (LEAK: before_crash), then a fault whose handler restores
 *   SIG_DFL and raises SIGSEGV again. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int per_thread;
static pthread_barrier_t done;

static void *worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < per_thread; i++) {
        char *volatile p = malloc(24); /* LEAK: kept */
        p[0] = 1;
        if (i % 10)
            free(p);
    }
    pthread_barrier_wait(&done);
    pause();
    return NULL;
}

#pragma GCC diagnostic ignored "-Winfinite-recursion"
static int deep(int n)
{
    char *volatile p = malloc(100); /* LEAK: deep */
    char frame[256];
    memset(frame, n, sizeof frame);
    p[0] = frame[n % 256];
    return deep(n + 1) + p[0];
}

static void on_segv(int sig)
{
    signal(sig, SIG_DFL);
    raise(sig);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    if (!strcmp(mode, "kill") && argc > 3) {
        int threads = atoi(argv[2]);
        per_thread = atoi(argv[3]);
        pthread_barrier_init(&done, NULL, (unsigned)threads + 1);
        pthread_t t[64];
        for (int i = 0; i < threads && i < 64; i++)
            pthread_create(&t[i], NULL, worker, NULL);
        pthread_barrier_wait(&done);
        kill(getpid(), SIGKILL);
    } else if (!strcmp(mode, "overflow")) {
        return deep(0);
    } else if (!strcmp(mode, "reraise")) {
        signal(SIGSEGV, on_segv);
        for (int i = 0; i < 1000; i++) {
            char *volatile p = malloc(48); /* LEAK: before_crash */
            p[0] = 1;
        }
        *(volatile int *)(uintptr_t)8 = 1;
    }
    return 2;
}
