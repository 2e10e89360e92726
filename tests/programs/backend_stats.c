/* The backends' in-process answers (tests/integration/backends.py): ms_stats before and after
 * 10 allocations of 100 bytes of which 4 are freed, printed as deltas on stdout, then
 * ms_leaks_print on stderr; one block leaks. argv[1]: "plain", "task" (inside a task) or
 * "init-core" (ms_init("core") first); or one of the checks of review findings: "dtor"
 * (ms_stats and frees in threads' TLS destructors), "switch" (core off and on again around a
 * free: nothing stale), "abort" (a fatal signal with allocations made: dies, never hangs). */
#include <memscope.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_key_t key;

static void dtor(void *p)
{
    struct ms_stats st;
    ms_stats(&st); /* from a thread whose TLS is being torn down */
    free(p);
    free(malloc(10));
}

static void *thread_main(void *arg)
{
    (void)arg;
    pthread_setspecific(key, malloc(20));
    return NULL;
}

static int checks(const char *mode)
{
    if (!strcmp(mode, "dtor")) {
        pthread_key_create(&key, dtor);
        for (int i = 0; i < 4; i++) {
            pthread_t t;
            pthread_create(&t, NULL, thread_main, NULL);
            pthread_join(t, NULL);
        }
        printf("dtor done\n");
        return 0;
    }
    if (!strcmp(mode, "switch")) {
        ms_init("core");
        char *p = malloc(1000);
        ms_init("lockfree");
        free(p);
        ms_init("core");
        struct ms_stats st;
        ms_stats(&st);
        printf("switch live_bytes=%llu exact=%d\n", (unsigned long long)st.live_bytes,
               st.live_exact);
        return 0;
    }
    if (!strcmp(mode, "abort")) {
        static void *keep[100];
        for (int i = 0; i < 100; i++)
            keep[i] = malloc(16);
        fprintf(stderr, "%p\n", keep[99]);
        abort();
    }
    return -1;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "plain";
    int rc = checks(mode);
    if (rc >= 0)
        return rc;
    if (!strcmp(mode, "init-core") && ms_init("core") != 0)
        return 2;
    if (ms_init("no such backend") != -1)
        return 3;
    struct ms_stats a, b;
    ms_stats(&a);
    ms_task_id t = !strcmp(mode, "task") ? ms_task_begin("t") : 0;
    char *p[10];
    for (int i = 0; i < 10; i++)
        p[i] = malloc(100);
    for (int i = 0; i < 4; i++)
        free(p[i]);
    ms_stats(&b);
    if (t)
        ms_task_end(t);
    printf("backend=%s exact=%d allocs=%llu frees=%llu bytes=%llu live_blocks=%llu "
           "live_bytes=%llu peak_ok=%d thread_allocs=%llu thread_live_bytes=%llu "
           "task_allocs=%llu task_bytes=%llu task_live_bytes=%llu\n",
           b.backend, b.live_exact, (unsigned long long)(b.allocs - a.allocs),
           (unsigned long long)(b.frees - a.frees),
           (unsigned long long)(b.bytes_allocated - a.bytes_allocated),
           (unsigned long long)(b.live_blocks - a.live_blocks),
           (unsigned long long)(b.live_bytes - a.live_bytes),
           b.peak_bytes >= b.live_bytes && b.peak_bytes >= a.peak_bytes,
           (unsigned long long)(b.thread_allocs - a.thread_allocs),
           (unsigned long long)(b.thread_live_bytes - a.thread_live_bytes),
           (unsigned long long)b.task_allocs, (unsigned long long)b.task_bytes_allocated,
           (unsigned long long)b.task_live_bytes);
    fflush(stdout);
    ms_leaks_print(stderr);
    for (int i = 4; i < 9; i++)
        free(p[i]); /* p[9] leaks */
    return 0;
}
