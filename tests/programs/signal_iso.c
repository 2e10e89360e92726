/*
 * signal_iso.c - a strict ISO C program (built with -std=c11, _POSIX_C_SOURCE only), whose
 * signal() glibc's headers turn into __sysv_signal: a one-shot handler that re-arms itself.
 * SIGPROF handlers allocate while the main thread allocates and frees in a tight loop, so that
 * most of them interrupt memscope's hooks when it runs under memscope.
 *
 * Pattern:
 *   - main: malloc(100)/free pairs until the handler has run SIGNALS times      (all freed)
 *   - on_prof: one malloc(777) kept per signal                                  (LEAK: prof777)
 * It prints "allocs=N frees=N leaked_blocks=N" (they vary with the signals' timing), through
 * its own stdout buffer so that the C library allocates nothing.
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>

#define SIGNALS 100

static void *volatile kept[SIGNALS];
static volatile sig_atomic_t n_prof;

static void on_prof(int sig)
{
    signal(sig, on_prof); /* SysV semantics: the disposition was reset to SIG_DFL */
    if (n_prof < SIGNALS) {
        kept[n_prof] = malloc(777); /* LEAK: prof777 */
        n_prof = n_prof + 1;
    }
}

static char out_buf[BUFSIZ];

int main(void)
{
    setvbuf(stdout, out_buf, _IOFBF, sizeof out_buf);
    void *volatile first = malloc(100);
    free(first);
    signal(SIGPROF, on_prof);
    struct itimerval prof = {{0, 1000}, {0, 1000}}, off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_PROF, &prof, NULL);
    unsigned long pairs = 1;
    while (n_prof < SIGNALS) {
        for (int i = 0; i < 1000; i++) {
            void *p = malloc(100);
            __asm__ volatile("" : : "r"(p) : "memory");
            free(p);
        }
        pairs += 1000;
    }
    setitimer(ITIMER_PROF, &off, NULL);
    printf("allocs=%lu frees=%lu leaked_blocks=%d\n", pairs + SIGNALS, pairs, SIGNALS);
    return 0;
}
