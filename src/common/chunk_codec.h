/* Encoders and decoders of the PROCESS, MODULES (and MODULE) and END payloads, generated from
 * chunk_table.h:
 *
 *   struct ms_chunk_END e = {.tsc = ..., ...};
 *   p = ms_chunk_put_END(p, &e);        p needs ms_chunk_maxlen_END(&e) bytes free
 *   ms_chunk_get_END(&cursor, &e);      the cursor's bad flag says if a field was missing
 *
 * A STR field is NAME and NAME_len. A STRS field is NAME, NAME_len and NAME_count: for put, NAME
 * is NAME_len bytes of NUL-separated strings (a last one without its NUL counts too) and
 * NAME_count is ignored; get sets NAME to the first of NAME_count encoded strings, NAME_len bytes
 * in all, which ms_cursor_str reads one by one. Decoded strings point into the payload. */
#ifndef MS_CHUNK_CODEC_H
#define MS_CHUNK_CODEC_H

#include "chunk_table.h"
#include "record_codec.h"

#include <string.h>

/* The strings of a NUL-separated list of len bytes, each as a STR after their count. */
static inline uint64_t ms__strs_count(const char *s, uint64_t len)
{
    uint64_t n = 0;
    for (uint64_t i = 0; i < len; i += strnlen(s + i, len - i) + 1)
        n++;
    return n;
}

static inline uint8_t *ms__strs_put(uint8_t *p, const char *s, uint64_t len)
{
    p = ms_varint_put(p, ms__strs_count(s, len));
    for (uint64_t i = 0; i < len;) {
        size_t l = strnlen(s + i, len - i);
        p = ms_str_put(p, s + i, l);
        i += l + 1;
    }
    return p;
}

/* Reads past a STRS field's count strings; sets *s, *len and *count (see above). */
static inline void ms__strs_get(struct ms_cursor *c, const char **s, uint64_t *len, uint64_t *count)
{
    *count = ms_cursor_u(c);
    *s = (const char *)c->p;
    uint64_t skip;
    for (uint64_t i = 0; i < *count && !c->bad; i++)
        ms_cursor_str(c, &skip);
    *len = c->bad ? 0 : (uint64_t)((const char *)c->p - *s);
}

#define MS__CMEMBER_U(n) uint64_t n;
#define MS__CMEMBER_U5(n) uint64_t n;
#define MS__CMEMBER_OPT(n) uint64_t n;
#define MS__CMEMBER_STR(n)                                                                         \
    const char *n;                                                                                 \
    uint64_t n##_len;
#define MS__CMEMBER_STRS(n)                                                                        \
    const char *n;                                                                                 \
    uint64_t n##_len, n##_count;
#define MS__CMEMBER(t, n) MS__CMEMBER_##t(n)
#define MS__CLEN_U(n) +MS_VARINT_MAX
#define MS__CLEN_U5(n) +5
#define MS__CLEN_OPT(n) +MS_VARINT_MAX
#define MS__CLEN_STR(n) +MS_VARINT_MAX + s->n##_len
#define MS__CLEN_STRS(n)                                                                           \
    +MS_VARINT_MAX + s->n##_len + ms__strs_count(s->n, s->n##_len) * MS_VARINT_MAX
#define MS__CLEN(t, n) MS__CLEN_##t(n)
#define MS__CPUT_U(n) p = ms_varint_put(p, s->n);
#define MS__CPUT_U5(n) p = ms_varint_put_width(p, s->n, 5);
#define MS__CPUT_OPT(n) p = ms_varint_put(p, s->n);
#define MS__CPUT_STR(n) p = ms_str_put(p, s->n, (size_t)s->n##_len);
#define MS__CPUT_STRS(n) p = ms__strs_put(p, s->n, s->n##_len);
#define MS__CPUT(t, n) MS__CPUT_##t(n)
#define MS__CGET_U(n) s->n = ms_cursor_u(c);
#define MS__CGET_U5(n) s->n = ms_cursor_u(c);
#define MS__CGET_OPT(n) s->n = c->p < c->end ? ms_cursor_u(c) : 0;
#define MS__CGET_STR(n) s->n = ms_cursor_str(c, &s->n##_len);
#define MS__CGET_STRS(n) ms__strs_get(c, &s->n, &s->n##_len, &s->n##_count);
#define MS__CGET(t, n) MS__CGET_##t(n)

#define MS__CHUNK_PAYLOAD(NAME, summary)                                                           \
    struct ms_chunk_##NAME {                                                                       \
        MS_CHUNK_FIELDS_##NAME(MS__CMEMBER)                                                        \
    };                                                                                             \
    /* The most bytes the encoding of s can take, with the 8 bytes ms_varint_put stores at once.   \
     */                                                                                            \
    static inline size_t ms_chunk_maxlen_##NAME(const struct ms_chunk_##NAME *s)                   \
    {                                                                                              \
        (void)s;                                                                                   \
        return (size_t)(8 MS_CHUNK_FIELDS_##NAME(MS__CLEN));                                       \
    }                                                                                              \
    static inline uint8_t *ms_chunk_put_##NAME(uint8_t *p, const struct ms_chunk_##NAME *s)        \
    {                                                                                              \
        MS_CHUNK_FIELDS_##NAME(MS__CPUT) return p;                                                 \
    }                                                                                              \
    static inline void ms_chunk_get_##NAME(struct ms_cursor *c, struct ms_chunk_##NAME *s)         \
    {                                                                                              \
        MS_CHUNK_FIELDS_##NAME(MS__CGET)                                                           \
    }
MS_CHUNK_PAYLOADS(MS__CHUNK_PAYLOAD)
#undef MS__CHUNK_PAYLOAD

#endif
