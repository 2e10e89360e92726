/* The analyses every full replay runs (analysis_pass.h): adding one is its file and a line
 * here. */
#include "analysis_passes.h"

#include "analysis_pass.h"

#include "heap_model.h"
#include "lifetimes.h"
#include "patterns.h"
#include "sizes.h"
#include "task_profiles.h"
#include "timeline.h"

static const struct ms_analysis_pass *const passes[] = {
    &ms_lifetimes_pass,     &ms_patterns_pass, &ms_sizes_pass,
    &ms_task_profiles_pass, &ms_timeline_pass,
};

int ms_analysis_passes_add(struct ms_heap_model *m, const ms_trace *trace)
{
    for (size_t i = 0; i < sizeof passes / sizeof *passes; i++) {
        int err = ms_heap_model_add_pass(m, passes[i], trace);
        if (err)
            return err;
    }
    return 0;
}
