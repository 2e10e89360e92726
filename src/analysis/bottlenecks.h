/* Bottlenecks (docs/analyses.md): what the analyses found that costs the program time or memory,
 * each with a kind, a severity from documented thresholds, the figures behind it and a concrete
 * suggestion — read from the model's sites and tasks and the patterns, lifetimes and sizes
 * analyses after the replay. */
#ifndef MS_BOTTLENECKS_H
#define MS_BOTTLENECKS_H

#include "heap_model.h"

#include <stddef.h>
#include <stdint.h>

enum ms_bottleneck_kind {
    MS_BN_HOT_LOOP,          /* a site allocating at a high rate, many times */
    MS_BN_TINY,              /* tiny allocations (mean under 64 bytes) in bulk */
    MS_BN_REALLOC_CHURN,     /* many small growth steps by realloc */
    MS_BN_SHORT_LIVED_LARGE, /* large blocks freed within a millisecond, many times */
    MS_BN_UNBOUNDED_GROWTH,  /* live bytes rising until the program stopped allocating */
    MS_BN_TASK_HELD,         /* memory still held by tasks that ended (C API) */
    MS_BN_CROSS_THREAD,      /* blocks freed by another thread than the allocating one */
    MS_BN_SLACK,             /* bytes the allocator's size classes waste */
    MS_BN_KINDS
};

enum ms_severity { MS_SEVERITY_LOW, MS_SEVERITY_MEDIUM, MS_SEVERITY_HIGH };

#define MS_BN_EVIDENCE 4

struct ms_bottleneck {
    enum ms_bottleneck_kind kind;
    enum ms_severity severity;
    size_t site; /* index of its call site, or SIZE_MAX (a task's) */
    size_t task; /* index of its task (ms_annotations_task), or SIZE_MAX */
    /* The figures behind it, by name (docs/analyses.md, "Bottlenecks"). */
    struct ms_bn_evidence {
        const char *name;
        double value;
    } evidence[MS_BN_EVIDENCE];
    int nevidence;
};

struct ms_bottlenecks {
    struct ms_bottleneck *b; /* the most severe first, then by kind, then as found */
    size_t n;
};

/* The bottlenecks of m (after its replay with the analyses: none without them). Returns 0 or
 * MS_ENOMEM. */
int ms_bottlenecks_find(const struct ms_heap_model *m, struct ms_bottlenecks *out);
void ms_bottlenecks_free(struct ms_bottlenecks *b);

const char *ms_bottleneck_name(enum ms_bottleneck_kind k);
const char *ms_bottleneck_suggestion(enum ms_bottleneck_kind k);
const char *ms_severity_name(enum ms_severity s);

#endif
