/* memcheck's leak kinds from the conservative scan (src/analysis/leak_scan.c), on memory made up
 * here: the nine pointer chains of memcheck's manual, lists, cycles, cliques that join, empty
 * blocks, misaligned and unreadable words, a bad page, blocks larger than the memory there is. */
#include "analysis/leak_scan.h"
#include "analysis/retainers.h"
#include "ms_test.h"

#include <stdint.h>

/* The made-up process: a root area and a heap area of 8-byte words at fixed addresses. */
#define ROOT 0x10000u
#define HEAP 0x100000u
#define WORDS 4096
static uint64_t root[WORDS], heap[WORDS];
static uint64_t unreadable_lo, unreadable_hi;
static const struct ms_leak_region *readable; /* NULL: read anything */
static size_t nreadable;
static const struct ms_leak_region *files, *code; /* NULL: no multipleinheritance */

/* A large root area (BIG, BIG_LEN bytes) of zeros but for the words planted in it: for the roots
 * that helper threads search. */
#define BIG 0x40000000u
#define BIG_LEN (48u << 20)
struct plant {
    uint64_t at, value;
};
static struct plant planted[64];
static size_t nplanted;

static int read_mem(void *ctx, uint64_t addr, void *buf, size_t len)
{
    (void)ctx;
    if (addr >= BIG && addr < BIG + BIG_LEN) {
        if (addr + len > BIG + BIG_LEN || (addr < unreadable_hi && addr + len > unreadable_lo))
            return -1;
        memset(buf, 0, len);
        for (size_t i = 0; i < nplanted; i++)
            if (planted[i].at >= addr && planted[i].at + 8 <= addr + len)
                memcpy((uint8_t *)buf + (planted[i].at - addr), &planted[i].value, 8);
        return 0;
    }
    if (addr < unreadable_hi && addr + len > unreadable_lo)
        return -1;
    const uint64_t *area = addr >= HEAP ? heap : root;
    uint64_t base = addr >= HEAP ? HEAP : ROOT;
    if (addr < base || addr + len > base + sizeof root)
        return -1;
    memcpy(buf, (const uint8_t *)area + (addr - base), len);
    return 0;
}

static struct ms_leak_block blocks[64];
static size_t nblocks;

static void reset(void)
{
    memset(root, 0, sizeof root);
    memset(heap, 0, sizeof heap);
    nblocks = 0;
    unreadable_lo = unreadable_hi = 0;
    readable = NULL;
    nreadable = 0;
    files = code = NULL;
}

/* A block of size bytes at heap word w (blocks are added in address order). */
static uint64_t block(size_t w, uint64_t size)
{
    blocks[nblocks++] = (struct ms_leak_block){HEAP + 8 * w, size};
    return HEAP + 8 * w;
}

/* Stores pointer v in the block starting at address at, word i. */
static void put(uint64_t at, size_t i, uint64_t v)
{
    heap[(at - HEAP) / 8 + i] = v;
}

static uint8_t kind[64];
static size_t leader[64];
static struct ms_leak_totals tot;

static int scan(void)
{
    struct ms_leak_region r = {ROOT, ROOT + sizeof root};
    struct ms_leak_memory mem = {read_mem, NULL,          readable,     nreadable, files,
                                 code,     files ? 1 : 0, code ? 1 : 0, NULL,      NULL};
    return ms_leak_scan(blocks, nblocks, &r, 1, &mem, kind, leader, &tot, NULL);
}

/* The table of memcheck's manual ("Memory leak detection"), RRR a root, -> a start pointer,
 * -?-> an interior one; each case with its blocks AAA and BBB. */
static void manual_cases(void)
{
    enum {
        DR = MS_LEAK_REACHABLE,
        PL = MS_LEAK_POSSIBLE,
        DL = MS_LEAK_DEFINITE,
        IL = MS_LEAK_INDIRECT
    };
    struct {
        int root_to_a, root_to_b, a_to_b; /* 0 none, 1 start, 2 interior */
        int want_a, want_b;
    } c[] = {
        {0, 1, 0, DL, DR}, /* (1) RRR -> BBB (AAA alone) */
        {1, 0, 1, DR, DR}, /* (2) RRR -> AAA -> BBB */
        {0, 0, 0, DL, DL}, /* (3) nothing */
        {0, 0, 1, DL, IL}, /* (4) AAA -> BBB */
        {0, 2, 0, DL, PL}, /* (5) RRR -?-> BBB */
        {1, 0, 2, DR, PL}, /* (6) RRR -> AAA -?-> BBB */
        {2, 0, 1, PL, PL}, /* (7) RRR -?-> AAA -> BBB */
        {2, 0, 2, PL, PL}, /* (8) RRR -?-> AAA -?-> BBB */
        {0, 0, 2, DL, IL}, /* (9) AAA -?-> BBB */
    };
    for (size_t k = 0; k < sizeof c / sizeof *c; k++) {
        reset();
        uint64_t a = block(0, 32), b = block(8, 48);
        if (c[k].root_to_a)
            root[5] = a + (c[k].root_to_a == 2 ? 8 : 0);
        if (c[k].root_to_b)
            root[9] = b + (c[k].root_to_b == 2 ? 16 : 0);
        if (c[k].a_to_b)
            put(a, 1, b + (c[k].a_to_b == 2 ? 8 : 0));
        ASSERT_EQ(scan(), 0);
        if (kind[0] != c[k].want_a || kind[1] != c[k].want_b)
            fprintf(stderr, "case %zu\n", k + 1);
        ASSERT_EQ(kind[0], c[k].want_a);
        ASSERT_EQ(kind[1], c[k].want_b);
    }
}

/* A lost list of five: one definite, four indirect; a lost cycle of three: one definite (the
 * first by address), two indirect; totals by kind. */
static void lists_and_cycles(void)
{
    reset();
    uint64_t l[5], c[3];
    for (int i = 0; i < 5; i++)
        l[i] = block(10 * (size_t)i, 24);
    for (int i = 0; i < 3; i++)
        c[i] = block(100 + 10 * (size_t)i, 40);
    for (int i = 0; i < 4; i++)
        put(l[i], 0, l[i + 1]);
    for (int i = 0; i < 3; i++)
        put(c[i], 2, c[(i + 1) % 3]);
    uint64_t g = block(200, 16); /* a global's block */
    root[0] = g;
    ASSERT_EQ(scan(), 0);
    ASSERT_EQ(kind[0], MS_LEAK_DEFINITE);
    for (int i = 1; i < 5; i++) {
        ASSERT_EQ(kind[i], MS_LEAK_INDIRECT);
        ASSERT_EQ(leader[i], 0);
    }
    ASSERT_EQ(kind[5], MS_LEAK_DEFINITE);
    ASSERT_EQ(kind[6], MS_LEAK_INDIRECT);
    ASSERT_EQ(kind[7], MS_LEAK_INDIRECT);
    ASSERT_EQ(leader[7], 5);
    ASSERT_EQ(kind[8], MS_LEAK_REACHABLE);
    ASSERT_EQ(leader[8], SIZE_MAX);
    ASSERT_EQ(tot.blocks[MS_LEAK_DEFINITE], 2);
    ASSERT_EQ(tot.bytes[MS_LEAK_DEFINITE], 24 + 40);
    ASSERT_EQ(tot.blocks[MS_LEAK_INDIRECT], 6);
    ASSERT_EQ(tot.bytes[MS_LEAK_INDIRECT], 4 * 24 + 2 * 40);
    ASSERT_EQ(tot.bytes[MS_LEAK_REACHABLE], 16);
    ASSERT_EQ(tot.blocks[MS_LEAK_POSSIBLE], 0);
}

/* A later unreached block that points to an earlier one takes its clique: P <- Q, P -> R. */
static void cliques_join(void)
{
    reset();
    uint64_t p = block(0, 16), r = block(10, 16), q = block(20, 16);
    put(p, 0, r);
    put(q, 1, p);
    ASSERT_EQ(scan(), 0);
    ASSERT_EQ(kind[2], MS_LEAK_DEFINITE); /* Q */
    ASSERT_EQ(kind[0], MS_LEAK_INDIRECT); /* P */
    ASSERT_EQ(kind[1], MS_LEAK_INDIRECT); /* R */
    ASSERT_EQ(leader[0], 2);
    ASSERT_EQ(leader[1], 2);
    ASSERT_EQ(leader[2], 2);
    (void)q;
}

/* A possibly lost block later reached by a start pointer becomes reachable, and so do the
 * blocks it points to; an empty block is pointed to by its start; a pointer at an odd offset
 * or one past a block's end is none; unreadable memory holds none. */
static void edges(void)
{
    reset();
    uint64_t a = block(0, 32), b = block(10, 32), e = block(20, 0), f = block(30, 16);
    uint64_t g = block(40, 16), h = block(50, 16);
    root[0] = a + 4;  /* interior: a possibly lost ... */
    root[1] = b;      /* b reachable, and b -> a makes a reachable */
    put(b, 0, a);     /* */
    put(a, 3, f);     /* f reachable through a once a is */
    root[2] = e;      /* the empty block */
    root[3] = g + 16; /* one past g's end: no pointer to g */
    /* a pointer to h at a misaligned address */
    memcpy((uint8_t *)root + 8 * 4 + 4, &h, 8);
    ASSERT_EQ(scan(), 0);
    ASSERT_EQ(kind[0], MS_LEAK_REACHABLE);
    ASSERT_EQ(kind[1], MS_LEAK_REACHABLE);
    ASSERT_EQ(kind[2], MS_LEAK_REACHABLE);
    ASSERT_EQ(kind[3], MS_LEAK_REACHABLE);
    ASSERT_EQ(kind[4], MS_LEAK_DEFINITE);
    ASSERT_EQ(kind[5], MS_LEAK_DEFINITE);

    /* The root page holding the only pointer to f cannot be read. */
    reset();
    f = block(0, 16);
    root[600] = f;
    unreadable_lo = ROOT + 8 * 512;
    unreadable_hi = ROOT + 8 * 1024;
    ASSERT_EQ(scan(), 0);
    ASSERT_EQ(kind[0], MS_LEAK_DEFINITE);
    ASSERT_EQ(tot.unreadable_bytes, 8 * 512);
    ASSERT_STREQ(ms_leak_kind_name(MS_LEAK_POSSIBLE), "possibly_lost");

    /* No blocks at all. */
    reset();
    ASSERT_EQ(scan(), 0);
    ASSERT_EQ(tot.blocks[MS_LEAK_DEFINITE], 0);
}

/* memcheck's heuristics: interior pointers they explain count as start pointers, and the
 * blocks reached so are counted apart; one that does not fit stays possibly lost. */
static void heuristics(void)
{
    reset();
    uint64_t str = block(0, 24 + 15 + 1);  /* length 5, capacity 15, refcount, 16 chars */
    uint64_t len = block(10, 8 + 40);      /* 40, then 40 bytes */
    uint64_t arr = block(20, 8 + 3 * 16);  /* 3 elements of 16 bytes */
    uint64_t odd = block(30, 8 + 48);      /* 5: does not divide 48 */
    uint64_t both = block(40, 8 + 2 * 8);  /* 2 elements, and a start pointer too */
    uint64_t bad = block(50, 24 + 15 + 1); /* length 20 > capacity 15 */
    put(str, 0, 5);
    put(str, 1, 15);
    put(len, 0, 40);
    put(arr, 0, 3);
    put(odd, 0, 5);
    put(both, 0, 2);
    put(bad, 0, 20);
    put(bad, 1, 15);
    root[0] = str + 24;
    root[1] = len + 8;
    root[2] = arr + 8;
    root[3] = odd + 8;
    root[4] = both + 8;
    root[5] = both;
    root[6] = bad + 24;
    ASSERT_EQ(scan(), 0);
    for (int i = 0; i < 5; i++)
        if (i != 3)
            ASSERT_EQ(kind[i] & MS_LEAK_KIND_MASK, MS_LEAK_REACHABLE);
    ASSERT_EQ(kind[3], MS_LEAK_POSSIBLE);
    ASSERT_EQ(kind[5], MS_LEAK_POSSIBLE);
    ASSERT_EQ(tot.heuristic_blocks[MS_LEAK_STDSTRING], 1);
    ASSERT_EQ(tot.heuristic_bytes[MS_LEAK_STDSTRING], 40);
    /* a length64 block is also a newarray one: length64 is tried first, as memcheck does */
    ASSERT_EQ(tot.heuristic_blocks[MS_LEAK_LENGTH64], 1);
    ASSERT_EQ(tot.heuristic_blocks[MS_LEAK_NEWARRAY], 1); /* arr; both has a start pointer */
    ASSERT_EQ(tot.heuristic_bytes[MS_LEAK_NEWARRAY], 56);
    ASSERT_EQ(tot.blocks[MS_LEAK_REACHABLE], 4);
    ASSERT_EQ(kind[0] >> MS_LEAK_HEURISTIC_SHIFT, 1 + MS_LEAK_STDSTRING);
    ASSERT_EQ(kind[2] >> MS_LEAK_HEURISTIC_SHIFT, 1 + MS_LEAK_NEWARRAY);
    ASSERT_EQ(kind[4], MS_LEAK_REACHABLE); /* its start pointer wins */
}

/* multipleinheritance: a pointer to the second base of an object (its second vtable pointer)
 * keeps it reachable when both that word and the object's first look like vtable addresses:
 * in a mapped file, their first two non-null words addresses of code. */
static void multiple_inheritance(void)
{
    static const struct ms_leak_region vtables = {ROOT + 8 * 2000, ROOT + 8 * 2100},
                                       text = {0x500000, 0x600000};
    for (int variant = 0; variant < 4; variant++) {
        reset();
        files = &vtables;
        code = &text;
        uint64_t vt1 = ROOT + 8 * 2000, vt2 = ROOT + 8 * 2010, vt3 = ROOT + 8 * 2020;
        root[2000] = 0x500010;
        root[2001] = 0x500020;
        root[2010] = 0; /* a null word is passed over */
        root[2011] = 0x500030;
        root[2012] = 0x500040;
        root[2020] = 0x500050;
        root[2021] = 0x700000; /* not code */
        uint64_t obj = block(0, 32);
        put(obj, 0, vt1);
        put(obj, 2, variant == 1 ? vt3 : vt2);
        if (variant == 2)
            put(obj, 0, vt1 + 4); /* misaligned */
        root[0] = obj + 16;
        if (variant == 3)
            files = NULL; /* the heuristic is off */
        ASSERT_EQ(scan(), 0);
        if (variant == 0) {
            ASSERT_EQ(kind[0] & MS_LEAK_KIND_MASK, MS_LEAK_REACHABLE);
            ASSERT_EQ(kind[0] >> MS_LEAK_HEURISTIC_SHIFT, 1 + MS_LEAK_MULTIPLEINHERITANCE);
            ASSERT_EQ(tot.heuristic_blocks[MS_LEAK_MULTIPLEINHERITANCE], 1);
        } else {
            ASSERT_EQ(kind[0], MS_LEAK_POSSIBLE);
        }
    }
    ASSERT_STREQ(ms_leak_heuristic_name(MS_LEAK_MULTIPLEINHERITANCE), "multipleinheritance");
}

/* Large roots searched by helper threads give what the scan's own thread gives: the same kinds,
 * heuristics and unreadable bytes, pointers followed in the roots' order. */
static void helper_threads(void)
{
    reset();
    static const struct ms_leak_region mapped[] = {{ROOT, ROOT + sizeof root},
                                                   {HEAP, HEAP + sizeof heap},
                                                   {BIG, BIG + BIG_LEN / 2},
                                                   {BIG + BIG_LEN / 2 + 4096, BIG + BIG_LEN}};
    uint64_t a = block(0, 16), b = block(10, 16), c = block(20, 40), d = block(30, 24 + 7 + 1);
    uint64_t e = block(40, 16), f = block(50, 16);
    put(d, 0, 3);
    put(d, 1, 7);
    nplanted = 0;
    planted[nplanted++] = (struct plant){BIG + 8, a};
    planted[nplanted++] = (struct plant){BIG + (20u << 20), b + 4};       /* interior */
    planted[nplanted++] = (struct plant){BIG + (30u << 20) + 64, d + 24}; /* stdstring */
    planted[nplanted++] = (struct plant){BIG + (40u << 20), b}; /* b reachable after all */
    planted[nplanted++] = (struct plant){BIG + BIG_LEN - 8, e};
    put(a, 1, c);
    put(f, 0, e); /* f lost, e reachable */
    unreadable_lo = BIG + (10u << 20);
    unreadable_hi = unreadable_lo + 8;
    struct ms_leak_region roots[] = {{BIG, BIG + BIG_LEN}, {ROOT, ROOT + sizeof root}};
    uint8_t k1[8], k2[8];
    struct ms_leak_totals t1, t2;
    struct ms_leak_memory one = {read_mem, NULL, mapped, 4, NULL, NULL, 0, 0, NULL, NULL};
    struct ms_leak_memory many = {read_mem, NULL, mapped, 4, NULL, NULL, 0, 0, read_mem, NULL};
    struct ms_leak_graph g1, g2;
    ASSERT_EQ(ms_leak_scan(blocks, nblocks, roots, 2, &one, k1, NULL, &t1, &g1), 0);
    ASSERT_EQ(ms_leak_scan(blocks, nblocks, roots, 2, &many, k2, NULL, &t2, &g2), 0);
    /* the same graph, edge for edge, whichever thread found the roots' pointers */
    ASSERT_EQ(g1.n, g2.n);
    ASSERT_EQ(memcmp(g1.first, g2.first, (g1.n + 1) * sizeof *g1.first), 0);
    ASSERT_EQ(memcmp(g1.to, g2.to, g1.first[g1.n] * sizeof *g1.to), 0);
    ASSERT_EQ(g1.first[1] - g1.first[0], 5); /* a, b inside, d inside, b, e */
    ms_leak_graph_free(&g1);
    ms_leak_graph_free(&g2);
    ASSERT_EQ(memcmp(k1, k2, nblocks), 0);
    ASSERT_EQ(memcmp(&t1, &t2, sizeof t1), 0);
    ASSERT_EQ(k2[0], MS_LEAK_REACHABLE);
    ASSERT_EQ(k2[1], MS_LEAK_REACHABLE);
    ASSERT_EQ(k2[2], MS_LEAK_REACHABLE);
    ASSERT_EQ(k2[3], MS_LEAK_REACHABLE | (1 + MS_LEAK_STDSTRING) << MS_LEAK_HEURISTIC_SHIFT);
    ASSERT_EQ(k2[4], MS_LEAK_REACHABLE);
    ASSERT_EQ(k2[5], MS_LEAK_DEFINITE);
    /* the page that fails, and the 4 KiB hole between the two mappings */
    ASSERT_EQ(t2.unreadable_bytes, 4096 + 4096);
    nplanted = 0;
}

/* One page that cannot be read costs only itself: the pointers on the pages around it (read in
 * the same piece) are found. */
static void bad_page(void)
{
    reset();
    uint64_t a = block(0, 16), b = block(10, 16), c = block(20, 16);
    root[100] = a;  /* page 0 */
    root[600] = b;  /* page 1, unreadable */
    root[1100] = c; /* page 2 */
    unreadable_lo = ROOT + 4096 + 8;
    unreadable_hi = ROOT + 4096 + 16;
    ASSERT_EQ(scan(), 0);
    ASSERT_EQ(kind[0], MS_LEAK_REACHABLE);
    ASSERT_EQ(kind[1], MS_LEAK_DEFINITE);
    ASSERT_EQ(kind[2], MS_LEAK_REACHABLE);
    ASSERT_EQ(tot.unreadable_bytes, 4096);
}

/* A block whose size runs far past the memory there is (to the end of the address space, or
 * beyond: it would wrap) is scanned where it is readable, at once. */
static void huge_blocks(void)
{
    static const struct ms_leak_region mapped[] = {{ROOT, ROOT + sizeof root},
                                                   {HEAP, HEAP + sizeof heap}};
    for (int wrap = 0; wrap < 2; wrap++) {
        reset();
        readable = mapped;
        nreadable = 2;
        uint64_t a = block(0, 16), b = block(10, 16);
        uint64_t h = block(20, wrap ? UINT64_MAX : (uint64_t)1 << 60);
        root[0] = h;
        put(h, 3, a); /* inside the heap area: found */
        ASSERT_EQ(scan(), 0);
        ASSERT_EQ(kind[0], MS_LEAK_REACHABLE);
        ASSERT_EQ(kind[1], MS_LEAK_DEFINITE);
        ASSERT_EQ(kind[2], MS_LEAK_REACHABLE);
        uint64_t end = wrap ? UINT64_MAX : h + ((uint64_t)1 << 60);
        ASSERT_EQ(tot.unreadable_bytes, end - (HEAP + sizeof heap));
        (void)b;
    }
}

/* The pointers found, as a graph for who-keeps-what (retainers.h): a diamond from the roots
 * (through a start and an interior pointer), a lost cycle, a lost block alone; a pointer right
 * after itself is one edge. */
static void graph(void)
{
    reset();
    uint64_t a = block(0, 32), b = block(10, 16), c = block(20, 16), d = block(30, 16);
    uint64_t e = block(40, 16), f = block(50, 16);
    block(60, 16); /* g: nothing points to it */
    root[0] = a;
    put(a, 0, b);
    put(a, 1, c);
    put(a, 2, c); /* again: the same edge */
    put(a, 3, b);
    put(b, 0, d);
    put(c, 1, d + 8); /* inside */
    put(e, 0, f);
    put(f, 1, e);
    struct ms_leak_region r = {ROOT, ROOT + sizeof root};
    struct ms_leak_memory mem = {read_mem, NULL, NULL, 0, NULL, NULL, 0, 0, NULL, NULL};
    struct ms_leak_graph g;
    ASSERT_EQ(ms_leak_scan(blocks, nblocks, &r, 1, &mem, kind, leader, &tot, &g), 0);
    ASSERT_EQ(g.n, 8);
    static const uint32_t want_first[] = {0, 1, 4, 5, 6, 6, 7, 8, 8};
    static const uint32_t want_to[] = {1, 2, 3, 2, 4, 4, 6, 5};
    for (size_t k = 0; k <= g.n; k++)
        ASSERT_EQ(g.first[k], want_first[k]);
    for (size_t k = 0; k < 8; k++)
        ASSERT_EQ(g.to[k], want_to[k]);
    ASSERT_EQ(g.size[0], 0);
    ASSERT_EQ(g.size[1], 32);
    /* what retainers.c makes of it: a keeps b, c and d alive; e and f are a lost cycle */
    struct ms_graph mg = {g.n, g.size, g.first, g.to};
    uint32_t idom[8], cycle[8];
    uint64_t bytes[8], nblk[8];
    size_t ncycles = 0;
    ASSERT_EQ(ms_dominators(&mg, idom, bytes, nblk), 0);
    ASSERT_EQ(idom[4], 1);
    ASSERT_EQ(bytes[1], 32 + 3 * 16);
    ASSERT_EQ(nblk[1], 4);
    ASSERT_EQ(idom[5], MS_NO_NODE);
    ASSERT_EQ(ms_unreachable_cycles(&mg, idom, cycle, &ncycles), 0);
    ASSERT_EQ(ncycles, 1);
    ASSERT_EQ(cycle[5], 0);
    ASSERT_EQ(cycle[6], 0);
    ASSERT_EQ(cycle[7], MS_NO_NODE);
    ASSERT_EQ(kind[4], MS_LEAK_DEFINITE); /* e leads the cycle's clique */
    ms_leak_graph_free(&g);
}

MS_TEST_MAIN(TEST(graph), TEST(manual_cases), TEST(lists_and_cycles), TEST(cliques_join),
             TEST(edges), TEST(heuristics), TEST(multiple_inheritance), TEST(helper_threads),
             TEST(bad_page), TEST(huge_blocks))
