/* A known allocation stream for sampling (MEMSCOPE_SAMPLE_BYTES, tests/integration/sampling.py):
 *   - churn():     200,000 malloc(64), each freed at once           (200,000 allocs, 12.8 MB)
 *   - keep():      20,000 malloc(1000) from two threads, never freed (20 MB leaked at exit)
 *   - big():       50 malloc(1 MiB), freed in turn                   (52 MB, 1 MiB at a time)
 *   - grow():      one block realloc'ed 1,000 times by 1 KiB          (1,000 realloc calls)
 * usage: sample_mix [fork]: with "fork", a child runs churn() again before both exit. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void *volatile sink;

static __attribute__((noinline)) void churn(int n)
{
    for (int i = 0; i < n; i++) {
        char *p = malloc(64);
        p[0] = (char)i;
        sink = p;
        free(p);
    }
}

static __attribute__((noinline)) void *keep(void *arg)
{
    int n = *(int *)arg;
    for (int i = 0; i < n; i++) {
        char *p = malloc(1000); /* LEAK: kept */
        p[0] = (char)i;
        sink = p;
    }
    return NULL;
}

static __attribute__((noinline)) void big(void)
{
    for (int i = 0; i < 50; i++) {
        char *p = malloc(1 << 20);
        memset(p, i, 4096);
        sink = p;
        free(p);
    }
}

static __attribute__((noinline)) void grow(void)
{
    char *p = NULL;
    for (int i = 1; i <= 1000; i++) {
        char *q = realloc(p, (size_t)i * 1024);
        if (!q)
            abort();
        q[0] = 1;
        p = q;
    }
    free(p);
}

int main(int argc, char **argv)
{
    int half = 10000;
    pthread_t t;
    pthread_create(&t, NULL, keep, &half);
    keep(&half);
    pthread_join(t, NULL);
    churn(200000);
    big();
    grow();
    if (argc > 1 && !strcmp(argv[1], "fork")) {
        pid_t pid = fork();
        if (pid == 0) {
            churn(100000);
            _exit(0);
        }
        waitpid(pid, NULL, 0);
    }
    return 0;
}
