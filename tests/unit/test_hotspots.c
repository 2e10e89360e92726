/* Unit test for src/analysis/hotspots.c's allocation wrappers (ms_is_alloc_fn: which frames are
 * not the allocating function) and src/analysis/sizes.c's glibc usable sizes against glibc's
 * own malloc_usable_size. */
#include "../../src/analysis/hotspots.h"
#include "../../src/analysis/sizes.h"
#include "ms_test.h"

#include <malloc.h>

static void wrappers(void)
{
    static const char *const yes[] = {
        "malloc",
        "operator new(unsigned long)",
        "operator new[](unsigned long)",
        "std::__new_allocator<int>::allocate(unsigned long, void const*)",
        "void std::vector<int, std::allocator<int> >::_M_realloc_insert<int const&>(int const&)",
        "std::map<int, int>::operator[](int const&)",
        "xmalloc+0x1c",
        "Perl_safesysmalloc+0x26",
        "__gnu_cxx::__pool_alloc<char>::allocate(unsigned long, void const*)",
        "g_malloc0",
        "sqlite3DbMallocRawNN"};
    static const char *const no[] = {
        "main", "grow", "foo(int) [clone .cold]", "mallocx", "xmallocs",
        /* a program's template whose return type or arguments are the library's */
        "std::vector<int, std::allocator<int> > make_vec<int>(unsigned long)",
        "Pool<int, std::__cxx11::basic_string<char> >::grow(unsigned long)",
        "Alloc::get(unsigned long) const", "(anonymous namespace)::operator()",
        "libsqlite3.so.0+0xa7504"};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
        if (!ms_is_alloc_fn(yes[i], NULL)) {
            fprintf(stderr, "not a wrapper: %s\n", yes[i]);
            ASSERT_TRUE(0);
        }
    for (size_t i = 0; i < sizeof no / sizeof *no; i++)
        if (ms_is_alloc_fn(no[i], NULL)) {
            fprintf(stderr, "a wrapper: %s\n", no[i]);
            ASSERT_TRUE(0);
        }
}

static void extra_wrappers(void)
{
    const char *extra[] = {"Alloc::get", "*::operator()", "libsqlite3.so.0", NULL};
    ASSERT_TRUE(ms_is_alloc_fn("Alloc::get(unsigned long) const", extra));
    ASSERT_TRUE(ms_is_alloc_fn("(anonymous namespace)::operator()", extra));
    ASSERT_TRUE(ms_is_alloc_fn("Foo::operator()(int) const", extra));
    ASSERT_TRUE(ms_is_alloc_fn("libsqlite3.so.0+0xa7504", extra));
    ASSERT_TRUE(!ms_is_alloc_fn("Alloc::put(unsigned long)", extra));
}

/* The model's usable sizes are glibc's own below 128 KiB (where its heap serves every block). */
static void usable_sizes(void)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    printf("(skipped: a sanitizer's allocator is not glibc's)\n");
    return;
#endif
    for (size_t n = 0; n < 131072; n++) {
        void *p = malloc(n);
        size_t real = malloc_usable_size(p);
        free(p);
        if (real != ms_glibc_usable(n)) {
            fprintf(stderr, "malloc(%zu): usable %zu, the model %llu\n", n, real,
                    (unsigned long long)ms_glibc_usable(n));
            ASSERT_TRUE(0);
        }
    }
}

int main(int argc, char **argv)
{
    static const struct ms_test_case cases[] = {
        {"wrappers", wrappers}, {"extra_wrappers", extra_wrappers}, {"usable_sizes", usable_sizes}};
    return ms_test_main(argc, argv, cases, (int)(sizeof cases / sizeof *cases));
}
