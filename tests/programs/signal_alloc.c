/*
 * signal_alloc.c - allocations made inside signal handlers, on the thread's stack and on an
 * alternate signal stack (sigaltstack), so that stacks pass through the kernel's signal frame
 * (glibc's __restore_rt, whose unwind info is a signal frame: memscope's cached walk leaves
 * such stacks to libunwind). Between signals, ordinary allocations from a few depths.
 *
 * Pattern:
 *   - on_signal() leaks one malloc(48) per signal: 8 signals on the normal stack, 8 on the
 *     alternate stack                                             (LEAK: handler48)
 *   - nested(): 20 malloc(200)/free pairs at depth 3 below main, nothing leaked
 *   - the alternate stack itself: malloc(SIGSTKSZ * 4), freed at the end
 *
 * raise() delivers the signal synchronously, so the handler never interrupts malloc.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *kept[16];
static volatile int count;

static void on_signal(int sig)
{
    (void)sig;
    kept[count++ % 16] = malloc(48); /* LEAK: handler48 */
}

__attribute__((noinline)) static void nested(int depth)
{
    if (depth > 0) {
        nested(depth - 1);
        return;
    }
    for (int i = 0; i < 20; i++) {
        char *p = malloc(200);
        memset(p, i, 200);
        free(p);
    }
}

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGUSR1, &sa, NULL);
    for (int i = 0; i < 8; i++) {
        nested(3);
        raise(SIGUSR1);
    }
    stack_t ss;
    memset(&ss, 0, sizeof ss);
    ss.ss_size = SIGSTKSZ * 4;
    ss.ss_sp = malloc(ss.ss_size);
    sigaltstack(&ss, NULL);
    sa.sa_flags = SA_ONSTACK;
    sigaction(SIGUSR2, &sa, NULL);
    for (int i = 0; i < 8; i++) {
        nested(2);
        raise(SIGUSR2);
    }
    ss.ss_flags = SS_DISABLE;
    sigaltstack(&ss, NULL);
    free(ss.ss_sp);
    printf("%d signals handled\n", count);
    return 0;
}
