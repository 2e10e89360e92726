/* Numbers for people: counts with thousands separators and durations with a fitting unit. */
#ifndef MS_NUMBER_FORMAT_H
#define MS_NUMBER_FORMAT_H

#include <stdint.h>

/* Writes v with thousands separators ("1,234,567") into buf (at least 32 bytes); returns buf. */
const char *ms_format_count(char *buf, uint64_t v);
/* Writes ns as "12.3 us", "4.5 ms" or "1.23 s" into buf (at least 32 bytes); returns buf. */
const char *ms_format_duration(char *buf, uint64_t ns);

#endif
