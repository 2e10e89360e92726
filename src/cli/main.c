/* memscope's entry point: dispatches to the subcommands. */
#include "cli.h"

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

static void usage(FILE *out)
{
    fputs("usage: memscope run [-o TRACE] [--unwind=libunwind|fp|none] [--depth=N] -- PROGRAM "
          "[ARGS...]\n"
          "       memscope report TRACE [--format text|json] [--top N]\n"
          "\n"
          "run     runs PROGRAM with every heap allocation tracked and writes a trace\n"
          "report  explains a trace: leaks, peak, call sites, temporary allocations, threads\n",
          out);
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
