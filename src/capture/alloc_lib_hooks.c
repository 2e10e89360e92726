/* The allocator libraries' own entry points, for programs that call them (or whose allocator
 * calls them itself): tcmalloc's tc_* functions, which are aliases of its malloc and operator
 * new families, and jemalloc's *allocx functions. Each forwards to the library and records what
 * it allocated or released, as the standard hooks do for malloc and new. A program that never
 * loads these libraries never calls these hooks. */
#define _GNU_SOURCE
#include "hooks.h"
#include "hooks_common.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <unistd.h>

typedef struct nothrow_tag nothrow_tag;

/* Each library's functions come from the one object that defines its anchor (tc_malloc,
 * mallocx), chosen at the first call: a block a family's hook allocated is always released by
 * the same library (see ms__family_symbol). */
static uintptr_t tcmalloc_provider, jemalloc_provider;

static void *lib_symbol(const char *name)
{
    bool tc = !strncmp(name, "tc_", 3);
    return ms__family_symbol(tc ? &tcmalloc_provider : &jemalloc_provider,
                             tc ? "tc_malloc" : "mallocx", name);
}

static void *lib_next(void **slot, const char *name)
{
    return cached_symbol(slot, lib_symbol, name);
}

/* Whether each library (0 jemalloc, 1 tcmalloc) is the one the program's malloc reaches: 0 not
 * known yet, 1 it is, 2 it is not (its blocks are of MS_FAMILY_OTHER). */
static int lib_owns_malloc[2];

/* --check: tcmalloc's adopted blocks go back to it, whichever deallocator the program called
 * (check_heap.h, ms__check_other_free). */
static void tc_release(void *p)
{
    static void *real;
    void (*f)(void *) = (void (*)(void *))lib_next(&real, "tc_free");
    if (f)
        f(p);
}

static __attribute__((noinline)) int lib_owns_probe(bool tc)
{
    /* A library without a malloc of its own (built with a prefix) is not the program's either */
    int owns =
        ms__fn_malloc(lib_symbol(tc ? "tc_malloc" : "mallocx")) == MS_FN_PROGRAMS_MALLOC ? 1 : 2;
    if (owns == 2 && tc) /* jemalloc's blocks are the check heap's under --check */
        __atomic_store_n(&ms__check_other_free, tc_release, __ATOMIC_RELEASE);
    __atomic_store_n(&lib_owns_malloc[tc], owns, __ATOMIC_RELAXED);
    return owns;
}

/* The family of a call of the library's (tc: tcmalloc's) that is of family as the library
 * names it: MS_FAMILY_OTHER when the library is not the program's malloc. Asked once the
 * library's function was found. */
static inline int lib_family(bool tc, int family)
{
    int owns = __atomic_load_n(&lib_owns_malloc[tc], __ATOMIC_RELAXED);
    if (MS_UNLIKELY(!owns))
        owns = lib_owns_probe(tc);
    return owns == 2 ? MS_FAMILY_OTHER : family;
}
#define TC(family) lib_family(true, family)
#define JE(family) lib_family(false, family)

/* ---- tcmalloc (gperftools' tcmalloc.h) ---- */

FORWARD_ALLOC_HOOK(lib_next, tc_malloc, TC(MS_FAMILY_MALLOC), MS_REC_ALLOC, (size_t n), (n), n, 0,
                   ms__hook_malloc(n))
FORWARD_ALLOC_HOOK(lib_next, tc_malloc_skip_new_handler, TC(MS_FAMILY_MALLOC), MS_REC_ALLOC,
                   (size_t n), (n), n, 0, ms__hook_malloc(n))
FORWARD_ALLOC_HOOK(lib_next, tc_calloc, TC(MS_FAMILY_MALLOC), MS_REC_ALLOC, (size_t n, size_t size),
                   (n, size), n *size, 0, ms__hook_calloc(n, size))
FORWARD_ALLOC_HOOK(lib_next, tc_memalign, TC(MS_FAMILY_MALLOC), MS_REC_ALLOC_ALIGNED,
                   (size_t al, size_t n), (al, n), n, al, ms__hook_memalign(al, n))
FORWARD_ALLOC_HOOK(lib_next, tc_valloc, TC(MS_FAMILY_MALLOC), MS_REC_ALLOC_ALIGNED, (size_t n), (n),
                   n, (size_t)sysconf(_SC_PAGESIZE), ms__hook_valloc(n))
FORWARD_ALLOC_HOOK(lib_next, tc_pvalloc, TC(MS_FAMILY_MALLOC), MS_REC_ALLOC_ALIGNED, (size_t n),
                   (n), n, (size_t)sysconf(_SC_PAGESIZE), ms__hook_pvalloc(n))
FORWARD_ALLOC_HOOK(lib_next, tc_new, TC(MS_FAMILY_NEW), MS_REC_ALLOC, (size_t n), (n), n, 0,
                   ms__hook__Znwm(n))
FORWARD_ALLOC_HOOK(lib_next, tc_newarray, TC(MS_FAMILY_NEW_ARRAY), MS_REC_ALLOC, (size_t n), (n), n,
                   0, ms__hook__Znam(n))
FORWARD_ALLOC_HOOK(lib_next, tc_new_nothrow, TC(MS_FAMILY_NEW), MS_REC_ALLOC,
                   (size_t n, const nothrow_tag *t), (n, t), n, 0,
                   ms__hook__ZnwmRKSt9nothrow_t(n, t))
FORWARD_ALLOC_HOOK(lib_next, tc_newarray_nothrow, TC(MS_FAMILY_NEW_ARRAY), MS_REC_ALLOC,
                   (size_t n, const nothrow_tag *t), (n, t), n, 0,
                   ms__hook__ZnamRKSt9nothrow_t(n, t))
FORWARD_ALLOC_HOOK(lib_next, tc_new_aligned, TC(MS_FAMILY_NEW), MS_REC_ALLOC_ALIGNED,
                   (size_t n, size_t al), (n, al), n, al, ms__hook__ZnwmSt11align_val_t(n, al))
FORWARD_ALLOC_HOOK(lib_next, tc_newarray_aligned, TC(MS_FAMILY_NEW_ARRAY), MS_REC_ALLOC_ALIGNED,
                   (size_t n, size_t al), (n, al), n, al, ms__hook__ZnamSt11align_val_t(n, al))
FORWARD_ALLOC_HOOK(lib_next, tc_new_aligned_nothrow, TC(MS_FAMILY_NEW), MS_REC_ALLOC_ALIGNED,
                   (size_t n, size_t al, const nothrow_tag *t), (n, al, t), n, al,
                   ms__hook__ZnwmSt11align_val_tRKSt9nothrow_t(n, al, t))
FORWARD_ALLOC_HOOK(lib_next, tc_newarray_aligned_nothrow, TC(MS_FAMILY_NEW_ARRAY),
                   MS_REC_ALLOC_ALIGNED, (size_t n, size_t al, const nothrow_tag *t), (n, al, t), n,
                   al, ms__hook__ZnamSt11align_val_tRKSt9nothrow_t(n, al, t))

FORWARD_FREE_HOOK(lib_next, tc_free, TC(MS_FAMILY_MALLOC), (void *p), (p), ms__hook_free(p))
FORWARD_FREE_HOOK(lib_next, tc_cfree, TC(MS_FAMILY_MALLOC), (void *p), (p), ms__hook_free(p))
FORWARD_FREE_HOOK(lib_next, tc_free_sized, TC(MS_FAMILY_MALLOC), (void *p, size_t n), (p, n),
                  ms__hook_free(p))
FORWARD_FREE_HOOK(lib_next, tc_delete, TC(MS_FAMILY_NEW), (void *p), (p), ms__hook__ZdlPv(p))
FORWARD_FREE_HOOK(lib_next, tc_deletearray, TC(MS_FAMILY_NEW_ARRAY), (void *p), (p),
                  ms__hook__ZdaPv(p))
FORWARD_FREE_HOOK(lib_next, tc_delete_sized, TC(MS_FAMILY_NEW), (void *p, size_t n), (p, n),
                  ms__hook__ZdlPv(p))
FORWARD_FREE_HOOK(lib_next, tc_deletearray_sized, TC(MS_FAMILY_NEW_ARRAY), (void *p, size_t n),
                  (p, n), ms__hook__ZdaPv(p))
FORWARD_FREE_HOOK(lib_next, tc_delete_nothrow, TC(MS_FAMILY_NEW), (void *p, const nothrow_tag *t),
                  (p, t), ms__hook__ZdlPv(p))
FORWARD_FREE_HOOK(lib_next, tc_deletearray_nothrow, TC(MS_FAMILY_NEW_ARRAY),
                  (void *p, const nothrow_tag *t), (p, t), ms__hook__ZdaPv(p))
FORWARD_FREE_HOOK(lib_next, tc_delete_aligned, TC(MS_FAMILY_NEW), (void *p, size_t al), (p, al),
                  ms__hook__ZdlPvSt11align_val_t(p, al))
FORWARD_FREE_HOOK(lib_next, tc_deletearray_aligned, TC(MS_FAMILY_NEW_ARRAY), (void *p, size_t al),
                  (p, al), ms__hook__ZdaPvSt11align_val_t(p, al))
FORWARD_FREE_HOOK(lib_next, tc_delete_sized_aligned, TC(MS_FAMILY_NEW),
                  (void *p, size_t n, size_t al), (p, n, al), ms__hook__ZdlPvSt11align_val_t(p, al))
FORWARD_FREE_HOOK(lib_next, tc_deletearray_sized_aligned, TC(MS_FAMILY_NEW_ARRAY),
                  (void *p, size_t n, size_t al), (p, n, al), ms__hook__ZdaPvSt11align_val_t(p, al))
FORWARD_FREE_HOOK(lib_next, tc_delete_aligned_nothrow, TC(MS_FAMILY_NEW),
                  (void *p, size_t al, const nothrow_tag *t), (p, al, t),
                  ms__hook__ZdlPvSt11align_val_t(p, al))
FORWARD_FREE_HOOK(lib_next, tc_deletearray_aligned_nothrow, TC(MS_FAMILY_NEW_ARRAY),
                  (void *p, size_t al, const nothrow_tag *t), (p, al, t),
                  ms__hook__ZdaPvSt11align_val_t(p, al))

HOOK(int, tc_posix_memalign, (void **out, size_t al, size_t n))
{
    static void *real;
    int (*f)(void **, size_t, size_t) =
        (int (*)(void **, size_t, size_t))lib_next(&real, "tc_posix_memalign");
    if (!f)
        return ms__hook_posix_memalign(out, al, n);
    if (MS_UNLIKELY(passthrough())) /* --check: a block of the check heap */
        return MS_UNLIKELY(ms__check_on()) ? ms__hook_posix_memalign(out, al, n) : f(out, al, n);
    return ms__posix_memalign_by(f, TC(MS_FAMILY_MALLOC), out, al, n);
}

HOOK(void *, tc_realloc, (void *old, size_t n))
{
    static void *real;
    void *(*f)(void *, size_t) = (void *(*)(void *, size_t))lib_next(&real, "tc_realloc");
    if (!f)
        return ms__hook_realloc(old, n);
    if (MS_UNLIKELY(passthrough()))
        return MS_UNLIKELY(ms__check_on()) && old ? ms__check_passthrough_realloc(old, n)
                                                  : f(old, n);
    if (!old)
        return ms__hook_tc_malloc(n);
    return ms__realloc_hooked(f, TC(MS_FAMILY_MALLOC), old, n,
                              (uintptr_t)__builtin_return_address(0));
}

/* ---- jemalloc's non-standard API (jemalloc.h) ---- */

/* MALLOCX_ALIGN(a) puts log2(a) in the low six bits of the flags. */
static inline size_t mallocx_align(int flags)
{
    return (flags & 0x3f) ? (size_t)1 << (flags & 0x3f) : 0;
}

/* mallocx without jemalloc: MALLOCX_ALIGN and MALLOCX_ZERO (0x40) honoured through the hooked
 * standard functions. */
static void *mallocx_fallback(size_t n, int flags)
{
    size_t al = mallocx_align(flags);
    void *p = NULL;
    if (al && al < sizeof(void *))
        al = sizeof(void *); /* posix_memalign's smallest alignment */
    if (al ? ms__hook_posix_memalign(&p, al, n) != 0 : !(p = ms__hook_malloc(n)))
        return NULL;
    if (flags & 0x40)
        memset(p, 0, n);
    return p;
}

HOOK(void *, mallocx, (size_t n, int flags))
{
    static void *real;
    void *(*f)(size_t, int) = (void *(*)(size_t, int))lib_next(&real, "mallocx");
    if (!f)
        return mallocx_fallback(n, flags);
    if (MS_UNLIKELY(passthrough()))
        return f(n, flags);
    ms__tls.busy = 1;
    size_t al = mallocx_align(flags);
    /* --check: a block of the check heap, aligned and zeroed as asked (the arena and tcache
     * flags, which change no result, are not kept) */
    void *p = MS_UNLIKELY(ms__check_on()) ? ms__check_alloc(n, al, flags & 0x40) : f(n, flags);
    if (p)
        ms__on_alloc(al ? MS_REC_ALLOC_ALIGNED : MS_REC_ALLOC, JE(MS_FAMILY_MALLOC), p, n, al);
    ms__unbusy();
    return p;
}

/* rallocx without jemalloc: a new block as mallocx makes it, the old contents, the old block
 * freed (n = 0 is undefined for rallocx: treated as 1). */
static void *rallocx_fallback(void *old, size_t n, int flags)
{
    if (!n)
        n = 1;
    if (!old || !(flags & 0x7f))
        return old ? ms__hook_realloc(old, n) : mallocx_fallback(n, flags);
    void *p = mallocx_fallback(n, flags);
    if (p) {
        size_t had = ms__hook_malloc_usable_size(old);
        memcpy(p, old, had < n ? had : n);
        if (flags & 0x40 && n > had)
            memset((char *)p + had, 0, n - had);
        ms__hook_free(old);
    }
    return p;
}

HOOK(void *, rallocx, (void *old, size_t n, int flags))
{
    static void *real;
    void *(*f)(void *, size_t, int) = (void *(*)(void *, size_t, int))lib_next(&real, "rallocx");
    if (!f)
        return rallocx_fallback(old, n, flags);
    if (MS_UNLIKELY(ms__check_on()) && old && passthrough())
        return ms__check_passthrough_realloc(old, n ? n : 1);
    if (MS_UNLIKELY(passthrough()) || !old) /* rallocx(NULL) is undefined: leave it alone */
        return f(old, n, flags);
    uint64_t before = ms__realloc_begin(old);
    void *p;
    if (MS_UNLIKELY(ms__check_on())) { /* moved within the check heap, as realloc is */
        bool unknown;
        p = ms__check_realloc(old, n ? n : 1, mallocx_align(flags), flags & 0x40, &unknown);
        if (unknown)
            ms__check_refused_realloc(old);
    } else {
        p = f(old, n, flags);
    }
    ms__realloc_end(JE(MS_FAMILY_MALLOC), old, p, n, before,
                    (uintptr_t)__builtin_return_address(0));
    return p;
}

/* Resizes in place and returns the block's usable size: when that reaches n the request
 * succeeded, and the block (same address) now holds n requested bytes. */
HOOK(size_t, xallocx, (void *p, size_t n, size_t extra, int flags))
{
    static void *real;
    size_t (*f)(void *, size_t, size_t, int) =
        (size_t(*)(void *, size_t, size_t, int))lib_next(&real, "xallocx");
    if (!f) { /* without jemalloc: no resizing, the block has the size it has */
        if (!p)
            return 0;
        uint64_t before = ms__realloc_begin(p);
        size_t r = ms__hook_malloc_usable_size(p);
        ms__realloc_end(MS_FAMILY_MALLOC, p, r >= n ? p : NULL, n, before,
                        (uintptr_t)__builtin_return_address(0));
        return r;
    }
    size_t had;
    if (MS_UNLIKELY(ms__check_on()) && p && ms__check_guarded(p, &had) != MS_LIVE_ABSENT) {
        /* a block of the check heap: resized within it (passing through too) */
        if (passthrough())
            return ms__check_resize(p, n, extra);
        uint64_t before = ms__realloc_begin(p);
        size_t r = ms__check_resize(p, n, extra);
        ms__realloc_end(JE(MS_FAMILY_MALLOC), p, r >= n ? p : NULL, n, before,
                        (uintptr_t)__builtin_return_address(0));
        return r;
    }
    if (MS_UNLIKELY(passthrough()) || !p)
        return f(p, n, extra, flags);
    uint64_t before = ms__realloc_begin(p);
    size_t r = f(p, n, extra, flags);
    if (MS_UNLIKELY(ms__check_on()))
        ms__check_set_size(p, r); /* an adopted block: its library's */
    ms__realloc_end(JE(MS_FAMILY_MALLOC), p, r >= n ? p : NULL, n, before,
                    (uintptr_t)__builtin_return_address(0));
    return r;
}

FORWARD_FREE_HOOK(lib_next, dallocx, JE(MS_FAMILY_MALLOC), (void *p, int flags), (p, flags),
                  ms__hook_free(p))
FORWARD_FREE_HOOK(lib_next, sdallocx, JE(MS_FAMILY_MALLOC), (void *p, size_t n, int flags),
                  (p, n, flags), ms__hook_free(p))
