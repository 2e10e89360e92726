/* The analyses' queue (pass_queue.h). A ring of batches: the model fills one while the analyses'
 * thread reads the ones handed over, in order. The thread starts at the first full batch, so
 * that a small trace never makes one, and not at all with one CPU to run on. */
#define _GNU_SOURCE
#include "pass_queue.h"

#include "common/errors.h"
#include "grow.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Batches in the ring: one filled, the rest read or waiting. */
#define RING 4

struct batch {
    union ms__pass_rec *rec;
    uint8_t *tag;
    size_t n;
    /* The other events' copies, with their names' bytes. */
    struct ms_event *events;
    size_t nevents, capevents;
    char *names;
    size_t nnames, capnames;
};

struct ms_pass_queue {
    struct ms__pass_fill fill; /* first: the inline producer's view of b[tail] */
    struct batch b[RING];
    size_t cap; /* records per batch (MS_PASS_QUEUE_PER_EVENT inline: one event's) */
    struct {
        const struct ms_analysis_pass *p;
        void *state;
    } passes[MS_PASSES_MAX];
    int npasses;
    unsigned wants;
    atomic_int err; /* the first error an analysis returned */
    unsigned tail;  /* the batch being filled */
    /* The thread, and what the two sides share under mu: batches handed over and not yet read
     * (from head on), and whether the thread is to stop. */
    pthread_mutex_t mu;
    pthread_cond_t work, room;
    unsigned head, queued;
    bool waiting; /* the thread waits for work */
    bool stop, started, no_thread;
    pthread_t thread;
};

struct ms_pass_queue *ms_pass_queue_new(void)
{
    struct ms_pass_queue *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    if (pthread_mutex_init(&q->mu, NULL) != 0) {
        free(q);
        return NULL;
    }
    pthread_cond_init(&q->work, NULL);
    pthread_cond_init(&q->room, NULL);
    atomic_init(&q->err, 0);
    q->cap = MS_PASS_QUEUE_BATCH;
    return q;
}

static void stop_thread(struct ms_pass_queue *q)
{
    if (!q->started)
        return;
    pthread_mutex_lock(&q->mu);
    q->stop = true;
    pthread_cond_signal(&q->work);
    pthread_mutex_unlock(&q->mu);
    pthread_join(q->thread, NULL);
    q->started = false;
}

void ms_pass_queue_free(struct ms_pass_queue *q)
{
    if (!q)
        return;
    /* Nothing more is read: a queue freed before its drain is one whose replay failed. */
    ms_pass_queue_fail(q, MS_EINVAL);
    stop_thread(q);
    for (int i = 0; i < q->npasses; i++)
        if (q->passes[i].p->destroy)
            q->passes[i].p->destroy(q->passes[i].state);
    for (int i = 0; i < RING; i++) {
        free(q->b[i].rec);
        free(q->b[i].tag);
        free(q->b[i].events);
        free(q->b[i].names);
    }
    pthread_cond_destroy(&q->work);
    pthread_cond_destroy(&q->room);
    pthread_mutex_destroy(&q->mu);
    free(q);
}

int ms_pass_queue_add(struct ms_pass_queue *q, const struct ms_analysis_pass *p,
                      const struct ms_pass_env *env)
{
    if (q->npasses == MS_PASSES_MAX)
        return MS_EINVAL;
    if (!q->fill.rec) {
        /* The batches are made with the first analysis: a queue without one costs nothing. */
        for (int i = 0; i < RING; i++) {
            if (!q->b[i].rec)
                q->b[i].rec = malloc(q->cap * sizeof *q->b[i].rec);
            if (!q->b[i].tag)
                q->b[i].tag = malloc(q->cap);
            if (!q->b[i].rec || !q->b[i].tag)
                return MS_ENOMEM; /* a later call makes the rest */
        }
        q->fill =
            (struct ms__pass_fill){q->b[0].rec, q->b[0].tag, 0, q->cap - MS_PASS_QUEUE_PER_EVENT};
    }
    void *state = p->create ? p->create(env) : NULL;
    if (p->create && !state)
        return MS_ENOMEM;
    q->passes[q->npasses].p = p;
    q->passes[q->npasses++].state = state;
    q->wants |= (p->on_alloc ? MS_PASS_WANT_ALLOC : 0) | (p->on_free ? MS_PASS_WANT_FREE : 0) |
                (p->on_event ? MS_PASS_WANT_EVENT : 0);
    return 0;
}

const struct ms_analysis_pass *ms_pass_queue_at(const struct ms_pass_queue *q, int k, void **state)
{
    if (k < 0 || k >= q->npasses)
        return NULL;
    if (state)
        *state = q->passes[k].state;
    return q->passes[k].p;
}

unsigned ms_pass_queue_wants(const struct ms_pass_queue *q)
{
    return q->wants;
}

void ms_pass_queue_set_batch(struct ms_pass_queue *q, size_t records)
{
    /* Before the first analysis only: the batches are made with it. */
    if (q->fill.rec)
        return;
    q->cap = records == MS_PASS_QUEUE_INLINE || records < 2 * MS_PASS_QUEUE_PER_EVENT
                 ? MS_PASS_QUEUE_PER_EVENT
                 : records;
    q->no_thread = records == MS_PASS_QUEUE_INLINE;
}

int ms_pass_queue_event(struct ms_pass_queue *q, const struct ms_event *ev)
{
    struct batch *b = &q->b[q->tail];
    if (ms_grow(&b->events, &b->capevents, b->nevents + 1, sizeof *b->events, 64) ||
        ms_grow(&b->names, &b->capnames, b->nnames + ev->name_len, 1, 256))
        return MS_ENOMEM;
    struct ms_event *copy = &b->events[b->nevents];
    *copy = *ev;
    if (ev->name_len)
        memcpy(b->names + b->nnames, ev->name, ev->name_len);
    /* The name's offset until it is read: the bytes may move as the batch grows. */
    copy->name = ev->name_len ? (const char *)(uintptr_t)b->nnames : NULL;
    b->nnames += ev->name_len;
    q->fill.tag[q->fill.n] = MS__PASS_EVENT;
    q->fill.rec[q->fill.n++].event = b->nevents++;
    return 0;
}

/* Every analysis reads batch b's records, in order, until one returns an error. */
static void read_batch(struct ms_pass_queue *q, struct batch *b)
{
    int err = atomic_load_explicit(&q->err, memory_order_relaxed);
    for (size_t i = 0; i < b->n && !err; i++) {
        const union ms__pass_rec *r = &b->rec[i];
        struct ms_event ev;
        if (b->tag[i] == MS__PASS_EVENT) {
            ev = b->events[r->event];
            if (ev.name_len)
                ev.name = b->names + (uintptr_t)ev.name;
        }
        for (int k = 0; k < q->npasses && !err; k++) {
            const struct ms_analysis_pass *p = q->passes[k].p;
            void *s = q->passes[k].state;
            switch (b->tag[i]) {
            case MS__PASS_ALLOC:
                err = p->on_alloc ? p->on_alloc(s, &r->a) : 0;
                break;
            case MS__PASS_FREE:
                err = p->on_free ? p->on_free(s, &r->f) : 0;
                break;
            default:
                err = p->on_event ? p->on_event(s, &ev) : 0;
            }
        }
    }
    if (err)
        ms_pass_queue_fail(q, err);
    b->n = b->nevents = b->nnames = 0;
}

static void *reader(void *arg)
{
    struct ms_pass_queue *q = arg;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (!q->queued && !q->stop) {
            q->waiting = true;
            pthread_cond_wait(&q->work, &q->mu);
            q->waiting = false;
        }
        if (!q->queued)
            break;
        struct batch *b = &q->b[q->head];
        pthread_mutex_unlock(&q->mu);
        read_batch(q, b);
        pthread_mutex_lock(&q->mu);
        q->head = (q->head + 1) % RING;
        q->queued--;
        pthread_cond_signal(&q->room);
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

/* Whether the analyses get a thread: not with one CPU to run on (it would only take turns with
 * the replay), nor when one cannot be made (they then read inline). */
static bool start_thread(struct ms_pass_queue *q)
{
    if (q->no_thread)
        return false;
    cpu_set_t cpus;
    if (sched_getaffinity(0, sizeof cpus, &cpus) == 0 && CPU_COUNT(&cpus) < 2) {
        q->no_thread = true;
        return false;
    }
    /* The thread takes no signal: they are the command's to handle. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    q->started = pthread_create(&q->thread, NULL, reader, q) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    q->no_thread = !q->started;
    return q->started;
}

/* The batch being filled is read, by the thread (started now if need be: not by the last batch,
 * which a drain hands over) or inline; the next one is filled. */
static int hand_over(struct ms_pass_queue *q, bool last)
{
    struct batch *b = &q->b[q->tail];
    b->n = q->fill.n;
    if (b->n && (q->started || (!last && start_thread(q)))) {
        pthread_mutex_lock(&q->mu);
        q->queued++;
        /* A thread that waits is woken for two batches, not one: a wake-up costs the replay
         * microseconds, and the thread reads a batch faster than the model fills one. */
        if (q->waiting && q->queued >= RING / 2)
            pthread_cond_signal(&q->work);
        while (q->queued == RING)
            pthread_cond_wait(&q->room, &q->mu);
        pthread_mutex_unlock(&q->mu);
        q->tail = (q->tail + 1) % RING;
        b = &q->b[q->tail];
    } else if (b->n) {
        read_batch(q, b);
    }
    q->fill.rec = b->rec;
    q->fill.tag = b->tag;
    q->fill.n = 0;
    /* Acquire: what the analysis did before its error is seen with it. */
    return atomic_load_explicit(&q->err, memory_order_acquire);
}

int ms__pass_queue_hand_over(struct ms_pass_queue *q)
{
    return hand_over(q, false);
}

void ms_pass_queue_fail(struct ms_pass_queue *q, int err)
{
    int none = 0;
    atomic_compare_exchange_strong(&q->err, &none, err);
}

int ms_pass_queue_drain(struct ms_pass_queue *q)
{
    if (!q->fill.rec)
        return 0;
    int err = hand_over(q, true);
    if (q->started) {
        pthread_mutex_lock(&q->mu);
        if (q->queued)
            pthread_cond_signal(&q->work);
        while (q->queued)
            pthread_cond_wait(&q->room, &q->mu);
        pthread_mutex_unlock(&q->mu);
        err = atomic_load(&q->err);
    }
    return err;
}
