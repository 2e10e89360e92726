/* Leak suppressions in LeakSanitizer's format: one `leak:PATTERN` per line, `#` comments and
 * blank lines ignored. A pattern matches a stack when it matches a frame's function, source file
 * or module: as a substring, `*` matching any characters, `^` at its start and `$` at its end
 * anchoring it (LeakSanitizer's rule). A leak group (an allocation stack) that a suppression
 * matches counts as suppressed, whatever its kind, as valgrind counts a leak its suppression
 * matches. */
#ifndef MS_SUPPRESSIONS_H
#define MS_SUPPRESSIONS_H

#include "symbolize.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ms_suppression {
    char *pattern;
    char *file; /* where it was read, and its line */
    unsigned line;
    uint64_t blocks, bytes; /* what it suppressed */
    uint64_t groups;
};

struct ms_suppressions {
    struct ms_suppression *v;
    size_t n, cap;
};

/* Reads the suppressions of the file at path and adds them. Returns 0, or a negative MS_E*
 * code with one line in err naming the file (and line), the problem and the fix. */
int ms_suppressions_load(struct ms_suppressions *s, const char *path, char *err, size_t errlen);
void ms_suppressions_free(struct ms_suppressions *s);

/* Whether pattern matches text (LeakSanitizer's template match: above). */
bool ms_suppression_matches(const char *pattern, const char *text);

/* The first suppression that matches one of the n frames, or -1. */
int ms_suppressions_find(const struct ms_suppressions *s, const ms_frame *frames, int n);

#endif
