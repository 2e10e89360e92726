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
/* Entries of the cache of stack-tree nodes: 2^bits of 16 bytes. */
#define MS_NODE_CACHE_BITS 12
/* Entries of the cache of whole stacks: 2^bits of 24 bytes. */
#define MS_STACK_CACHE_BITS 11
/* Frames one walk may give (the frames kept plus memscope's own), and the stack words it may
 * read: two per frame (return address, saved rbp). */
#define MS_WALK_FRAMES (MS_MAX_STACK_DEPTH + 8)
#define MS_WALK_WORDS (2 * MS_WALK_FRAMES)

struct ms__unwind_state {
    /* The addresses of the stack being captured: here rather than on the program's stack, which
     * may be a small one (one thread captures one stack at a time: a hook interrupted by a signal
     * handler records nothing of the handler's allocations until it is done). */
    uintptr_t ips[MS_WALK_FRAMES];
    uintptr_t stack_lo, stack_hi; /* the thread's stack (0, 0: unknown), for the stack walks */
    int stack_pending;            /* not looked up yet: see ms__unwind_find_stack */
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
    uint64_t path_h1[MS_MAX_STACK_DEPTH], path_h2[MS_MAX_STACK_DEPTH];
    /* Unwind rules by instruction address (see unwind_fast.h), valid while unwind_gen equals
     * ms__code_gen. */
    uint32_t unwind_gen;
    struct ms__unwind_entry {
        uintptr_t ip;
        struct ms__cfi_rule rule;
    } unwind_cache[1u << MS_UNWIND_CACHE_BITS];
    /* The last two walks by the cached unwinder (*last is the last): where each
     * started, every stack word it read (return addresses and saved rbp values), the state after
     * each frame, and the stack id it gave. A walk from the same registers that would read the
     * same words gives the same stack (see ms__walk_repeats); a walk that reaches the state the
     * last one had after some frame, where the words the last one read from there on still hold
     * their values, goes on as the last one did (see unwind_fast.c). */
    struct ms__walk_log {
        uintptr_t ip, sp, bp;
        uint32_t gen;
        uint32_t stack;
        int n;      /* words read; -1: no walk to repeat */
        int frames; /* return addresses it gave */
        bool cut;   /* it stopped at the most frames asked for, not at the stack's end */
        const uintptr_t *addr[MS_WALK_WORDS];
        uintptr_t val[MS_WALK_WORDS];
        /* After frame i: the CFA (the caller's sp), the caller's rbp, the return address, and
         * the words read so far. */
        struct ms__walk_frame {
            uintptr_t cfa, bp, ra;
            uint32_t words;
        } frame[MS_WALK_FRAMES];
    } walk[2], *last; /* last: NULL until the state is first reset, then walk[0] or walk[1] */
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

/* The last walk. */
static inline struct ms__walk_log *ms__walk_last(struct ms__unwind_state *u)
{
    return u->last;
}

/* Forgets both walks: nothing is reused from them (a forked child, a stack not interned). */
static inline void ms__walk_forget(struct ms__unwind_state *u)
{
    u->walk[0].n = u->walk[1].n = -1;
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
