/*
 * fork_flags.c - blocks whose only pointers lie in memory that a fork does not copy as it is:
 * a page with MADV_WIPEONFORK (a child gets it zeroed) and one with MADV_DONTFORK (a child has
 * none). memcheck scans both: each block is still reachable. memscope's snapshot at exit is a
 * fork: it must lift both flags first, else the blocks come out definitely lost.
 *
 *   - a malloc(176) pointed to from the wipe-on-fork page           (LEAK: wiped176)
 *   - a malloc(144) pointed to from the dont-fork page              (LEAK: notcopied144)
 *   - a malloc(40) whose pointer is dropped: definitely lost        (LEAK: lost40)
 *   - one line on stdout.
 * tests/integration/oracle.py compares each marker's kind with a live valgrind run.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

static void **page(int advice)
{
    void **p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED || madvise(p, 4096, advice) != 0) {
        perror("fork_flags");
        exit(2);
    }
    return p;
}

static void __attribute__((noinline)) lose(void)
{
    void *volatile p = malloc(40); /* LEAK: lost40 */
    (void)p;
}

int main(void)
{
    void **wiped = page(MADV_WIPEONFORK), **kept = page(MADV_DONTFORK);
    wiped[3] = malloc(176); /* LEAK: wiped176 */
    kept[5] = malloc(144);  /* LEAK: notcopied144 */
    lose();
    printf("fork_flags: %d\n", wiped[3] != NULL && kept[5] != NULL);
    return 0;
}
