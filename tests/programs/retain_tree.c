/* Who keeps what alive, on a heap whose shape is known (tests/integration/retainers.py):
 *   a global `tree` points to A (1000 bytes); A points to B (2000) and C (3000); B points to
 *   D (4000). A global `shared` points to C as well. So A retains A, B and D: 7000 bytes in 3
 *   blocks (not C, which `shared` keeps alive on its own), and C retains itself: 3000 in 1.
 *   X (5000) and Y (6000) point to each other and nothing points to them: one cycle no root
 *   reaches, 11000 bytes in 2 blocks (valgrind: 5000 definitely lost and 6000 indirectly).
 *   E (8000), kept by the global `single`, retains 8000 in 1. A is named through the C API
 *   (MS_TRACK): `root_node`.
 * With the argument `peak` (memscope run --scan-at-peak), a 100,000-byte block, kept by the
 * global `ballast`, then takes the heap past 64 KiB, to its peak: the check at the peak is made
 * as it is allocated (valgrind is asked for a scan at the same point: VALGRIND_DO_LEAK_CHECK).
 * Then everything but the cycle is freed: at exit only X and Y are left, and who keeps what
 * alive at the peak is the graph above plus the ballast, which retains 100,000 in 1. */
#include "memscope.h"

#include <stdlib.h>
#include <string.h>
#include <valgrind/memcheck.h>

void *volatile tree, *volatile shared, *volatile single, *volatile ballast;

static void **block(size_t size)
{
    void **p = malloc(size);
    memset(p, 0, size);
    return p;
}

__attribute__((noinline)) static void build_tree(void)
{
    void **root_node = block(1000), **b = block(2000), **c = block(3000), **d = block(4000);
    MS_TRACK(root_node);
    void **a = root_node;
    a[0] = b;
    a[1] = c;
    b[0] = d;
    tree = a;
    shared = c;
}

__attribute__((noinline)) static void lose_cycle(void)
{
    void **x = block(5000), **y = block(6000);
    x[0] = y;
    y[0] = x;
}

__attribute__((noinline)) static void keep_single(void)
{
    single = block(8000);
}

__attribute__((noinline)) static void reach_peak(void)
{
    ballast = block(100000);
    VALGRIND_DO_LEAK_CHECK;
}

static void free_tree(void)
{
    void **a = tree;
    free(((void **)a[0])[0]);
    free(a[0]);
    free(a[1]);
    free(a);
    free(single);
    free(ballast);
    tree = shared = single = ballast = NULL;
}

int main(int argc, char **argv)
{
    build_tree();
    lose_cycle();
    keep_single();
    if (argc > 1 && !strcmp(argv[1], "peak")) {
        reach_peak();
        free_tree();
    }
    return 0;
}
