/* The memscope subcommands and what they share: error reporting in the house format. */
#ifndef MS_CLI_H
#define MS_CLI_H

#include <stdio.h>

int ms_cmd_run(int argc, char **argv);
int ms_cmd_report(int argc, char **argv);

/* One-line usages of the subcommands, and their full help (printed by `memscope CMD --help`). */
#define MS_USAGE_RUN                                                                               \
    "usage: memscope run [-o TRACE] [--unwind=libunwind|fp|none] [--depth=N] "                     \
    "[--compression=LEVEL] [--backend=NAME] [--sample-bytes=N] [--scan-signal=SIG] "               \
    "[--scan-at-peak] [--free-stacks] [--allocator-stats] [--check] [--quarantine-bytes=N] "       \
    "[--no-summary] "                                                                              \
    "-- PROGRAM [ARGS...]"
#define MS_USAGE_REPORT                                                                            \
    "usage: memscope report TRACE [--format text|json] [--top N] [--group-by "                     \
    "stack|function|line|module] [--alloc-fn NAME]... [--since T] [--until T | --at T] "           \
    "[--at-alloc N] "                                                                              \
    "[--suppressions FILE]..."
extern const char ms_help_report[];
/* Prints `memscope run --help`: what it does and its options (from common/options.h). */
void ms_cli_help_run(FILE *out);

/* Prints "memscope <cmd>: <message>\n" to stderr. */
void ms_cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
