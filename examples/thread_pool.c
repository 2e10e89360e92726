/* A thread pool whose jobs migrate: each job is a task, begun by the thread that submits it;
 * a worker resumes the job's task with ms_task_switch, runs its first phase, and hands it to the
 * next worker for its second phase. Each job's memory is its own, whichever thread ran it.
 *   memscope run -- build/bin/example-thread-pool */
#define _POSIX_C_SOURCE 200809L
#include <memscope.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define WORKERS 3
#define JOBS 6

struct job {
    ms_task_id task;
    int n, phase;
    char *result;
    struct job *next;
};

struct worker {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t ready;
    struct job *queue;
    int stop;
};

static struct worker workers[WORKERS];
static pthread_mutex_t done_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cond = PTHREAD_COND_INITIALIZER;
static int done;

static void submit(int w, struct job *j)
{
    struct worker *wk = &workers[w];
    pthread_mutex_lock(&wk->lock);
    j->next = wk->queue;
    wk->queue = j;
    pthread_cond_signal(&wk->ready);
    pthread_mutex_unlock(&wk->lock);
}

static void *run(void *arg)
{
    int w = (int)(size_t)arg;
    struct worker *wk = &workers[w];
    for (;;) {
        pthread_mutex_lock(&wk->lock);
        while (!wk->queue && !wk->stop)
            pthread_cond_wait(&wk->ready, &wk->lock);
        struct job *j = wk->queue;
        if (j)
            wk->queue = j->next;
        pthread_mutex_unlock(&wk->lock);
        if (!j)
            return NULL;
        ms_task_switch(j->task);
        if (j->phase++ == 0) {
            j->result = malloc(64 * (size_t)(j->n + 1));
            ms_task_switch(0);
            submit((w + 1) % WORKERS, j); /* the second phase runs on the next worker */
            continue;
        }
        char *scratch = malloc(32);
        scratch[0] = j->result[0] = (char)j->n;
        free(scratch);
        ms_task_switch(0);
        pthread_mutex_lock(&done_lock);
        done++;
        pthread_cond_signal(&done_cond);
        pthread_mutex_unlock(&done_lock);
    }
}

int main(void)
{
    static struct job jobs[JOBS];
    static const char *const names[JOBS] = {"job 0", "job 1", "job 2", "job 3", "job 4", "job 5"};
    for (int w = 0; w < WORKERS; w++) {
        pthread_mutex_init(&workers[w].lock, NULL);
        pthread_cond_init(&workers[w].ready, NULL);
        pthread_create(&workers[w].thread, NULL, run, (void *)(size_t)w);
    }
    for (int i = 0; i < JOBS; i++) {
        jobs[i].n = i;
        jobs[i].task = ms_task_begin(names[i]);
        ms_task_switch(0);
        submit(i % WORKERS, &jobs[i]);
    }
    pthread_mutex_lock(&done_lock);
    while (done < JOBS)
        pthread_cond_wait(&done_cond, &done_lock);
    pthread_mutex_unlock(&done_lock);
    for (int w = 0; w < WORKERS; w++) {
        pthread_mutex_lock(&workers[w].lock);
        workers[w].stop = 1;
        pthread_cond_signal(&workers[w].ready);
        pthread_mutex_unlock(&workers[w].lock);
        pthread_join(workers[w].thread, NULL);
    }
    for (int i = 0; i < JOBS; i++) {
        free(jobs[i].result); /* by the main thread, outside any task */
        ms_task_end(jobs[i].task);
    }
    printf("%d jobs done\n", done);
    return 0;
}
/* expect: tasks.0.allocs=2 */
/* expect: tasks.0.thread_count=3 */
/* expect: tasks.5.bytes_allocated=416 */
/* expect: tasks.5.peak_bytes=416 */
/* expect: tasks.5.live_bytes=0 */
