/* The reports made from an analysed trace: the text report for people and the JSON document
 * for machines (docs/json-report.md). Both show the same sections and the same notes. */
#ifndef MS_REPORT_H
#define MS_REPORT_H

#include "analysis/hotspots.h"
#include "analysis/trace_analysis.h"

#include <stdio.h>

struct ms_report_options {
    size_t top;                   /* entries per ranking (leaks in JSON are all listed) */
    enum ms_group_by group_by;    /* the hotspots' groups */
    const char *const *alloc_fns; /* more allocation wrappers (--alloc-fn), NULL-terminated */
};

int ms_report_text(FILE *out, struct ms_analysis *a, const struct ms_report_options *o);
int ms_report_json(FILE *out, struct ms_analysis *a, const struct ms_report_options *o);

#endif
