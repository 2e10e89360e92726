/* The C API on cases whose answer is known (tests/integration/api_expect.py checks the report):
 *   - task "producer" allocates 10 blocks of 100 B and another thread frees 4 of them: 1000
 *     bytes allocated, 600 live; its child task "child" allocates one block of 7 B;
 *   - an event loop switches between tasks "A" and "B": A gets 4 blocks of 10 B, B 2 of 20 B;
 *   - "buf" is named, then realloc moves it: the name follows, to a block of 100,000 B, freed;
 *   - "pt", named as a struct point (16 B), is a block of 8 B: the report says so;
 *   - scope "parse" allocates 3 blocks of 50 B and frees 1: 2 blocks, 100 B outlived it; scope
 *     "loop" is entered 5 times, 1 block of 30 B each, all freed inside;
 *   - scope "rec", recursive 3 deep, 1 block of 100 B per level kept: 300 B, 3 blocks outlived;
 *   - a thread begins task "left open" (1 block of 30 B) and exits: the next thread has no task;
 *   - tasks X then Y (Y a child of X) ended out of order: after X ends Y stays current (its 1
 *     block of 11 B), after Y ends none is (the block of 13 B is no task's), and Z is a root;
 *   - bad calls: a NULL pointer, a pointer to no block, an unknown task, a task ended twice, a
 *     hand-over to no module, a reclaim of a block never handed over.
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

static void *keep[32];
static int nkeep;

static void rec(int n)
{
    MS_SCOPE("rec");
    keep[nkeep++] = malloc(100);
    if (n > 1)
        rec(n - 1);
}

static void *left_open(void *arg)
{
    (void)arg;
    ms_task_begin("left open");
    keep[nkeep++] = malloc(30);
    return NULL;
}

static void *after(void *arg)
{
    (void)arg;
    keep[nkeep++] = malloc(5000); /* no task: the thread before left its own open */
    return (void *)(uintptr_t)ms_task_current();
}

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

    rec(3);
    void *current;
    pthread_create(&t, NULL, left_open, NULL);
    pthread_join(t, NULL);
    pthread_create(&t, NULL, after, NULL);
    pthread_join(t, &current);
    ms_task_id x = ms_task_begin("X");
    ms_task_id y = ms_task_begin("Y");
    ms_task_end(x);
    keep[nkeep++] = malloc(11); /* Y's */
    ms_task_end(y);
    keep[nkeep++] = malloc(13); /* no task's */
    ms_task_id z = ms_task_begin("Z");
    ms_task_end(z);

    int local;
    MS_TRACK(&local);
    ms_track(NULL, "nothing", NULL, __FILE__, __LINE__, __func__);
    ms_task_end(123456);
    ms_task_id twice = ms_task_begin("twice");
    ms_task_end(twice);
    ms_task_end(twice);
    ms_passport_handover(pt, NULL, "no module"); /* bad_argument */
    ms_passport_reclaim(pt);                     /* not_handed_over */

    printf("%s current=%llu after=%llu\n", buf, (unsigned long long)ms_task_current(),
           (unsigned long long)(uintptr_t)current);
    free(buf);
    free(pt);
    return 0;
}
