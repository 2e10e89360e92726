/* A small streaming JSON writer: tracks commas and nesting so callers only say what to emit. */
#ifndef MS_JSON_WRITER_H
#define MS_JSON_WRITER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct ms_json {
    FILE *out;
    int depth;
    bool need_comma[64];
};

void ms_json_begin_object(struct ms_json *j, const char *key);
void ms_json_end_object(struct ms_json *j);
void ms_json_begin_array(struct ms_json *j, const char *key);
void ms_json_end_array(struct ms_json *j);
/* key may be NULL inside arrays. */
void ms_json_u64(struct ms_json *j, const char *key, uint64_t v);
void ms_json_i64(struct ms_json *j, const char *key, int64_t v);
/* %.6g; a NaN or an infinity as null */
void ms_json_f64(struct ms_json *j, const char *key, double v);
void ms_json_str(struct ms_json *j, const char *key, const char *s); /* NULL -> null */
void ms_json_bool(struct ms_json *j, const char *key, bool v);

/* The length of the valid UTF-8 sequence of 2 to 4 bytes at p, or 0 (an ASCII byte, or not valid
 * UTF-8: overlong forms, surrogates and code points above U+10FFFF are not). p is NUL-terminated.
 */
int ms_utf8_length(const unsigned char *p);

#endif
