/* A reference-counted object graph, with the counts mirrored to memscope: ref() and unref()
 * call ms_ref_acquire and ms_ref_release, naming who holds the reference. A document holds its
 * pages and each page holds its document back: when the last outside reference goes, the count
 * never reaches zero and the report shows the cycle, with the pages' stacks.
 *   memscope run -- build/bin/example-refgraph */
#include <memscope.h>
#include <stdio.h>
#include <stdlib.h>

struct obj {
    int refs;
    struct obj *links[4];
    int nlinks;
};

static struct obj *new_obj(void)
{
    return calloc(1, sizeof(struct obj));
}

static void ref(struct obj *o, const void *holder)
{
    o->refs++;
    ms_ref_acquire(o, holder);
}

static void unref(struct obj *o, const void *holder)
{
    ms_ref_release(o, holder);
    if (--o->refs == 0) {
        for (int i = 0; i < o->nlinks; i++)
            unref(o->links[i], o);
        free(o);
    }
}

static void link_to(struct obj *from, struct obj *to)
{
    ref(to, from);
    from->links[from->nlinks++] = to;
}

int main(void)
{
    /* A tree without cycles: freed entirely when its root goes. */
    struct obj *root = new_obj();
    ref(root, NULL);
    for (int i = 0; i < 3; i++) {
        struct obj *child = new_obj();
        ref(child, NULL);
        link_to(root, child);
        unref(child, NULL);
    }
    unref(root, NULL);

    /* A document and two pages that point back at it. */
    struct obj *doc = new_obj();
    ref(doc, NULL);
    for (int i = 0; i < 2; i++) {
        struct obj *page = new_obj();
        ref(page, NULL);
        link_to(doc, page);
        link_to(page, doc);
        unref(page, NULL);
    }
    unref(doc, NULL);
    printf("document refs left: %d\n", doc->refs);
    return 0;
}
/* expect: references.cycles.0.2=references.objects.4.address */
/* expect: references.objects.0.freed=true */
/* expect: references.objects.0.held_at_exit=false */
/* expect: references.objects.4.held_at_exit=true */
/* expect: references.objects.4.references_at_exit=2 */
/* expect: summary.leaked_blocks=3 */
/* expect: api_errors.ref_not_held=0 */
