/*
 * leaks.c - leaks of known sizes from known functions.
 *
 * Pattern:
 *   - leak_small():   one malloc(16), leaked                      (LEAK: small16)
 *   - leak_loop():    ten malloc(100) from one line, leaked       (LEAK: loop100)
 *   - leak_large():   one malloc(40000), leaked                   (LEAK: large40000)
 *   - main -> make_record -> alloc_values -> malloc: a leak two calls deep
 *     below main.  Two records are made: record 1 stays reachable through
 *     the global g_records (24-byte struct + 80-byte values), record 2 is
 *     dropped (24-byte struct definitely lost, 160-byte values indirectly
 *     lost).                                       (LEAK: record_struct, values_deep)
 *   - g_keep = malloc(64): still reachable through a global  (LEAK: global64)
 *   - churn(): 50 malloc(8*i+1)/free pairs, nothing leaked.
 *   - one printf to stdout (stdio buffer: 1 malloc, freed by __libc_freeres).
 *
 * Observed with valgrind 3.19 (Debian 12, glibc 2.36, gcc 12, -g -O0, stdout a pipe;
 * a tty would make the stdout buffer 1024 bytes instead of 4096):
 *   total heap usage: 68 allocs, 51 frees, 55,714 bytes allocated
 *   in use at exit: 41,368 bytes in 17 blocks
 *   (16 + 10x100 + 40000 + 24+80 + 24+160 + 64; LEAK SUMMARY: definitely 41,040/13,
 *   indirectly 160/1, still reachable 168/3)
 * tests/integration/oracle.py compares memscope with a live valgrind run; these
 * figures are documentation, not hard-coded expectations.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct record {
    int id;
    size_t nvalues;
    double *values;
};

static struct record *g_records[4];
static char *g_keep;

static void *leak_small(void)
{
    char *p = malloc(16); /* LEAK: small16 */
    memset(p, 1, 16);
    return NULL; /* pointer dropped: definitely lost */
}

static void leak_loop(void)
{
    for (int i = 0; i < 10; i++) {
        char *p = malloc(100); /* LEAK: loop100 */
        p[0] = (char)i;
    }
}

static void leak_large(void)
{
    char *p = malloc(40000); /* LEAK: large40000 */
    memset(p, 2, 40000);
}

/* Clears the words of the stack below this frame that the calls above left behind: a stale
 * pointer into a lost block there (memset's, say) keeps it "possibly lost" for one tool and not
 * the other, now and then (oracle_leaks_suppressed once saw valgrind call the 40000 bytes
 * possibly lost). */
static __attribute__((noinline)) void scrub(void)
{
    volatile char pad[4096];
    memset((char *)pad, 0, sizeof pad);
}

static double *alloc_values(size_t n)
{
    double *v = malloc(n * sizeof(double)); /* LEAK: values_deep */
    for (size_t i = 0; i < n; i++)
        v[i] = (double)i;
    return v;
}

static struct record *make_record(int id, size_t n)
{
    struct record *r = malloc(sizeof *r); /* LEAK: record_struct */
    r->id = id;
    r->nvalues = n;
    r->values = alloc_values(n);
    return r;
}

static unsigned long churn(void)
{
    unsigned long sum = 0;
    for (int i = 1; i <= 50; i++) {
        unsigned char *p = malloc((size_t)(8 * i + 1));
        memset(p, i, (size_t)(8 * i + 1));
        sum += p[8 * i];
        free(p);
    }
    return sum;
}

int main(void)
{
    leak_small();
    leak_loop();
    leak_large();
    scrub();
    g_records[0] = make_record(1, 10);        /* reachable */
    struct record *lost = make_record(2, 20); /* dropped below */
    double v = lost->values[19];
    lost = NULL;
    g_keep = malloc(64); /* LEAK: global64 */
    strcpy(g_keep, "kept");
    unsigned long s = churn();
    printf("leaks: churn=%lu v=%.1f keep=%s\n", s, v, g_keep);
    scrub();
    return 0;
}
