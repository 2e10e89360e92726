/* The two libraries of module_reuse.c: the same code, built twice under two function names
 * (REUSE_FN), so that the second fits exactly where the first was. */
#include <stdlib.h>

void *REUSE_FN(size_t n);

__attribute__((noinline)) void *REUSE_FN(size_t n)
{
    return malloc(n);
}
