/* The bundled demo for `scripts/demo.sh`: a small program with a few leaks, a peak, temporary
 * allocations and two named threads, and a few calls of the C API (a task per worker, named
 * records, a scope), so that every section of the report has something in it. */
#define _GNU_SOURCE
#include <memscope.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct record {
    char *name;
    int values[16];
};

static struct record *make_record(const char *name)
{
    struct record *r = malloc(sizeof *r); /* leaked for the odd records below */
    MS_TRACK_AS(r, struct record);
    r->name = strdup(name);
    memset(r->values, 0, sizeof r->values);
    return r;
}

static void free_record(struct record *r)
{
    free(r->name);
    free(r);
}

static size_t checksum(const char *text)
{
    char *copy = malloc(strlen(text) + 1); /* temporary: freed before the next allocation */
    strcpy(copy, text);
    size_t sum = 0;
    for (char *p = copy; *p; p++)
        sum += (unsigned char)*p;
    free(copy);
    return sum;
}

static void *worker(void *arg)
{
    pthread_setname_np(pthread_self(), (const char *)arg);
    MS_TASK_SCOPE((const char *)arg);
    char *big = malloc(256 * 1024); /* part of the peak */
    memset(big, 1, 256 * 1024);
    size_t sum = 0;
    for (int i = 0; i < 1000; i++)
        sum += checksum("the quick brown fox");
    free(big);
    return (void *)sum;
}

int main(void)
{
    pthread_t threads[2];
    pthread_create(&threads[0], NULL, worker, (void *)"worker-a");
    pthread_create(&threads[1], NULL, worker, (void *)"worker-b");
    for (int i = 0; i < 2; i++)
        pthread_join(threads[i], NULL);

    struct record *kept[10];
    MS_SCOPE("load records");
    for (int i = 0; i < 10; i++) {
        char name[32];
        snprintf(name, sizeof name, "record-%d", i);
        kept[i] = make_record(name);
    }
    for (int i = 0; i < 10; i += 2)
        free_record(kept[i]); /* the odd ones leak */
    printf("demo done\n");
    return 0;
}
