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

/* Why the report has no leak kinds (memscope run's scan at exit), in one sentence without a
 * final period; NULL when it has them. */
const char *ms_report_no_leak_kinds(struct ms_analysis *a, char *buf, size_t len);

/* What the report's end is, for people: "exit", or "1.20 s" when its time window ends before
 * the trace does (buf: at least 32 bytes). */
const char *ms_report_end_name(const struct ms_analysis *a, char *buf);
/* The option that ended the report's window before the trace's end (--until, --at,
 * --at-alloc). */
const char *ms_report_end_option(const struct ms_analysis *a);

#endif
