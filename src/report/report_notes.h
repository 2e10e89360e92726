/* The notes at the end of a report: everything that makes its numbers incomplete or different
 * from what valgrind or heaptrack would say, each with the reason. */
#ifndef MS_REPORT_NOTES_H
#define MS_REPORT_NOTES_H

#include "analysis/trace_analysis.h"

#define MS_MAX_NOTES 16

struct ms_notes {
    int n;
    char text[MS_MAX_NOTES][1200];
};

void ms_report_notes(struct ms_analysis *a, struct ms_notes *out);

#endif
