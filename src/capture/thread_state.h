/* Per-thread capture state: each thread appends encoded events to its own buffer (a "slot")
 * with no lock; full buffers become EVENTS chunks. Slots live in a global registry so that exit,
 * exec and fatal signals can flush every thread's captured events. */
#ifndef MS_CAPTURE_THREAD_STATE_H
#define MS_CAPTURE_THREAD_STATE_H

#include "../common/record_codec.h"
#include "cfi_rules.h"
#include "spool.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <x86intrin.h>

#define MS_LIKELY(x) __builtin_expect(!!(x), 1)
#define MS_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* Bytes per slot buffer, and the room always kept free for one record. */
#define MS_SLOT_BUFFER (256u * 1024u)
#define MS_RECORD_MAX 64u
/* Entries of each slot's unwind-rule cache: 2^bits of 16 bytes. */
#define MS_UNWIND_CACHE_BITS 13
/* Entries of each slot's cache of stack-tree nodes: 2^bits of 16 bytes. */
#define MS_NODE_CACHE_BITS 12
/* Entries of each slot's cache of whole stacks: 2^bits of 24 bytes. */
#define MS_STACK_CACHE_BITS 11
/* Stack words one walk may read: two per frame (return address, saved rbp), frames kept plus
 * memscope's own. */
#define MS_WALK_WORDS (2 * (MS_MAX_STACK_DEPTH + 8))

struct ms__slot {
    uint8_t *pos;   /* next byte to write; owner thread only */
    uint8_t *limit; /* flush once pos passes this */
    /* The buffer's head (spool.h): its committed count ends the last whole record, for flushes
     * by other threads and for recovery after SIGKILL. The buffer follows the head's page, in
     * the spool file or, without one, in private memory. */
    struct ms__spool_head *head;
    uint8_t *buf;
    unsigned region;    /* the buffer's region in the spool */
    int remap;          /* in a forked child: the buffer is still the parent's (see slot_acquire) */
    uint64_t last_tsc;  /* time base of the next timed record */
    uint64_t first_tsc; /* time of the chunk's CLOCK record */
    struct ms_rec_base base; /* the chunk's pointer and ip delta bases */
    uint32_t untimed;        /* records since the last timed one */
    uint32_t tid;
    atomic_int in_use;            /* owned by a live thread (or it is the orphan slot) */
    atomic_int flushing;          /* a flush of this slot is in progress */
    atomic_int sealed;            /* the process is finishing: never write this slot again */
    uintptr_t stack_lo, stack_hi; /* the thread's stack (0, 0: unknown), for the stack walks */
    int stack_pending;            /* not looked up yet: see ms__slot_find_stack */
    /* The last stack captured, outermost frame first, with the stack-tree node of each prefix:
     * consecutive stacks usually share all but a few innermost frames. */
    int cache_n;
    uintptr_t cache_ips[MS_MAX_STACK_DEPTH];
    uint32_t cache_ids[MS_MAX_STACK_DEPTH];
    /* Unwind rules by instruction address (see unwind_fast.h), valid while unwind_gen equals
     * ms__unwind_gen. */
    uint32_t unwind_gen;
    struct ms__unwind_entry {
        uintptr_t ip;
        struct ms__cfi_rule rule;
    } unwind_cache[1u << MS_UNWIND_CACHE_BITS];
    /* The last walk by the cached unwinder: where it started, every stack word it read (return
     * addresses and saved rbp values) and the stack id it gave. A walk from the same registers
     * that would read the same words gives the same stack (see ms__walk_repeats). */
    struct ms__walk_log {
        uintptr_t ip, sp, bp;
        uint32_t gen;
        uint32_t stack;
        int n; /* words read; -1: no walk to repeat */
        const uintptr_t *addr[MS_WALK_WORDS];
        uintptr_t val[MS_WALK_WORDS];
    } walk;
    /* Stack-tree nodes this thread looked up recently, by (parent, ip), direct-mapped: the
     * shared table of a program with deep, varied stacks (a compiler) is far larger than the
     * caches, and most of a thread's lookups find nodes it found a moment ago. Node ids never
     * change once given, so an entry stays valid. */
    struct ms__node_entry {
        uint64_t ip; /* 0: empty */
        uint32_t parent, id;
    } node_cache[1u << MS_NODE_CACHE_BITS];
    /* Whole stacks this thread interned recently, by two independent 64-bit hashes of their
     * addresses and their depth: a call path seen before costs no node lookups at all. */
    struct ms__stack_entry {
        uint64_t h1, h2;
        uint32_t n, id; /* id 0: empty */
    } stack_cache[1u << MS_STACK_CACHE_BITS];
};

/* Thread-local state, kept small: it lives in the static TLS block. */
struct ms__tls {
    struct ms__slot *slot;
    int busy;            /* inside a hook: nested allocator calls pass straight through */
    int dead;            /* the thread's TLS destructors ran; later events go to the orphan slot */
    int creating_thread; /* inside pthread_create: see ms__dtv_adjust */
    int in_getattr;      /* inside pthread_getattr_np, which holds the thread's own lock */
};

extern __thread struct ms__tls ms__tls __attribute__((tls_model("initial-exec")));

/* True while events are recorded: after start-up, before the trace is finished. */
extern atomic_bool ms__active;
/* Every this many records a thread's record carries the time (a TSC read costs as much as the
 * rest of the hook). Single-threaded, time only dates events (the peak), so 256; once a second
 * thread may exist, 16: the reader orders events of different threads by these times and
 * resolves the few conflicts that their imprecision causes (see trace_reader.c). */
extern _Atomic uint32_t ms__time_period;

static inline uint64_t ms__now(void)
{
    return __rdtsc();
}

/* Bytes that memscope's own thread-local storage adds to each new thread's DTV (the dynamic
 * loader's per-thread table of TLS modules, allocated with calloc in pthread_create): the
 * recorded size leaves them out so that totals match a run without memscope. */
extern size_t ms__dtv_extra;
extern uintptr_t ms__ldso_lo, ms__ldso_hi;

/* The slow path of ms__slot_get: attaches a slot to a new thread, or picks the orphan slot
 * (locking it) for a thread whose TLS destructors already ran. Returns NULL when no memory. */
struct ms__slot *ms__slot_attach(struct ms__tls *t);
extern struct ms__slot *ms__orphan_slot;
void ms__orphan_unlock(void);
/* Releases the orphan slot's lock after a record (no-op for ordinary slots). */
static inline void ms__slot_release(struct ms__slot *s)
{
    if (MS_UNLIKELY(s == ms__orphan_slot))
        ms__orphan_unlock();
}

/* Looks up the thread's stack bounds (pthread_getattr_np) for the stack walks, unless the
 * thread is inside pthread_getattr_np itself (which calls malloc holding the lock the lookup
 * needs: the JVM's threads do this first thing), in which case a later event does it. */
void ms__slot_find_stack(struct ms__slot *s);

/* Writes the slot's records as one EVENTS chunk and starts a new chunk. Called by the owner
 * when the buffer is full, or by anyone with seal=true when the process finishes. Returns
 * false when it could not: a fatal-signal handler interrupted this thread's own flush of s. */
bool ms__slot_flush(struct ms__slot *s, bool seal);
/* Flushes and seals every slot (exit, exec, fatal signal). keep_open, the caller's own slot
 * when an exec may fail, is flushed but stays usable. Returns false if a slot could not be
 * flushed (see ms__slot_flush): its events are then only in the spool. */
bool ms__slot_flush_all(struct ms__slot *keep_open);
/* The thread is exiting: flush its slot and return it to the registry. */
void ms__slot_detach(struct ms__tls *t);
/* In a forked child: forget every slot but the caller's, empty the caller's. */
void ms__slots_after_fork_child(void);
/* Sets up the orphan slot; returns 0 or -1 when out of memory. */
int ms__slots_init(void);

static inline struct ms__slot *ms__slot_get(struct ms__tls *t)
{
    struct ms__slot *s = t->slot;
    if (MS_LIKELY(s != NULL))
        return s;
    return ms__slot_attach(t);
}

/* Starts a record: reserves the kind byte and, when needed, writes the time delta. */
static inline uint8_t *ms__rec_begin(struct ms__slot *s, uint8_t **kind)
{
    uint8_t *p = s->pos;
    *kind = p++;
    if (++s->untimed >= atomic_load_explicit(&ms__time_period, memory_order_relaxed)) {
        uint64_t now = ms__now();
        p = ms_varint_put(p, now - s->last_tsc);
        s->last_tsc = now;
        s->untimed = 0;
        **kind = MS_REC_TIMED;
    } else {
        **kind = 0;
    }
    return p;
}

/* Makes the thread's next record carry its time: after an event that orders this thread's
 * later events after another thread's earlier ones (pthread_join returned), so that the reader
 * does not place them before those (a free after the join before the joined thread's
 * allocation would make the peak too low). */
static inline void ms__slot_time_next(struct ms__slot *s)
{
    s->untimed = atomic_load_explicit(&ms__time_period, memory_order_relaxed);
}

/* Starts a record timed at tsc, a time taken earlier (clamped so times never go backwards). */
static inline uint8_t *ms__rec_begin_at(struct ms__slot *s, uint8_t **kind, uint64_t tsc)
{
    uint8_t *p = s->pos;
    *kind = p++;
    if (tsc < s->last_tsc)
        tsc = s->last_tsc;
    p = ms_varint_put(p, tsc - s->last_tsc);
    s->last_tsc = tsc;
    s->untimed = 0;
    **kind = MS_REC_TIMED;
    return p;
}

void ms__slot_full(struct ms__slot *s);

/* Finishes a record ending at p. */
static inline void ms__rec_end(struct ms__slot *s, uint8_t *p)
{
    s->pos = p;
    atomic_store_explicit(&s->head->committed, (uint32_t)(p - s->buf), memory_order_release);
    if (MS_UNLIKELY(p >= s->limit))
        ms__slot_full(s);
}

/* Every record without strings fits in the room kept free for one (with the 8 bytes of slack
 * that ms_varint_put needs); the strings that records carry here are thread names, at most 16
 * bytes (MS_THREAD_NAME_MAX). */
#define MS_THREAD_NAME_MAX 16
#define MS__REC_FITS(NAME, code, timing, summary)                                                  \
    _Static_assert(MS_REC_MAXLEN_##NAME + MS_REC_NSTR_##NAME * MS_THREAD_NAME_MAX + 8 <=           \
                       MS_RECORD_MAX,                                                              \
                   "the " #NAME " record can exceed MS_RECORD_MAX");
MS_RECORDS(MS__REC_FITS)
#undef MS__REC_FITS

#endif
