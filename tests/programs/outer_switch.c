/* Stacks whose inner frames stay while the outer ones change: leaf() allocates, called through
 * mid() from outer_a() or outer_b() (same stack depth, so leaf's and mid's frames sit at the
 * same addresses either way), alternately, and from deeper recursion now and then. A walk that
 * reaches the state the previous walk had after a frame may go on as that walk did only if the
 * outer words still hold what they held (here mid's return address differs): the unwind_verify
 * test checks every stack against libunwind and that walks were continued. */
#include <stdlib.h>

static void *volatile sink;

__attribute__((noinline)) static void leaf(int n)
{
    sink = malloc((size_t)n + 1);
    free(sink);
}

__attribute__((noinline)) static void mid(int n)
{
    leaf(n);
    leaf(n + 1); /* another return address in mid: the inner part changes, the outer stays */
}

__attribute__((noinline)) static void outer_a(int n)
{
    mid(n);
}

__attribute__((noinline)) static void outer_b(int n)
{
    mid(n);
}

__attribute__((noinline)) static void deeper(int depth, int n)
{
    if (depth)
        deeper(depth - 1, n);
    else
        outer_a(n);
}

int main(void)
{
    for (int i = 0; i < 20000; i++) {
        outer_a(i % 64);
        outer_b(i % 64);
        if (i % 7 == 0)
            deeper(i % 5, i % 64);
    }
    return 0;
}
