/* Numbers for people: counts with thousands separators and durations with a fitting unit. */
#ifndef MS_NUMBER_FORMAT_H
#define MS_NUMBER_FORMAT_H

#include <stdint.h>

/* Writes v with thousands separators ("1,234,567") into buf (at least 32 bytes); returns buf. */
const char *ms_format_count(char *buf, uint64_t v);
/* Writes ns as "12.3 us", "4.5 ms" or "1.23 s" into buf (at least 32 bytes); returns buf. */
const char *ms_format_duration(char *buf, uint64_t ns);

/* The four leak kinds' totals (bytes[k], blocks[k] for each enum ms_leak_kind) as valgrind's
 * words: "definitely lost 1,300 bytes in 4 blocks, indirectly lost 600 in 2, possibly lost 500
 * in 1, still reachable 0 in 0", into buf (at least MS_LEAK_KINDS_TEXT bytes); returns buf. */
#define MS_LEAK_KINDS_TEXT 400
const char *ms_format_leak_kinds(char *buf, const uint64_t *bytes, const uint64_t *blocks);

#endif
