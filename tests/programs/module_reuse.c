/* A library unloaded with dlclose and another loaded at the same addresses: each leaks one
 * block (100,000 bytes from libreuse_a's reuse_a_alloc, 200,000 from libreuse_b's
 * reuse_b_alloc: more than the loader's own blocks, so they come first in the report), and
 * each leak's stack must name the library that was loaded when it was allocated. Prints
 * "reused" when the second library did land on the first one's addresses (the case tested),
 * "moved" otherwise.
 * usage: module_reuse LIBREUSE_A LIBREUSE_B */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>

static void *volatile kept[2];

static void *load(const char *path, const char *fn_name, size_t n, void **base)
{
    void *h = dlopen(path, RTLD_NOW);
    void *(*fn)(size_t) = h ? (void *(*)(size_t))dlsym(h, fn_name) : NULL;
    Dl_info info;
    if (!fn || !dladdr((void *)fn, &info)) {
        fprintf(stderr, "module_reuse: cannot load %s: %s\n", path, dlerror());
        return NULL;
    }
    *base = info.dli_fbase;
    kept[n == 200000] = fn(n);
    return h;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    /* Both from the same call site: the two stacks differ only in the library, so only the
     * library tells their stack nodes apart. */
    static const char *const fn[2] = {"reuse_a_alloc", "reuse_b_alloc"};
    void *base[2];
    for (int i = 0; i < 2; i++) {
        void *h = load(argv[1 + i], fn[i], i ? 200000 : 100000, &base[i]);
        if (!h || (i == 0 && dlclose(h) != 0))
            return 1;
    }
    puts(base[0] == base[1] ? "reused" : "moved");
    return 0;
}
