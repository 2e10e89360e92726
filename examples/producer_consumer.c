/* Two producer threads, each inside its own task, hand messages through a queue to a consumer
 * thread that frees them: the report charges every message to the task that allocated it, and
 * the consumer's frees lower those tasks' live bytes.
 *   memscope run -- build/bin/example-producer-consumer */
#define _POSIX_C_SOURCE 200809L
#include <memscope.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MESSAGES 200
#define QUEUE 16

static void *queue[QUEUE];
static int head, count, done;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;

static void put(void *m)
{
    pthread_mutex_lock(&lock);
    while (count == QUEUE)
        pthread_cond_wait(&changed, &lock);
    queue[(head + count++) % QUEUE] = m;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
}

static void *producer(void *arg)
{
    size_t size = (size_t)(uintptr_t)arg;
    MS_TASK_SCOPE(size == 100 ? "producer small" : "producer large");
    for (int i = 0; i < MESSAGES; i++) {
        char *m = malloc(size);
        memset(m, 'x', size);
        put(m);
    }
    return NULL;
}

static void *consumer(void *arg)
{
    (void)arg;
    size_t freed = 0;
    for (;;) {
        pthread_mutex_lock(&lock);
        while (count == 0 && done < 2)
            pthread_cond_wait(&changed, &lock);
        if (count == 0) {
            pthread_mutex_unlock(&lock);
            break;
        }
        void *m = queue[head];
        head = (head + 1) % QUEUE;
        count--;
        pthread_cond_broadcast(&changed);
        pthread_mutex_unlock(&lock);
        free(m);
        freed++;
    }
    printf("consumer freed %zu messages\n", freed);
    return NULL;
}

int main(void)
{
    pthread_t c, p[2];
    pthread_create(&c, NULL, consumer, NULL);
    pthread_create(&p[0], NULL, producer, (void *)(uintptr_t)100);
    pthread_create(&p[1], NULL, producer, (void *)(uintptr_t)1000);
    for (int i = 0; i < 2; i++) {
        pthread_join(p[i], NULL);
        pthread_mutex_lock(&lock);
        done++;
        pthread_cond_broadcast(&changed);
        pthread_mutex_unlock(&lock);
    }
    pthread_join(c, NULL);
    return 0;
}
/* expect: tasks.0.allocs=200 */
/* expect: tasks.1.allocs=200 */
/* expect: tasks.0.live_bytes=0 */
/* expect: tasks.1.live_bytes=0 */
/* expect: tasks.0.thread_count=1 */
