/* The allocator functions that memscope forwards to: the next definitions after libmemscope in
 * symbol lookup order (glibc's, or jemalloc's/tcmalloc's when the program loads those). */
#ifndef MS_CAPTURE_REAL_FNS_H
#define MS_CAPTURE_REAL_FNS_H

#include <stdbool.h>
#include <stddef.h>

struct ms__real_fns {
    void *(*malloc)(size_t);
    void (*free)(void *);
    void *(*calloc)(size_t, size_t);
    void *(*realloc)(void *, size_t);
    int (*posix_memalign)(void **, size_t, size_t);
    void *(*aligned_alloc)(size_t, size_t);
    void *(*memalign)(size_t, size_t);
    void *(*valloc)(size_t);
    void *(*pvalloc)(size_t);
    size_t (*malloc_usable_size)(void *);
};

extern struct ms__real_fns ms__real;

/* Resolves every function in ms__real with dlsym(RTLD_NEXT). While it runs, allocations made by
 * dlsym itself are served from a static pool (see ms__bootstrap_*). Safe to call repeatedly. */
void ms__real_resolve(void);

/* True while ms__real_resolve is running in some thread. */
extern volatile bool ms__resolving;

/* The bootstrap pool: a small static arena for the allocations dlsym makes before the real
 * allocator is known. Pool blocks are never freed and are never recorded in the trace. */
void *ms__bootstrap_alloc(size_t size, size_t align, bool zero);
extern unsigned char ms__bootstrap_pool[64 * 1024];
static inline bool ms__bootstrap_owns(const void *p)
{
    return (const unsigned char *)p >= ms__bootstrap_pool &&
           (const unsigned char *)p < ms__bootstrap_pool + sizeof ms__bootstrap_pool;
}
size_t ms__bootstrap_size(const void *p);

#endif
