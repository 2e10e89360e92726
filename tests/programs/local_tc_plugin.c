/*
 * local_tc_plugin.c - a plugin linked with tcmalloc and loaded by dlopen_local with RTLD_LOCAL:
 * its tcmalloc is not in the program's global scope, so memscope's tc_* hooks (which the
 * plugin's references bind to) must find it in the plugin's own scope.
 *
 * Pattern (plugin_run):
 *   - 5 x tc_malloc(100), 4 of them tc_free'd; one kept                 (LEAK: plugin100)
 *   - 3 x tc_new(48) / tc_delete
 *   - tc_realloc of a tc_malloc block, tc_posix_memalign, both tc_free'd (they must reach this
 *     tcmalloc: glibc would abort on its blocks)
 *   - operator new and delete (their mangled names, called from C), which reach this tcmalloc
 *     too, mixed with tc_delete and tc_new: all one allocator's, no misuse
 * plugin_check() tells whether tc_malloc really reached this tcmalloc: its statistics grow by
 * 1 MiB after a tc_malloc(1 MiB).
 */
#include <gperftools/malloc_extension_c.h>
#include <gperftools/tcmalloc.h>
#include <stddef.h>

void *tc_new(size_t size);
void tc_delete(void *p);
void *_Znwm(size_t size); /* operator new(size_t) */
void _ZdlPv(void *p);     /* operator delete(void *) */
void *plugin_run(void);
int plugin_check(void);

static size_t allocated_now(void)
{
    size_t v = 0;
    return MallocExtension_GetNumericProperty("generic.current_allocated_bytes", &v) ? v : 0;
}

int plugin_check(void)
{
    size_t before = allocated_now();
    void *big = tc_malloc(1 << 20);
    int ok = allocated_now() >= before + (1 << 20);
    tc_free(big);
    return ok;
}

void *plugin_run(void)
{
    void *p[5];
    for (int i = 0; i < 5; i++)
        p[i] = tc_malloc(100); /* LEAK: plugin100 */
    for (int i = 1; i < 5; i++)
        tc_free(p[i]);
    for (int i = 0; i < 3; i++)
        tc_delete(tc_new(48));
    tc_delete(_Znwm(8));
    _ZdlPv(tc_new(40));
    tc_free(tc_realloc(tc_malloc(10), 5000));
    void *aligned;
    if (tc_posix_memalign(&aligned, 64, 100) == 0)
        tc_free(aligned);
    return p[0];
}
