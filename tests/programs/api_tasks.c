/* The C API on cases whose answer is known (tests/integration/api_expect.py checks the report):
 *   - task "producer" allocates 10 blocks of 100 B and another thread frees 4 of them: 1000
 *     bytes allocated, 600 live; its child task "child" allocates one block of 7 B;
 *   - an event loop switches between tasks "A" and "B": A gets 4 blocks of 10 B, B 2 of 20 B;
 *   - "buf" is named, then realloc moves it: the name follows, to a block of 100,000 B, freed;
 *   - "pt", named as a struct point (16 B), is a block of 8 B: the report says so;
 *   - scope "parse" allocates 3 blocks of 50 B and frees 1: 2 blocks, 100 B outlived it; scope
 *     "loop" is entered 5 times, 1 block of 30 B each, all freed inside;
 *   - bad calls: a NULL pointer, a pointer to no block, an unknown task, a task ended twice.
 * Prints the same lines with or without memscope (the API's calls change nothing it sees). */
#include <memscope.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct point {
    double x, y;
};

static void *blocks[10];

static void *consumer(void *arg)
{
    (void)arg;
    for (int i = 0; i < 4; i++)
        free(blocks[i]);
    return NULL;
}

static void *keep[16];
static int nkeep;

int main(void)
{
    ms_task_id producer = ms_task_begin("producer");
    for (int i = 0; i < 10; i++)
        blocks[i] = malloc(100);
    {
        MS_TASK_SCOPE("child");
        keep[nkeep++] = malloc(7);
    }
    ms_task_end(producer);
    pthread_t t;
    pthread_create(&t, NULL, consumer, NULL);
    pthread_join(t, NULL);

    /* A small event loop: two tasks, resumed in turn. */
    ms_task_id a = ms_task_begin("A");
    ms_task_switch(0);
    ms_task_id b = ms_task_begin("B");
    ms_task_switch(0);
    int plan[] = {1, 1, 2, 1, 2, 1};
    for (int i = 0; i < 6; i++) {
        ms_task_switch(plan[i] == 1 ? a : b);
        keep[nkeep++] = malloc(plan[i] == 1 ? 10 : 20);
        ms_task_switch(0);
    }
    ms_task_end(a);
    ms_task_end(b);

    char *buf = malloc(64);
    MS_TRACK(buf);
    strcpy(buf, "hello");
    buf = realloc(buf, 100000);
    struct point *pt = malloc(8);
    MS_TRACK_AS(pt, struct point);

    {
        MS_SCOPE("parse");
        void *p1 = malloc(50);
        keep[nkeep++] = malloc(50);
        keep[nkeep++] = malloc(50);
        free(p1);
    }
    for (int i = 0; i < 5; i++) {
        MS_SCOPE("loop");
        free(malloc(30));
    }

    int local;
    MS_TRACK(&local);
    ms_track(NULL, "nothing", NULL, __FILE__, __LINE__, __func__);
    ms_task_end(123456);
    ms_task_id twice = ms_task_begin("twice");
    ms_task_end(twice);
    ms_task_end(twice);

    printf("%s current=%llu\n", buf, (unsigned long long)ms_task_current());
    free(buf);
    free(pt);
    return 0;
}
