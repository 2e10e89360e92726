/*
 * signal_async.c - allocations made in asynchronous signal handlers (SIGPROF from a CPU-time
 * interval timer, SIGALRM from a real-time one) while the main thread allocates and frees in a
 * tight loop, so that most signals interrupt an allocator call: memscope's hook for it, when
 * the program runs under memscope.
 *
 * Pattern:
 *   - main: malloc(100)/free pairs until the handler has run SIGNALS times, first with
 *     SIGPROF (handler set with signal()), then with SIGALRM (sigaction, SA_SIGINFO)
 *                                                                        (all freed)
 *   - on_prof: one malloc(777) kept per signal, made by keep_prof        (LEAK: prof777)
 *   - on_alarm: one malloc(555) kept per signal                          (LEAK: alarm555)
 * With the argument `sigset`, both handlers are set with sigset (the C library sets those
 * through its internal sigaction, which memscope's sigaction hook does not see); on_alarm then
 * takes the plain form.
 * It prints the figures a trace must show, "allocs=N frees=N leaked_blocks=N", which vary from
 * run to run with the timing of the signals. stdout's buffer is the program's own (setvbuf), so
 * that the C library allocates nothing.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#define SIGNALS 100

static void *volatile kept_prof[SIGNALS], *volatile kept_alarm[SIGNALS];
static volatile sig_atomic_t n_prof, n_alarm;

/* Called by the handler, so that the handler's stack has two frames of the program's. */
__attribute__((noinline)) static void *keep_prof(void)
{
    void *p = malloc(777); /* LEAK: prof777 */
    __asm__ volatile("" : : "r"(p) : "memory");
    return p;
}

static void on_prof(int sig)
{
    (void)sig;
    if (n_prof < SIGNALS) {
        kept_prof[n_prof] = keep_prof();
        n_prof = n_prof + 1;
    }
}

/* sigset is obsolescent, and is tested because programs still use it. */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

static void on_alarm(int sig, siginfo_t *info, void *ctx)
{
    (void)sig;
    (void)info;
    (void)ctx;
    if (n_alarm < SIGNALS) {
        kept_alarm[n_alarm] = malloc(555); /* LEAK: alarm555 */
        n_alarm = n_alarm + 1;
    }
}

static void on_alarm_plain(int sig)
{
    on_alarm(sig, NULL, NULL);
}

/* malloc(100)/free pairs until *count reaches SIGNALS; returns the pairs made. */
static unsigned long churn_until(volatile sig_atomic_t *count)
{
    unsigned long pairs = 0;
    while (*count < SIGNALS) {
        for (int i = 0; i < 1000; i++) {
            void *p = malloc(100);
            __asm__ volatile("" : : "r"(p) : "memory");
            free(p);
        }
        pairs += 1000;
    }
    return pairs;
}

static char out_buf[BUFSIZ];

int main(int argc, char **argv)
{
    int use_sigset = argc > 1 && strcmp(argv[1], "sigset") == 0;
    setvbuf(stdout, out_buf, _IOFBF, sizeof out_buf);
    /* One timer at a time: glibc's malloc is not reentrant, so a handler that allocates must
     * not interrupt the other one. The heap is set up before the first signal. */
    void *volatile first = malloc(100);
    free(first);
    struct itimerval off = {{0, 0}, {0, 0}};
    if (use_sigset)
        sigset(SIGPROF, on_prof);
    else
        signal(SIGPROF, on_prof);
    struct itimerval prof = {{0, 1000}, {0, 1000}};
    setitimer(ITIMER_PROF, &prof, NULL);
    unsigned long pairs = 1 + churn_until(&n_prof);
    setitimer(ITIMER_PROF, &off, NULL);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_alarm;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    if (use_sigset)
        sigset(SIGALRM, on_alarm_plain);
    else
        sigaction(SIGALRM, &sa, NULL);
    struct itimerval real = {{0, 500}, {0, 500}};
    setitimer(ITIMER_REAL, &real, NULL);
    pairs += churn_until(&n_alarm);
    setitimer(ITIMER_REAL, &off, NULL);
    printf("allocs=%lu frees=%lu leaked_blocks=%d\n", pairs + 2 * SIGNALS, pairs, 2 * SIGNALS);
    return 0;
}
