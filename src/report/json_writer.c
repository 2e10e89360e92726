/* JSON output with correct string escaping: control characters and quotes escaped, valid UTF-8
 * kept as it is, and each byte of an invalid sequence written as \u00XX (its Latin-1 reading),
 * so that the document always parses. */
#include "json_writer.h"

#include <inttypes.h>
#include <math.h>

/* The length of the valid UTF-8 sequence at p (2 to 4 bytes), or 0 (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF). */
int ms_utf8_length(const unsigned char *p)
{
    int n = p[0] >= 0xF0 ? 4 : p[0] >= 0xE0 ? 3 : p[0] >= 0xC2 ? 2 : 0;
    if (n == 0 || p[0] > 0xF4)
        return 0;
    for (int i = 1; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0; /* also stops at the terminating NUL */
    if ((p[0] == 0xE0 && p[1] < 0xA0) || (p[0] == 0xED && p[1] >= 0xA0) ||
        (p[0] == 0xF0 && p[1] < 0x90) || (p[0] == 0xF4 && p[1] >= 0x90))
        return 0;
    return n;
}

static void raw_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':
            fputs("\\\"", out);
            break;
        case '\\':
            fputs("\\\\", out);
            break;
        case '\n':
            fputs("\\n", out);
            break;
        case '\t':
            fputs("\\t", out);
            break;
        default:
            if (*p >= 0x80) {
                int n = ms_utf8_length(p);
                if (n) {
                    fwrite(p, 1, (size_t)n, out);
                    p += n - 1;
                    break;
                }
            }
            if (*p < 0x20 || *p >= 0x7F)
                fprintf(out, "\\u%04x", *p);
            else
                fputc(*p, out);
        }
    }
    fputc('"', out);
}

static void item(struct ms_json *j, const char *key)
{
    if (j->depth > 0 && j->need_comma[j->depth])
        fputc(',', j->out);
    if (j->depth > 0)
        j->need_comma[j->depth] = true;
    if (key) {
        raw_string(j->out, key);
        fputc(':', j->out);
    }
}

static void open_(struct ms_json *j, const char *key, char c)
{
    item(j, key);
    fputc(c, j->out);
    if (j->depth < 63)
        j->depth++;
    j->need_comma[j->depth] = false;
}

void ms_json_begin_object(struct ms_json *j, const char *key)
{
    open_(j, key, '{');
}

void ms_json_end_object(struct ms_json *j)
{
    fputc('}', j->out);
    j->depth--;
}

void ms_json_begin_array(struct ms_json *j, const char *key)
{
    open_(j, key, '[');
}

void ms_json_end_array(struct ms_json *j)
{
    fputc(']', j->out);
    j->depth--;
}

void ms_json_u64(struct ms_json *j, const char *key, uint64_t v)
{
    item(j, key);
    fprintf(j->out, "%" PRIu64, v);
}

void ms_json_i64(struct ms_json *j, const char *key, int64_t v)
{
    item(j, key);
    fprintf(j->out, "%" PRId64, v);
}

void ms_json_f64(struct ms_json *j, const char *key, double v)
{
    item(j, key);
    if (isfinite(v))
        fprintf(j->out, "%.6g", v);
    else
        fputs("null", j->out);
}

void ms_json_str(struct ms_json *j, const char *key, const char *s)
{
    item(j, key);
    if (s)
        raw_string(j->out, s);
    else
        fputs("null", j->out);
}

void ms_json_bool(struct ms_json *j, const char *key, bool v)
{
    item(j, key);
    fputs(v ? "true" : "false", j->out);
}
