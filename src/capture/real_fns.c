/* Resolution of the next allocator in line, and the static pool that serves dlsym's own
 * allocations while that resolution is in progress (heaptrack does the same). */
#define _GNU_SOURCE
#include "real_fns.h"

#include "diag.h"

#include <dlfcn.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

struct ms__real_fns ms__real;
volatile bool ms__resolving;

_Alignas(64) unsigned char ms__bootstrap_pool[64 * 1024];
#define pool ms__bootstrap_pool
static size_t pool_used;

void *ms__bootstrap_alloc(size_t size, size_t align, bool zero)
{
    if (align < 16)
        align = 16;
    /* Each block is preceded by its size so that realloc can copy it out. */
    size_t start = (pool_used + sizeof(size_t) + align - 1) & ~(align - 1);
    if (start + size > sizeof pool || size > sizeof pool)
        return NULL;
    memcpy(pool + start - sizeof(size_t), &size, sizeof size);
    pool_used = start + size;
    (void)zero; /* The pool is static storage and is never reused, so it is already zero. */
    return pool + start;
}

size_t ms__bootstrap_size(const void *p)
{
    size_t size;
    memcpy(&size, (const unsigned char *)p - sizeof(size_t), sizeof size);
    return size;
}

static void *next(const char *name)
{
    void *fn = dlsym(RTLD_NEXT, name);
    if (!fn) {
        ms__say("cannot find the next definition of ", name, "; the program cannot run");
        syscall(SYS_exit_group, 127); /* not _exit: that is memscope's own hook */
    }
    return fn;
}

void ms__real_resolve(void)
{
    if (ms__real.free)
        return;
    ms__resolving = true;
    struct ms__real_fns r;
    r.malloc = (void *(*)(size_t))next("malloc");
    r.free = (void (*)(void *))next("free");
    r.calloc = (void *(*)(size_t, size_t))next("calloc");
    r.realloc = (void *(*)(void *, size_t))next("realloc");
    r.posix_memalign = (int (*)(void **, size_t, size_t))next("posix_memalign");
    r.aligned_alloc = (void *(*)(size_t, size_t))next("aligned_alloc");
    r.memalign = (void *(*)(size_t, size_t))next("memalign");
    r.valloc = (void *(*)(size_t))next("valloc");
    r.pvalloc = (void *(*)(size_t))next("pvalloc");
    r.malloc_usable_size = (size_t(*)(void *))next("malloc_usable_size");
    ms__real = r;
    __atomic_store_n(&ms__real.free, r.free, __ATOMIC_RELEASE);
    ms__resolving = false;
}
