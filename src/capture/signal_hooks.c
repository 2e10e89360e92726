/* Interposed signal dispositions (sigaction, signal, bsd_signal, sysv_signal and __sysv_signal,
 * ssignal, sigset).
 *
 * The program's handlers run through a trampoline, so that memscope knows when a handler
 * interrupted the thread inside memscope (busy set: a hook, a flush, memscope's start-up): the
 * slot is then not the handler's to write, and the allocations the handler makes are deferred
 * (event_path.h) and recorded when the interrupted code leaves, instead of passing straight
 * through unrecorded. A handler that interrupts the program's own code needs nothing: its
 * allocations take the ordinary path.
 *
 * The kernel holds the trampoline with the program's own flags, mask and alternate-stack use;
 * what the program asks (sigaction's old action, signal's result) names its own handler. Where
 * memscope's crash handler sits in for SIG_DFL (lifecycle.c), the program is told SIG_DFL. */
#define _GNU_SOURCE
#include "hooks_common.h"
#include "lifecycle.h"
#include "spinlock.h"
#include "thread_state.h"

#include <signal.h>
#include <stdbool.h>
#include <string.h>

#define NEXT(type, name)                                                                           \
    static void *name##_cache;                                                                     \
    typedef __typeof__(type) name##_fn;                                                            \
    name##_fn real_##name = (name##_fn)next_of(&name##_cache, #name)

/* A handler of one form as the other, as sigaction's union holds it (through void (*)(void),
 * the cast that converts between function types on purpose). */
#define AS_PLAIN(fn) ((void (*)(int))(void (*)(void))(fn))

/* The program's handler of each signal, by its form: one table per trampoline, so that a
 * trampoline always calls a function of its own signature, even while the program changes the
 * handler in another thread. */
static void (*_Atomic plain_handler[NSIG])(int);
static void (*_Atomic info_handler[NSIG])(int, siginfo_t *, void *);
static ms__spinlock change_lock;

/* Runs the program's handler (call). When it interrupted this thread with busy set, outside a
 * handler that defers already, the thread's slot is put aside meanwhile (ms__tls.in_handler):
 * the handler's events are then deferred. */
#define RUN_HANDLER(call)                                                                          \
    do {                                                                                           \
        struct ms__tls *t = &ms__tls;                                                              \
        int busy = t->busy;                                                                        \
        struct ms__slot *slot = t->slot;                                                           \
        bool aside = busy && !t->in_handler;                                                       \
        if (aside) {                                                                               \
            t->held = slot;                                                                        \
            t->slot = NULL;                                                                        \
            t->in_handler = 1;                                                                     \
        }                                                                                          \
        t->busy = 0;                                                                               \
        t->handlers++;                                                                             \
        call;                                                                                      \
        t->handlers--;                                                                             \
        t->busy = busy;                                                                            \
        if (aside) { /* held: slot, or NULL in a child the handler forked (abandon_held) */        \
            t->in_handler = 0;                                                                     \
            t->slot = t->held;                                                                     \
            t->held = NULL;                                                                        \
        }                                                                                          \
    } while (0)

static void plain_trampoline(int sig)
{
    void (*fn)(int) = atomic_load(&plain_handler[sig]);
    RUN_HANDLER(fn(sig));
}

static void info_trampoline(int sig, siginfo_t *info, void *uctx)
{
    void (*fn)(int, siginfo_t *, void *) = atomic_load(&info_handler[sig]);
    RUN_HANDLER(fn(sig, info, uctx));
}

static bool is_function(void (*h)(int))
{
    return h != SIG_DFL && h != SIG_IGN && h != SIG_ERR && h != SIG_HOLD;
}

/* The program's name for the disposition h the kernel held, given the handler tables as they
 * were then. */
static void (*program_handler(void (*h)(int), void (*was_plain)(int),
                              void (*was_info)(int, siginfo_t *, void *)))(int)
{
    if (h == plain_trampoline)
        return was_plain;
    if (h == AS_PLAIN(info_trampoline))
        return AS_PLAIN(was_info);
    return h;
}

static bool valid(int sig)
{
    return sig > 0 && sig < NSIG;
}

bool ms__signal_take(int sig, void (*handler)(int))
{
    int (*real_sigaction)(int, const struct sigaction *, struct sigaction *) =
        (int (*)(int, const struct sigaction *, struct sigaction *))ms__next_symbol("sigaction");
    struct sigaction old;
    if (!valid(sig) || !real_sigaction || real_sigaction(sig, NULL, &old) != 0 ||
        old.sa_handler != SIG_DFL || (old.sa_flags & SA_SIGINFO))
        return false;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = plain_trampoline;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    bool locked = ms__spin_lock(&change_lock);
    atomic_store(&plain_handler[sig], handler);
    bool ok = real_sigaction(sig, &sa, NULL) == 0;
    if (!ok)
        atomic_store(&plain_handler[sig], NULL);
    if (locked)
        ms__spin_unlock(&change_lock);
    if (ok)
        ms__lifecycle_signal_owned(sig);
    return ok;
}

HOOK(int, sigaction, (int sig, const struct sigaction *act, struct sigaction *old))
{
    NEXT(int (*)(int, const struct sigaction *, struct sigaction *), sigaction);
    if (!valid(sig))
        return real_sigaction(sig, act, old);
    bool ours = ms__lifecycle_owns_signal(sig);
    bool locked = ms__spin_lock(&change_lock);
    void (*was_plain)(int) = atomic_load(&plain_handler[sig]);
    void (*was_info)(int, siginfo_t *, void *) = atomic_load(&info_handler[sig]);
    struct sigaction wrapped;
    const struct sigaction *give = act;
    if (act && is_function(act->sa_handler)) {
        wrapped = *act;
        if (act->sa_flags & SA_SIGINFO) {
            atomic_store(&info_handler[sig], act->sa_sigaction);
            wrapped.sa_sigaction = info_trampoline;
        } else {
            atomic_store(&plain_handler[sig], act->sa_handler);
            wrapped.sa_handler = plain_trampoline;
        }
        give = &wrapped;
    }
    int r = real_sigaction(sig, give, old);
    if (r != 0) {
        atomic_store(&plain_handler[sig], was_plain);
        atomic_store(&info_handler[sig], was_info);
    } else if (old) {
        old->sa_handler = program_handler(old->sa_handler, was_plain, was_info);
    }
    if (locked)
        ms__spin_unlock(&change_lock);
    if (r == 0 && ours) {
        if (old) {
            memset(old, 0, sizeof *old);
            old->sa_handler = SIG_DFL;
        }
        if (act)
            ms__lifecycle_signal_taken(sig);
    }
    return r;
}

/* signal, bsd_signal, sysv_signal and sigset: the C library's own form of the call (its flags:
 * SA_RESTART unless siginterrupt said otherwise, SysV's one-shot handlers, sigset's SIG_HOLD),
 * given the trampoline. The C library sets these dispositions with its internal sigaction,
 * which the sigaction hook does not see. */
static sighandler_t set_plain(sighandler_t (*real)(int, sighandler_t), int sig,
                              sighandler_t handler)
{
    if (!real || !valid(sig))
        return real ? real(sig, handler) : SIG_ERR;
    bool ours = ms__lifecycle_owns_signal(sig);
    bool locked = ms__spin_lock(&change_lock);
    void (*was_plain)(int) = atomic_load(&plain_handler[sig]);
    void (*was_info)(int, siginfo_t *, void *) = atomic_load(&info_handler[sig]);
    sighandler_t give = handler;
    if (is_function(handler)) {
        atomic_store(&plain_handler[sig], handler);
        give = plain_trampoline;
    }
    sighandler_t r = real(sig, give);
    if (r == SIG_ERR)
        atomic_store(&plain_handler[sig], was_plain);
    else
        r = program_handler(r, was_plain, was_info);
    if (locked)
        ms__spin_unlock(&change_lock);
    /* memscope's crash handler stands for SIG_DFL; SIG_HOLD (sigset) leaves the handler and
     * says whether the signal was blocked. */
    if (r != SIG_ERR && ours) {
        if (handler != SIG_HOLD)
            ms__lifecycle_signal_taken(sig);
        if (r != SIG_HOLD)
            r = SIG_DFL;
    }
    return r;
}

/* The hooks of the C library's calls of signal's form: each forwards to the call it replaces
 * through set_plain. */
#define PLAIN_HOOK(name)                                                                           \
    HOOK(sighandler_t, name, (int sig, sighandler_t disp))                                         \
    {                                                                                              \
        NEXT(sighandler_t (*)(int, sighandler_t), name);                                           \
        return set_plain(real_##name, sig, disp);                                                  \
    }

PLAIN_HOOK(signal)
PLAIN_HOOK(bsd_signal)
PLAIN_HOOK(sysv_signal)
/* What glibc's headers make of signal() in a strict ISO C build (-std=c11 without
 * _DEFAULT_SOURCE). */
PLAIN_HOOK(__sysv_signal)
/* An old name of signal. */
PLAIN_HOOK(ssignal)
PLAIN_HOOK(sigset)
