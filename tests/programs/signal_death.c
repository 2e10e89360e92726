/*
 * signal_death.c - leaks three blocks (LEAK: before_death) and then dies the way argv[1] says:
 * "segv" (a real fault), "abrt" (abort()), "term" and "int" (kill() of itself), "kill-segv"
 * (SIGSEGV sent with kill(), which must still end the process). The events captured before
 * the death must all be in the trace; tests/CMakeLists.txt checks them with json_expect.py.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <unistd.h>

static void *keep[3];

int main(int argc, char **argv)
{
    const char *how = argc > 1 ? argv[1] : "segv";
    for (int i = 0; i < 3; i++) {
        keep[i] = malloc(100 + (size_t)i); /* LEAK: before_death */
        memset(keep[i], i, 100);
    }
    for (int i = 0; i < 1000; i++)
        free(malloc(64));
    printf("dying by %s\n", how);
    fflush(stdout);
    if (!strcmp(how, "abrt"))
        abort();
    if (!strcmp(how, "term"))
        kill(getpid(), SIGTERM);
    if (!strcmp(how, "int"))
        kill(getpid(), SIGINT);
    if (!strcmp(how, "kill-segv"))
        kill(getpid(), SIGSEGV);
    if (!strcmp(how, "segv"))
        *(volatile int *)(uintptr_t)argc = 0; /* argc is a small number: an unmapped address */
    pause();
    return 0;
}
