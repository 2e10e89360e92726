/* The backends' in-process answers (tests/integration/backends.py): ms_stats before and after
 * 10 allocations of 100 bytes of which 4 are freed, printed as deltas on stdout, then
 * ms_leaks_print on stderr; one block leaks. argv[1]: "plain", "task" (inside a task) or
 * "init-core" (ms_init("core") first). */
#include <memscope.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "plain";
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
