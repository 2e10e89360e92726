/* ms_stats and ms_leaks_print: a program that watches its own memory. It asks for the core
 * backend (ms_init), which keeps a table of live blocks in the process, so that its figures are
 * exact: live bytes and blocks, the peak, and this thread's and this task's. A worker thread
 * frees 4 of the 10 blocks of 100 bytes that a task allocated: the task keeps 600 live bytes.
 * At the end it prints what is still live, grouped by allocation stack.
 *   memscope run -- build/bin/example-stats
 *   MEMSCOPE_OUTPUT=none LD_PRELOAD=build/lib/libmemscope.so build/bin/example-stats */
#define _POSIX_C_SOURCE 200809L /* pthread barriers under -std=c99 */
#include <memscope.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static char *blocks[10];
static pthread_barrier_t allocated, freed;

/* Started before the task (its thread's own memory is not the task's): frees 4 of its blocks. */
static void *worker(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&allocated);
    for (int i = 0; i < 4; i++)
        free(blocks[i]);
    pthread_barrier_wait(&freed);
    return NULL;
}

int main(void)
{
    if (ms_init("core") != 0)
        fprintf(stderr, "memscope is not loaded\n");
    struct ms_stats before, st;
    ms_stats(&before);

    pthread_barrier_init(&allocated, NULL, 2);
    pthread_barrier_init(&freed, NULL, 2);
    pthread_t t;
    pthread_create(&t, NULL, worker, NULL);

    ms_task_id task = ms_task_begin("load");
    for (int i = 0; i < 10; i++)
        blocks[i] = malloc(100);
    pthread_barrier_wait(&allocated);
    pthread_barrier_wait(&freed);
    ms_stats(&st);
    ms_task_end(task);
    pthread_join(t, NULL);

    /* Printed to stderr: the output must be the same with memscope and without. */
    fprintf(stderr, "backend %s (live figures %s)\n", st.backend,
            st.live_exact == 1   ? "exact"
            : st.live_exact == 2 ? "since ms_init"
                                 : "not kept");
    fprintf(stderr, "task: %llu allocations, %llu bytes, %llu live in %llu blocks\n",
            (unsigned long long)st.task_allocs, (unsigned long long)st.task_bytes_allocated,
            (unsigned long long)st.task_live_bytes, (unsigned long long)st.task_live_blocks);
    fprintf(stderr, "this thread: %llu live bytes in %llu blocks since start\n",
            (unsigned long long)(st.thread_live_bytes - before.thread_live_bytes),
            (unsigned long long)(st.thread_live_blocks - before.thread_live_blocks));
    fprintf(stderr, "process: %llu allocations, %llu frees, peak %llu bytes\n",
            (unsigned long long)st.allocs, (unsigned long long)st.frees,
            (unsigned long long)st.peak_bytes);
    ms_leaks_print(stderr);
    printf("done\n");
    for (int i = 4; i < 9; i++)
        free(blocks[i]); /* blocks[9] leaks */
    return 0;
}

/* expect: process.backend=core */
/* expect: process.backend_reason=the program called ms_init */
/* expect: tasks.0.allocs=10 */
/* expect: tasks.0.bytes_allocated=1000 */
/* expect: tasks.0.live_bytes=100 */
/* expect: process.backend_reason=the program called ms_init */
/* expect: summary.leaked_blocks=1 */
