/* Every setting of memscope, defined once: its MEMSCOPE_* variable, the `memscope run` option
 * that sets it (if any), its kind, default and range, and its help. The capture library reads its
 * configuration through this table (capture/config.c), `memscope run` parses its options and
 * prints their help from it, and test_options checks the README's table of variables against
 * it. Used inside traced programs too: nothing here allocates. */
#ifndef MS_OPTIONS_H
#define MS_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

enum ms_option_kind {
    MS_OPT_PATH, /* any non-empty text */
    MS_OPT_INT,  /* a decimal number from lo to hi */
    MS_OPT_ENUM, /* one of the words of `values` (the default's index is the value) */
    MS_OPT_FLAG, /* set (anything but "0" or empty) or not */
    /* a signal memscope may take for itself: a name (USR2, SIGUSR2, RTMIN+3) or a number; not one
     * that cannot be caught or that memscope's crash handling or the program's faults use */
    MS_OPT_SIGNAL,
};

/* Who reads the variable. */
enum ms_option_scope {
    MS_SCOPE_LIBRARY, /* libmemscope.so, in the traced process */
    MS_SCOPE_RUN,     /* memscope run */
    MS_SCOPE_REPORT,  /* memscope report */
};

enum ms_option_id {
    MS_OPT_OUTPUT,
    MS_OPT_ROOT_PID,
    MS_OPT_UNWIND,
    MS_OPT_UNWIND_FAST,
    MS_OPT_UNWIND_VERIFY,
    MS_OPT_DEPTH,
    MS_OPT_COMPRESSION,
    MS_OPT_MANIFEST,
    MS_OPT_DEFER_COMPRESSION,
    MS_OPT_LEAK_SCAN,
    MS_OPT_DISABLE,
    MS_OPT_VERBOSE,
    MS_OPT_BACKEND,
    MS_OPT_SAMPLE_BYTES,
    MS_OPT_LIBRARY,
    MS_OPT_LIVE_STATS,
    MS_OPT_DEBUGINFOD,
    MS_OPT_STORM,
    MS_OPT_SCAN_SIGNAL,
    MS_OPT_SCAN_AT_PEAK,
    MS_OPT_FREE_STACKS,
    MS_OPT_ALLOCATOR_STATS,
    MS_OPT_CHECK,
    MS_OPT_QUARANTINE_BYTES,
    MS_OPT_CLOCK,
    MS_OPT_COUNT
};

struct ms_option {
    enum ms_option_id id;
    const char *variable; /* MEMSCOPE_... */
    const char *flag;     /* `memscope run --<flag>=VALUE` sets it; NULL: no option */
    const char *arg;      /* the value's name in the option's help (TRACE, MODE, N) */
    enum ms_option_kind kind;
    enum ms_option_scope scope;
    const char *def;      /* the default as text, NULL: none */
    long lo, hi;          /* MS_OPT_INT */
    const char *values;   /* MS_OPT_ENUM: the words, separated by '|' */
    const char *help;     /* the README's text (Markdown: `code`, [links](...)) */
    const char *run_help; /* `memscope run --help`'s text for the option (NULL: help) */
};

extern const struct ms_option ms_options[MS_OPT_COUNT];

/* The option whose variable is name, or NULL. */
const struct ms_option *ms_option_by_variable(const char *name);

/* Checks text as a value of o. Returns true and sets *value (INT: the number, ENUM: the word's
 * index, FLAG: 0 or 1, PATH: 1, SIGNAL: its number; empty or "0": 0, none) when it is one; else
 * false, with why (a phrase such as "is not a number from 1 to 256") in why[0..cap). */
bool ms_option_parse(const struct ms_option *o, const char *text, long *value, char *why,
                     size_t cap);

/* Whether the flag option id is set in the environment (anything but empty or "0"). */
bool ms_option_env_flag(enum ms_option_id id);

/* The default's value (as ms_option_parse gives it), 0 when there is none. */
long ms_option_default(const struct ms_option *o);

#endif
