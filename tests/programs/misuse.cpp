// Allocator misuse, one kind per mode (argv[1]), compared with valgrind's errors by
// tests/integration/misuse.py. Natively glibc aborts the program on some of them (double free,
// invalid pointer): memscope must record the error first and the program must die the same way.
// Built without optimisation, so that each call's line is exact.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

// Out of the optimiser's sight: the pointer the program frees.
static void *volatile keep;

__attribute__((noinline)) static char *make_block(size_t n)
{
    char *p = static_cast<char *>(malloc(n));
    memset(p, 1, n);
    return p;
}

__attribute__((noinline)) static void release(void *p)
{
    free(p);
}

__attribute__((noinline)) static void double_free()
{
    char *p = make_block(24);
    release(p);
    keep = p;
    free(keep); // the second free
}

__attribute__((noinline)) static void double_delete()
{
    int *p = new int(7);
    delete p;
    keep = p;
    delete static_cast<int *>(keep); // the second delete
}

__attribute__((noinline)) static void invalid_stack()
{
    char on_stack[32];
    keep = on_stack;
    free(keep); // never allocated
}

__attribute__((noinline)) static void interior()
{
    char *p = make_block(64);
    keep = p + 16;
    free(keep); // 16 bytes inside a live block
}

__attribute__((noinline)) static void new_free()
{
    int *p = new int(3);
    keep = p;
    free(keep); // new, then free
}

__attribute__((noinline)) static void malloc_delete()
{
    int *p = static_cast<int *>(malloc(sizeof(int)));
    keep = p;
    delete static_cast<int *>(keep); // malloc, then delete
}

__attribute__((noinline)) static void array_delete()
{
    char *p = new char[40];
    keep = p;
    delete static_cast<char *>(keep); // new[], then delete
}

__attribute__((noinline)) static void realloc_freed()
{
    char *p = make_block(48);
    release(p);
    keep = p;
    void *q = realloc(keep, 4000); // of a freed block
    keep = q;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    printf("mode %s\n", mode);
    fflush(stdout);
    if (!strcmp(mode, "double_free"))
        double_free();
    else if (!strcmp(mode, "double_delete"))
        double_delete();
    else if (!strcmp(mode, "invalid_stack"))
        invalid_stack();
    else if (!strcmp(mode, "interior"))
        interior();
    else if (!strcmp(mode, "mismatches")) {
        new_free();
        malloc_delete();
        array_delete();
    } else if (!strcmp(mode, "realloc_freed"))
        realloc_freed();
    else {
        fprintf(stderr, "usage: misuse double_free|double_delete|invalid_stack|interior|"
                        "mismatches|realloc_freed\n");
        return 2;
    }
    printf("survived\n");
    return 0;
}
