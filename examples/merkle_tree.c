/* A Merkle tree over 64 data blocks: built inside the task "build" with one scope per level,
 * checked inside the task "verify" (which allocates nothing that outlives it), then freed. The
 * nodes are named, so the report lists them by type, and the scopes say what each level kept.
 *   memscope run -- build/bin/example-merkle-tree */
#include <memscope.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LEAVES 64

struct merkle_node {
    uint64_t hash;
    struct merkle_node *left, *right;
};

static uint64_t fnv(const void *p, size_t n, uint64_t h)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 1099511628211ull;
    return h;
}

static struct merkle_node *node(struct merkle_node *l, struct merkle_node *r, uint64_t hash)
{
    struct merkle_node *n = malloc(sizeof *n);
    MS_TRACK_AS(n, struct merkle_node);
    n->left = l;
    n->right = r;
    n->hash = hash;
    return n;
}

static uint64_t check(const struct merkle_node *n)
{
    if (!n->left)
        return n->hash;
    uint64_t pair[2] = {check(n->left), check(n->right)};
    return fnv(pair, sizeof pair, 14695981039346656037ull);
}

static void release(struct merkle_node *n)
{
    if (n->left) {
        release(n->left);
        release(n->right);
    }
    free(n);
}

int main(void)
{
    ms_task_id build = ms_task_begin("build");
    struct merkle_node **level = malloc(LEAVES * sizeof *level);
    for (int i = 0; i < LEAVES; i++) {
        char data[32];
        int len = snprintf(data, sizeof data, "block %d", i);
        level[i] = node(NULL, NULL, fnv(data, (size_t)len, 14695981039346656037ull));
    }
    for (int n = LEAVES; n > 1; n /= 2) {
        MS_SCOPE("level");
        for (int i = 0; i < n / 2; i++) {
            uint64_t pair[2] = {level[2 * i]->hash, level[2 * i + 1]->hash};
            level[i] = node(level[2 * i], level[2 * i + 1],
                            fnv(pair, sizeof pair, 14695981039346656037ull));
        }
    }
    struct merkle_node *root = level[0];
    free(level);
    ms_task_end(build);

    ms_task_id verify = ms_task_begin("verify");
    int ok = check(root) == root->hash;
    ms_task_end(verify);
    printf("root %016llx %s\n", (unsigned long long)root->hash, ok ? "verified" : "BAD");
    release(root);
    return ok ? 0 : 1;
}
/* expect: tasks.0.name=build */
/* expect: tasks.0.allocs=128 */
/* expect: tasks.0.bytes_allocated=3560 */
/* expect: tasks.0.peak_bytes=3560 */
/* expect: tasks.0.live_bytes=0 */
/* expect: tasks.1.allocs=0 */
/* expect: scopes.0.entries=6 */
/* expect: scopes.0.allocs=63 */
/* expect: scopes.0.outlived_blocks=63 */
/* expect: variables.0.type=struct merkle_node */
/* expect: summary.leaked_blocks=0 */
