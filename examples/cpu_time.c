/* CPU time per task, with threads that never end their task: a worker spins inside its task
 * "spin" until the process exits under it; the main thread runs "main work", then exits. Each
 * task's CPU time is read from its thread's CPU clock at its switches and when the process
 * finishes, so both have the time they ran (about 0.2 s each here), though neither ended.
 *   memscope run -- build/bin/example-cpu-time */
#define _POSIX_C_SOURCE 200809L
#include <memscope.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static volatile int spinning;

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *spin(void *arg)
{
    (void)arg;
    ms_task_begin("spin");
    volatile unsigned long x = 0;
    spinning = 1;
    for (;;) /* until exit() ends the process */
        x++;
    return NULL;
}

int main(void)
{
    pthread_t t;
    pthread_create(&t, NULL, spin, NULL);
    while (!spinning)
        ;
    ms_task_begin("main work");
    volatile unsigned long x = 0;
    while (cpu_seconds() < 0.2)
        x++;
    printf("done\n");
    fflush(stdout);
    exit(0);
}
/* expect: tasks.0.name=spin */
/* expect: tasks.0.ended=false */
/* expect: tasks.0.cpu_ns>50000000 */
/* expect: tasks.1.cpu_ns>150000000 */
