/* The interposed functions: the malloc family, every C++ operator new and delete, and the
 * process-level calls memscope must see (thread creation, exec, _exit, dlopen/dlclose, signal
 * dispositions). Each allocator hook is a few branches and a buffer append; anything rare is
 * out of line. */
#define _GNU_SOURCE
#include "config.h"
#include "hooks.h"
#include "hooks_common.h"
#include "lifecycle.h"
#include "real_fns.h"
#include "stack_capture.h"
#include "stack_intern.h"
#include "thread_state.h"

#include <dlfcn.h>
#include <malloc.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

static void *real_or_bootstrap_malloc(size_t n, bool zero)
{
    if (MS_UNLIKELY(!ms__real.malloc)) {
        if (ms__resolving)
            return ms__bootstrap_alloc(n, 16, zero);
        ms__real_resolve();
    }
    return zero ? ms__real.calloc(1, n) : ms__real.malloc(n);
}

/* ---- the malloc family ---- */

HOOK(void *, malloc, (size_t n))
{
    if (MS_UNLIKELY(passthrough()))
        return real_or_bootstrap_malloc(n, false);
    ms__tls.busy = 1;
    void *p = MS_UNLIKELY(ms__check_on()) ? ms__check_alloc(n, 0, false) : ms__real.malloc(n);
    if (MS_LIKELY(p != NULL))
        ms__on_alloc(MS_REC_ALLOC, MS_FAMILY_MALLOC, p, n, 0);
    ms__unbusy();
    return p;
}

HOOK(void, free, (void *p))
{
    if (!p || MS_UNLIKELY(ms__bootstrap_owns(p)))
        return;
    if (MS_UNLIKELY(passthrough())) {
        if (!ms__real.free)
            ms__real_resolve();
        if (!(MS_UNLIKELY(ms__check_on()) && ms__check_release_mine(p)))
            ms__real.free(p);
        return;
    }
    ms__tls.busy = 1;
    ms__on_free(MS_FAMILY_MALLOC, p);
    if (MS_UNLIKELY(ms__check_on())) {
        enum ms_check_free r = ms__check_free(p);
        if ((r == MS_CHECK_PLAIN || r == MS_CHECK_OTHER) && /* else done, or refused */
            ms__check_adopted_by(r, MS_FAMILY_MALLOC, p))
            MS_FREEING(p, 0, ms__real.free(p));
    } else {
        MS_FREEING(p, 0, ms__real.free(p));
    }
    ms__unbusy();
}

HOOK(void *, calloc, (size_t n, size_t size))
{
    if (MS_UNLIKELY(passthrough())) {
        size_t total;
        if (__builtin_mul_overflow(n, size, &total))
            return NULL;
        return real_or_bootstrap_malloc(total, true);
    }
    ms__tls.busy = 1;
    void *p;
    if (MS_UNLIKELY(ms__check_on())) {
        size_t total;
        p = __builtin_mul_overflow(n, size, &total) ? (errno = ENOMEM, NULL)
                                                    : ms__check_alloc(total, 0, true);
    } else {
        p = ms__real.calloc(n, size);
    }
    size_t recorded = n * size;
    if (MS_UNLIKELY(ms__tls.creating_thread)) {
        uintptr_t caller = (uintptr_t)__builtin_return_address(0);
        if (caller >= ms__ldso_lo && caller < ms__ldso_hi && size == 16 && recorded > ms__dtv_extra)
            recorded -= ms__dtv_extra;
    }
    if (p)
        ms__on_alloc(MS_REC_ALLOC, MS_FAMILY_MALLOC, p, recorded, 0);
    ms__unbusy();
    return p;
}

static void *realloc_from_bootstrap(void *old, size_t n)
{
    void *p = ms__hook_malloc(n);
    if (p) {
        size_t had = ms__bootstrap_size(old);
        memcpy(p, old, had < n ? had : n);
    }
    return p;
}

void ms__realloc_end(int family, void *old, void *p, size_t n, uint64_t before, uintptr_t ra)
{
    ms__tls.freeing = 0;
    if (p)
        ms__on_realloc(family, old, p, n, before, ra);
    else
        ms__count_realloc_failed(); /* old is still live */
    ms__unbusy();
}

/* realloc under --check (check_heap.h) through fn, the allocator's realloc or a library's: a
 * block that is no live block of the check heap is refused. */
static void *check_realloc(void *(*fn)(void *, size_t), int family, void *old, size_t n,
                           uintptr_t ra)
{
    if (n == 0) { /* the block is freed and NULL returned, as glibc does */
        ms__tls.busy = 1;
        ms__on_free(family, old);
        void *p = NULL;
        enum ms_check_free r = ms__check_free(old);
        if ((r == MS_CHECK_PLAIN || r == MS_CHECK_OTHER) && /* an adopted block */
            ms__check_adopted_by(r, family, old)) {
            MS_FREEING(old, 0, p = fn(old, 0));
            if (p && ms__check_adopt(p, 0, family))
                ms__on_alloc(MS_REC_ALLOC, family, p, 0, 0);
        }
        ms__unbusy();
        return p;
    }
    uint64_t before = ms__realloc_begin(old);
    bool unknown;
    void *p = ms__check_realloc(old, n, 0, false, &unknown);
    if (unknown)
        ms__check_refused_realloc(old);
    ms__realloc_end(family, old, p, n, before, ra);
    return p;
}

void *ms__realloc_hooked(void *(*fn)(void *, size_t), int family, void *old, size_t n, uintptr_t ra)
{
    if (MS_UNLIKELY(ms__check_on()))
        return check_realloc(fn, family, old, n, ra);
    if (n == 0) {
        /* glibc frees the block and returns NULL; valgrind counts this as a free. */
        ms__tls.busy = 1;
        ms__on_free(family, old);
        void *p;
        MS_FREEING(old, 0, p = fn(old, 0));
        if (p)
            ms__on_alloc(MS_REC_ALLOC, family, p, 0, 0);
        ms__unbusy();
        return p;
    }
    uint64_t before = ms__realloc_begin(old);
    void *p = fn(old, n);
    ms__realloc_end(family, old, p, n, before, ra);
    return p;
}

HOOK(void *, realloc, (void *old, size_t n))
{
    if (old && MS_UNLIKELY(ms__bootstrap_owns(old)))
        return realloc_from_bootstrap(old, n);
    if (MS_UNLIKELY(passthrough())) {
        if (!ms__real.realloc)
            ms__real_resolve();
        if (MS_UNLIKELY(ms__check_on()) && old)
            return ms__check_passthrough_realloc(old, n);
        return ms__real.realloc(old, n);
    }
    if (!old)
        return ms__hook_malloc(n);
    return ms__realloc_hooked(ms__real.realloc, MS_FAMILY_MALLOC, old, n,
                              (uintptr_t)__builtin_return_address(0));
}

HOOK(void *, reallocarray, (void *old, size_t n, size_t size))
{
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return ms__hook_realloc(old, total);
}

static void *aligned_common(int family, void *p, size_t size, size_t align)
{
    if (p)
        ms__on_alloc(MS_REC_ALLOC_ALIGNED, family, p, size, align);
    ms__unbusy();
    return p;
}

/* An aligned block of the check heap, for the function that asked (strict: aligned_alloc, which
 * refuses an alignment that is no power of two; memalign rounds it up), or NULL with errno. */
static void *check_aligned(size_t align, size_t size, bool strict)
{
    if (align & (align - 1)) {
        if (strict || align > SIZE_MAX / 2) {
            errno = EINVAL;
            return NULL;
        }
        size_t a = 1;
        while (a < align)
            a <<= 1;
        align = a;
    }
    return ms__check_alloc(size, align, false);
}

static int check_posix_memalign(void **out, size_t align, size_t size)
{
    if (!align || align % sizeof(void *) || (align & (align - 1)))
        return EINVAL;
    int was = errno;
    void *p = ms__check_alloc(size, align, false);
    errno = was;
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

static size_t page_round(size_t n)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    return n > SIZE_MAX - page ? SIZE_MAX : (n + page - 1) & ~(page - 1);
}

HOOK(int, posix_memalign, (void **out, size_t align, size_t size))
{
    if (MS_UNLIKELY(passthrough())) {
        if (!ms__real.posix_memalign)
            ms__real_resolve();
        return ms__real.posix_memalign(out, align, size);
    }
    return ms__posix_memalign_by(ms__real.posix_memalign, MS_FAMILY_MALLOC, out, align, size);
}

int ms__posix_memalign_by(int (*fn)(void **, size_t, size_t), int family, void **out, size_t align,
                          size_t size)
{
    ms__tls.busy = 1;
    int r =
        MS_UNLIKELY(ms__check_on()) ? check_posix_memalign(out, align, size) : fn(out, align, size);
    aligned_common(family, r == 0 ? *out : NULL, size, align);
    return r;
}

#define ALIGNED_HOOK(name, params, args, size_expr, align_expr, check_expr)                        \
    HOOK(void *, name, params)                                                                     \
    {                                                                                              \
        if (MS_UNLIKELY(passthrough())) {                                                          \
            if (!ms__real.name)                                                                    \
                ms__real_resolve();                                                                \
            return ms__real.name args;                                                             \
        }                                                                                          \
        ms__tls.busy = 1;                                                                          \
        void *p = MS_UNLIKELY(ms__check_on()) ? check_expr : ms__real.name args;                   \
        return aligned_common(MS_FAMILY_MALLOC, p, size_expr, align_expr);                         \
    }

ALIGNED_HOOK(aligned_alloc, (size_t align, size_t size), (align, size), size, align,
             check_aligned(align, size, true))
ALIGNED_HOOK(memalign, (size_t align, size_t size), (align, size), size, align,
             check_aligned(align, size, false))
ALIGNED_HOOK(valloc, (size_t size), (size), size, (size_t)sysconf(_SC_PAGESIZE),
             check_aligned((size_t)sysconf(_SC_PAGESIZE), size, false))
/* pvalloc's block is whole pages: the program may use them all. */
ALIGNED_HOOK(pvalloc, (size_t size), (size), size, (size_t)sysconf(_SC_PAGESIZE),
             check_aligned((size_t)sysconf(_SC_PAGESIZE), page_round(size), false))

HOOK(size_t, malloc_usable_size, (void *p))
{
    if (!p)
        return 0;
    if (ms__bootstrap_owns(p))
        return ms__bootstrap_size(p);
    if (!ms__real.malloc_usable_size)
        ms__real_resolve();
    if (MS_UNLIKELY(ms__check_on()))
        return ms__check_usable_size(p); /* the bytes asked for: the red zone follows */
    return ms__real.malloc_usable_size(p);
}

/* ---- C++ operators new and delete ----
 * Each forwards to the next definition (libstdc++'s, or an allocator library's) with nested
 * calls passing through. A throwing new leaves through the cleanup below, which resets the
 * re-entrancy flag (this file is built with -fexceptions). */

/* operator new when no library defines it (a C program that found memscope's definition through
 * a weak reference, or through tcmalloc's tc_new fallback): the next allocator's malloc, or its
 * posix_memalign for the aligned forms. */
static void *new_without_library(size_t n, size_t al)
{
    if (!ms__real.malloc)
        ms__real_resolve();
    if (!al)
        return ms__real.malloc(n ? n : 1);
    void *p;
    return ms__real.posix_memalign(&p, al < sizeof(void *) ? sizeof(void *) : al, n ? n : 1) == 0
               ? p
               : NULL;
}

/* direct: the plain (unaligned) forms first try malloc themselves, as libstdc++'s operator new
 * does. Only when that fails does the real operator new run, outside the hook, so that its
 * new_handler calls and the bad_alloc it throws are recorded like any other code's. */
#define NEW_HOOK(sym, family, kind, params, args, align_expr, direct)                              \
    HOOK(void *, sym, params)                                                                      \
    {                                                                                              \
        static void *real;                                                                         \
        typedef void *(*fn_t)params;                                                               \
        fn_t f = (fn_t)next_of(&real, #sym);                                                       \
        if (MS_UNLIKELY(passthrough()))                                                            \
            return f ? f args : new_without_library(n, align_expr);                                \
        ms__tls.busy = 1;                                                                          \
        if (MS_UNLIKELY(!f)) {                                                                     \
            void *p = MS_UNLIKELY(ms__check_on()) ? ms__check_alloc(n, align_expr, false)          \
                                                  : new_without_library(n, align_expr);            \
            if (p)                                                                                 \
                ms__on_alloc(kind, family, p, n, align_expr);                                      \
            ms__unbusy();                                                                          \
            return p;                                                                              \
        }                                                                                          \
        static int libstdcxx = -1;                                                                 \
        if (libstdcxx < 0)                                                                         \
            libstdcxx = ms__in_libstdcxx((void *)f);                                               \
        int fam = libstdcxx ? (family) : MS_OPERATOR_FAMILY(family);                               \
        if (MS_UNLIKELY(ms__check_on()) && libstdcxx) {                                            \
            void *p = ms__check_alloc(n, align_expr, false);                                       \
            if (MS_LIKELY(p != NULL)) {                                                            \
                ms__on_alloc(kind, fam, p, n, align_expr);                                         \
                ms__unbusy();                                                                      \
                return p;                                                                          \
            }                                                                                      \
        } else if (direct && libstdcxx) {                                                          \
            void *p = ms__real.malloc(n ? n : 1);                                                  \
            if (MS_LIKELY(p != NULL))                                                              \
                ms__on_alloc(kind, fam, p, n, align_expr);                                         \
            ms__unbusy();                                                                          \
            return p ? p : f args;                                                                 \
        }                                                                                          \
        GUARD;                                                                                     \
        void *p = f args;                                                                          \
        if (p) {                                                                                   \
            if (MS_UNLIKELY(ms__check_on()))                                                       \
                ms__check_adopt(p, n, fam); /* a new_handler's, or a library's: no red zones */    \
            ms__on_alloc(kind, fam, p, n, align_expr);                                             \
        }                                                                                          \
        (void)guard;                                                                               \
        return p;                                                                                  \
    }

typedef struct nothrow_tag nothrow_tag;
NEW_HOOK(_Znwm, MS_FAMILY_NEW, MS_REC_ALLOC, (size_t n), (n), 0, 1)
NEW_HOOK(_Znam, MS_FAMILY_NEW_ARRAY, MS_REC_ALLOC, (size_t n), (n), 0, 1)
NEW_HOOK(_ZnwmRKSt9nothrow_t, MS_FAMILY_NEW, MS_REC_ALLOC, (size_t n, const nothrow_tag *t), (n, t),
         0, 1)
NEW_HOOK(_ZnamRKSt9nothrow_t, MS_FAMILY_NEW_ARRAY, MS_REC_ALLOC, (size_t n, const nothrow_tag *t),
         (n, t), 0, 1)
NEW_HOOK(_ZnwmSt11align_val_t, MS_FAMILY_NEW, MS_REC_ALLOC_ALIGNED, (size_t n, size_t al), (n, al),
         al, 0)
NEW_HOOK(_ZnamSt11align_val_t, MS_FAMILY_NEW_ARRAY, MS_REC_ALLOC_ALIGNED, (size_t n, size_t al),
         (n, al), al, 0)
NEW_HOOK(_ZnwmSt11align_val_tRKSt9nothrow_t, MS_FAMILY_NEW, MS_REC_ALLOC_ALIGNED,
         (size_t n, size_t al, const nothrow_tag *t), (n, al, t), al, 0)
NEW_HOOK(_ZnamSt11align_val_tRKSt9nothrow_t, MS_FAMILY_NEW_ARRAY, MS_REC_ALLOC_ALIGNED,
         (size_t n, size_t al, const nothrow_tag *t), (n, al, t), al, 0)

FORWARD_FREE_HOOK(next_of, _ZdlPv, MS_OPERATOR_FAMILY(MS_FAMILY_NEW), (void *p), (p),
                  ms__hook_free(p))
FORWARD_FREE_HOOK(next_of, _ZdaPv, MS_OPERATOR_FAMILY(MS_FAMILY_NEW_ARRAY), (void *p), (p),
                  ms__hook_free(p))
FORWARD_FREE_HOOK(next_of, _ZdlPvm, MS_OPERATOR_FAMILY(MS_FAMILY_NEW), (void *p, size_t n), (p, n),
                  ms__hook_free(p))
FORWARD_FREE_HOOK(next_of, _ZdaPvm, MS_OPERATOR_FAMILY(MS_FAMILY_NEW_ARRAY), (void *p, size_t n),
                  (p, n), ms__hook_free(p))
FORWARD_FREE_HOOK(next_of, _ZdlPvRKSt9nothrow_t, MS_OPERATOR_FAMILY(MS_FAMILY_NEW),
                  (void *p, const nothrow_tag *t), (p, t), ms__hook_free(p))
FORWARD_FREE_HOOK(next_of, _ZdaPvRKSt9nothrow_t, MS_OPERATOR_FAMILY(MS_FAMILY_NEW_ARRAY),
                  (void *p, const nothrow_tag *t), (p, t), ms__hook_free(p))
FORWARD_FREE_HOOK(next_of, _ZdlPvSt11align_val_t, MS_OPERATOR_FAMILY(MS_FAMILY_NEW),
                  (void *p, size_t al), (p, al), ms__hook_free(p))
FORWARD_FREE_HOOK(next_of, _ZdaPvSt11align_val_t, MS_OPERATOR_FAMILY(MS_FAMILY_NEW_ARRAY),
                  (void *p, size_t al), (p, al), ms__hook_free(p))
FORWARD_FREE_HOOK(next_of, _ZdlPvmSt11align_val_t, MS_OPERATOR_FAMILY(MS_FAMILY_NEW),
                  (void *p, size_t n, size_t al), (p, n, al), ms__hook_free(p))
FORWARD_FREE_HOOK(next_of, _ZdaPvmSt11align_val_t, MS_OPERATOR_FAMILY(MS_FAMILY_NEW_ARRAY),
                  (void *p, size_t n, size_t al), (p, n, al), ms__hook_free(p))
FORWARD_FREE_HOOK(next_of, _ZdlPvSt11align_val_tRKSt9nothrow_t, MS_OPERATOR_FAMILY(MS_FAMILY_NEW),
                  (void *p, size_t al, const nothrow_tag *t), (p, al, t), ms__hook_free(p))
FORWARD_FREE_HOOK(next_of, _ZdaPvSt11align_val_tRKSt9nothrow_t,
                  MS_OPERATOR_FAMILY(MS_FAMILY_NEW_ARRAY),
                  (void *p, size_t al, const nothrow_tag *t), (p, al, t), ms__hook_free(p))

int ms__fn_malloc(void *fn)
{
    void *own = ms__object_symbol(fn, "malloc");
    if (!ms__real.malloc)
        ms__real_resolve();
    return !own                             ? MS_FN_NO_MALLOC
           : own == (void *)ms__real.malloc ? MS_FN_PROGRAMS_MALLOC
                                            : MS_FN_OTHER_MALLOC;
}
