/* `memscope report TRACE [--format text|json] [--top N] [--group-by G] [--since T] [--until T]
 * [--at T] [--suppressions FILE]...`. */
#include "analysis/trace_analysis.h"
#include "cli.h"
#include "common/options.h"
#include "report/report.h"

#include <errno.h>
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

/* A moment of the run for --since, --until and --at: a number with a unit (ns, us, ms, s, min;
 * none: seconds) from the program's start, into *ns. */
static bool parse_moment(const char *text, uint64_t *ns)
{
    static const struct {
        const char *unit;
        double ns;
    } units[] = {{"ns", 1}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"min", 60e9}, {"", 1e9}};
    char *end;
    if (!text || (!(*text >= '0' && *text <= '9') && *text != '.'))
        return false;
    double v = strtod(text, &end);
    if (end == text || !(v >= 0) || strcspn(text, "xXpP") < (size_t)(end - text))
        return false; /* (strtod reads hexadecimal too) */
    for (size_t i = 0; i < sizeof units / sizeof *units; i++)
        if (!strcmp(end, units[i].unit)) {
            double x = v * units[i].ns;
            if (!(x < 1.8e19))
                return false;
            *ns = (uint64_t)(x + 0.5);
            return true;
        }
    return false;
}

/* The options that take a value, as --name VALUE or --name=VALUE. */
static const char *const valued[] = {"--format",   "--top",      "--suppressions",
                                     "--group-by", "--alloc-fn", "--since",
                                     "--until",    "--at",       "--at-alloc"};

int ms_cmd_report(int argc, char **argv)
{
    const char *path = NULL, *format = "text";
    struct ms_report_options o = {.top = 10, .group_by = MS_GROUP_FUNCTION};
    const char *supp_files[64], *alloc_fns[65] = {0};
    int nfns = 0;
    int nsupp = 0;
    struct ms_window w = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
        for (size_t k = 0; k < sizeof valued / sizeof *valued; k++) {
            size_t len = strlen(valued[k]);
            if (!strncmp(a, valued[k], len) && a[len] == '=') {
                val = a + len + 1, a = valued[k];
                break;
            }
            if (!strcmp(a, valued[k])) {
                /* (--suppressions and --alloc-fn say what they need themselves) */
                if (i + 1 == argc && strcmp(a, "--suppressions") && strcmp(a, "--alloc-fn")) {
                    ms_cli_error("report", "%s needs a value; " MS_USAGE_REPORT, a);
                    return 2;
                }
                val = i + 1 < argc ? argv[++i] : NULL;
                break;
            }
        }
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
        } else if (!strcmp(a, "--since") || !strcmp(a, "--until") || !strcmp(a, "--at")) {
            bool since = a[2] == 's';
            uint64_t ns;
            if (!parse_moment(val, &ns)) {
                ms_cli_error("report",
                             "%s %s: expected a time since the program started, like 1.5s, "
                             "250ms or 2 (seconds)",
                             a, val ? val : "needs a value");
                return 2;
            }
            if (!since && w.until) {
                ms_cli_error("report", "--until and --at both end the window: give one of them");
                return 2;
            }
            if (since) {
                w.since = true, w.since_ns = ns;
            } else {
                w.until = true, w.until_ns = ns;
                w.at = a[2] == 'a';
            }
        } else if (!strcmp(a, "--at-alloc")) {
            char *end;
            errno = 0;
            unsigned long long n = strtoull(val, &end, 10);
            if (!(*val >= '0' && *val <= '9') || *end || errno) {
                ms_cli_error("report",
                             "--at-alloc %s: expected a number of allocations, like the "
                             "at_alloc of a timeline peak",
                             val);
                return 2;
            }
            w.after_alloc = true, w.at_alloc = n;
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
    if (w.since && w.until && w.since_ns > w.until_ns) {
        ms_cli_error("report", "--since is after %s: the window would be empty",
                     w.at ? "--at" : "--until");
        return 2;
    }
    /* Symbolization must not reach out to debuginfod servers unless the user asks for it. */
    if (!ms_option_env_flag(MS_OPT_DEBUGINFOD))
        unsetenv("DEBUGINFOD_URLS");
    struct ms_analysis *a;
    char err[1024] = "";
    if (ms_analysis_run_window(path, &w, &a, err, sizeof err) != 0) {
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
