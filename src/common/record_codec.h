/* Encoders and decoders of the EVENTS records, generated from the record table (record_table.h)
 * so that the capture, the reader and the tests' trace builder share one definition:
 *
 *   p = ms_rec_put_ALLOC(&base, kind, p, ptr, size, stack);
 *       writes the fields after the kind byte at *kind (and after its time delta, which the caller
 *       writes: the time is the writer's business), adds the kind code and PTR16 to *kind, and
 *       returns the end. p needs the record's size plus 8 bytes free (ms_varint_put).
 *   ms_rec_get_ALLOC(&cursor, &base, kind_byte, &rec);
 *       reads the fields into struct ms_rec_ALLOC; the cursor's bad flag says if they were not
 *       all there.
 *   p = ms_ext_put_VARIABLE(kind, p, ptr, name, ...); ms_ext_get_VARIABLE(&cursor, &rec);
 *       the same for EXTENDED sub-records, whose sub-kind and length the encoder writes.
 *
 * struct ms_rec_base holds a chunk's delta bases; CLOCK clears it, as it does in the format. */
#ifndef MS_RECORD_CODEC_H
#define MS_RECORD_CODEC_H

#include "trace_format.h"
#include "varint.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct ms_rec_base {
    uint64_t ptr; /* the previous pointer field of the chunk */
    uint64_t ip;  /* the previous IP field */
};

/* A bounds-checked reader over untrusted bytes: once a read runs past the end, bad is set and
 * every later read returns 0. */
struct ms_cursor {
    const uint8_t *p, *end;
    bool bad;
};

static inline uint64_t ms_cursor_u(struct ms_cursor *c)
{
    /* With 8 bytes in hand, any encoding up to 8 bytes decodes without a branch per byte. */
    if (__builtin_expect(c->end - c->p >= 8 && *c->p != 0, 1)) {
        uint64_t x;
        memcpy(&x, c->p, 8);
        unsigned k = (unsigned)__builtin_ctzll(x) + 1;
        c->p += k;
        return (x >> k) & ((1ull << (7 * k)) - 1);
    }
    uint64_t v = 0;
    if (!c->bad && ms_varint_get(&c->p, c->end, &v) != 0)
        c->bad = true;
    return c->bad ? 0 : v;
}

/* A string field: *len bytes at the returned address, inside the cursor's input (NULL and 0,
 * with bad set, if they are not all there). */
static inline const char *ms_cursor_str(struct ms_cursor *c, uint64_t *len)
{
    uint64_t n = ms_cursor_u(c);
    if (c->bad || n > (uint64_t)(c->end - c->p)) {
        c->bad = true;
        *len = 0;
        return NULL;
    }
    const char *s = (const char *)c->p;
    c->p += n;
    *len = n;
    return s;
}

/* Appends a string field (varint length, bytes); also for the PROCESS chunk's strings. */
static inline uint8_t *ms_str_put(uint8_t *p, const char *s, size_t len)
{
    p = ms_varint_put(p, len);
    if (len)
        memcpy(p, s, len);
    return p + len;
}

/* ---- what each field type generates ---- */

#define MS__TIMING_OPT 0
#define MS__TIMING_NEVER 1
#define MS__TIMING_CLOCK 2

/* Encoder parameters. */
#define MS__PARAM_U(n) , uint64_t n
#define MS__PARAM_PTR(n) , uint64_t n
#define MS__PARAM_IP(n) , uint64_t n
#define MS__PARAM_STR(n) , const char *n, size_t n##_len
#define MS__PARAM(t, n) MS__PARAM_##t(n)
/* Pointer fields: counted, and their differences ORed, to decide PTR16. */
#define MS__NPTR_U(n)
#define MS__NPTR_PTR(n) +1
#define MS__NPTR_IP(n)
#define MS__NPTR_STR(n)
#define MS__NPTR(t, n) MS__NPTR_##t(n)
#define MS__SCAN_U(n)
#define MS__SCAN_PTR(n)                                                                            \
    diff_ |= n - base_;                                                                            \
    base_ = n;
#define MS__SCAN_IP(n)
#define MS__SCAN_STR(n)
#define MS__SCAN(t, n) MS__SCAN_##t(n)
/* Stores. */
#define MS__PUT_U(n) p = ms_varint_put(p, n);
#define MS__PUT_PTR(n)                                                                             \
    p = ms_varint_put(p, ms_zigzag((int64_t)(n - b->ptr) >> shift_));                              \
    b->ptr = n;
#define MS__PUT_IP(n)                                                                              \
    p = ms_varint_put(p, ms_zigzag((int64_t)(n - b->ip)));                                         \
    b->ip = n;
#define MS__PUT_STR(n) p = ms_str_put(p, n, n##_len);
#define MS__PUT(t, n) MS__PUT_##t(n)
/* Decoded records. */
#define MS__MEMBER_U(n) uint64_t n;
#define MS__MEMBER_PTR(n) uint64_t n;
#define MS__MEMBER_IP(n) uint64_t n;
#define MS__MEMBER_STR(n)                                                                          \
    const char *n;                                                                                 \
    uint64_t n##_len;
#define MS__MEMBER(t, n) MS__MEMBER_##t(n)
#define MS__GET_U(n) r->n = ms_cursor_u(c);
#define MS__GET_PTR(n) r->n = b->ptr += (uint64_t)ms_unzigzag(ms_cursor_u(c)) << shift_;
#define MS__GET_IP(n) r->n = b->ip += (uint64_t)ms_unzigzag(ms_cursor_u(c));
#define MS__GET_STR(n) r->n = ms_cursor_str(c, &r->n##_len);
#define MS__GET(t, n) MS__GET_##t(n)
/* Sizes: the largest encoding of the fixed fields, and whether there are strings. */
#define MS__FIXED_U(n) +MS_VARINT_MAX
#define MS__FIXED_PTR(n) +MS_VARINT_MAX
#define MS__FIXED_IP(n) +MS_VARINT_MAX
#define MS__FIXED_STR(n) +MS_VARINT_MAX
#define MS__FIXED(t, n) MS__FIXED_##t(n)
#define MS__NSTR_U(n)
#define MS__NSTR_PTR(n)
#define MS__NSTR_IP(n)
#define MS__NSTR_STR(n) +1
#define MS__NSTR(t, n) MS__NSTR_##t(n)
/* EXTENDED sub-records: only U and STR (no MS__XLEN_PTR or MS__XLEN_IP on purpose). */
#define MS__XLEN_U(n) +ms_varint_len(n)
#define MS__XLEN_STR(n) +ms_varint_len(n##_len) + n##_len
#define MS__XLEN(t, n) MS__XLEN_##t(n)

/* A field list's parameters or arguments without their leading comma. */
#define MS__DROP1_(first, ...) __VA_ARGS__
#define MS__DROP1(...) MS__DROP1_(__VA_ARGS__)
#define MS__ARG_U(n) , n
#define MS__ARG_PTR(n) , n
#define MS__ARG_IP(n) , n
#define MS__ARG_STR(n) , n, n##_len
#define MS__ARG(t, n) MS__ARG_##t(n)

/* ---- the records ---- */

/* CLOCK restarts the bases (a constant test: nothing is left of it in other records). */
static inline void ms__rec_restart(struct ms_rec_base *b, int timing)
{
    if (timing == MS__TIMING_CLOCK)
        *b = (struct ms_rec_base){0, 0};
}

/* The field lists expand to statements; the `;` after each is an empty statement. */
#define MS__RECORD(NAME, code, timing, summary)                                                    \
    struct ms_rec_##NAME {                                                                         \
        uint8_t kind; /* the kind byte */                                                          \
        MS_FIELDS_##NAME(MS__MEMBER)                                                               \
    };                                                                                             \
    /* The longest the record can be (time delta included), strings aside. */                      \
    enum {                                                                                         \
        MS_REC_MAXLEN_##NAME = 1 + MS_VARINT_MAX MS_FIELDS_##NAME(MS__FIXED),                      \
        MS_REC_NSTR_##NAME = 0 MS_FIELDS_##NAME(MS__NSTR),                                         \
        MS_REC_TIMING_##NAME = MS__TIMING_##timing                                                 \
    };                                                                                             \
    static inline uint8_t *ms_rec_put_##NAME(struct ms_rec_base *b, uint8_t *kind,                 \
                                             uint8_t *p MS_FIELDS_##NAME(MS__PARAM))               \
    {                                                                                              \
        uint64_t base_ = b->ptr, diff_ = 0;                                                        \
        MS_FIELDS_##NAME(MS__SCAN);                                                                \
        int shift_ = (0 MS_FIELDS_##NAME(MS__NPTR)) && (diff_ & 15) == 0 ? 4 : 0;                  \
        (void)base_;                                                                               \
        *kind |= (uint8_t)(MS_REC_##NAME | (shift_ ? MS_REC_PTR16 : 0));                           \
        MS_FIELDS_##NAME(MS__PUT);                                                                 \
        ms__rec_restart(b, MS__TIMING_##timing);                                                   \
        return p;                                                                                  \
    }                                                                                              \
    static inline void ms_rec_get_##NAME(struct ms_cursor *c, struct ms_rec_base *b, uint8_t kind, \
                                         struct ms_rec_##NAME *r)                                  \
    {                                                                                              \
        int shift_ = kind & MS_REC_PTR16 ? 4 : 0;                                                  \
        (void)shift_;                                                                              \
        (void)c;                                                                                   \
        r->kind = kind;                                                                            \
        MS_FIELDS_##NAME(MS__GET);                                                                 \
        ms__rec_restart(b, MS__TIMING_##timing);                                                   \
    }
MS_RECORDS(MS__RECORD)
#undef MS__RECORD

/* Unchecked decoders of the allocation records, for the reader's loop over a chunk:
 *   p = ms_rec_getf_ALLOC(p, &base, kind_byte, &rec);
 * reads the fields after the kind byte (and the time delta, which the caller reads) from p,
 * which must have MS_REC_FAST_LEN readable bytes from the record's kind byte on: the longest
 * the record can be, so that no field can run past them. */
#define MS__GETF_U(n) r->n = ms_varint_get_unchecked(&p_);
#define MS__GETF_PTR(n)                                                                            \
    r->n = b->ptr += (uint64_t)ms_unzigzag(ms_varint_get_unchecked(&p_)) << shift_;
#define MS__GETF_IP(n) r->n = b->ip += (uint64_t)ms_unzigzag(ms_varint_get_unchecked(&p_));
#define MS__GETF(t, n) MS__GETF_##t(n) /* no STR: only records without strings have one */
#define MS__FAST_RECORD(NAME)                                                                      \
    static inline const uint8_t *ms_rec_getf_##NAME(const uint8_t *p_, struct ms_rec_base *b,      \
                                                    uint8_t kind, struct ms_rec_##NAME *r)         \
    {                                                                                              \
        int shift_ = kind & MS_REC_PTR16 ? 4 : 0;                                                  \
        r->kind = kind;                                                                            \
        MS_FIELDS_##NAME(MS__GETF);                                                                \
        return p_;                                                                                 \
    }
MS__FAST_RECORD(ALLOC)
MS__FAST_RECORD(ALLOC_ALIGNED)
MS__FAST_RECORD(FREE)
MS__FAST_RECORD(REALLOC)
#undef MS__FAST_RECORD
#define MS__MAX(a, b) ((int)(a) > (int)(b) ? (int)(a) : (int)(b))
enum {
    MS_REC_FAST_LEN = MS__MAX(MS__MAX(MS_REC_MAXLEN_ALLOC, MS_REC_MAXLEN_ALLOC_ALIGNED),
                              MS__MAX(MS_REC_MAXLEN_FREE, MS_REC_MAXLEN_REALLOC))
};
#undef MS__MAX

/* Whether kind byte b is one a writer can produce: a kind of the table, a time delta only on a
 * record that may be timed, PTR16 and a family only on a record with pointers (the allocation
 * records). */
#define MS__ALLOWED(NAME, code, timing, summary)                                                   \
    MS_REC_ALLOWED_##NAME =                                                                        \
        (uint8_t)((MS__TIMING_##timing == MS__TIMING_OPT ? MS_REC_TIMED : 0) |                     \
                  ((0 MS_FIELDS_##NAME(MS__NPTR))                                                  \
                       ? MS_REC_PTR16 | MS_REC_FAMILY_MASK << MS_REC_FAMILY_SHIFT                  \
                       : 0) |                                                                      \
                  0x01), /* 0x01: the kind exists */
/* MS_REC_ALLOWED_<NAME>: the flag bits a record of that kind may carry, and 0x01. */
enum { MS_RECORDS(MS__ALLOWED) };
#undef MS__ALLOWED

static inline bool ms_rec_kind_ok(uint8_t b)
{
#define MS__ALLOWED(NAME, code, timing, summary) [code] = MS_REC_ALLOWED_##NAME,
    static const uint8_t allowed[16] = {MS_RECORDS(MS__ALLOWED)};
#undef MS__ALLOWED
    uint8_t a = allowed[b & MS_REC_KIND_MASK];
    return a && !(b & ~a & 0xf0);
}

/* The same for a kind byte whose kind is known to be NAME (a constant test where the flags
 * that kind allows are all of them). */
#define MS_REC_FLAGS_OK(NAME, b) (!((b) & ~MS_REC_ALLOWED_##NAME & 0xf0))

/* Each sub-kind's count of fields (-1: a sub-kind this table does not have). */
#define MS__XCOUNT(t, n) +1
#define MS__EXT_COUNT(NAME, code, summary)                                                         \
    _Static_assert(0 MS_XFIELDS_##NAME(MS__XCOUNT) <= MS_EXT_FIELDS_MAX, "too many fields");
MS_EXT_RECORDS(MS__EXT_COUNT)
#undef MS__EXT_COUNT
static inline int ms_ext_field_count(uint64_t subkind)
{
#define MS__EXT_COUNT(NAME, code, summary) [code] = 1 MS_XFIELDS_##NAME(MS__XCOUNT),
    static const signed char count[] = {MS_EXT_RECORDS(MS__EXT_COUNT)};
#undef MS__EXT_COUNT
    return subkind < sizeof count ? count[subkind] - 1 : -1;
}
#undef MS__XCOUNT

#define MS__EXT_RECORD(NAME, code, summary)                                                        \
    struct ms_ext_##NAME {                                                                         \
        MS_XFIELDS_##NAME(MS__MEMBER)                                                              \
    };                                                                                             \
    /* The longest the record can be: kind, time delta, sub-kind, length, fields. */               \
    enum { MS_EXT_MAXLEN_##NAME = 1 + 3 * MS_VARINT_MAX MS_XFIELDS_##NAME(MS__FIXED) };            \
    static inline uint8_t *ms_ext_put_##NAME(uint8_t *kind,                                        \
                                             uint8_t *p MS_XFIELDS_##NAME(MS__PARAM))              \
    {                                                                                              \
        uint64_t len_ = 0 MS_XFIELDS_##NAME(MS__XLEN);                                             \
        *kind |= MS_REC_EXTENDED;                                                                  \
        p = ms_varint_put(p, MS_EXT_##NAME);                                                       \
        p = ms_varint_put(p, len_);                                                                \
        MS_XFIELDS_##NAME(MS__PUT);                                                                \
        return p;                                                                                  \
    }                                                                                              \
    /* Reads the fields from c, which spans exactly the sub-record's length bytes. */              \
    static inline void ms_ext_get_##NAME(struct ms_cursor *c, struct ms_ext_##NAME *r)             \
    {                                                                                              \
        MS_XFIELDS_##NAME(MS__GET);                                                                \
    }
MS_EXT_RECORDS(MS__EXT_RECORD)
#undef MS__EXT_RECORD

#endif
