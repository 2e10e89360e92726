/* The memory memscope maps for itself, listed: its tables hold the program's block addresses
 * (the sampled set, the core backend's live table, record buffers), so a scan of the process
 * for pointers to its blocks (the leak kinds at exit) must leave them out, as memcheck leaves
 * out its own. Every mmap and munmap of the capture library goes through here. */
#ifndef MS_CAPTURE_OWN_MEMORY_H
#define MS_CAPTURE_OWN_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* mmap, and the range is memscope's (MAP_FIXED over a range of its own replaces it). */
void *ms__own_map(void *addr, size_t len, int prot, int flags, int fd, off_t off);

/* munmap, and the range is no longer memscope's. */
int ms__own_unmap(void *addr, size_t len);

struct ms__own_range {
    uintptr_t lo, hi;
};

/* Copies up to max of the ranges into out, sorted by address, and sets *count to how many
 * there are in all (more than max: the list is cut); *lost is set when more ranges were mapped
 * than the list could hold (then some of memscope's memory is not in it). Allocates nothing and
 * never waits: returns false, having done nothing, when the list's lock is held (by another
 * thread, which may be stopped for a snapshot, or by this one, interrupted by a signal). */
bool ms__own_ranges_try(struct ms__own_range *out, size_t max, size_t *count, bool *lost);

/* Around fork: held by the forking thread, so that the child's list is whole (taken last in the
 * prepare handler, whether tracing is on or not). The parent releases it; the child resets it,
 * whoever held it, and marks the list inexact when the fork did not take it (a handler forked
 * in the middle of an update). Both first thing after the fork. */
void ms__own_memory_lock(void);
void ms__own_memory_unlock(void);
void ms__own_memory_fork_child(void);

#endif
