/* A record buffer: one thread's events, appended with no lock and encoded with the record codec
 * (record_codec.h). It lives after a spool head (spool.h), whose committed count ends the last
 * whole record, so that other threads can flush it and a killed process leaves it behind. When
 * it is full, its owner's `full` function (the thread slots') writes it out as a chunk. */
#ifndef MS_CAPTURE_EVENT_BUFFER_H
#define MS_CAPTURE_EVENT_BUFFER_H

#include "../common/record_codec.h"
#include "runtime.h"
#include "spool.h"

#include <stdatomic.h>
#include <stdint.h>

/* Bytes per buffer, and the room always kept free for one record. */
#define MS_SLOT_BUFFER (256u * 1024u)
#define MS_RECORD_MAX 128u
/* The strings records carry here are thread names (PR_GET_NAME), at most this long. */
#define MS_THREAD_NAME_MAX 16

struct ms__buffer {
    uint8_t *pos;   /* next byte to write; owner thread only */
    uint8_t *limit; /* call full() once pos passes this */
    struct ms__spool_head *head;
    uint8_t *buf;
    uint64_t last_tsc;       /* time base of the next timed record */
    uint64_t first_tsc;      /* time of the chunk's CLOCK record */
    struct ms_rec_base base; /* the chunk's pointer and ip delta bases */
    uint32_t untimed;        /* records since the last timed one */
    uint32_t tick;           /* *ms__clock_tick at the last timed record */
    uint64_t task;           /* the thread's current task (C API), restated after each CLOCK */
    /* The executable range [free_lo, free_lo + free_span) of the module the chunk's last
     * FREE_CALLER named: frees called from it need no new one. Empty (span 0) at each chunk's
     * start and after a runtime caller. */
    uintptr_t free_lo;
    _Atomic uintptr_t free_span; /* another thread clears it when code is unloaded */
    /* MEMSCOPE_FREE_STACKS: the chunk's last FREE_CALLER said every free after it has its stack,
     * free_every_stack, until the next one (false at each chunk's start). */
    bool free_every;
    uint32_t free_every_stack;
    uint32_t tid;
    void (*full)(struct ms__buffer *b); /* the buffer is full: write it out, start a new chunk */
};

/* Every this many records a thread's record carries the time (a TSC read costs as much as the
 * rest of the hook). Single-threaded, time only dates events (the peak), so 256; once a second
 * thread may exist, 16: the reader orders events of different threads by these times and
 * resolves the few conflicts that their imprecision causes (see src/analysis/stream_merge.c). */
extern _Atomic uint32_t ms__time_period;

/* memscope run's clock (MEMSCOPE_CLOCK, a counter it advances every 10 ms), or a constant 0
 * without one: a record is timed too when it has changed since the buffer's last timed record,
 * so that the first record a thread writes after a quiet spell carries its time, not the time of
 * one long ago. */
extern const _Atomic uint32_t *ms__clock_tick;
/* Maps the counter from path (memscope run's sealed memfd, by /proc): nothing when it cannot. */
void ms__clock_tick_map(const char *path);
/* Whether it was mapped (memscope run's clock ticks). */
bool ms__clock_tick_mapped(void);

/* Sets b up on the buffer after head (capacity MS_SLOT_BUFFER) and starts its first chunk. */
void ms__buffer_init(struct ms__buffer *b, struct ms__spool_head *head,
                     void (*full)(struct ms__buffer *));
/* Starts a new chunk: the CLOCK record gives it an absolute time base. */
void ms__buffer_begin_chunk(struct ms__buffer *b);

/* Starts a record: reserves the kind byte and, when needed, writes the time delta. */
static inline uint8_t *ms__rec_begin(struct ms__buffer *b, uint8_t **kind)
{
    uint8_t *p = b->pos;
    *kind = p++;
    uint32_t tick = atomic_load_explicit(ms__clock_tick, memory_order_relaxed);
    if (++b->untimed >= atomic_load_explicit(&ms__time_period, memory_order_relaxed) ||
        tick != b->tick) {
        uint64_t now = ms__now();
        p = ms_varint_put(p, now - b->last_tsc);
        b->last_tsc = now;
        b->untimed = 0;
        b->tick = tick;
        **kind = MS_REC_TIMED;
    } else {
        **kind = 0;
    }
    return p;
}

/* Makes the buffer's next record carry its time: after an event that orders this thread's
 * later events after another thread's earlier ones (pthread_join returned), so that the reader
 * does not place them before those (a free after the join before the joined thread's
 * allocation would make the peak too low). */
static inline void ms__rec_time_next(struct ms__buffer *b)
{
    b->untimed = atomic_load_explicit(&ms__time_period, memory_order_relaxed);
}

/* Starts a record timed at tsc, a time taken earlier (clamped so times never go backwards). */
static inline uint8_t *ms__rec_begin_at(struct ms__buffer *b, uint8_t **kind, uint64_t tsc)
{
    uint8_t *p = b->pos;
    *kind = p++;
    if (tsc < b->last_tsc)
        tsc = b->last_tsc;
    p = ms_varint_put(p, tsc - b->last_tsc);
    b->last_tsc = tsc;
    b->untimed = 0;
    b->tick = atomic_load_explicit(ms__clock_tick, memory_order_relaxed);
    **kind = MS_REC_TIMED;
    return p;
}

/* Starts a record that never carries a time (STACK_NODE). */
static inline uint8_t *ms__rec_begin_untimed(struct ms__buffer *b, uint8_t **kind)
{
    *kind = b->pos;
    **kind = 0;
    return b->pos + 1;
}

/* Finishes a record ending at p. */
static inline void ms__rec_end(struct ms__buffer *b, uint8_t *p)
{
    b->pos = p;
    atomic_store_explicit(&b->head->committed, (uint32_t)(p - b->buf), memory_order_release);
    if (MS_UNLIKELY(p >= b->limit))
        b->full(b);
}

/* Every record fits in the room kept free for one, with the 8 bytes of slack ms_varint_put
 * needs. */
#define MS__REC_FITS(NAME, code, timing, summary)                                                  \
    _Static_assert(MS_REC_MAXLEN_##NAME + MS_REC_NSTR_##NAME * MS_THREAD_NAME_MAX + 8 <=           \
                       MS_RECORD_MAX,                                                              \
                   "the " #NAME " record can exceed MS_RECORD_MAX");
MS_RECORDS(MS__REC_FITS)
#undef MS__REC_FITS
#define MS__EXT_FITS(NAME, code, summary)                                                          \
    _Static_assert(MS_EXT_MAXLEN_##NAME + 8 <= MS_RECORD_MAX,                                      \
                   "the " #NAME " annotation can exceed MS_RECORD_MAX");
MS_EXT_RECORDS(MS__EXT_FITS)
#undef MS__EXT_FITS

#endif
