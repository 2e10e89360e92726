/* memscope's C API: name the blocks a program allocates, open named scopes, and attribute memory
 * to tasks. Include this header and link nothing: when the program runs under memscope (its
 * LD_PRELOAD library, libmemscope.so, is loaded) the calls reach memscope's trace; otherwise
 * each call costs a load and a branch and does nothing, so annotated programs ship unchanged.
 * Built with -DMEMSCOPE_DISABLE, every macro and function here is nothing at all.
 *
 * C99 and C++ (gcc or clang: MS_SCOPE uses __attribute__((cleanup)) and __COUNTER__).
 * Thread-safe. No call allocates memory in the program, and a bad call never crashes: one the
 * capture can tell (a NULL pointer, an unknown or ended task id) is said once per kind on stderr,
 * and every kind (a pointer in no block, a reference not held, ...) is counted in the report.
 * docs/api.md has an example of each call.
 *
 *   MS_TRACK(p);                      the block containing p is named "p" (file, line, function)
 *   MS_TRACK_AS(p, struct point);     ... and its type is "struct point"
 *   MS_SCOPE("parse");                a named scope until the end of the enclosing C block
 *   ms_task_id t = ms_task_begin("request 42");  ...  ms_task_end(t);
 *   MS_TASK_SCOPE("worker");          a task for the enclosing C block
 *   ms_task_switch(t);                an event loop resumes task t on this thread (0: none)
 *   ms_ref_acquire(obj, holder);      holder (a block, or NULL: a root) holds a reference to obj
 *   ms_ref_release(obj, holder);      ... and drops it
 *   ms_passport_handover(p, "libfoo.so", "foo_take");  the block goes to libfoo's custody
 *   ms_passport_reclaim(p);           ... and comes back to its owner
 *   ms_passport_stamp(p, "note");     a note in the block's passport
 *   ms_init("core");                  the capture backend (also MEMSCOPE_BACKEND)
 *   struct ms_stats st; ms_stats(&st); live bytes and blocks, peak, counts, this thread's, task's
 *   ms_leaks_print(stderr);           the blocks live now, by allocation stack
 *   ms_leak_check();                  a leak scan now: the report gives the kinds then */
#ifndef MEMSCOPE_H
#define MEMSCOPE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* A task's id: never 0 (0 means no task). */
typedef uint64_t ms_task_id;

/* What ms_stats gives. Counts are exact in every backend; the live figures (live_bytes,
 * peak_bytes, and the thread's and the task's live blocks and bytes) need a table of live blocks,
 * which only the core backend keeps: live_exact says whether they are kept (1) and have been
 * since the process started (2: kept, but core began after blocks that are not in the table were
 * allocated, so they count only the blocks allocated since). */
struct ms_stats {
    const char *backend; /* "lockfree", "core", "async", or "none": memscope is not loaded (or
                            the call came from inside one of its hooks: a signal handler) */
    int live_exact;      /* 0: not kept (lockfree, async), 1: exact, 2: since core began */
    uint64_t allocs, frees, bytes_allocated; /* a realloc counts as a free and an allocation */
    uint64_t live_blocks;                    /* allocs - frees (every backend) */
    uint64_t live_bytes, peak_bytes;         /* core */
    uint64_t thread_allocs, thread_frees, thread_bytes_allocated; /* this thread's */
    uint64_t thread_live_blocks, thread_live_bytes; /* core: this thread's blocks still live */
    ms_task_id task;                                /* this thread's current task (0: none) */
    uint64_t task_allocs, task_bytes_allocated;     /* async and core: made while it was current */
    uint64_t task_live_blocks, task_live_bytes;     /* core: of those, still live */
};

/* *s as ms_stats leaves it when memscope is not loaded. */
static inline void ms__stats_none(struct ms_stats *s)
{
    unsigned char *p = (unsigned char *)s;
    for (size_t i = 0; i < sizeof *s; i++)
        p[i] = 0;
    s->backend = "none";
}

/* The functions libmemscope.so exports, as one table (the symbol memscope_api_v1): the header's
 * calls go through it. Blocks are passed as addresses (uintptr_t): the library never reads
 * them, and a compiler must not think it does (gcc's -Wmaybe-uninitialized would warn about
 * naming a block just allocated). Fields are only ever added at the end; size says how many there
 * are. */
struct ms_api_v1 {
    uint32_t version; /* 1 */
    uint32_t size;    /* sizeof (struct ms_api_v1) of the library */
    void (*track)(uintptr_t ptr, const char *name, const char *type, size_t type_size,
                  const char *file, int line, const char *func);
    void (*move)(uintptr_t from, uintptr_t to);
    uint64_t (*scope_begin)(const char *name, const char *file, int line);
    void (*scope_end)(uint64_t scope);
    ms_task_id (*task_begin)(const char *name);
    void (*task_end)(ms_task_id task);
    void (*task_switch)(ms_task_id task);
    ms_task_id (*task_current)(void);
    void (*ref_acquire)(uintptr_t obj, uintptr_t holder);
    void (*ref_release)(uintptr_t obj, uintptr_t holder);
    /* action: 1 hand-over (module, note: the function taking it), 2 reclaim, 3 note */
    void (*passport)(uintptr_t ptr, int action, const char *module, const char *note);
    int (*init)(const char *backend);
    int (*stats)(struct ms_stats *s, size_t size);
    void (*leaks_print)(FILE *out);
    int (*leak_check)(void);
};

/* The table's first fields (every libmemscope.so has them), and whether the library's table has
 * a later one: a program built with a newer header still gets the calls an older library has. */
#define MS__API_V1_FIRST offsetof(struct ms_api_v1, passport)
#define MS__API_HAS(a, field) ((a)->size >= offsetof(struct ms_api_v1, field) + sizeof((a)->field))

/* The pointers given to the API are never read through (a block just malloc'd is not "used
 * uninitialized" by being named). */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11
#define MS__NO_ACCESS(...) __attribute__((access(none, __VA_ARGS__)))
#else
#define MS__NO_ACCESS(...)
#endif

#define MS__CAT2(a, b) a##b
#define MS__CAT(a, b) MS__CAT2(a, b)

#if defined(MEMSCOPE_DISABLE)

/* As when enabled: MS_TRACK evaluates its argument, MS_SCOPE is a declaration. */
#define MS_TRACK(ptr) ((void)(ptr))
#define MS_TRACK_AS(ptr, type) ((void)(ptr))
#define MS_SCOPE(name) typedef int MS__CAT(ms__scope_, __COUNTER__) __attribute__((unused))
#define MS_TASK_SCOPE(name) typedef int MS__CAT(ms__task_, __COUNTER__) __attribute__((unused))
MS__NO_ACCESS(1)
static inline void ms_track(const void *p, const char *n, const char *t, const char *f, int l,
                            const char *fn)
{
    (void)p, (void)n, (void)t, (void)f, (void)l, (void)fn;
}
MS__NO_ACCESS(1) MS__NO_ACCESS(2) static inline void ms_move(const void *from, const void *to)
{
    (void)from, (void)to;
}
static inline uint64_t ms_scope_begin(const char *n, const char *f, int l)
{
    (void)n, (void)f, (void)l;
    return 0;
}
static inline void ms_scope_end(uint64_t s)
{
    (void)s;
}
static inline ms_task_id ms_task_begin(const char *n)
{
    (void)n;
    return 0;
}
static inline void ms_task_end(ms_task_id t)
{
    (void)t;
}
static inline void ms_task_switch(ms_task_id t)
{
    (void)t;
}
static inline ms_task_id ms_task_current(void)
{
    return 0;
}
MS__NO_ACCESS(1)
MS__NO_ACCESS(2) static inline void ms_ref_acquire(const void *obj, const void *holder)
{
    (void)obj, (void)holder;
}
MS__NO_ACCESS(1)
MS__NO_ACCESS(2) static inline void ms_ref_release(const void *obj, const void *holder)
{
    (void)obj, (void)holder;
}
MS__NO_ACCESS(1)
static inline void ms_passport_handover(const void *p, const char *to_module, const char *function)
{
    (void)p, (void)to_module, (void)function;
}
MS__NO_ACCESS(1) static inline void ms_passport_reclaim(const void *p)
{
    (void)p;
}
MS__NO_ACCESS(1) static inline void ms_passport_stamp(const void *p, const char *note)
{
    (void)p, (void)note;
}
static inline int ms_init(const char *backend)
{
    (void)backend;
    return -1;
}
static inline int ms_stats(struct ms_stats *s)
{
    ms__stats_none(s);
    return -1;
}
static inline void ms_leaks_print(FILE *out)
{
    (void)out;
}
static inline int ms_leak_check(void)
{
    return -1;
}

#else

#if defined(__PIC__) || defined(__pic__)
/* The library's table: a weak reference, which the dynamic linker binds when libmemscope.so is
 * loaded and leaves NULL otherwise (no lookup at run time, nothing allocated). */
extern const struct ms_api_v1 memscope_api_v1 __attribute__((weak));

static inline const struct ms_api_v1 *ms__api(void)
{
    const struct ms_api_v1 *a = &memscope_api_v1;
    return a && a->version == 1 && a->size >= MS__API_V1_FIRST ? a : (const struct ms_api_v1 *)0;
}
#else
/* Code built without -fPIC or -fPIE: the linker would bind a weak reference to 0 for good. The
 * table is looked up once per translation unit instead, with dlsym, and only when libmemscope.so
 * is among the loaded objects (a failed dlsym would allocate). */
#include <dlfcn.h>
#include <link.h>

/* Whether libmemscope.so is among the loaded objects (the dynamic linker's list, which any
 * debugger reads too). */
static inline int ms__memscope_loaded(void)
{
    for (const struct link_map *m = _r_debug.r_map; m; m = m->l_next)
        for (const char *n = m->l_name; n && *n; n++) {
            const char *a = n, *b = "libmemscope.so";
            while (*b && *a == *b)
                a++, b++;
            if (!*b)
                return 1;
        }
    return 0;
}

static inline const struct ms_api_v1 *ms__api(void)
{
    static const struct ms_api_v1 *api; /* (const struct ms_api_v1 *)1: looked up, absent */
    const struct ms_api_v1 *a = __atomic_load_n(&api, __ATOMIC_ACQUIRE);
    if (__builtin_expect(a == 0, 0)) {
        a = ms__memscope_loaded() ? (const struct ms_api_v1 *)dlsym((void *)0, "memscope_api_v1")
                                  : 0;
        if (!a || a->version != 1 || a->size < MS__API_V1_FIRST)
            a = (const struct ms_api_v1 *)1;
        __atomic_store_n(&api, a, __ATOMIC_RELEASE);
    }
    return a == (const struct ms_api_v1 *)1 ? (const struct ms_api_v1 *)0 : a;
}
#endif

/* Names the live block that contains ptr (an interior pointer too): the name, and the type's name
 * when type is not NULL, stay with the block through realloc moves until it is freed. file, line
 * and func say where (MS_TRACK passes __FILE__, __LINE__ and __func__). */
MS__NO_ACCESS(1)
static inline void ms_track(const void *ptr, const char *name, const char *type, const char *file,
                            int line, const char *func)
{
    const struct ms_api_v1 *a = ms__api();
    if (a)
        a->track((uintptr_t)ptr, name, type, 0, file, line, func);
}

/* ms_track with the type's size, which the report checks against the block's (MS_TRACK_AS). */
MS__NO_ACCESS(1)
static inline void ms__track_sized(const void *ptr, const char *name, const char *type,
                                   size_t type_size, const char *file, int line, const char *func)
{
    const struct ms_api_v1 *a = ms__api();
    if (a)
        a->track((uintptr_t)ptr, name, type, type_size, file, line, func);
}

/* The annotations of the block containing from (name, type, task) move to the block containing
 * to, for code that relocates objects itself. */
MS__NO_ACCESS(1) MS__NO_ACCESS(2) static inline void ms_move(const void *from, const void *to)
{
    const struct ms_api_v1 *a = ms__api();
    if (a)
        a->move((uintptr_t)from, (uintptr_t)to);
}

/* Opens a named scope on this thread and returns its handle for ms_scope_end (0 when memscope is
 * not loaded). Allocations made on this thread until it ends count for it, and for every scope
 * open around it; what it allocated and did not free before it ended outlived it. */
static inline uint64_t ms_scope_begin(const char *name, const char *file, int line)
{
    const struct ms_api_v1 *a = ms__api();
    return a ? a->scope_begin(name, file, line) : 0;
}

static inline void ms_scope_end(uint64_t scope)
{
    const struct ms_api_v1 *a = ms__api();
    if (a && scope)
        a->scope_end(scope);
}

/* Begins a task, child of the task current on this thread, and makes it current here; returns
 * its id (0 when memscope is not loaded). Every allocation carries the task current on its
 * thread; a free lowers the live bytes of the task that allocated the block. */
static inline ms_task_id ms_task_begin(const char *name)
{
    const struct ms_api_v1 *a = ms__api();
    return a ? a->task_begin(name) : 0;
}

/* Ends the task. When it is the task current on this thread, its nearest ancestor still open
 * becomes current here (0: none); otherwise this thread's current task stays. */
static inline void ms_task_end(ms_task_id task)
{
    const struct ms_api_v1 *a = ms__api();
    if (a)
        a->task_end(task);
}

/* Makes task current on this thread (0: none): for event loops, coroutine schedulers and thread
 * pools whose tasks move between threads. */
static inline void ms_task_switch(ms_task_id task)
{
    const struct ms_api_v1 *a = ms__api();
    if (a)
        a->task_switch(task);
}

/* The task current on this thread (0: none, or memscope is not loaded). */
static inline ms_task_id ms_task_current(void)
{
    const struct ms_api_v1 *a = ms__api();
    return a ? a->task_current() : 0;
}

/* References, the C form of an Arc/Rc clone: holder (a block, or NULL for a root such as a local
 * variable) now holds a reference to the block containing obj. The report lists each object's
 * holders, the objects still held at exit and by whom, clone storms (more holders at once than
 * MEMSCOPE_STORM, default 50) and reference cycles among the objects still held at exit. */
MS__NO_ACCESS(1)
MS__NO_ACCESS(2)
static inline void ms_ref_acquire(const void *obj, const void *holder)
{
    const struct ms_api_v1 *a = ms__api();
    if (a)
        a->ref_acquire((uintptr_t)obj, (uintptr_t)holder);
}

/* holder drops a reference to the block containing obj that ms_ref_acquire gave it. */
MS__NO_ACCESS(1)
MS__NO_ACCESS(2)
static inline void ms_ref_release(const void *obj, const void *holder)
{
    const struct ms_api_v1 *a = ms__api();
    if (a)
        a->ref_release((uintptr_t)obj, (uintptr_t)holder);
}

/* Passports: every block's owner is the module (executable or shared library) whose code
 * allocated it, the first frame of its allocation stack outside memscope and the C/C++ runtime,
 * and every free's module is found the same way; the report lists the blocks freed by another
 * module than their owner. ms_passport_handover says that the block containing p now belongs to
 * the module to_module (a path, a file name or a SONAME such as "libfoo.so.1"), taken by its
 * function `function` (may be NULL): freed there, it is "freed_by_custodian"; still allocated at
 * exit, "in_foreign_custody", a leak across the boundary. */
MS__NO_ACCESS(1)
static inline void ms_passport_handover(const void *p, const char *to_module, const char *function)
{
    const struct ms_api_v1 *a = ms__api();
    if (a)
        if (MS__API_HAS(a, passport))
            a->passport((uintptr_t)p, 1, to_module, function);
}

/* The block containing p, handed over, is back with its owner ("reclaimed" once it frees it). */
MS__NO_ACCESS(1) static inline void ms_passport_reclaim(const void *p)
{
    const struct ms_api_v1 *a = ms__api();
    if (a)
        if (MS__API_HAS(a, passport))
            a->passport((uintptr_t)p, 2, (const char *)0, (const char *)0);
}

/* A note in the passport of the block containing p (it is listed in the report's passports). */
MS__NO_ACCESS(1) static inline void ms_passport_stamp(const void *p, const char *note)
{
    const struct ms_api_v1 *a = ms__api();
    if (a)
        if (MS__API_HAS(a, passport))
            a->passport((uintptr_t)p, 3, (const char *)0, note);
}

/* Chooses the capture backend, as MEMSCOPE_BACKEND does: "lockfree", "core", "async" or
 * "unified". Returns 0, or -1 for another name (or when memscope is not loaded). Choosing core
 * late (after the program allocated) counts only the blocks allocated since (ms_stats's
 * live_exact is then 2). */
static inline int ms_init(const char *backend)
{
    const struct ms_api_v1 *a = ms__api();
    return a && MS__API_HAS(a, init) ? a->init(backend) : -1;
}

/* Fills *s (see struct ms_stats); returns 0, or -1 with *s all zero and backend "none" when
 * memscope is not loaded. */
static inline int ms_stats(struct ms_stats *s)
{
    const struct ms_api_v1 *a = ms__api();
    if (a && MS__API_HAS(a, stats))
        return a->stats(s, sizeof *s);
    ms__stats_none(s);
    return -1;
}

/* Prints to out the blocks live now, grouped by allocation stack, most bytes first (the core
 * backend; the others keep no table of live blocks and say so, with the counts they have). */
static inline void ms_leaks_print(FILE *out)
{
    const struct ms_api_v1 *a = ms__api();
    if (a && MS__API_HAS(a, leaks_print))
        a->leaks_print(out);
}

/* Scans the running program for leaks now, as valgrind's VALGRIND_DO_LEAK_CHECK does: under
 * `memscope run` (with its summary), a snapshot of the process is made here and scanned while
 * the program goes on, and the report gives the leak kinds of the blocks live at this moment
 * (docs/leak-kinds.md, "On-demand scans"). Only while no other thread runs. Returns 0 when the
 * snapshot was made, -1 when memscope is not loaded, else why none was (the report says it too:
 * 1 not under memscope run's summary, 2 a forked child, 3 sampled, 4 other threads running, 5
 * the previous check not scanned yet, 6 seccomp, 7 the clone failed). */
static inline int ms_leak_check(void)
{
    const struct ms_api_v1 *a = ms__api();
    return a && MS__API_HAS(a, leak_check) ? a->leak_check() : -1;
}

static inline void ms__scope_cleanup(uint64_t *scope)
{
    ms_scope_end(*scope);
}

static inline void ms__task_cleanup(ms_task_id *task)
{
    if (*task)
        ms_task_end(*task);
}

#define MS_TRACK(ptr) ms_track((ptr), #ptr, (const char *)0, __FILE__, __LINE__, __func__)
#define MS_TRACK_AS(ptr, type)                                                                     \
    ms__track_sized((ptr), #ptr, #type, sizeof(type), __FILE__, __LINE__, __func__)
#define MS_SCOPE(name)                                                                             \
    uint64_t MS__CAT(ms__scope_, __COUNTER__)                                                      \
        __attribute__((cleanup(ms__scope_cleanup), unused)) =                                      \
            ms_scope_begin((name), __FILE__, __LINE__)
#define MS_TASK_SCOPE(name)                                                                        \
    ms_task_id MS__CAT(ms__task_, __COUNTER__)                                                     \
        __attribute__((cleanup(ms__task_cleanup), unused)) = ms_task_begin(name)

#endif /* MEMSCOPE_DISABLE */

#endif /* MEMSCOPE_H */
