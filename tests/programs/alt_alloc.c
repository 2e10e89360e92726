/*
 * alt_alloc.c - the malloc family served by another allocator than glibc's: built once linked
 * with jemalloc (alt_alloc_jemalloc) and once with tcmalloc (alt_alloc_tcmalloc), when their
 * Debian -dev packages are installed. memscope must forward every call to that allocator (the
 * next one in line) and count exactly what valgrind counts with
 * --soname-synonyms=somalloc=<library>.
 *
 * Pattern:
 *   - 100 malloc(24..) / free pairs, nothing leaked
 *   - a realloc chain 16 -> 4096 (9 reallocs), freed
 *   - calloc(10, 100), posix_memalign(64, 200), aligned_alloc(256, 512), freed
 *   - keep(): one malloc(333) leaked                              (LEAK: alt333)
 *   - keep(): one calloc(7, 11) leaked                            (LEAK: alt77)
 *
 * With the argument "check" it also calls the library's own API (jemalloc: mallocx, rallocx,
 * xallocx, sdallocx, dallocx; tcmalloc: tc_malloc, tc_realloc, tc_calloc, tc_cfree, tc_new,
 * tc_delete, tc_free), leaking one 555-byte block from keep_api() (2 realloc calls with
 * jemalloc: rallocx and an xallocx that grows in place; 1 with tcmalloc), and proves the
 * allocations reached the library: after a
 * malloc(1 MiB) the library's own statistics ("stats.allocated" for jemalloc,
 * "generic.current_allocated_bytes" for tcmalloc) must have grown by at least 1 MiB; it then
 * prints "ALLOCATOR ok" (or "ALLOCATOR wrong") and exits 0 (or 1). Output goes through write(2)
 * only, so stdio allocates nothing.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(ALT_JEMALLOC)
#include <jemalloc/jemalloc.h>
#define ALLOCATOR "jemalloc"
static size_t allocated_now(void)
{
    uint64_t epoch = 1;
    size_t esz = sizeof epoch, v = 0, sz = sizeof v;
    mallctl("epoch", &epoch, &esz, &epoch, sizeof epoch);
    return mallctl("stats.allocated", &v, &sz, NULL, 0) == 0 ? v : 0;
}
#elif defined(ALT_TCMALLOC)
#include <gperftools/malloc_extension_c.h>
#include <gperftools/tcmalloc.h>
/* tcmalloc.h declares these (with C linkage) only for C++. */
void *tc_new(size_t size);
void tc_delete(void *p);
#define ALLOCATOR "tcmalloc"
static size_t allocated_now(void)
{
    size_t v = 0;
    return MallocExtension_GetNumericProperty("generic.current_allocated_bytes", &v) ? v : 0;
}
#else
#error "build with -DALT_JEMALLOC or -DALT_TCMALLOC"
#endif

static void *kept[2], *kept_api;

/* The library's own entry points; called only with "check" (valgrind does not know them). */
__attribute__((noinline)) static void keep_api(void)
{
#if defined(ALT_JEMALLOC)
    void *a = mallocx(100, MALLOCX_ALIGN(64));
    a = rallocx(a, 200, 0);
    if (xallocx(a, 210, 0, 0) < 210) /* 200 and 210 share jemalloc's 224-byte size class */
        abort();
    sdallocx(a, 210, 0);
    dallocx(mallocx(48, MALLOCX_ZERO), 0);
    kept_api = mallocx(555, 0);
#else
    void *a = tc_malloc(100);
    a = tc_realloc(a, 300);
    tc_free(a);
    tc_cfree(tc_calloc(3, 5));
    tc_delete(tc_new(64));
    kept_api = tc_malloc(555);
#endif
}

static void say(const char *s)
{
    ssize_t r = write(1, s, strlen(s));
    (void)r;
}

__attribute__((noinline)) static void keep(void)
{
    kept[0] = malloc(333);   /* LEAK: alt333 */
    kept[1] = calloc(7, 11); /* LEAK: alt77 */
}

int main(int argc, char **argv)
{
    for (int i = 0; i < 100; i++) {
        char *p = malloc(24 + (size_t)i);
        memset(p, i, 24 + (size_t)i);
        free(p);
    }
    char *r = malloc(16);
    for (size_t n = 32; n <= 4096; n *= 2)
        r = realloc(r, n);
    free(r);
    void *c = calloc(10, 100), *pm = NULL, *aa = aligned_alloc(256, 512);
    if (posix_memalign(&pm, 64, 200) != 0)
        return 2;
    free(c);
    free(pm);
    free(aa);
    keep();
    if (argc > 1 && !strcmp(argv[1], "check")) {
        keep_api();
        size_t before = allocated_now();
        char *big = malloc(1 << 20);
        memset(big, 1, 1 << 20);
        size_t after = allocated_now();
        int ok = after >= before + (1 << 20);
        free(big);
        say(ok ? "ALLOCATOR ok: " ALLOCATOR "\n" : "ALLOCATOR wrong: not " ALLOCATOR "\n");
        return ok ? 0 : 1;
    }
    say("done\n");
    return 0;
}
