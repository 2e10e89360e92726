/* `memscope report TRACE [--format text|json] [--top N] [--group-by G] [--suppressions FILE]...`.
 */
#include "analysis/trace_analysis.h"
#include "cli.h"
#include "common/options.h"
#include "report/report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* memscope.supp in the directory of the program's executable, when there is one: its path in
 * out (empty when none). */
static void program_suppressions(const struct ms_analysis *a, char *out, size_t len)
{
    out[0] = 0;
    const char *exe = ms_trace_process(a->trace)->exe;
    const char *slash = exe ? strrchr(exe, '/') : NULL;
    struct stat st;
    if (!slash || snprintf(out, len, "%.*s/memscope.supp", (int)(slash - exe), exe) >= (int)len ||
        stat(out, &st) != 0)
        out[0] = 0;
}

int ms_cmd_report(int argc, char **argv)
{
    const char *path = NULL, *format = "text";
    struct ms_report_options o = {.top = 10, .group_by = MS_GROUP_FUNCTION};
    const char *supp_files[64], *alloc_fns[65] = {0};
    int nfns = 0;
    int nsupp = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
        if (!strncmp(a, "--format=", 9))
            val = a + 9, a = "--format";
        else if (!strncmp(a, "--top=", 6))
            val = a + 6, a = "--top";
        else if (!strncmp(a, "--suppressions=", 15))
            val = a + 15, a = "--suppressions";
        else if (!strncmp(a, "--group-by=", 11))
            val = a + 11, a = "--group-by";
        else if (!strncmp(a, "--alloc-fn=", 11))
            val = a + 11, a = "--alloc-fn";
        else if ((!strcmp(a, "--format") || !strcmp(a, "--top") || !strcmp(a, "--suppressions") ||
                  !strcmp(a, "--group-by") || !strcmp(a, "--alloc-fn")) &&
                 i + 1 < argc)
            val = argv[++i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(ms_help_report, stdout);
            return 0;
        }
        if (!strcmp(a, "--format") && val) {
            format = val;
        } else if (!strcmp(a, "--suppressions") && val && *val) {
            if (nsupp == 64) {
                ms_cli_error("report", "more than 64 --suppressions files");
                return 2;
            }
            supp_files[nsupp++] = val;
        } else if (!strcmp(a, "--suppressions")) {
            ms_cli_error("report", "--suppressions needs a file: --suppressions FILE");
            return 2;
        } else if (!strcmp(a, "--alloc-fn")) {
            if (!val || !*val || nfns == 64) {
                ms_cli_error("report", val && *val
                                           ? "more than 64 --alloc-fn functions"
                                           : "--alloc-fn needs a function: --alloc-fn NAME");
                return 2;
            }
            alloc_fns[nfns++] = val;
            o.alloc_fns = alloc_fns;
        } else if (!strcmp(a, "--group-by")) {
            if (!val || ms_group_by_parse(val, &o.group_by)) {
                ms_cli_error("report",
                             "--group-by %s: the groups are stack, function, line and module",
                             val ? val : "needs a value");
                return 2;
            }
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
    /* LeakSanitizer's suppressions: the files given, and memscope.supp beside the program. */
    struct ms_suppressions supp = {0};
    char beside[4096];
    program_suppressions(a, beside, sizeof beside);
    for (int i = 0; i <= nsupp; i++) {
        const char *f = i < nsupp ? supp_files[i] : beside[0] ? beside : NULL;
        if (f && ms_suppressions_load(&supp, f, err, sizeof err) != 0) {
            ms_cli_error("report", "%s", err);
            ms_suppressions_free(&supp);
            ms_analysis_free(a);
            return 1;
        }
    }
    if (supp.n && ms_analysis_suppress(a, &supp) != 0) {
        ms_cli_error("report", "out of memory");
        ms_suppressions_free(&supp);
        ms_analysis_free(a);
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
    ms_suppressions_free(&supp);
    if (fflush(stdout) != 0 || rc != 0) {
        ms_cli_error("report", "cannot write the report to standard output");
        return 1;
    }
    return 0;
}
