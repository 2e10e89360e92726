/* The memscope subcommands and what they share: error reporting in the house format. */
#ifndef MS_CLI_H
#define MS_CLI_H

int ms_cmd_run(int argc, char **argv);
int ms_cmd_report(int argc, char **argv);

/* Prints "memscope <cmd>: <message>\n" to stderr. */
void ms_cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
