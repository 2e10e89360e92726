/* The analyses' queue (analysis_pass.h): the heap model writes the events it derives for the
 * analyses into batches, and the analyses read them on a thread of their own while the model
 * replays on, so that their cost runs on the second core instead of adding to the replay's
 * (heaptrack's pattern of one replay, many consumers, pipelined). Every analysis sees every
 * event in the model's order, whether the batch is read on that thread or inline; the results do
 * not depend on it. */
#ifndef MS_PASS_QUEUE_H
#define MS_PASS_QUEUE_H

#include "analysis_pass.h"

#include <stddef.h>
#include <stdint.h>

struct ms_pass_queue;

/* The records in a batch by default; MS_PASS_QUEUE_INLINE (ms_pass_queue_set_batch): every
 * event is read by the analyses before ms_pass_queue_commit returns. */
#define MS_PASS_QUEUE_BATCH 2048
#define MS_PASS_QUEUE_INLINE 0

/* A queue with no analysis yet; NULL: out of memory. */
struct ms_pass_queue *ms_pass_queue_new(void);
/* Stops its thread (the events not yet read are dropped) and frees every analysis's state. */
void ms_pass_queue_free(struct ms_pass_queue *q);

/* Creates analysis p with env and adds it. Returns 0, MS_EINVAL (MS_PASSES_MAX reached) or
 * MS_ENOMEM. */
int ms_pass_queue_add(struct ms_pass_queue *q, const struct ms_analysis_pass *p,
                      const struct ms_pass_env *env);
/* The analyses, in the order added: the k-th's definition (NULL past the last) and state. Read
 * the states only after ms_pass_queue_drain. */
const struct ms_analysis_pass *ms_pass_queue_at(const struct ms_pass_queue *q, int k, void **state);
/* Which callbacks some analysis has: MS_PASS_WANT_* bits. */
enum { MS_PASS_WANT_ALLOC = 1, MS_PASS_WANT_FREE = 2, MS_PASS_WANT_EVENT = 4 };
unsigned ms_pass_queue_wants(const struct ms_pass_queue *q);
/* Records per batch, before the first event (MS_PASS_QUEUE_INLINE: none, the tests' way of
 * watching every event as it is applied). */
void ms_pass_queue_set_batch(struct ms_pass_queue *q, size_t records);

/* The producer's side, one event at a time: a free and an allocation are written in place into
 * the slot returned (which stays the queue's; its fields are all to be set), an other event is
 * copied; then ms_pass_queue_commit ends the event. At most MS_PASS_QUEUE_PER_EVENT records per
 * event. The slots and the commit's common case are inline: a store of the record and one
 * compare. */
#define MS_PASS_QUEUE_PER_EVENT 4

enum { MS__PASS_ALLOC, MS__PASS_FREE, MS__PASS_EVENT };
union ms__pass_rec {
    struct ms_pass_alloc a;
    struct ms_pass_free f;
    size_t event; /* MS__PASS_EVENT: its index in the batch's copies */
};
/* The head of struct ms_pass_queue: the batch being filled. */
struct ms__pass_fill {
    union ms__pass_rec *rec;
    uint8_t *tag; /* MS__PASS_* of each record */
    size_t n;     /* records written */
    size_t limit; /* a commit with n at or past it hands the batch over */
};

static inline struct ms_pass_free *ms_pass_queue_free_slot(struct ms_pass_queue *q)
{
    struct ms__pass_fill *f = (struct ms__pass_fill *)q;
    f->tag[f->n] = MS__PASS_FREE;
    return &f->rec[f->n++].f;
}

static inline struct ms_pass_alloc *ms_pass_queue_alloc_slot(struct ms_pass_queue *q)
{
    struct ms__pass_fill *f = (struct ms__pass_fill *)q;
    f->tag[f->n] = MS__PASS_ALLOC;
    return &f->rec[f->n++].a;
}

/* 0 or MS_ENOMEM (the event could not be copied: the analyses would miss it). */
int ms_pass_queue_event(struct ms_pass_queue *q, const struct ms_event *ev);

int ms__pass_queue_hand_over(struct ms_pass_queue *q);

/* Ends the event: hands a full batch over (or reads it, inline). Returns 0, or the first error
 * an analysis returned so far (seen at a hand-over), after which no analysis is called again. */
static inline int ms_pass_queue_commit(struct ms_pass_queue *q)
{
    const struct ms__pass_fill *f = (const struct ms__pass_fill *)q;
    return f->n < f->limit ? 0 : ms__pass_queue_hand_over(q);
}

/* Stops the analyses with error err (unless one returned an error first): the model could not
 * give them every event. */
void ms_pass_queue_fail(struct ms_pass_queue *q, int err);
/* Waits until the analyses have read every event committed. Returns as ms_pass_queue_commit. */
int ms_pass_queue_drain(struct ms_pass_queue *q);

#endif
