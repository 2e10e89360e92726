/*
 * leak_kinds.cpp - one block or chain of every leak kind valgrind's memcheck tells apart, and
 * one block reached only through each of its default heuristics.
 *
 * Pattern (each allocation line carries its marker):
 *   - g_kept = malloc(48): still reachable                              (LEAK: reachable48)
 *   - a malloc(40) whose pointer is dropped: definitely lost            (LEAK: lost40)
 *   - a list of 3 nodes whose head is dropped: the head definitely lost, the rest indirectly
 *                                                                      (LEAK: list_head, list_node)
 *   - a cycle of 2 blocks, dropped: one definitely lost, one indirectly (LEAK: cycle)
 *   - g_inside points 40 bytes into a malloc(96) (first word 0): possibly lost
 *                                                                      (LEAK: interior96)
 *   - g_length points 8 bytes into a block whose first word is the size of the rest: still
 *     reachable via length64                                           (LEAK: length64)
 *   - g_array = new Counted[3] (a class with a destructor: new[] stores the count first, and
 *     returns the block plus 8): still reachable via newarray         (LEAK: newarray)
 *   - g_second = new Both (a class with two polymorphic bases) seen as its second base: a
 *     pointer 8 bytes in, at that base's vtable pointer: still reachable via
 *     multipleinheritance                                              (LEAK: multiple)
 *   - g_text = new std::string(40, 't'), a copy-on-write string of the old ABI (this file is
 *     built with _GLIBCXX_USE_CXX11_ABI=0): the string object still reachable, the block of its
 *     characters, pointed to 24 bytes in, after the length, capacity and reference count,
 *     still reachable via stdstring                                    (LEAK: stdstring)
 *   - one line on stdout.
 * tests/integration/oracle.py compares every kind, each marker's, and the heuristics' totals
 * with a live valgrind run.
 */
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

struct Node {
    Node *next;
    long value[3];
};

struct Counted {
    long v = 7;
    ~Counted()
    {
        v = 0;
    }
};

struct First {
    virtual ~First() {}
    virtual long f()
    {
        return 1;
    }
    long a = 1;
};

struct Second {
    virtual ~Second() {}
    virtual long g()
    {
        return 2;
    }
    long b = 2;
};

struct Both : First, Second {
    long f() override
    {
        return 3;
    }
    long g() override
    {
        return 4;
    }
};

static void *g_kept;
static char *g_inside;
static char *g_length;
static Counted *g_array;
static Second *g_second;
static std::string *g_text;

static void __attribute__((noinline)) lose_block(void)
{
    void *p = malloc(40); /* LEAK: lost40 */
    memset(p, 1, 40);
}

static Node *__attribute__((noinline)) node(Node *next)
{
    Node *n = (Node *)calloc(1, sizeof *n); /* LEAK: list_node */
    n->next = next;
    return n;
}

static void __attribute__((noinline)) lose_list(void)
{
    Node *head = (Node *)calloc(1, sizeof *head); /* LEAK: list_head */
    head->next = node(node(nullptr));
}

static void __attribute__((noinline)) lose_cycle(void)
{
    Node *a = (Node *)calloc(1, sizeof(Node)); /* LEAK: cycle */
    Node *b = (Node *)calloc(1, sizeof(Node)); /* LEAK: cycle */
    a->next = b;
    b->next = a;
}

static void __attribute__((noinline)) keep_interior(void)
{
    char *p = (char *)calloc(1, 96); /* LEAK: interior96 */
    g_inside = p + 40;
}

static void __attribute__((noinline)) keep_length64(void)
{
    char *p = (char *)malloc(8 + 56); /* LEAK: length64 */
    unsigned long rest = 56;
    memcpy(p, &rest, sizeof rest);
    memset(p + 8, 'l', 56);
    g_length = p + 8;
}

int main(void)
{
    g_kept = malloc(48); /* LEAK: reachable48 */
    memset(g_kept, 2, 48);
    lose_block();
    lose_list();
    lose_cycle();
    keep_interior();
    keep_length64();
    g_array = new Counted[3];          /* LEAK: newarray */
    g_second = new Both;               /* LEAK: multiple */
    g_text = new std::string(40, 't'); /* LEAK: stdstring */
    printf("leak_kinds: %ld %ld %zu\n", g_array[1].v, g_second->g(), g_text->size());
    return 0;
}
