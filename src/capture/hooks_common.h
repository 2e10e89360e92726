/* What every allocation hook shares: how a hook is defined (HOOK), the test for passing a call
 * straight through, and the lookup of the next definition of a symbol; hooks report what
 * happened on the event path (event_path.h) with tls.busy set.
 * Used by hooks.c (the standard malloc family, C++ operators) and alloc_lib_hooks.c (the
 * allocator libraries' own entry points), which define _GNU_SOURCE first (RTLD_NEXT). */
#ifndef MS_CAPTURE_HOOKS_COMMON_H
#define MS_CAPTURE_HOOKS_COMMON_H

#include "check_heap.h"
#include "event_path.h"
#include "lifecycle.h"
#include "real_fns.h"
#include "symbol_lookup.h"
#include "thread_state.h"

#include <dlfcn.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

/* Defines the hook `name` (ret name params): the code is the hidden function ms__hook_<name>,
 * which memscope's own code calls when it needs the hook (a fallback, one exec form on top of
 * another), and the program sees it as `name`, an alias. memscope thus never calls its own
 * exported symbols, which the program (or a library loaded first) could have interposed. */
#define HOOK(ret, name, params)                                                                    \
    ret ms__hook_##name params;                                                                    \
    EXPORT ret name params __attribute__((alias("ms__hook_" #name)));                              \
    ret ms__hook_##name params

/* True when the hook should pass straight through: nested call, not started, or finished.
 * The first call in the process starts tracking. */
static inline bool passthrough(void)
{
    if (MS_LIKELY(!ms__tls.busy && atomic_load_explicit(&ms__active, memory_order_relaxed)))
        return false;
    if (ms__tls.busy)
        return true;
    return !ms__lifecycle_init();
}

static inline void leave_hook(int **busy)
{
    (void)busy;
    ms__unbusy();
}
#define GUARD int *guard __attribute__((cleanup(leave_hook))) = &ms__tls.busy

/* The definition resolve(name) finds, looked up once and kept in *slot (NULL when there is none,
 * remembered too), with any allocation made by the lookup itself passing straight through. */
#define MS_NO_SYMBOL ((void *)1)
static inline void *cached_symbol(void **slot, void *(*resolve)(const char *), const char *name)
{
    void *fn = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (MS_LIKELY(fn != NULL))
        return fn == MS_NO_SYMBOL ? NULL : fn;
    int was = ms__tls.busy;
    ms__tls.busy = 1;
    fn = resolve(name);
    __atomic_store_n(slot, fn ? fn : MS_NO_SYMBOL, __ATOMIC_RELEASE);
    ms__tls.busy = was;
    return fn;
}

/* The next definition of name after libmemscope (see ms__next_symbol). */
static inline void *next_of(void **slot, const char *name)
{
    return cached_symbol(slot, ms__next_symbol, name);
}

/* True if fn is defined in the C++ runtime (libstdc++, or LLVM's libc++ and libc++abi), whose
 * plain operator new is malloc plus the new_handler loop, and whose operator delete is free.
 * Another library's operator new (a pool allocator) must always be called. */
static inline bool ms__in_libstdcxx(void *fn)
{
    Dl_info info;
    return fn && dladdr(fn, &info) && info.dli_fname &&
           (strstr(info.dli_fname, "libstdc++") || strstr(info.dli_fname, "libc++"));
}

/* The malloc of the object that defines fn, an allocation function memscope forwards to: none
 * (libstdc++), the program's (the one memscope forwards to), or another (tcmalloc or jemalloc
 * in a plugin loaded with RTLD_LOCAL, whose blocks are then of MS_FAMILY_OTHER, trace_format.h). */
enum { MS_FN_NO_MALLOC, MS_FN_PROGRAMS_MALLOC, MS_FN_OTHER_MALLOC };
int ms__fn_malloc(void *fn);

/* The family of a block of an operator new or delete that forwards to f, of family as the
 * operator names it, asked once per call site. */
#define MS_OPERATOR_FAMILY(family)                                                                 \
    __extension__({                                                                                \
        static int foreign_ = -1;                                                                  \
        if (MS_UNLIKELY(foreign_ < 0))                                                             \
            foreign_ = ms__fn_malloc((void *)f) == MS_FN_OTHER_MALLOC;                             \
        foreign_ ? MS_FAMILY_OTHER : (family);                                                     \
    })

/* Runs call, the allocator's release of p (realloc: a realloc-like call), with ms__tls.freeing
 * saying so meanwhile. */
#define MS_FREEING(p, realloc, call)                                                               \
    do {                                                                                           \
        ms__tls.freeing_realloc = (realloc);                                                       \
        ms__tls.freeing = (uintptr_t)(p);                                                          \
        call;                                                                                      \
        ms__tls.freeing = 0;                                                                       \
    } while (0)

/* realloc(old, n) through fn (old not NULL), recorded as valgrind counts it: a free and an
 * allocation, or only a free when n is 0 and the block is released. ra: the return address of
 * the program's call (its call site, for sampling's counts). Sets and clears busy. */
void *ms__realloc_hooked(void *(*fn)(void *, size_t), int family, void *old, size_t n,
                         uintptr_t ra);
/* posix_memalign through fn, the allocator's or a library's, recorded as of family (under
 * --check, a block of the check heap), not passing through. Sets and clears busy. */
int ms__posix_memalign_by(int (*fn)(void **, size_t, size_t), int family, void **out, size_t align,
                          size_t size);

/* Around any realloc-like call of a block old (not NULL): begin sets busy and returns the time
 * to date the record with (the real call releases old before the record is written, and with
 * threads another thread may be given that address at once, so the record is dated before the
 * call); end records old -> p with n bytes requested (nothing when p is NULL: the call failed)
 * and clears busy. */
static inline uint64_t ms__realloc_begin(void *old)
{
    ms__tls.busy = 1;
    ms__count_realloc_begin(old);
    ms__tls.freeing = (uintptr_t)old;
    ms__tls.freeing_realloc = 1;
    return ms__on_realloc_time();
}
void ms__realloc_end(int family, void *old, void *p, size_t n, uint64_t before, uintptr_t ra);

/* A deallocation entry point (p is its first parameter): records the free, then forwards to the
 * definition of sym that lookup (next_of or the like) finds. Should there be none (the program
 * found memscope's definition through a weak reference), the call goes to fallback instead, a
 * standard function memscope hooks. */
#define FORWARD_FREE_HOOK(lookup, sym, family, params, args, fallback)                             \
    HOOK(void, sym, params)                                                                        \
    {                                                                                              \
        static void *real;                                                                         \
        typedef void(*fn_t) params;                                                                \
        if (!p)                                                                                    \
            return;                                                                                \
        fn_t f = (fn_t)lookup(&real, #sym);                                                        \
        if (MS_UNLIKELY(!f)) {                                                                     \
            fallback;                                                                              \
            return;                                                                                \
        }                                                                                          \
        if (MS_UNLIKELY(passthrough())) {                                                          \
            if (MS_UNLIKELY(ms__check_on()) && ms__check_release_mine(p))                          \
                return;                                                                            \
            f args;                                                                                \
            return;                                                                                \
        }                                                                                          \
        ms__tls.busy = 1;                                                                          \
        int family_ = family;                                                                      \
        ms__on_free(family_, p);                                                                   \
        if (MS_UNLIKELY(ms__check_on())) {                                                         \
            /* What is no live block of the check heap is refused; a block a library gave out      \
             * (adopted by the allocation hooks) goes back to it. */                               \
            enum ms_check_free r_ = ms__check_free(p);                                             \
            if ((r_ == MS_CHECK_PLAIN || r_ == MS_CHECK_OTHER) &&                                  \
                ms__check_adopted_by(r_, family_, p))                                              \
                MS_FREEING(p, 0, f args);                                                          \
        } else {                                                                                   \
            MS_FREEING(p, 0, f args);                                                              \
        }                                                                                          \
        ms__unbusy();                                                                              \
    }

/* An allocating entry point that always forwards to the next definition of sym (which may throw:
 * the guard resets busy) and records the block it returns; fallback as for FORWARD_FREE_HOOK. */
#define FORWARD_ALLOC_HOOK(lookup, sym, family, kind, params, args, size_expr, align_expr,         \
                           fallback)                                                               \
    HOOK(void *, sym, params)                                                                      \
    {                                                                                              \
        static void *real;                                                                         \
        typedef void *(*fn_t)params;                                                               \
        fn_t f = (fn_t)lookup(&real, #sym);                                                        \
        if (MS_UNLIKELY(!f))                                                                       \
            return fallback;                                                                       \
        if (MS_UNLIKELY(passthrough()))                                                            \
            return f args;                                                                         \
        ms__tls.busy = 1;                                                                          \
        GUARD;                                                                                     \
        void *p = f args;                                                                          \
        if (p) {                                                                                   \
            if (MS_UNLIKELY(ms__check_on()))                                                       \
                ms__check_adopt(p, size_expr, family); /* the library's own: no red zones */       \
            ms__on_alloc(kind, family, p, size_expr, align_expr);                                  \
        }                                                                                          \
        (void)guard;                                                                               \
        return p;                                                                                  \
    }

#endif
