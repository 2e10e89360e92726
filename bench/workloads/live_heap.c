/* Benchmark workload for the leak scan at exit: builds a live heap of MiB mebibytes (the
 * argument, default 256) in blocks of 32..1056 bytes, chained in lists of 16 whose every word
 * is written (so the scan reads real data, not zero pages): a quarter of the lists stay
 * reachable from a global table, the rest are dropped (one definitely lost block and 15
 * indirectly lost ones each). Exits without freeing; prints a checksum. */
#include "common.h"

#define CHAIN 16

static void **kept; /* the reachable lists' heads */

int main(int argc, char **argv)
{
    uint64_t mib = bench_count(argc, argv, 256);
    uint64_t want = mib << 20, have = 0, rng = 7, sum = 0;
    size_t nkept = 0, cap = 1024;
    kept = malloc(cap * sizeof *kept);
    if (!kept)
        abort();
    for (uint64_t list = 0; have < want; list++) {
        uint64_t *head = NULL;
        for (int i = 0; i < CHAIN; i++) {
            size_t n = 32 + 8 * (bench_rand(&rng) % 129);
            uint64_t *b = malloc(n);
            if (!b)
                abort();
            b[0] = (uint64_t)(uintptr_t)head;
            for (size_t w = 1; w < n / 8; w++)
                b[w] = rng ^ w; /* words that point nowhere */
            sum += b[1];
            head = b;
            have += n;
        }
        if (list % 4 == 0) {
            if (nkept == cap && !(kept = realloc(kept, (cap *= 2) * sizeof *kept)))
                abort();
            kept[nkept++] = head;
        }
    }
    printf("%016" PRIx64 " %zu\n", sum, nkept);
    return 0;
}
