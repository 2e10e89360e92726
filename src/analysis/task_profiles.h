/* Task profiles (docs/analyses.md): for each task of the C API (ms_task_begin), the live bytes
 * of the blocks allocated while it was current over time — MS_TASK_CURVE buckets of equal width
 * from its first allocation, doubling as it goes on, so that the curve spans the task's blocks'
 * whole life in bounded memory — and how long those blocks lived (the lifetimes' buckets by
 * time, lifetimes.h). With the task table's figures (annotations.h: allocations, peak, CPU,
 * children) this is the profile of each task. */
#ifndef MS_TASK_PROFILES_H
#define MS_TASK_PROFILES_H

#include "analysis_pass.h"
#include "lifetimes.h"

#include <stdint.h>

extern const struct ms_analysis_pass ms_task_profiles_pass;

#define MS_TASK_CURVE 32

struct ms_task_profile {
    uint64_t ended;       /* blocks freed, reallocated or lost */
    uint64_t live_at_end; /* blocks still live at the end */
    uint64_t by_time[MS_LIFETIME_TIME_BUCKETS];
    /* The curve: bucket k spans [origin_ns + k * width_ns, + width_ns) since the process's
     * start, with the most live bytes in it; n buckets in use (after the finish). */
    uint64_t origin_ns, width_ns;
    uint32_t n;
    uint64_t live_max[MS_TASK_CURVE];
};

/* The profile of the task with this id (the C API's), or NULL: no block of it was seen, or the
 * analysis did not run. */
const struct ms_task_profile *ms_task_profile_of(const struct ms_heap_model *m, uint64_t task);

#endif
