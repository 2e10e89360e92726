/* On-demand leak scans (tests/integration/leak_check.py): the program asks for a scan three
 * times, each at a point where valgrind is asked for one too (VALGRIND_DO_LEAK_CHECK: a no-op
 * without valgrind, as ms_leak_check is without memscope), and the kinds must agree.
 *   check 1 (ms_leak_check): a lost block (100), a lost list of 3 (200 + 2 x 300), a global
 *     `kept` (400) still reachable, and `inner` pointing 8 bytes into a block (500) that only
 *     it reaches: possibly lost... unless a heuristic explains it, so it points 16 bytes in;
 *   check 2 (a signal, MEMSCOPE_SCAN_SIGNAL=USR2, raised by the program itself): the global
 *     dropped (400 now lost too), a new lost block (600);
 *   check 3 (ms_leak_check) with a second thread running, which holds a block (900) only in
 *     a local of its own: memscope run stops it for the snapshot, as valgrind does, and scans
 *     its stack, so the block is still reachable (the thread frees it before it ends).
 * Then the thread ends, the program makes `kept` an 800-byte block and exits: the exit scan gives
 * the final kinds. With the argument `native` (valgrind's run), SIGUSR2 is ignored, so that raising
 * it does not kill the program; with `wait`, it waits for signals after check 2 (scans by `kill
 * -USR2`), losing 700 bytes every 10 ms, until it gets SIGTERM. */
#include "memscope.h"

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <valgrind/memcheck.h>

void *volatile kept, *volatile inner;

static void **block(size_t size)
{
    void **p = malloc(size);
    memset(p, 0, size);
    return p;
}

__attribute__((noinline)) static void lose_block(size_t size)
{
    block(size);
}

__attribute__((noinline)) static void lose_list(void)
{
    void **head = block(200), **a = block(300), **b = block(300);
    head[0] = a;
    a[0] = b;
}

__attribute__((noinline)) static void keep_interior(void)
{
    inner = (char *)block(500) + 16;
}

/* Clears the words of the stack below this frame that the calls above left behind: a stale
 * pointer there would keep a lost block reachable for both tools, differently. */
__attribute__((noinline)) static void scrub(void)
{
    volatile char pad[4096];
    memset((char *)pad, 0, sizeof pad);
}

static volatile sig_atomic_t stop, go, holding;

static void *sleeper(void *arg)
{
    (void)arg;
    void **volatile mine = block(900);
    holding = 1;
    while (!go)
        usleep(1000);
    free(mine);
    return NULL;
}

static int idle_pipe[2];

static void *idle_thread(void *arg)
{
    void **volatile mine = block(1100);
    holding = 1;
    char c;
    while (read(idle_pipe[0], &c, 1) != 0)
        ;
    free(mine);
    return arg;
}

static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "exec")) {
        lose_block(100);
        execl(argv[0], argv[0], "after_exec", (char *)NULL);
        return 126;
    }
    if (argc > 1 && !strcmp(argv[1], "after_exec")) {
        int a = ms_leak_check();
        lose_block(200);
        int b = ms_leak_check();
        printf("after exec: %d %d\n", a, b);
        return 0;
    }
    if (argc > 1 && !strcmp(argv[1], "idle")) {
        pthread_t t;
        if (pipe(idle_pipe) != 0 || pthread_create(&t, NULL, idle_thread, NULL) != 0)
            return 1;
        while (!holding)
            usleep(1000);
        usleep(10000); /* in its read() */
        lose_block(100);
        scrub();
        int a = ms_leak_check();
        lose_block(200);
        scrub();
        int b = ms_leak_check();
        printf("idle: %d %d\n", a, b);
        close(idle_pipe[1]);
        pthread_join(t, NULL);
        return 0;
    }
    bool wait = argc > 1 && !strcmp(argv[1], "wait");
    if (argc > 1 && !strcmp(argv[1], "native"))
        signal(SIGUSR2, SIG_IGN);
    setvbuf(stdout, NULL, _IONBF, 0);
    lose_block(100);
    lose_list();
    kept = block(400);
    keep_interior();
    scrub();
    int r1 = ms_leak_check();
    VALGRIND_DO_LEAK_CHECK;
    kept = NULL;
    lose_block(600);
    scrub();
    raise(SIGUSR2);
    VALGRIND_DO_LEAK_CHECK;
    if (wait) {
        signal(SIGTERM, on_term);
        printf("waiting\n");
        while (!stop) {
            lose_block(700);
            usleep(10000);
        }
        return 0;
    }
    pthread_t t;
    pthread_create(&t, NULL, sleeper, NULL);
    while (!holding)
        usleep(1000);
    int r3 = ms_leak_check();
    VALGRIND_DO_LEAK_CHECK;
    go = 1;
    pthread_join(t, NULL);
    printf("checks: %d %d\n", r1, r3);
    kept = block(800);
    return 0;
}
