/* Hotspots (docs/analyses.md): the call sites merged by what the user asks — their whole stack,
 * the allocating function (the innermost frame), its source line, or its module — with the
 * figures of the sites summed, and ranked by allocations, bytes allocated, bytes at the peak
 * and allocation rate. */
#ifndef MS_HOTSPOTS_H
#define MS_HOTSPOTS_H

#include "symbolize.h"
#include "trace_analysis.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ms_group_by { MS_GROUP_STACK, MS_GROUP_FUNCTION, MS_GROUP_LINE, MS_GROUP_MODULE };

/* "stack", "function", "line", "module"; parse returns 0, or -1 for another word. */
int ms_group_by_parse(const char *s, enum ms_group_by *out);
const char *ms_group_by_name(enum ms_group_by by);

/* A rate needs this many allocations over at least this long (docs/analyses.md). */
#define MS_RATE_MIN_ALLOCS 16
#define MS_RATE_MIN_NS 10000ull

struct ms_hotspot {
    ms_frame frame; /* the allocating frame of its first site (of its sites by index) */
    /* What the group shares: the allocating function's name without a symbol's offset (by
     * function and by line; the stack's frame's for a stack), or its module's file name. */
    char *name;
    size_t site; /* its site with the most bytes allocated: its stack is the example */
    uint32_t stacks;
    uint64_t allocs, bytes, peak_bytes, live_bytes, live_blocks, temporary;
    /* Allocations per second from the group's first allocation to its last; < 0: not measured
     * (fewer than MS_RATE_MIN_ALLOCS, a span under MS_RATE_MIN_NS, or no patterns analysis). */
    double rate;
};

struct ms_hotspots {
    enum ms_group_by by;
    struct ms_hotspot *g;
    size_t n;
};

/* Whether function (a frame's name: "f", "f(args)" or "f+0xOFF") is an allocation wrapper: its
 * name without arguments or offset matches one of the built-in ones (operator new, xmalloc,
 * g_malloc, Perl_safesysmalloc, strdup...: docs/analyses.md) or of extra (NULL-terminated;
 * massif's --alloc-fn), where '*' stands for any characters. */
bool ms_is_alloc_fn(const char *function, const char *const *extra);

/* The groups of a's sites (those that allocated) by by; a group's frame is the innermost one
 * that is not an allocation wrapper (ms_is_alloc_fn with extra). Returns 0 or MS_ENOMEM. */
int ms_hotspots_build(struct ms_analysis *a, enum ms_group_by by, const char *const *extra,
                      struct ms_hotspots *out);
void ms_hotspots_free(struct ms_hotspots *h);

enum ms_hotspot_key { MS_HOT_ALLOCS, MS_HOT_BYTES, MS_HOT_PEAK, MS_HOT_RATE };
/* The indices of the top groups (0: all) with a non-zero value of key, largest first (ties by
 * the example's stack id); *out is the caller's to free. Returns how many (0 and *out NULL when
 * out of memory). */
size_t ms_hotspots_rank(const struct ms_hotspots *h, const struct ms_heap_model *m,
                        enum ms_hotspot_key key, size_t top, size_t **out);

#endif
