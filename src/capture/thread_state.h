/* Thread slots: each thread appends encoded events to the record buffer of its own slot
 * (event_buffer.h) with no lock, and keeps its stack walks' state there (unwind_state.h); full
 * buffers become EVENTS chunks. Slots live in a global registry so that exit, exec and fatal
 * signals can flush every thread's captured events. */
#ifndef MS_CAPTURE_THREAD_STATE_H
#define MS_CAPTURE_THREAD_STATE_H

#include "../common/spool_counts.h"
#include "event_buffer.h"
#include "live_table.h"
#include "runtime.h"
#include "spinlock.h"
#include "unwind_state.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An event of a signal handler that interrupted its thread inside memscope, while the slot was
 * not the handler's to write: recorded when the interrupted code leaves (event_path.h). */
struct ms__deferred_event {
    int rec;          /* MS_REC_ALLOC, MS_REC_ALLOC_ALIGNED, MS_REC_FREE or MS_REC_REALLOC */
    int family;       /* enum ms_family */
    uintptr_t ptr;    /* the block (REALLOC: the new block) */
    uintptr_t old;    /* REALLOC: the old block */
    uintptr_t size;   /* bytes asked for */
    uintptr_t align;  /* ALLOC_ALIGNED: the alignment asked for */
    uintptr_t caller; /* the return address of the allocator call */
    int frames;       /* the handler's stack in the slot's deferred_ips (0: caller alone) */
};
#define MS_DEFERRED_MAX 64

/* ms_stats's counts of the threads that owned a slot (written by the owner; read by anyone, a
 * little stale). Cumulative over the slot's threads: a thread's own are the counts since the
 * `base` its slot had when it came. */
struct ms__slot_stats {
    _Atomic uint64_t allocs, frees, bytes; /* relaxed: see ms__stat_add */
    uint64_t base_allocs, base_frees, base_bytes;
    struct ms__live_owner live; /* the core backend's live blocks of the slot's thread */
};

/* A freed block of --check's heap in its quarantine (check_heap.c): its place and its bytes
 * before the program's. */
struct ms__held_block {
    uintptr_t ptr;
    uint64_t size;
    uint32_t lo;
};

/* --check: the thread's last freed blocks, on their way into the quarantine's ring, which
 * takes them 32 at a time under its lock (check_heap.c). Only the owner adds (n is released
 * after the entry is written) and only under the ring's lock are they taken, so that the
 * exit's check, under that lock, can read any thread's. busy: the owner is at it (a signal
 * handler that interrupted it goes to the ring directly). */
#define MS_STAGE_BLOCKS 32
struct ms__check_stage {
    struct ms__held_block held[MS_STAGE_BLOCKS];
    /* The blocks the ring let go as these entered it, checked and released once its lock is
     * released: here, not on the program's stack. */
    struct ms__held_block out[MS_STAGE_BLOCKS];
    _Atomic uint32_t n;
    _Atomic int busy;
};

struct ms__slot {
    struct ms__buffer b; /* first: the buffer's full() finds its slot from it */
    struct ms__slot_stats stats;
    /* The core backend's entry of the block a realloc of this thread is resizing, taken out of
     * the table before the call (ptr 0: none). */
    struct ms__live_block realloc_held;
    /* Sampling (sampler.h): the bytes left to the next sample point, and the generator that
     * draws the intervals (0: not seeded yet). */
    uint64_t sample_left, sample_rng;
    struct ms__unwind_state u;
    unsigned region;         /* the buffer's region in the spool */
    int remap;               /* in a forked child: the buffer is still the parent's */
    atomic_int in_use;       /* owned by a live thread (or it is the orphan slot) */
    ms__spinlock flushing;   /* a flush of this slot is in progress: its thread */
    atomic_int sealed;       /* the process is finishing: never write this slot again */
    int *_Atomic owner_busy; /* its owner's ms__tls.busy (NULL: none, the orphan slot) */
    /* The modules frees came from lately (event_path.c), so that a change of module costs no
     * lookup in the loader's list; forgotten when code is mapped or unmapped (ms__code_gen). */
    struct ms__module_range {
        uintptr_t lo, hi;
        bool runtime;
    } free_modules[4];
    unsigned free_modules_gen, free_modules_next;
    /* The one module loaded that is not a runtime one, when there is only one (else empty):
     * the runtime's frees then need no walk to tell whose they are. Set with free_modules. */
    struct ms__module_range sole_module;
    struct ms__check_stage check_stage;
    struct ms__deferred_event deferred[MS_DEFERRED_MAX];     /* the first tls.n_deferred are set */
    uintptr_t deferred_ips[MS_DEFERRED_MAX][MS_WALK_FRAMES]; /* their stacks, innermost first */
};

/* Thread-local state, kept small: it lives in the static TLS block. */
struct ms__tls {
    struct ms__slot *slot;
    int busy;            /* inside a hook: nested allocator calls pass straight through */
    int dead;            /* the thread's TLS destructors ran; later events go to the orphan slot */
    int creating_thread; /* inside pthread_create: see ms__dtv_extra */
    /* A signal handler runs that interrupted this thread with busy set (signal_hooks.c): slot
     * is NULL meanwhile, and the handler's events go to held->deferred. */
    int in_handler;
    int handlers;          /* the program's signal handlers running on this thread (any) */
    int n_deferred;        /* events in held->deferred (or slot->deferred) not yet recorded */
    struct ms__slot *held; /* the slot, while in_handler */
    /* Sampling: the block a realloc call resizes, taken out of the sampled set before the call
     * (sampler.h), and whether it was in it. */
    uintptr_t realloc_old;
    int realloc_sampled;
    /* The block a free or realloc-like call hands the allocator, for the call's length (0:
     * none), and whether the call is a realloc: should the allocator kill the program over it
     * (glibc's checks abort), the crash handler records where it was called from (FREE_FAULT). */
    uintptr_t freeing;
    int freeing_realloc;
};

extern __thread struct ms__tls ms__tls __attribute__((tls_model("initial-exec")));

/* Sets up the orphan slot and the thread-exit key, whose destructor thread_exit runs in each
 * thread that got a slot (it must call ms__slot_detach). Returns 0, or -1 when out of memory. */
int ms__slots_init(void (*thread_exit)(void *));

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

/* Whether, of the threads stopped(ctx, tid) says are stopped (exit_scan.c; NULL: none), none is
 * inside a hook, as far as the slots tell (a thread that has none yet is not seen). Flushes and
 * the other locks are counted in ms__spin_held. */
bool ms__slots_quiet(bool (*stopped)(const void *ctx, uint32_t tid), const void *ctx);
/* With the other threads stopped outside memscope for check's snapshot (exit_scan.c), and the
 * check's record written: a SYNC record at the time now in each of their buffers, which are
 * written out at once (docs/trace-format.md). */
void ms__slots_sync_others(uint64_t check);
/* Calls fn for every slot a live thread other than the caller owns (not the orphan slot). */
void ms__slots_each_other(void (*fn)(struct ms__slot *s, void *ctx), void *ctx);
/* Calls fn for every slot in use, the caller's and the orphan slot included. */
void ms__slots_each_in_use(void (*fn)(struct ms__slot *s, void *ctx), void *ctx);
/* Calls fn for every slot there is, in use or not (not the orphan slot). */
void ms__slots_each(void (*fn)(struct ms__slot *s, void *ctx), void *ctx);

/* Every slot's free-caller range forgotten (code was unloaded: event_buffer.h). */
void ms__slots_free_ranges_reset(void);
/* Every slot's live figures back to 0 and its generation bumped (the core backend stopped). */
void ms__slots_live_reset(void);
/* The counts of every slot's threads, summed (ms_stats's process figures). */
void ms__slots_totals(uint64_t *allocs, uint64_t *frees, uint64_t *bytes);

/* Sampling: the counts of MS_SPOOL_COUNTS entries (a head page's, or a copy of them:
 * common/spool_counts.h) as an EVENTS payload of their own, a CLOCK (at tsc) and the counts. */
struct ms__counts_chunk {
    uint8_t bytes[MS_SPOOL_COUNTS_CHUNK_MAX];
    size_t len; /* 0: no counts */
    uint64_t tsc;
};
/* Encodes the entries at t, of a buffer with committed bytes, into c, timed now. */
void ms__counts_chunk_take(struct ms__counts_chunk *c, const void *t, uint32_t committed);

/* Events that could not be recorded (no slot for the thread): counted for the END chunk. */
uint64_t ms__slots_dropped(void);
void ms__slots_drop(void);

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

static inline struct ms__slot *ms__slot_get(struct ms__tls *t)
{
    struct ms__slot *s = t->slot;
    if (MS_LIKELY(s != NULL))
        return s;
    return ms__slot_attach(t);
}

#endif
