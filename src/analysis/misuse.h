/* Allocator misuse found in the replay (docs/misuse.md): double frees, frees of pointers that no
 * live block starts at, frees by the wrong family (free of a block from new, delete of one from
 * new[], ...), reallocs of freed blocks, and the program's deaths inside the allocator's own
 * checks. The heap model calls it at each free it cannot apply as a plain one, and at every free
 * (the recently freed blocks, which tell a double free from a wild one, as valgrind's freed-block
 * queue does). Its memory is bounded: the errors kept and the queue of freed blocks have fixed
 * limits. */
#ifndef MS_ANALYSIS_MISUSE_H
#define MS_ANALYSIS_MISUSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ms_misuse_kind {
    MS_MISUSE_DOUBLE_FREE,
    MS_MISUSE_INVALID_FREE,
    MS_MISUSE_MISMATCHED_FREE,
    MS_MISUSE_REALLOC_FREED,
    /* glibc stopped the program inside free or realloc of a block memscope saw as live and
     * rightly freed: the allocator found its own data damaged (an overflow of this block or a
     * neighbour, or a write after free) */
    MS_MISUSE_ALLOCATOR_ABORT,
    /* --check (docs/check.md): a red zone of the block was written (offset < 0: before it) */
    MS_MISUSE_OVERFLOW,
    /* --check: the freed block was written while in the quarantine */
    MS_MISUSE_USE_AFTER_FREE,
    MS_MISUSE_KINDS
};

/* The call that was made: from the free's family (common/trace_format.h), or realloc. */
/* The call: the last two are an allocator library's own (MS_FAMILY_OTHER: tc_free, dallocx,
 * ...; tc_realloc, rallocx, xallocx). */
enum ms_misuse_call {
    MS_CALL_FREE,
    MS_CALL_DELETE,
    MS_CALL_DELETE_ARRAY,
    MS_CALL_REALLOC,
    MS_CALL_LIB_FREE,
    MS_CALL_LIB_REALLOC,
    MS_MISUSE_CALLS
};
static inline bool ms_misuse_call_is_realloc(enum ms_misuse_call c)
{
    return c == MS_CALL_REALLOC || c == MS_CALL_LIB_REALLOC;
}

struct ms_misuse {
    enum ms_misuse_kind kind;
    enum ms_misuse_call call;
    uint64_t address, tsc;
    uint32_t tid;
    uint32_t stack; /* the bad call's stack (0: not recorded) */
    int signal;     /* the program died of this signal inside the call (0: it went on) */
    /* The block the address is in, when there is one: live (an interior pointer, or the block
     * freed by the wrong family) or freed earlier (freed set). */
    bool block, freed;
    uint64_t block_ptr, size;
    int64_t offset;   /* of address from block_ptr: negative for a write before the block */
    int found;        /* overflow, use_after_free: enum ms_heap_found (when --check found it) */
    int alloc_family; /* enum ms_family */
    uint32_t alloc_stack;
    uint64_t free_tsc; /* freed: the earlier free, by free_tid, with free_stack (0: unknown) */
    uint32_t free_tid, free_stack;
    enum ms_misuse_call free_call;
};

/* The errors described in full (the others are counted). */
#define MS_MISUSE_KEPT 1000
/* The queue of freed blocks remembered: as valgrind's --freelist-vol default, at most this many
 * bytes, and at most MS_MISUSE_FREED_MAX blocks. */
#define MS_MISUSE_FREED_VOLUME 20000000u
#define MS_MISUSE_FREED_MAX (1u << 18)

struct ms_misuse_freed {
    uint64_t ptr, size, tsc;
    uint32_t alloc_stack, free_stack, tid;
    uint8_t alloc_family, free_call;
};

struct ms_misuse_log {
    /* The bounds of the queue of freed blocks (0: MS_MISUSE_FREED_VOLUME and _MAX); --check's
     * quarantine raises them (ms_misuse_quarantine). */
    uint64_t volume_max;
    size_t freed_max;
    bool check; /* the trace is of a --check run: bad frees were refused */
    struct ms_misuse *err;
    size_t n, cap;
    uint64_t count[MS_MISUSE_KINDS], total;
    /* The freed blocks: a ring of the latest (oldest at head). */
    struct ms_misuse_freed *ring;
    size_t ring_cap, head, used;
    uint64_t volume;
    bool failed; /* out of memory: errors counted but not described */
};

/* A live block as the model describes it to the log. */
struct ms_misuse_block {
    uint64_t ptr, size;
    int family;
    uint32_t stack;
};

void ms_misuse_free_log(struct ms_misuse_log *l);
/* The errors found so far are dropped, the freed blocks remembered kept (a report's time window
 * opens: the errors it shows are those made in it, told apart as before). */
void ms_misuse_forget_errors(struct ms_misuse_log *l);
/* Remembers that block b was freed by a call of family (enum ms_family: 0 malloc, 1 new, 2 new[],
 * 3 an allocator library's own), with MS_MISUSE_BY_REALLOC set for a realloc (of family 0 or
 * 3), from stack (0: not recorded) at tsc by thread tid. */
#define MS_MISUSE_BY_REALLOC 4
void ms_misuse_freed(struct ms_misuse_log *l, const struct ms_misuse_block *b, int family,
                     uint32_t stack, uint64_t tsc, uint32_t tid);
/* A free (family, with MS_MISUSE_BY_REALLOC for a realloc) at address by tid at tsc from stack (0:
 * unknown) of no block live there. in (NULL: none) is the live block containing address, if any.
 * Returns the error recorded (NULL: only counted). */
struct ms_misuse *ms_misuse_bad_free(struct ms_misuse_log *l, uint64_t address, int family,
                                     uint32_t stack, uint64_t tsc, uint32_t tid,
                                     const struct ms_misuse_block *in);
/* A free of the live block b by a call of another family. */
struct ms_misuse *ms_misuse_mismatch(struct ms_misuse_log *l, const struct ms_misuse_block *b,
                                     int family, uint32_t stack, uint64_t tsc, uint32_t tid);
/* The program died of signal inside a free (or realloc, when realloc is set) of address made by
 * tid at tsc from stack (common/record_table.h, FREE_FAULT). live: the block live at address for
 * a realloc (NULL: none), which glibc found damaged. The error already recorded for that call
 * gets the stack and the signal; a call that was not one (a free of a live block) becomes an
 * MS_MISUSE_ALLOCATOR_ABORT. */
void ms_misuse_fault(struct ms_misuse_log *l, uint64_t address, bool realloc, int signal,
                     uint32_t stack, uint64_t tsc, uint32_t tid,
                     const struct ms_misuse_block *live);

/* The run used --check with a quarantine of quarantine bytes (red zones included, blocks of 32
 * bytes at least): the queue of freed blocks grows to remember every block still held there. */
void ms_misuse_quarantine(struct ms_misuse_log *l, uint64_t quarantine);
/* --check found the block at ptr of size bytes damaged at offset (kind MS_MISUSE_OVERFLOW or
 * MS_MISUSE_USE_AFTER_FREE; found: enum ms_heap_found) on tid at tsc, from stack (0: none).
 * live: the block when it is still live (at exit); else it is looked for among the freed. */
void ms_misuse_heap_error(struct ms_misuse_log *l, enum ms_misuse_kind kind, uint64_t ptr,
                          uint64_t size, int64_t offset, int found, uint32_t stack, uint64_t tsc,
                          uint32_t tid, const struct ms_misuse_block *live);

/* "double_free", ... (the JSON's kind names), and the call's name ("free", "delete",
 * "delete[]", "realloc"). */
const char *ms_misuse_kind_key(enum ms_misuse_kind k);
const char *ms_misuse_call_name(enum ms_misuse_call c);
/* The allocating call of a family: "malloc", "new", "new[]". */
const char *ms_misuse_alloc_name(int family);

#endif
