/*
 * signal_query.c - what a program sees of its signal dispositions: the handlers, flags and
 * masks that sigaction, signal, bsd_signal, sysv_signal and sigset give back, SA_RESETHAND's
 * reset, SIG_IGN, sigset's SIG_HOLD, and the arguments a handler receives. Under memscope (whose
 * trampoline sits in for every handler) its output must be the native one, byte for byte
 * (tests/integration/harmless.py).
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>

/* sigset is obsolescent, and is tested because programs still use it. */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

/* Declared by <signal.h> only for older standards; glibc defines it as signal. */
extern __sighandler_t bsd_signal(int sig, __sighandler_t handler);

static volatile int plain_runs, info_runs, info_ok;

static void plain_a(int sig)
{
    (void)sig;
    plain_runs++;
}

static void plain_b(int sig)
{
    (void)sig;
    plain_runs += 10;
}

static void info_h(int sig, siginfo_t *si, void *uctx)
{
    info_runs++;
    info_ok = si && si->si_signo == sig && uctx != NULL;
}

static const char *name(void (*h)(int))
{
    if (h == SIG_DFL)
        return "SIG_DFL";
    if (h == SIG_IGN)
        return "SIG_IGN";
    if (h == plain_a)
        return "plain_a";
    if (h == plain_b)
        return "plain_b";
    if (h == (void (*)(int))(void (*)(void))info_h)
        return "info_h";
    return "something else";
}

static void show(const char *what, int sig)
{
    struct sigaction now;
    sigaction(sig, NULL, &now);
    printf("%s: %s, flags %#x, mask has SIGINT %d, SIGQUIT %d\n", what, name(now.sa_handler),
           (unsigned)now.sa_flags, sigismember(&now.sa_mask, SIGINT),
           sigismember(&now.sa_mask, SIGQUIT));
}

int main(void)
{
    printf("signal(USR1, plain_a) was %s\n", name(signal(SIGUSR1, plain_a)));
    printf("signal(USR1, plain_b) was %s\n", name(signal(SIGUSR1, plain_b)));
    raise(SIGUSR1);
    show("USR1", SIGUSR1);
    printf("bsd_signal(USR1, SIG_IGN) was %s\n", name(bsd_signal(SIGUSR1, SIG_IGN)));
    raise(SIGUSR1);
    show("USR1 ignored", SIGUSR1);

    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = info_h;
    sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGINT);
    sigaction(SIGUSR2, &sa, &old);
    printf("USR2 was %s\n", name(old.sa_handler));
    show("USR2", SIGUSR2);
    raise(SIGUSR2);
    sa.sa_handler = plain_a;
    sa.sa_flags = SA_NODEFER;
    sigaddset(&sa.sa_mask, SIGQUIT);
    sigaction(SIGUSR2, &sa, &old);
    printf("USR2 was %s, flags had SA_SIGINFO %d\n", name(old.sa_handler),
           (old.sa_flags & SA_SIGINFO) != 0);
    show("USR2 again", SIGUSR2);
    raise(SIGUSR2);

    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = info_h;
    sa.sa_flags = SA_SIGINFO | SA_RESETHAND;
    sigaction(SIGHUP, &sa, NULL);
    show("HUP", SIGHUP);
    raise(SIGHUP);
    show("HUP after one signal", SIGHUP);

    /* SysV's one-shot handler, and sigset's: held, released, replaced. */
    printf("sysv_signal(WINCH, plain_a) was %s\n", name(sysv_signal(SIGWINCH, plain_a)));
    show("WINCH", SIGWINCH);
    raise(SIGWINCH);
    show("WINCH after one signal", SIGWINCH);
    printf("sigset(URG, plain_b) was %s\n", name(sigset(SIGURG, plain_b)));
    show("URG", SIGURG);
    raise(SIGURG);
    sighandler_t held = sigset(SIGURG, SIG_HOLD);
    printf("sigset(URG, SIG_HOLD) was %s\n", held == SIG_HOLD ? "SIG_HOLD" : name(held));
    raise(SIGURG); /* pending while held */
    printf("plain runs while held %d\n", plain_runs);
    held = sigset(SIGURG, plain_a); /* released: the pending one runs plain_a */
    printf("sigset(URG, plain_a) was %s\n", held == SIG_HOLD ? "SIG_HOLD" : name(held));
    show("URG released", SIGURG);

    /* sigset's SIG_HOLD on a signal memscope guards for crashes (its handler stands for
     * SIG_DFL): held twice (the second time it says SIG_HOLD), read back, released. */
    held = sigset(SIGTERM, SIG_HOLD);
    printf("sigset(TERM, SIG_HOLD) was %s\n", held == SIG_HOLD ? "SIG_HOLD" : name(held));
    held = sigset(SIGTERM, SIG_HOLD);
    printf("sigset(TERM, SIG_HOLD) again was %s\n", held == SIG_HOLD ? "SIG_HOLD" : name(held));
    show("TERM held", SIGTERM);
    held = sigset(SIGTERM, SIG_DFL);
    printf("sigset(TERM, SIG_DFL) was %s\n", held == SIG_HOLD ? "SIG_HOLD" : name(held));
    show("TERM", SIGTERM);

    /* memscope's crash handler sits in for SIG_DFL: the program is told SIG_DFL. */
    show("SEGV", SIGSEGV);
    printf("signal(SEGV, plain_a) was %s\n", name(signal(SIGSEGV, plain_a)));
    show("SEGV", SIGSEGV);
    printf("plain runs %d, info runs %d, info arguments right %d\n", plain_runs, info_runs,
           info_ok);
    return 0;
}
