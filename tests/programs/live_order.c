/*
 * live_order.c - programs that the summary `memscope run` replays while they run must not get
 * wrong (tests/integration/live_summary.py compares the summary with the report).
 *
 * usage: live_order tree | rewrite TRACE truncate|overwrite
 *   tree: the main thread builds a binary tree of 1023 nodes on deep, distinct stacks (its
 *   buffer, holding the stack nodes, stays unwritten), four workers allocate once on stacks
 *   that reuse those nodes and exit (their chunks come first), then the tree is freed.
 *   rewrite: 80,000 short-lived blocks and 1,000 kept ones, then the program truncates its own
 *   trace, or overwrites its first 64 bytes, and frees the kept blocks: the summary must not
 *   describe a trace that `memscope report` cannot read.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct node {
    struct node *l, *r;
    char *name;
};

__attribute__((noinline)) static struct node *build(int depth)
{
    if (!depth)
        return NULL;
    struct node *n = malloc(sizeof *n);
    n->name = strdup("x");
    n->l = build(depth - 1);
    n->r = build(depth - 1);
    return n;
}

static void drop(struct node *n)
{
    if (!n)
        return;
    drop(n->l);
    drop(n->r);
    free(n->name);
    free(n);
}

static void *worker(void *arg)
{
    char *b = malloc(1000);
    memset(b, 1, 1000);
    free(b);
    return arg;
}

static int tree(void)
{
    struct node *t = build(10);
    pthread_t w[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&w[i], NULL, worker, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join(w[i], NULL);
    drop(t);
    return 0;
}

static volatile long sink;

static void churn(int n)
{
    for (int i = 0; i < n; i++) {
        void *p = malloc(24);
        sink += (long)p;
        free(p);
    }
}

static int rewrite(const char *trace, const char *how)
{
    void *keep[1000];
    churn(40000);
    for (int i = 0; i < 1000; i++)
        keep[i] = malloc(100);
    churn(40000);
    usleep(100000); /* time for the live replay to read what is written */
    int fd = open(trace, O_WRONLY | (!strcmp(how, "truncate") ? O_TRUNC : 0));
    if (fd < 0)
        return 1;
    if (!strcmp(how, "overwrite")) {
        char junk[64];
        memset(junk, 'x', sizeof junk);
        if (pwrite(fd, junk, sizeof junk, 0) != (ssize_t)sizeof junk)
            return 1;
    }
    close(fd);
    for (int i = 0; i < 1000; i++)
        free(keep[i]);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "tree"))
        return tree();
    if (argc == 4 && !strcmp(argv[1], "rewrite"))
        return rewrite(argv[2], argv[3]);
    fprintf(stderr, "usage: live_order tree | rewrite TRACE truncate|overwrite\n");
    return 2;
}
