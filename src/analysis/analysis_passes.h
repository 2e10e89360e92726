/* The list of the analyses every full replay runs (analysis_pass.h). */
#ifndef MS_ANALYSIS_PASSES_H
#define MS_ANALYSIS_PASSES_H

#include "trace_reader.h"

struct ms_heap_model;

/* Adds every analysis of the list (analysis_passes.c) to the full model m, which is to replay
 * trace. Returns 0 or a negative MS_E* code. */
int ms_analysis_passes_add(struct ms_heap_model *m, const ms_trace *trace);

#endif
