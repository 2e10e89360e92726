/*
 * weak_api.c - a program that looks for tcmalloc's and jemalloc's own API through weak
 * references and falls back to malloc/free when they are missing (as allocator-aware libraries
 * do). It is linked with neither library: natively the references are NULL. Under memscope they
 * resolve to memscope's hooks, which find no library to forward to and must then behave as the
 * standard functions, so the counts, leaks and output stay those of the native run.
 *
 * Pattern:
 *   - 20 x (tc_malloc or malloc)(64) / (tc_free or free), nothing leaked
 *   - 10 x (mallocx with MALLOCX_ALIGN(2) or malloc)(32) / (sdallocx or free), nothing leaked
 *   - 5 x (tc_new or malloc)(40) / (tc_delete or free), nothing leaked (a C program: under
 *     memscope tc_new falls back to operator new, which no library defines either)
 *   - prints whether dlerror() has a message (it must not: memscope's lookups leave none)
 *   - grab(): one (tc_malloc or malloc)(123) leaked                  (LEAK: weak123)
 * Output goes through write(2), so stdio allocates nothing.
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void *tc_malloc(size_t) __attribute__((weak));
extern void tc_free(void *) __attribute__((weak));
extern void *mallocx(size_t, int) __attribute__((weak));
extern void sdallocx(void *, size_t, int) __attribute__((weak));
extern void *tc_new(size_t) __attribute__((weak));
extern void tc_delete(void *) __attribute__((weak));

static void *kept;

static void *get(size_t n)
{
    return tc_malloc ? tc_malloc(n) : malloc(n);
}

__attribute__((noinline)) static void grab(void)
{
    kept = get(123); /* LEAK: weak123 */
}

int main(void)
{
    for (int i = 0; i < 20; i++) {
        char *p = get(64);
        memset(p, i, 64);
        if (tc_free)
            tc_free(p);
        else
            free(p);
    }
    for (int i = 0; i < 10; i++) {
        char *p = mallocx ? mallocx(32, 1 /* MALLOCX_ALIGN(2) */) : malloc(32);
        memset(p, i, 32);
        if (sdallocx)
            sdallocx(p, 32, 0);
        else
            free(p);
    }
    for (int i = 0; i < 5; i++) {
        char *p = tc_new ? tc_new(40) : malloc(40);
        memset(p, i, 40);
        if (tc_delete)
            tc_delete(p);
        else
            free(p);
    }
    grab();
    const char *msg = dlerror() ? "dlerror: set\n" : "dlerror: none\n";
    ssize_t r = write(1, msg, strlen(msg));
    (void)r;
    return 0;
}
