/* JSON output with correct string escaping (control characters, quotes, invalid UTF-8 bytes
 * passed through as \u00XX so the document always parses). */
#include "json_writer.h"

#include <inttypes.h>

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
            if (*p < 0x20 || *p >= 0x80)
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
