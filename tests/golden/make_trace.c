/* Writes a small fixed trace (two threads, a realloc chain, a temporary allocation, two leaks
 * with stacks, a task, a named block, a scope and a passport, a double free, memscope run's leak
 * scan, two
 * on-demand leak checks (one scanned), a truncated
 * tail optionally) for the golden-file tests of the report outputs. usage: make_trace OUT
 * [--truncate] */
#include "../unit/trace_builder.h"
#include "analysis/leak_scan.h"

#include <string.h>

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    static struct tb b, p;
    tb_begin(&b, 4242);
    /* Thread 1 (main): a stack tree 1 <- 2 <- 3 and 1 <- 4. */
    struct tb_ev e = tb_events(&p, 1000);
    tb_thread_start(&e, 1000, "main");
    tb_thread_create(&e, 1005, 7); /* creates the worker (pthread_t 7) */
    TB_EXT(&e, 1006, BACKEND, MS_BACKEND_LOCKFREE, MS_BACKEND_BY_DEFAULT);
    tb_node(&e, 1, 0, 0x400100);
    tb_node(&e, 2, 1, 0x400200);
    tb_node(&e, 3, 2, 0x400300);
    tb_node(&e, 4, 1, 0x400400);
    /* The C API: a scope around a temporary allocation; task "request" (1) makes the realloc
     * chain, whose block is named "buf", and the leaked block. */
    tb_string(&e, 1, "request");
    tb_string(&e, 2, "buf");
    tb_string(&e, 3, "main.c");
    tb_string(&e, 4, "handle");
    tb_string(&e, 5, "parse");
    TB_EXT(&e, 1090, SCOPE_BEGIN, 1, 5, 3, 20);
    tb_alloc(&e, 1100, 0x10000, 100, 3);
    tb_free(&e, 1150, 0x10000); /* temporary */
    TB_EXT(&e, 1160, SCOPE_END, 1);
    TB_EXT(&e, 1190, TASK_BEGIN, 1, 0, 1);
    tb_task(&e, 1190, 1, 5000);
    tb_alloc(&e, 1200, 0x10100, 40, 3);
    TB_EXT(&e, 1210, VARIABLE, 0x10100, 2, 0, 0, 3, 12, 4);
    tb_realloc(&e, 1300, 0x10100, 0x10200, 400, 4);
    tb_realloc(&e, 1400, 0x10200, 0x10800, 4000, 4);
    tb_alloc(&e, 1500, 0x20000, 7, 3); /* leaked */
    /* Two on-demand leak checks: one scanned (its LEAK_CHECK chunk below), one not made. */
    TB_EXT(&e, 1520, LEAK_CHECK, 1, MS_CHECK_API, 0x7000, 999, MS_CHECK_MADE, 1);
    TB_EXT(&e, 1530, LEAK_CHECK, 2, MS_CHECK_SIGNAL, 0, 0, MS_CHECK_THREADS, 2);
    /* One at the peak (MEMSCOPE_SCAN_AT_PEAK), scanned with its graph (below). */
    TB_EXT(&e, 1540, LEAK_CHECK, 3, MS_CHECK_PEAK, 0x7000, 998, MS_CHECK_MADE, 1);
    tb_task(&e, 1550, 0, 5300);
    TB_EXT(&e, 1550, TASK_END, 1);
    tb_chunk(&b, MS_CHUNK_EVENTS, 4242, &p, 1);
    /* Thread 2 (worker): allocates and frees, then leaks one block, which it handed over to
     * libsink.so (a passport in foreign custody). */
    e = tb_events(&p, 1000);
    tb_thread_start(&e, 1010, "worker");
    tb_string(&e, 6, "libsink.so");
    tb_alloc(&e, 1250, 0x30000, 1000, 2);
    tb_alloc(&e, 1260, 0x30400, 24, 2);
    TB_EXT(&e, 1265, PASSPORT, 0x30400, 1, 6, 0);
    TB_EXT(&e, 1590, FREE_CALLER, 2, 0x400200, 0);
    tb_free(&e, 1600, 0x30000);
    /* ... and frees it again, where glibc would stop it: a double free with its stack. */
    tb_free(&e, 1610, 0x30000);
    TB_EXT(&e, 1611, FREE_FAULT, 0x30000, 0, 6, 4);
    tb_chunk(&b, MS_CHUNK_EVENTS, 4243, &p, 1);
    e = tb_events(&p, 1700);
    tb_free(&e, 1800, 0x10800);
    /* --check's finding at exit: a byte written just past the leaked 7-byte block. */
    TB_EXT(&e, 1850, HEAP_ERROR, MS_HEAP_OVERFLOW, 0x20000, 7, 7, MS_FOUND_EXIT, 0);
    tb_chunk(&b, MS_CHUNK_EVENTS, 4242, &p, 1);
    if (argc > 2 && !strcmp(argv[2], "--truncate")) {
        b.len -= 5; /* the last chunk loses its end */
    } else {
        p.len = 0;
        tb_end(&p, 2000);
        tb_chunk(&b, MS_CHUNK_END, 0, &p, 0);
        /* memscope run's leak scan: the 7-byte block definitely lost, the 24-byte one still
         * reachable */
        struct ms_chunk_LEAK_SCAN s = {MS_SCAN_DONE, 0, 65536, 0, 1500000, 2};
        struct ms_chunk_LEAK_BLOCK k1 = {0x20000, MS_LEAK_DEFINITE},
                                   k2 = {0x30400 - 0x20000, MS_LEAK_REACHABLE};
        uint8_t *q = ms_chunk_put_LEAK_SCAN(p.data, &s);
        q = ms_chunk_put_LEAK_BLOCK(q, &k1);
        q = ms_chunk_put_LEAK_BLOCK(q, &k2);
        p.len = (size_t)(q - p.data);
        tb_chunk(&b, MS_CHUNK_LEAK_SCAN, 0, &p, 0);
        /* The first check's kinds, of the four blocks live at 1520: the 4000-byte one still
         * reachable, the 7-byte one definitely lost, the 1000-byte one possibly lost, the
         * 24-byte one still reachable. */
        struct ms_chunk_LEAK_CHECK c = {1, 1520, MS_CHECK_API};
        struct ms_chunk_LEAK_SCAN cs = {MS_SCAN_DONE, 0, 65536, 0, 900000, 4};
        struct ms_chunk_LEAK_BLOCK c1 = {0x10800, MS_LEAK_REACHABLE},
                                   c2 = {0x20000 - 0x10800, MS_LEAK_DEFINITE},
                                   c3 = {0x30000 - 0x20000, MS_LEAK_POSSIBLE},
                                   c4 = {0x30400 - 0x30000, MS_LEAK_REACHABLE};
        q = ms_chunk_put_LEAK_CHECK(p.data, &c);
        q = ms_chunk_put_LEAK_SCAN(q, &cs);
        q = ms_chunk_put_LEAK_BLOCK(q, &c1);
        q = ms_chunk_put_LEAK_BLOCK(q, &c2);
        q = ms_chunk_put_LEAK_BLOCK(q, &c3);
        q = ms_chunk_put_LEAK_BLOCK(q, &c4);
        p.len = (size_t)(q - p.data);
        tb_chunk(&b, MS_CHUNK_LEAK_CHECK, 0, &p, 0);
        /* The check at the peak, of the same four blocks: the 4000-byte one ("buf") points to
         * the 24-byte one and retains both; the 7-byte and the 1000-byte ones point to each
         * other, a cycle no root reaches (definitely and indirectly lost). */
        struct ms_chunk_LEAK_CHECK pc = {3, 1540, MS_CHECK_PEAK};
        struct ms_chunk_LEAK_BLOCK p3 = {0x30000 - 0x20000, MS_LEAK_INDIRECT};
        struct ms_chunk_LEAK_GRAPH g = {3, 1, 1, 1, 2, 1007, 1};
        struct ms_chunk_LEAK_RETAINER r = {0, 4024, 2};
        struct ms_chunk_LEAK_CYCLE y = {1007, 2, 2};
        struct ms_chunk_LEAK_MEMBER m1 = {1}, m2 = {2};
        q = ms_chunk_put_LEAK_CHECK(p.data, &pc);
        q = ms_chunk_put_LEAK_SCAN(q, &cs);
        q = ms_chunk_put_LEAK_BLOCK(q, &c1);
        q = ms_chunk_put_LEAK_BLOCK(q, &c2);
        q = ms_chunk_put_LEAK_BLOCK(q, &p3);
        q = ms_chunk_put_LEAK_BLOCK(q, &c4);
        q = ms_chunk_put_LEAK_GRAPH(q, &g);
        q = ms_chunk_put_LEAK_RETAINER(q, &r);
        q = ms_chunk_put_LEAK_CYCLE(q, &y);
        q = ms_chunk_put_LEAK_MEMBER(q, &m1);
        q = ms_chunk_put_LEAK_MEMBER(q, &m2);
        p.len = (size_t)(q - p.data);
        tb_chunk(&b, MS_CHUNK_LEAK_CHECK, 0, &p, 0);
    }
    return tb_write(&b, argv[1]) == 0 ? 0 : 1;
}
