/* A program that is rough with file descriptors, as daemons and shells are: it closes every
 * descriptor (in a loop or with close_range), puts its own files on descriptors 0-2 and on every
 * descriptor it finds open, opens files until EMFILE, or runs with stdout closed; then it writes
 * known bytes to files of its own and allocates enough for memscope to write many chunks.
 * tests/integration/harmless.py runs each mode natively and under memscope and compares the
 * output, the files and the exit status byte for byte, and checks that the trace is whole.
 *
 * usage: fd_abuse MODE [ARG], MODE one of closeall, close_range, daemon, clobber, exhaust,
 * stdout_closed, fork_fds TRACE (the child lists descriptors that lead to TRACE). Each mode
 * leaks exactly 7 blocks of 1234 bytes from leak_marker(). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void *kept[7];

static void leak_marker(void)
{
    for (int i = 0; i < 7; i++)
        kept[i] = malloc(1234); /* LEAK: seven */
}

/* 300k short-lived blocks: several megabytes of events, so several chunks are written while
 * the descriptors are in the state the mode left them in. */
static void churn(void)
{
    for (int i = 0; i < 300000; i++) {
        char *volatile p = malloc(16 + (size_t)(i % 64));
        p[0] = (char)i;
        free(p);
    }
}

/* Writes text into a new file name, through whatever descriptor open gives. */
static int write_file(const char *name, const char *text)
{
    int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return -1;
    ssize_t w = write(fd, text, strlen(text));
    (void)w;
    return fd;
}

/* Every open descriptor above 2 (but the directory's own), in order. */
static int open_fds(int *out, int max)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < max) {
        int fd = atoi(e->d_name);
        if (e->d_name[0] != '.' && fd > 2 && fd != dirfd(d))
            out[n++] = fd;
    }
    closedir(d);
    return n;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    leak_marker();
    if (!strcmp(mode, "closeall") || !strcmp(mode, "close_range")) {
        if (!strcmp(mode, "closeall")) {
            long max = sysconf(_SC_OPEN_MAX);
            for (long fd = 3; fd < max; fd++)
                close((int)fd);
        } else {
            close_range(3, ~0u, 0);
        }
        churn();
        int fd = write_file("out.txt", "hello\n");
        printf("out.txt on descriptor %d\n", fd);
        churn();
        write_file("second.txt", "second file\n");
    } else if (!strcmp(mode, "daemon")) {
        int log = open("daemon.log", O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(log, 1);
        dup2(log, 2);
        close(null);
        close(log);
        printf("daemon started\n");
        fflush(stdout);
        churn();
        fprintf(stderr, "daemon stderr line\n");
        churn();
        printf("daemon done\n");
    } else if (!strcmp(mode, "clobber")) {
        /* The nastiest neighbour: its own file on every descriptor it finds, memscope's too
         * (after a churn, so that memscope has written chunks already). */
        churn();
        int fds[4096];
        int n = open_fds(fds, 4096);
        int mine = open("clobber.txt", O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
        for (int i = 0; i < n; i++)
            if (fds[i] != mine)
                dup2(mine, fds[i]);
        churn();
        for (int i = 0; i < n; i++)
            if (fds[i] != mine && write(fds[i], "x", 1) != 1)
                return 3;
        ssize_t w = write(mine, "\nend\n", 5);
        (void)w;
        churn();
        int clobbered = 0;
        for (int i = 0; i < n; i++)
            clobbered += fds[i] != mine;
        printf("clobbered %d descriptors\n", clobbered);
    } else if (!strcmp(mode, "exhaust")) {
        int first = -1, last = -1, count = 0;
        for (;;) {
            int fd = open("/dev/null", O_RDONLY);
            if (fd < 0) {
                printf("open failed after %d descriptors: %s\n", count, strerror(errno));
                break;
            }
            if (first < 0)
                first = fd;
            last = fd;
            count++;
        }
        printf("first %d last %d\n", first, last);
        churn(); /* memscope writes while no descriptor is free */
        for (int fd = first; fd <= last; fd++)
            close(fd);
        churn();
    } else if (!strcmp(mode, "stdout_closed")) {
        /* Started with descriptor 1 closed: the first file opened gets it. */
        int fd = write_file("first.txt", "first file\n");
        churn();
        dprintf(2, "first.txt on descriptor %d\n", fd);
        churn();
        ssize_t w = write(fd, "more\n", 5);
        (void)w;
    } else if (!strcmp(mode, "fork_fds") && argc > 2) {
        churn();
        pid_t pid = fork();
        if (pid == 0) {
            int fds[4096];
            int n = open_fds(fds, 4096), inherited = 0;
            char link[64], target[4096];
            for (int i = 0; i < n; i++) {
                snprintf(link, sizeof link, "/proc/self/fd/%d", fds[i]);
                ssize_t l = readlink(link, target, sizeof target - 1);
                target[l > 0 ? l : 0] = 0;
                inherited += !strcmp(target, argv[2]);
            }
            printf("child: %d descriptor(s) lead to the parent's trace\n", inherited);
            churn();
            exit(0);
        }
        int status;
        waitpid(pid, &status, 0);
        printf("parent: child exited %d\n", WEXITSTATUS(status));
    } else {
        fprintf(stderr, "fd_abuse: unknown mode %s\n", mode);
        return 2;
    }
    return 0;
}
