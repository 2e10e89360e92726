/* Messages from inside the traced process: raw write(2) to stderr, never stdio or malloc. */
#ifndef MS_CAPTURE_DIAG_H
#define MS_CAPTURE_DIAG_H

#include <stddef.h>

/* Writes "memscope: a b c\n" to stderr with one write(2), as long as descriptor 2 is still the
 * file it was at start-up: a daemon that put its log file on descriptor 2 gets nothing of
 * memscope's in it. */
void ms__say(const char *a, const char *b, const char *c);

/* Remembers which file descriptor 2 is (called once at start-up). */
void ms__diag_init(void);

/* Formats v in decimal into buf (at least 21 bytes); returns buf. */
char *ms__utoa(unsigned long long v, char *buf);

#endif
