/* `memscope report TRACE [--format text|json] [--top N]`. */
#include "analysis/trace_analysis.h"
#include "cli.h"
#include "common/options.h"
#include "report/report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ms_cmd_report(int argc, char **argv)
{
    const char *path = NULL, *format = "text";
    struct ms_report_options o = {.top = 10};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
        if (!strncmp(a, "--format=", 9))
            val = a + 9, a = "--format";
        else if (!strncmp(a, "--top=", 6))
            val = a + 6, a = "--top";
        else if ((!strcmp(a, "--format") || !strcmp(a, "--top")) && i + 1 < argc)
            val = argv[++i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(ms_help_report, stdout);
            return 0;
        }
        if (!strcmp(a, "--format") && val) {
            format = val;
        } else if (!strcmp(a, "--top") && val) {
            char *end;
            long n = strtol(val, &end, 10);
            if (*end || n < 0) {
                ms_cli_error("report", "--top %s: expected a number of entries, like --top 20",
                             val);
                return 2;
            }
            o.top = (size_t)n;
        } else if (a[0] == '-' && a[1]) {
            ms_cli_error("report", "unknown option %s; " MS_USAGE_REPORT, a);
            return 2;
        } else if (!path) {
            path = a;
        } else {
            ms_cli_error("report", "one trace at a time: got %s and %s", path, a);
            return 2;
        }
    }
    if (!path) {
        ms_cli_error("report", "no trace given; " MS_USAGE_REPORT);
        return 2;
    }
    if (strcmp(format, "text") && strcmp(format, "json")) {
        ms_cli_error("report", "--format %s: the formats are text and json", format);
        return 2;
    }
    /* Symbolization must not reach out to debuginfod servers unless the user asks for it. */
    if (!ms_option_env_flag(MS_OPT_DEBUGINFOD))
        unsetenv("DEBUGINFOD_URLS");
    struct ms_analysis *a;
    char err[1024] = "";
    if (ms_analysis_run(path, &a, err, sizeof err) != 0) {
        ms_cli_error("report", "%s", err);
        return 1;
    }
    int rc =
        !strcmp(format, "json") ? ms_report_json(stdout, a, &o) : ms_report_text(stdout, a, &o);
    const struct ms_trace_damage *d = ms_trace_damage(a->trace);
    if (d->bytes_lost || d->chunks_bad)
        fprintf(stderr,
                "memscope report: %s is damaged (%s at offset %llu); the report covers "
                "what could be read\n",
                path, d->what, (unsigned long long)d->first_bad_offset);
    ms_analysis_free(a);
    if (fflush(stdout) != 0 || rc != 0) {
        ms_cli_error("report", "cannot write the report to standard output");
        return 1;
    }
    return 0;
}
