/*
 * memalign_merge.c - a block that glibc maps for itself alone (1 MiB, aligned to 4096, so not
 * 16 bytes into its first page), and right below it a page the program maps itself: the kernel
 * merges the two into one mapping. The program's page holds the only pointer to a small block:
 * memcheck finds it reachable; a scan that took the whole mapping for an arena's lost it.
 *
 *   - posix_memalign(4096, 1 MiB), kept in a global: still reachable  (LEAK: aligned1m)
 *   - a malloc(50) pointed to from the program's own page             (LEAK: onpage50)
 *   - one line on stdout: whether the two mappings are neighbours.
 * tests/integration/oracle.py compares each marker's kind with a live valgrind run.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

static void *g_aligned;

/* A page of the program's right beside the mapping glibc made for the block (below it, or
 * above it if that place is taken): chunk header at aligned - 16, its offset from the mapping's
 * start before it, its size (with IS_MMAPPED) after. */
static void **page_beside(const void *aligned)
{
    const size_t *hdr = (const size_t *)aligned - 2;
    uintptr_t start = (uintptr_t)hdr - hdr[0], end = (uintptr_t)hdr + (hdr[1] & ~(size_t)7);
    end = (end + 4095) & ~(uintptr_t)4095;
    uintptr_t at[2] = {start - 4096, end};
    for (int i = 0; i < 2; i++) {
        void *p = mmap((void *)at[i], 4096, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
        if (p == (void *)at[i])
            return p;
        if (p != MAP_FAILED)
            munmap(p, 4096);
    }
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

int main(void)
{
    if (posix_memalign(&g_aligned, 4096, 1 << 20) != 0) /* LEAK: aligned1m */
        return 2;
    void **page = page_beside(g_aligned);
    if (!page)
        return 2;
    page[7] = malloc(50); /* LEAK: onpage50 */
    printf("memalign_merge: done\n");
    return 0;
}
