/*
 * threads_blocked.c - exit() while six threads are blocked in read, nanosleep, poll, epoll_wait,
 * sigtimedwait and pthread_cond_wait. Each says so on stdout if its call fails with EINTR,
 * which a ptrace stop does to some of them (epoll_wait): memscope run, stopping the threads for
 * its leak scan at exit, must leave them as they were. A destructor, which runs after memscope
 * has finished its trace and let the threads go, gives them 50 ms to say anything. Natively
 * the program prints "threads_blocked: exiting" and "threads_blocked: done" and exits 0;
 * tests/integration/harmless.py compares memscope's run with that, byte for byte.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int pfd[2];

static void say(const char *what)
{
    char b[64];
    int n = snprintf(b, sizeof b, "threads_blocked: %s failed with EINTR\n", what);
    if (write(1, b, (size_t)n) < 0)
        _exit(9);
}

static void *in_read(void *a)
{
    void *volatile mine = malloc(300); /* on this stack only: still reachable */
    char c;
    for (;;)
        if (read(pfd[0], &c, 1) < 0 && errno == EINTR)
            say("read");
    return mine ? a : a;
}

static void *in_nanosleep(void *a)
{
    for (;;) {
        struct timespec t = {5, 0};
        if (nanosleep(&t, NULL) < 0 && errno == EINTR)
            say("nanosleep");
    }
    return a;
}

static void *in_poll(void *a)
{
    struct pollfd p = {pfd[0], POLLIN, 0};
    for (;;)
        if (poll(&p, 1, 5000) < 0 && errno == EINTR)
            say("poll");
    return a;
}

static void *in_epoll_wait(void *a)
{
    int e = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN};
    epoll_ctl(e, EPOLL_CTL_ADD, pfd[0], &ev);
    for (;;)
        if (epoll_wait(e, &ev, 1, 5000) < 0 && errno == EINTR)
            say("epoll_wait");
    return a;
}

static void *in_sigtimedwait(void *a)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    struct timespec t = {5, 0};
    for (;;)
        if (sigtimedwait(&s, NULL, &t) < 0 && errno == EINTR)
            say("sigtimedwait");
    return a;
}

static void *in_socket_read(void *a)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        return a;
    struct timeval tv = {5, 0};
    setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char c;
    for (;;)
        if (read(sv[0], &c, 1) < 0 && errno == EINTR)
            say("read on a socket");
    return a;
}

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

static void *in_cond_wait(void *a)
{
    pthread_mutex_lock(&m);
    for (;;)
        pthread_cond_wait(&cv, &m);
    return a;
}

__attribute__((destructor)) static void after_exit(void)
{
    usleep(50000);
    printf("threads_blocked: done\n");
    fflush(stdout);
}

int main(void)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &s, NULL);
    if (pipe(pfd) != 0)
        return 1;
    void *(*fn[])(void *) = {in_read,         in_nanosleep, in_poll,       in_epoll_wait,
                             in_sigtimedwait, in_cond_wait, in_socket_read};
    for (int i = 0; i < 7; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, fn[i], NULL) != 0)
            return 1;
    }
    void *volatile lost = malloc(100); /* lost below */
    lost = NULL;
    (void)lost;
    usleep(100000); /* every thread in its call */
    printf("threads_blocked: exiting\n");
    fflush(stdout);
    exit(0);
}
