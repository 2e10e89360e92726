/* What the stack walks keep per thread: the thread's stack bounds, the last stack captured and
 * the caches that make the next walk and its interning cheap. Owned by a thread slot
 * (thread_state.h), used by unwind_fast, stack_intern and stack_capture. */
#ifndef MS_CAPTURE_UNWIND_STATE_H
#define MS_CAPTURE_UNWIND_STATE_H

#include "../common/trace_format.h"
#include "cfi_rules.h"

#include <stdbool.h>
#include <stdint.h>

/* Entries of the unwind-rule cache: 2^bits of 16 bytes. A compiler's code is large: on
 * cc1plus, cfi_rule_at took 1.4% of the samples with 2^13 entries and 0.7% with 2^15; 2^14
 * gives as much (memscope's samples per cc1plus sample 4.5% fewer than with 2^13). */
#define MS_UNWIND_CACHE_BITS 14
/* Entries of the small cache in front of it: 2^bits of 16 bytes. */
#define MS_UNWIND_L0_BITS 8
/* Entries of the cache of stack-tree nodes: 2^bits of 16 bytes. */
#define MS_NODE_CACHE_BITS 12
/* Entries of the cache of whole stacks: 2^bits of 24 bytes. */
#define MS_STACK_CACHE_BITS 11
/* Frames one walk may give (the frames kept plus memscope's own), and the stack words it may
 * read: two per frame (return address, saved rbp). */
#define MS_WALK_FRAMES (MS_MAX_STACK_DEPTH + 8)
/* A frame whose rule keeps the caller's rbp where it was (ms__walk_log.rbp_off). */
#define MS_WALK_NO_RBP INT16_MIN

struct ms__unwind_state {
    /* The addresses of the stack being captured: here rather than on the program's stack, which
     * may be a small one (one thread captures one stack at a time: a hook interrupted by a signal
     * handler records nothing of the handler's allocations until it is done). */
    uintptr_t ips[MS_WALK_FRAMES];
    uintptr_t outer[MS_WALK_FRAMES]; /* a stack turned outermost first, for the interning */
    uintptr_t stack_lo, stack_hi;    /* the thread's stack (0, 0: unknown), for the stack walks */
    int stack_pending;               /* not looked up yet: see ms__unwind_find_stack */
    /* Top of the thread's own stack (own_stack.h), for the slow paths (NULL: none). */
    void *own_stack;
    /* The last stack captured, outermost frame first, with the stack-tree node of each prefix:
     * consecutive stacks usually share all but a few innermost frames. */
    int cache_n;
    uintptr_t cache_ips[MS_MAX_STACK_DEPTH];
    uint32_t cache_ids[MS_MAX_STACK_DEPTH];
    /* The two path hashes of each prefix of that stack (see stack_intern.c), and those of the
     * stack being interned. */
    uint64_t cache_h1[MS_MAX_STACK_DEPTH], cache_h2[MS_MAX_STACK_DEPTH];
    /* Leading entries of cache_ips known to equal the first return addresses of the walk log
     * logs[cache_log_of]. */
    int cache_log, cache_log_of;
    uint64_t path_h1[MS_MAX_STACK_DEPTH], path_h2[MS_MAX_STACK_DEPTH];
    /* Unwind rules by instruction address (see unwind_fast.h), valid while unwind_gen equals
     * ms__code_gen: a small cache that stays in the CPU's caches in front of a large one. */
    uint32_t unwind_gen;
    struct ms__unwind_entry {
        uintptr_t ip;
        struct ms__cfi_rule rule;
    } unwind_l0[1u << MS_UNWIND_L0_BITS], unwind_cache[1u << MS_UNWIND_CACHE_BITS];
    /* The last walk by the cached unwinder (two: the allocations' and the frees', logs[walk_i]
     * the one in use, so that a loop that allocates and frees repeats both): where it started, the
     * state after each frame (outermost first) and the stack id it gave. A walk from the same
     * registers that would read the same stack words gives the same stack (see ms__walk_repeats); a
     * walk that reaches the state the last one had after some frame, where the words the last one
     * read further out still hold their values, goes on as the last one did: the outer frames stay
     * where they are in the log and only the new inner ones are written (see unwind_fast.c). */
    struct ms__walk_log {
        uintptr_t start_ip, start_sp, start_bp;
        uint32_t gen;
        uint32_t stack;
        int frames; /* -1: no walk to repeat */
        int kept;   /* frames [0, kept) are those of the walk before, unchanged */
        int clean;  /* frames [0, clean) are known to hold none of memscope's (stack_capture.h) */
        bool cut;   /* it stopped at the most frames asked for, not at the stack's end */
        /* After frame i: the CFA (the caller's sp), the caller's rbp, the return address (read
         * at cfa - 8) and where the caller's rbp was read, relative to the CFA (MS_WALK_NO_RBP:
         * it was not). These are the stack words the walk read: ra is also the stack itself,
         * outermost frame first. */
        uintptr_t cfa[MS_WALK_FRAMES], bp[MS_WALK_FRAMES], ra[MS_WALK_FRAMES];
        int16_t rbp_off[MS_WALK_FRAMES];
    } logs[2];
    int walk_i; /* MS_WALK_ALLOCS, or MS_WALK_FREES around a free's walk */
    /* The frames of the walk under way, innermost first, until they go into the log. */
    struct ms__walk_frame {
        uintptr_t cfa, bp, ra;
        int32_t rbp_off;
    } fresh[MS_WALK_FRAMES];
    /* Stack-tree nodes this thread looked up recently, by their path hash, direct-mapped: the
     * shared table of a program with deep, varied stacks (a compiler) is far larger than the
     * caches, and most of a thread's lookups find nodes it found a moment ago. Node ids never
     * change once given, so an entry stays valid. */
    struct ms__node_entry {
        uint64_t ip; /* 0: empty */
        uint32_t parent, id;
    } node_cache[1u << MS_NODE_CACHE_BITS];
    /* The unloads (ms__unload_epoch) these caches know of: nodes of unloaded code are dropped. */
    unsigned unload_epoch;
    /* Whole stacks this thread interned recently, by their two path hashes (independent 64-bit
     * hashes of their addresses) and their depth: a call path seen before costs no node lookups
     * at all. */
    struct ms__stack_entry {
        uint64_t h1, h2;
        uint32_t n, id; /* id 0: empty */
    } stack_cache[1u << MS_STACK_CACHE_BITS];
};

#define MS_WALK_ALLOCS 0
#define MS_WALK_FREES 1

/* The walk log in use. */
static inline struct ms__walk_log *ms__walk(struct ms__unwind_state *u)
{
    return &u->logs[u->walk_i];
}

/* Forgets the last walks: nothing is reused from them (a forked child, a stack not interned). */
static inline void ms__walk_forget(struct ms__unwind_state *u)
{
    u->logs[0].frames = u->logs[1].frames = -1;
}

/* Set while this thread is inside pthread_getattr_np (see ms__unwind_find_stack). */
extern __thread int ms__in_getattr __attribute__((tls_model("initial-exec")));

/* Finds the C library's pthread_getattr_np (memscope's own hook of it is for the program):
 * once, at start-up. */
void ms__unwind_state_init(void);

/* Starts the state of a new thread: no stack captured yet, bounds to be looked up (pending)
 * when the walks need them. */
void ms__unwind_state_reset(struct ms__unwind_state *u, bool need_bounds);

/* Looks up the calling thread's stack bounds (pthread_getattr_np) for the stack walks, unless
 * the thread is inside pthread_getattr_np itself (which calls malloc holding the lock the
 * lookup needs: the JVM's threads do this first thing), in which case a later event does it. */
void ms__unwind_find_stack(struct ms__unwind_state *u);

#endif
