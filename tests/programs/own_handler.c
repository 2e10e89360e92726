/*
 * own_handler.c - a program with its own SIGSEGV handler. memscope's crash handler must be
 * invisible to it (sigaction reports SIG_DFL before the program installs its own), must step
 * aside for it, and the events captured before the crash must still reach the trace when the
 * handler ends the process with _exit().
 *
 * Pattern:
 *   - sigaction(SIGSEGV) query: prints "before: default" (or "before: handler" if something
 *     else is installed)
 *   - make_leaks(): three malloc(96), never freed                 (LEAK: own96)
 *   - a write through a NULL pointer: the handler prints "caught SIGSEGV" and calls _exit(3)
 *
 * Output goes through write(2), so stdio allocates nothing.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *kept[3];

static void say(const char *s)
{
    ssize_t r = write(1, s, strlen(s));
    (void)r;
}

static void on_segv(int sig)
{
    (void)sig;
    say("caught SIGSEGV\n");
    _exit(3);
}

__attribute__((noinline)) static void make_leaks(void)
{
    for (int i = 0; i < 3; i++)
        kept[i] = malloc(96); /* LEAK: own96 */
}

int main(void)
{
    struct sigaction old;
    sigaction(SIGSEGV, NULL, &old);
    say(old.sa_handler == SIG_DFL ? "before: default\n" : "before: handler\n");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_segv;
    sigaction(SIGSEGV, &sa, NULL);
    for (int i = 0; i < 10; i++)
        free(malloc(32));
    make_leaks();
    volatile int *nowhere = NULL;
    *nowhere = 1;
    return 0;
}
