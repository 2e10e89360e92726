/* ms-bench-cputime: runs a command and reports the wall time, CPU time (user, system) and peak
 * RSS of its whole process tree, i.e. the child plus every descendant that was waited for. The
 * child's stdout passes through untouched; the one-line report goes to stderr or to -o FILE. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void usage(void)
{
    fprintf(stderr, "usage: ms-bench-cputime [-o FILE] -- CMD [ARGS...]\n"
                    "Prints wall_s= user_s= sys_s= maxrss_kb= for CMD and its waited-for\n"
                    "descendants to stderr (or appends it to FILE); exits with CMD's status.\n");
    exit(2);
}

static double tv_s(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
    const char *out = NULL;
    int i = 1;

    for (; i < argc; i++) {
        if (!strcmp(argv[i], "--")) {
            i++;
            break;
        } else if (!strcmp(argv[i], "-o") && i + 1 < argc) {
            out = argv[++i];
        } else if (argv[i][0] == '-') {
            usage();
        } else {
            break;
        }
    }
    if (i >= argc)
        usage();

    /* RUSAGE_CHILDREN covers every terminated, waited-for descendant (grandchildren are folded
     * into the child when the child reaps them), so a delta around our one child is the tree. */
    struct rusage before, after;
    struct timespec t0, t1;
    getrusage(RUSAGE_CHILDREN, &before);
    clock_gettime(CLOCK_MONOTONIC, &t0);

    pid_t pid = fork();
    if (pid < 0) {
        perror("ms-bench-cputime: fork");
        return 125;
    }
    if (pid == 0) {
        execvp(argv[i], &argv[i]);
        fprintf(stderr, "ms-bench-cputime: cannot run %s: %s\n", argv[i], strerror(errno));
        _exit(127);
    }

    int status;
    struct rusage child;
    while (wait4(pid, &status, 0, &child) < 0) {
        if (errno != EINTR) {
            perror("ms-bench-cputime: wait4");
            return 125;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    getrusage(RUSAGE_CHILDREN, &after);

    double wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    double user = tv_s(after.ru_utime) - tv_s(before.ru_utime);
    double sys = tv_s(after.ru_stime) - tv_s(before.ru_stime);
    /* ru_maxrss of RUSAGE_CHILDREN is the largest single descendant, not a sum. */
    long maxrss = after.ru_maxrss > child.ru_maxrss ? after.ru_maxrss : child.ru_maxrss;

    FILE *f = stderr;
    if (out) {
        f = fopen(out, "a");
        if (!f) {
            fprintf(stderr, "ms-bench-cputime: %s: %s\n", out, strerror(errno));
            return 125;
        }
    }
    fprintf(f, "wall_s=%.6f user_s=%.6f sys_s=%.6f maxrss_kb=%ld\n", wall, user, sys, maxrss);
    if (out)
        fclose(f);

    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) {
        fprintf(stderr, "ms-bench-cputime: %s killed by signal %d (%s)\n", argv[i],
                WTERMSIG(status), strsignal(WTERMSIG(status)));
        return 128 + WTERMSIG(status);
    }
    return 125;
}
