/*
 * handover.c - blocks allocated by one thread and freed by another, many times over, so
 * that addresses move between threads quickly: producers malloc and pass pointers through a
 * lock-protected ring, consumers free them. Exercises the reader's ordering of events of
 * different threads (tests/integration/oracle.py compares with valgrind, and json_expect.py
 * checks that no free is left unmatched).
 *
 * Deterministic totals: 2 producers x 20000 blocks of (i % 100) + 1 bytes, all freed; one
 * block of 333 bytes leaks (LEAK: kept).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RING 64
#define PER_PRODUCER 20000

static void *ring[RING];
static int head, tail, count, done_producers;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER, not_full = PTHREAD_COND_INITIALIZER;

static void *producer(void *arg)
{
    (void)arg;
    for (int i = 0; i < PER_PRODUCER; i++) {
        char *p = malloc((size_t)(i % 100) + 1);
        p[0] = (char)i;
        pthread_mutex_lock(&lock);
        while (count == RING)
            pthread_cond_wait(&not_full, &lock);
        ring[head] = p;
        head = (head + 1) % RING;
        count++;
        pthread_cond_signal(&not_empty);
        pthread_mutex_unlock(&lock);
    }
    pthread_mutex_lock(&lock);
    done_producers++;
    pthread_cond_broadcast(&not_empty);
    pthread_mutex_unlock(&lock);
    return NULL;
}

static void *consumer(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&lock);
        while (count == 0 && done_producers < 2)
            pthread_cond_wait(&not_empty, &lock);
        if (count == 0) {
            pthread_mutex_unlock(&lock);
            return NULL;
        }
        void *p = ring[tail];
        tail = (tail + 1) % RING;
        count--;
        pthread_cond_signal(&not_full);
        pthread_mutex_unlock(&lock);
        free(p);
    }
}

int main(void)
{
    pthread_t t[4];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, producer, NULL);
    for (int i = 2; i < 4; i++)
        pthread_create(&t[i], NULL, consumer, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    char *kept = malloc(333); /* LEAK: kept */
    memset(kept, 1, 333);
    printf("handed over %d blocks\n", 2 * PER_PRODUCER);
    return 0;
}
