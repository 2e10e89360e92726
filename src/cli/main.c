/* memscope's entry point: dispatches to the subcommands. */
#include "cli.h"

#include "common/options.h"
#include "common/trace_format.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void ms_cli_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "memscope %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static const char help_run[] = MS_USAGE_RUN
    "\n\n"
    "Runs PROGRAM with every heap allocation tracked; its standard input, output and exit status\n"
    "are its own. Each process of the tree writes a trace; their paths and a summary of each go\n"
    "to stderr.\n\n"
    "PROGRAM is a dynamically linked 64-bit x86-64 program, or a script: the checks apply to the\n"
    "interpreter of its #! line, and one without #! runs with /bin/sh, as execvp runs it. What\n"
    "LD_PRELOAD cannot trace is refused before anything runs: static, 32-bit and non-x86-64\n"
    "programs, and setuid, setgid or file-capability ones that the kernel would run in\n"
    "secure-execution mode (run by root, a setuid-root program or one with capabilities is\n"
    "traced).\n\n";

/* Prints text indented by indent, wrapped before column 100. */
static void print_wrapped(FILE *out, const char *text, int indent, int col)
{
    while (*text) {
        int width = 99 - col;
        int n = (int)strlen(text);
        if (n > width) {
            n = width;
            while (n > 0 && text[n] != ' ')
                n--;
            if (n == 0)
                n = width;
        }
        fprintf(out, "%.*s\n", n, text);
        text += n;
        while (*text == ' ')
            text++;
        if (*text)
            fprintf(out, "%*s", indent, "");
        col = indent;
    }
}

void ms_cli_help_run(FILE *out)
{
    fputs(help_run, out);
    /* The options, from the settings table (common/options.h). */
    for (int i = 0; i < MS_OPT_COUNT; i++) {
        const struct ms_option *o = &ms_options[i];
        if (!o->flag)
            continue;
        char name[64];
        snprintf(name, sizeof name, "%s--%s%s%s", o->id == MS_OPT_OUTPUT ? "-o TRACE, " : "",
                 o->flag, o->arg ? "=" : "", o->arg ? o->arg : "");
        fprintf(out, "  %-26s", name);
        print_wrapped(out, o->run_help ? o->run_help : o->help, 28, 28);
    }
    fprintf(out, "  %-26s", "--no-summary");
    print_wrapped(out, "only list the traces (the summary replays each trace)", 28, 28);
}

const char ms_help_report[] = MS_USAGE_REPORT
    "\n\n"
    "Explains a trace: summary, leaks by kind and stack, hotspots, sites growing without bound, "
    "top\n"
    "call sites (by allocations, by bytes at the peak, by bytes allocated), temporary "
    "allocations,\n"
    "each site's lifetimes and pattern, threads, and notes (docs/analyses.md).\n\n"
    "  --format text|json  text (default) or a JSON document (docs/json-report.md)\n"
    "  --top N             entries per list (default 10; 0: all)\n"
    "  --group-by G        the hotspots' groups: stack, function (default: the allocating\n"
    "                      function), line (its source line) or module\n"
    "  --alloc-fn NAME     a function that only allocates for its caller, as operator new\n"
    "                      or xmalloc (built in), skipped to find the allocating function\n"
    "  --since T           count only what happened from T on (a time since the program\n"
    "                      started: 1.5s, 250ms, 2 = 2 s); the heap then is where it starts\n"
    "  --until T           count only what happened up to T; in use at the end = live at T\n"
    "  --at T              what was live at T, by call site (--until T, said as such)\n"
    "  --at-alloc N        what was live right after the N-th allocation: exact where a time\n"
    "                      is not (the timeline's peaks give theirs)\n"
    "  --suppressions FILE leaks to leave out, in LeakSanitizer's format (leak:PATTERN lines);\n"
    "                      memscope.supp beside the program is read too (docs/leak-kinds.md)\n";

static void usage(FILE *out)
{
    fprintf(out,
            "%s\n       %s\n\n"
            "run     runs PROGRAM with every heap allocation tracked and writes a trace\n"
            "report  explains a trace: leaks, peak, call sites, temporary allocations, threads\n"
            "`memscope run --help` and `memscope report --help` describe their options.\n",
            MS_USAGE_RUN, MS_USAGE_REPORT + strlen("usage: "));
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "run"))
        return ms_cmd_run(argc - 1, argv + 1);
    if (!strcmp(argv[1], "report"))
        return ms_cmd_report(argc - 1, argv + 1);
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("memscope %s (trace format %d)\n", MS_VERSION_STRING, MS_TRACE_VERSION);
        return 0;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "memscope: unknown command '%s'; the commands are run and report\n", argv[1]);
    usage(stderr);
    return 2;
}
