/* --check (memcheck mode, docs/check.md): the heap the hooks give the program instead of the
 * allocator's own blocks. Every block gets red zones before and after it, filled with a pattern
 * that is checked when the block is freed or reallocated and at exit; a freed block is filled
 * with another pattern and kept in a quarantine (MEMSCOPE_QUARANTINE_BYTES) until it leaves,
 * when the pattern is checked again, so that a write after free is seen; a free of anything
 * else than a live block is refused, so that the program goes on as under valgrind. The blocks
 * are those of the allocator underneath (ms__real), one larger each; the live ones are in
 * ms__check_table (live_table.h).
 *
 * What is found becomes a HEAP_ERROR record (common/record_table.h) on the event path; the
 * frees themselves are recorded by the hooks as always (the replay tells a double free from an
 * invalid one). Called with busy set, as the event path is. */
#ifndef MS_CAPTURE_CHECK_HEAP_H
#define MS_CAPTURE_CHECK_HEAP_H

#include "config.h"
#include "live_table.h"
#include "../common/trace_format.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The red zone after a block: from its end to the next multiple of 16, and 16 bytes more; the
 * one before it is 16 bytes (within the alignment asked for, when more). */
#define MS_CHECK_REDZONE 16
#define MS_CHECK_REDZONE_BYTE 0xfa
#define MS_CHECK_FREED_BYTE 0xfd
/* Alignments from this on get the allocator's own block, adopted (no red zones). */
#define MS_CHECK_ALIGN_MAX ((size_t)1 << 30)

/* Whether --check is on (MEMSCOPE_CHECK): set once, before the first block is given out. */
static inline bool ms__check_on(void)
{
    return ms__config.check;
}

/* A block of n bytes aligned to align (0: malloc's), zeroed when zero is set: NULL when the
 * allocator has no memory (errno ENOMEM). */
void *ms__check_alloc(size_t n, size_t align, bool zero);
/* Adds p, which an allocator gave out itself (a new_handler's block, an allocator library's
 * entry point's), to the table without red zones, so that its free is not refused. False when
 * it could not (no memory for the table, or a handler interrupted this thread inside it). */
bool ms__check_adopt(void *p, size_t n, int family);
/* The deallocator of the adopted blocks of MS_FAMILY_OTHER (tcmalloc's, when it is not the
 * program's malloc: tc_free), set by the allocator library's hooks when they adopt one. */
extern void (*ms__check_other_free)(void *p);
/* Releases p, an adopted block, to its allocator: family's (MS_FAMILY_OTHER: the library's),
 * whichever deallocator the program called. */
void ms__check_release_adopted(void *p, int family);

/* What ms__check_free did with p. */
enum ms_check_free {
    MS_CHECK_FREED,   /* a live block: checked, now in the quarantine (or released) */
    MS_CHECK_PLAIN,   /* an adopted block, out of the table: the caller's deallocator frees it */
    MS_CHECK_OTHER,   /* the same, of MS_FAMILY_OTHER: ms__check_release_adopted frees it */
    MS_CHECK_UNKNOWN, /* no live block of the check heap starts at p: nothing was done */
    MS_CHECK_KEPT,    /* a signal handler interrupted this thread inside the table: left live */
};
/* Frees p, a block of the check heap. */
enum ms_check_free ms__check_free(void *p);
/* After ms__check_free gave PLAIN or OTHER for p: released by fn (the deallocator called, of
 * family), unless the block is an allocator library's (OTHER) and fn is not (then by the
 * library's own, so that a mismatched free across allocators does not kill the program). A
 * PLAIN block always goes to fn: it may be a library's all the same (an operator new of a
 * plugin's that forwards to its tcmalloc before any tc_* call told which it is). Returns
 * whether fn is to be called. */
static inline bool ms__check_adopted_by(enum ms_check_free r, int family, void *p)
{
    if (r != MS_CHECK_OTHER || family == MS_FAMILY_OTHER)
        return true;
    ms__check_release_adopted(p, MS_FAMILY_OTHER);
    return false;
}
/* realloc(old, n) with n > 0, old not NULL: a new block with old's bytes (always moved, as
 * valgrind does; aligned to align, 0: malloc's; zeroed first when zero is set), old freed.
 * *unknown is set (and NULL returned) when old is no live block, in which case nothing was done.
 * NULL with *unknown clear: no memory (errno ENOMEM), old still live. */
void *ms__check_realloc(void *old, size_t n, size_t align, bool zero, bool *unknown);
/* jemalloc's xallocx(p, n, extra) of the block p of the check heap with red zones: it grows in
 * place to n bytes, and up to n + extra, when its allocator's block has room for them and the
 * red zone after them; else it keeps its size. Returns the size it has now (0: p is no such
 * block). */
size_t ms__check_resize(void *p, size_t n, size_t extra);
/* An adopted block p now holds n bytes (its library resized it). */
void ms__check_set_size(void *p, size_t n);
/* A realloc of old was refused: old is no live block. */
void ms__check_refused_realloc(void *old);
/* MS_LIVE_FOUND (live_table.h) when p is a live block of the check heap with red zones, of
 * *size bytes; MS_LIVE_BUSY when a signal handler interrupted this thread inside the table. */
int ms__check_guarded(void *p, size_t *size);
/* The bytes of a block of the check heap the program may use (those it asked for), or the
 * allocator's answer for any other pointer. */
size_t ms__check_usable_size(void *p);
/* A realloc passing straight through (a nested call, after the trace is finished): a block of
 * the check heap moves to a block of the allocator's, outside the check heap (n 0: freed);
 * anything else goes to the allocator's realloc. */
void *ms__check_passthrough_realloc(void *old, size_t n);
/* A free of p passing straight through (a nested call, after the trace is finished), without
 * recording or checking anything: true when p was a block of the check heap with red zones,
 * now back with the allocator underneath; false when the caller's deallocator must free p as it
 * is (an adopted block, anything else). */
bool ms__check_release_mine(void *p);

/* The process finishes (before the last flush): every live block's red zones and every
 * quarantined block are checked. */
void ms__check_at_finish(void);
/* Lets every block in the quarantine's ring and in the calling thread's stage go back to the
 * allocator, checked as it leaves (the unit tests end with it, once their other threads have
 * exited, so that LeakSanitizer finds nothing held). Other threads' stages stay as they are. */
void ms__check_quarantine_flush(void);
/* The calling thread's last freed blocks, waiting to enter the quarantine, enter it now (the
 * thread exits; it must still have its slot). */
void ms__check_thread_exit(void);
/* Fork: the table's and the quarantine's locks are held across it. */
void ms__check_fork_prepare(void);
void ms__check_fork_done(void);

#endif
