// Allocator misuse, one kind per mode (argv[1]), compared with valgrind's errors by
// tests/integration/misuse.py. Natively glibc aborts the program on some of them (double free,
// invalid pointer): memscope must record the error first and the program must die the same way.
// The modes from overflow on are memory errors that only `memscope run --check` finds (as
// valgrind does): writes past either end of a block, and writes after free.
// Built without optimisation, so that each call's line is exact.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <pthread.h>
#include <unistd.h>

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

// Ten blocks freed from one loop (one stack: with --free-stacks the capture records it once),
// then the sixth freed again.
__attribute__((noinline)) static void double_free_loop()
{
    char *p[10];
    for (int i = 0; i < 10; i++)
        p[i] = make_block(8 + i);
    for (int i = 0; i < 10; i++)
        release(p[i]);
    keep = p[5];
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
    // What glibc takes for the chunk's header is set, not whatever an earlier call left on the
    // stack: a size of 0, which it refuses ("free(): invalid size", SIGABRT) however it runs.
    struct {
        size_t header[2];
        char bytes[32];
    } on_stack;
    memset(&on_stack, 0, sizeof on_stack);
    keep = on_stack.bytes;
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

// One byte written through p at offset i, out of the optimiser's sight.
__attribute__((noinline)) static void poke(char *p, long i)
{
    keep = p;
    static_cast<char *volatile>(keep)[i] = 'x';
}

__attribute__((noinline)) static void overflow()
{
    char *p = make_block(10);
    poke(p, 10); // just past the end
    release(p);
}

__attribute__((noinline)) static void underflow()
{
    char *p = make_block(40);
    poke(p, -3); // before the start
    release(p);
}

static char *global_block;

__attribute__((noinline)) static void overflow_live()
{
    global_block = static_cast<char *>(calloc(1, 20));
    poke(global_block, 25); // past the end of a block still live at exit
}

__attribute__((noinline)) static void array_overflow()
{
    char *p = new char[16];
    poke(p, 16);
    delete[] p;
}

__attribute__((noinline)) static void use_after_free()
{
    char *p = make_block(32);
    release(p);
    poke(p, 5); // after the free
}

__attribute__((noinline)) static void use_after_free_evicted()
{
    use_after_free();
    for (int i = 0; i < 100; i++) // 100 MiB freed: the block leaves a 64 MiB quarantine
        release(make_block(1 << 20));
}

// The write after free in a thread of its own: the block waits among the thread's last freed
// blocks (docs/check.md) until the thread exits (thread) or the process does (thread_live).
static int done_pipe[2];

static void *use_after_free_in_thread(void *live)
{
    use_after_free();
    char c = 1;
    if (write(done_pipe[1], &c, 1) != 1)
        abort();
    while (live)
        pause(); // still running at exit
    return nullptr;
}

__attribute__((noinline)) static void use_after_free_thread(bool live)
{
    pthread_t t;
    if (pipe(done_pipe) != 0)
        abort();
    pthread_create(&t, nullptr, use_after_free_in_thread, live ? &t : nullptr);
    char c;
    if (read(done_pipe[0], &c, 1) != 1) // the thread's write after free is made
        abort();
    if (live)
        return;
    pthread_join(t, nullptr);
    for (int i = 0; i < 100; i++) // 100 MiB freed: the block leaves a 64 MiB quarantine
        release(make_block(1 << 20));
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    printf("mode %s\n", mode);
    fflush(stdout);
    if (!strcmp(mode, "double_free"))
        double_free();
    else if (!strcmp(mode, "double_free_loop"))
        double_free_loop();
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
    else if (!strcmp(mode, "overflow"))
        overflow();
    else if (!strcmp(mode, "underflow"))
        underflow();
    else if (!strcmp(mode, "overflow_live"))
        overflow_live();
    else if (!strcmp(mode, "array_overflow"))
        array_overflow();
    else if (!strcmp(mode, "use_after_free"))
        use_after_free();
    else if (!strcmp(mode, "use_after_free_evicted"))
        use_after_free_evicted();
    else if (!strcmp(mode, "use_after_free_thread"))
        use_after_free_thread(false);
    else if (!strcmp(mode, "use_after_free_thread_live"))
        use_after_free_thread(true);
    else {
        fprintf(stderr,
                "usage: misuse double_free|double_free_loop|double_delete|invalid_stack|interior|"
                "mismatches|realloc_freed|overflow|underflow|overflow_live|"
                "array_overflow|use_after_free|use_after_free_evicted|use_after_free_thread|"
                "use_after_free_thread_live\n");
        return 2;
    }
    printf("survived\n");
    return 0;
}
