/* Benchmark workload: many buffers grown by realloc in small steps, round-robin so that blocks
 * get in each other's way and some reallocs move. Argument: number of buffers (default 10000),
 * each grown by 200 reallocs of 8..39 bytes and then freed; prints only a checksum. */
#include "common.h"

#define STEPS 200

int main(int argc, char **argv)
{
    uint64_t nbuf = bench_count(argc, argv, 10000);
    unsigned char **buf = calloc(nbuf, sizeof(*buf));
    size_t *len = calloc(nbuf, sizeof(*len));
    uint64_t rng = 1, sum = 0;

    if (!buf || !len)
        abort();
    for (int step = 0; step < STEPS; step++) {
        for (uint64_t i = 0; i < nbuf; i++) {
            size_t n = len[i] + 8 + bench_rand(&rng) % 32;
            unsigned char *p = realloc(buf[i], n);
            if (!p)
                abort();
            bench_touch(p, n, &sum);
            buf[i] = p;
            len[i] = n;
        }
    }
    for (uint64_t i = 0; i < nbuf; i++) {
        sum = sum * 31 + buf[i][0];
        free(buf[i]);
    }
    free(buf);
    free(len);
    printf("%016" PRIx64 "\n", sum);
    return 0;
}
