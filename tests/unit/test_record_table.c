/* Tests for the record table (record_table.h) and the codec generated from it: every record and
 * EXTENDED sub-record decodes to what was encoded, the reader turns a random stream of every
 * kind into exactly the events written, and docs/trace-format.md lists the table's records
 * with the table's codes and fields. */
#include "analysis/trace_reader.h"
#include "common/errors.h"
#include "common/chunk_codec.h"
#include "common/record_codec.h"
#include "ms_test.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* A field value of every magnitude: small, multiples of 16, near 2^64. */
static uint64_t rnd_value(void)
{
    switch (rnd() % 5) {
    case 0:
        return rnd() % 128;
    case 1:
        return (rnd() % (1u << 20)) << 4;
    case 2:
        return rnd();
    case 3:
        return UINT64_MAX - rnd() % 16;
    default:
        return 0x7f0000000000ull + (rnd() % (1u << 24));
    }
}

/* ---- each record alone: the generated encoder and decoder agree ---- */

#define DECL_U(n) uint64_t n = rnd_value();
#define DECL_PTR(n) uint64_t n = rnd_value();
#define DECL_IP(n) uint64_t n = rnd_value();
#define DECL_STR(n)                                                                                \
    char n[24];                                                                                    \
    size_t n##_len = rnd() % sizeof n;                                                             \
    for (size_t i_ = 0; i_ < n##_len; i_++)                                                        \
        n[i_] = (char)rnd();
#define DECL(t, f) DECL_##t(f)
#define ARG_U(n) , n
#define ARG_PTR(n) , n
#define ARG_IP(n) , n
#define ARG_STR(n) , n, n##_len
#define ARG(t, f) ARG_##t(f)
#define CHECK_U(n) ASSERT_EQ(r.n, n);
#define CHECK_PTR(n) ASSERT_EQ(r.n, n);
#define CHECK_IP(n) ASSERT_EQ(r.n, n);
#define CHECK_STR(n)                                                                               \
    ASSERT_EQ(r.n##_len, n##_len);                                                                 \
    ASSERT_TRUE(n##_len == 0 || memcmp(r.n, n, n##_len) == 0);
#define CHECK(t, f) CHECK_##t(f)

#define ROUND_TRIP(NAME, code, timing, summary)                                                    \
    static void round_trip_##NAME(struct ms_rec_base *wb, struct ms_rec_base *rb)                  \
    {                                                                                              \
        uint8_t buf[256];                                                                          \
        MS_FIELDS_##NAME(DECL);                                                                    \
        uint8_t *kind = buf;                                                                       \
        *kind = 0;                                                                                 \
        uint8_t *end = ms_rec_put_##NAME(wb, kind, buf + 1 MS_FIELDS_##NAME(ARG));                 \
        ASSERT_EQ(*kind &MS_REC_KIND_MASK, code);                                                  \
        ASSERT_TRUE(end - buf <= MS_REC_MAXLEN_##NAME + MS_REC_NSTR_##NAME * 24);                  \
        struct ms_cursor c = {buf + 1, end, false};                                                \
        struct ms_rec_##NAME r;                                                                    \
        ms_rec_get_##NAME(&c, rb, *kind, &r);                                                      \
        ASSERT_TRUE(!c.bad);                                                                       \
        ASSERT_TRUE(c.p == end);                                                                   \
        MS_FIELDS_##NAME(CHECK);                                                                   \
        ASSERT_EQ(wb->ptr, rb->ptr);                                                               \
        ASSERT_EQ(wb->ip, rb->ip);                                                                 \
        /* Every shorter input is refused, never read past. */                                     \
        for (uint8_t *cut = buf + 1; cut < end; cut++) {                                           \
            struct ms_cursor short_ = {buf + 1, cut, false};                                       \
            struct ms_rec_base sb = *rb;                                                           \
            ms_rec_get_##NAME(&short_, &sb, *kind, &r);                                            \
            ASSERT_TRUE(short_.bad);                                                               \
        }                                                                                          \
    }
MS_RECORDS(ROUND_TRIP)
#undef ROUND_TRIP

static void every_record(void)
{
    /* The bases carry over from record to record, as in a chunk. */
    struct ms_rec_base wb = {0}, rb = {0};
    for (int i = 0; i < 2000; i++) {
#define CALL(NAME, code, timing, summary) round_trip_##NAME(&wb, &rb);
        MS_RECORDS(CALL)
#undef CALL
        if (ms_test_failures)
            return;
    }
}

#define EXT_ROUND_TRIP(NAME, code, summary)                                                        \
    static void ext_round_trip_##NAME(void)                                                        \
    {                                                                                              \
        uint8_t buf[256];                                                                          \
        MS_XFIELDS_##NAME(DECL);                                                                   \
        uint8_t *kind = buf;                                                                       \
        *kind = 0;                                                                                 \
        uint8_t *end = ms_ext_put_##NAME(kind, buf + 1 MS_XFIELDS_##NAME(ARG));                    \
        ASSERT_EQ(*kind, MS_REC_EXTENDED);                                                         \
        struct ms_cursor c = {buf + 1, end, false};                                                \
        struct ms_rec_base b = {0};                                                                \
        struct ms_rec_EXTENDED x;                                                                  \
        ms_rec_get_EXTENDED(&c, &b, *kind, &x);                                                    \
        ASSERT_EQ(x.subkind, code);                                                                \
        ASSERT_EQ(x.length, end - c.p);                                                            \
        struct ms_cursor sub = {c.p, end, false};                                                  \
        struct ms_ext_##NAME r;                                                                    \
        ms_ext_get_##NAME(&sub, &r);                                                               \
        ASSERT_TRUE(!sub.bad);                                                                     \
        ASSERT_TRUE(sub.p == end);                                                                 \
        MS_XFIELDS_##NAME(CHECK);                                                                  \
    }
MS_EXT_RECORDS(EXT_ROUND_TRIP)
#undef EXT_ROUND_TRIP

static void every_ext_record(void)
{
    for (int i = 0; i < 2000; i++) {
#define CALL(NAME, code, summary) ext_round_trip_##NAME();
        MS_EXT_RECORDS(CALL)
#undef CALL
        if (ms_test_failures)
            return;
    }
}

/* Every kind byte: only those a writer can produce are accepted (spool chunks have no
 * checksum, so this is what catches a flipped bit in them). */
static void kind_bytes(void)
{
    for (int b = 0; b < 256; b++) {
        int kind = b & MS_REC_KIND_MASK;
        bool never_timed =
            kind == MS_REC_STACK_NODE || kind == MS_REC_CLOCK || kind == MS_REC_STRING;
        bool alloc = kind >= MS_REC_ALLOC && kind <= MS_REC_ALLOC_ALIGNED;
        bool ok = kind != 0 && !(b & MS_REC_TIMED && never_timed) &&
                  !(b & (MS_REC_PTR16 | MS_REC_FAMILY_MASK << MS_REC_FAMILY_SHIFT) && !alloc);
        ASSERT_EQ(ms_rec_kind_ok((uint8_t)b), ok);
    }
    /* And the reader refuses a timed STACK_NODE. */
    uint8_t buf[64];
    struct ms_rec_base base = {0};
    uint8_t *k = buf;
    *k = 0;
    uint8_t *p = ms_rec_put_CLOCK(&base, k, buf + 1, 1000, 5);
    k = p;
    *k = MS_REC_TIMED;
    p = ms_varint_put(p + 1, 3);
    p = ms_rec_put_STACK_NODE(&base, k, p, 1, 0, 0x401000);
    struct ms_stack_table st = {0};
    ASSERT_EQ(ms_trace_decode_events(buf, (size_t)(p - buf), 1, &st, NULL, NULL), MS_ECORRUPT);
    ms_stack_table_free(&st);
}

/* ---- a random stream through the reader ---- */

#define MAX_EVENTS 4096

struct expect {
    int n;
    struct ms_event ev[MAX_EVENTS];
    char names[MAX_EVENTS][17];
};

struct check {
    const struct expect *want;
    int i;
    int bad;
};

static int compare(void *ctx, const struct ms_event *ev)
{
    struct check *c = ctx;
    const struct ms_event *w = &c->want->ev[c->i];
    bool same = c->i < c->want->n && ev->kind == w->kind && ev->family == w->family &&
                ev->tsc == w->tsc && ev->ptr == w->ptr && ev->old_ptr == w->old_ptr &&
                ev->size == w->size && ev->align == w->align && ev->stack == w->stack &&
                ev->value == w->value && ev->task == w->task && ev->name_len == w->name_len &&
                (!ev->name_len || memcmp(ev->name, c->want->names[c->i], ev->name_len) == 0) &&
                (ev->kind != MS_REC_EXTENDED ||
                 memcmp(ev->x, w->x, sizeof ev->x[0] * (size_t)ms_ext_field_count(w->value)) == 0);
    if (!same && !c->bad) {
        fprintf(stderr, "event %d (kind %d) differs from what was written (kind %d)\n", c->i,
                ev->kind, w->kind);
        c->bad = 1;
    }
    c->i++;
    return 0;
}

/* Writes a payload of random records of every kind (times, pointers, nodes, tasks, strings,
 * annotations, a CLOCK now and then) and the events the reader must give for it. */
static size_t random_stream(uint8_t *buf, size_t cap, struct expect *x, struct ms_stack_table *want)
{
    struct ms_rec_base b = {0};
    uint8_t *p = buf;
    uint64_t tsc = 1000, task = 0;
    uint32_t next_node = 1;
    uint8_t *kind = p;
    *kind = 0;
    p = ms_rec_put_CLOCK(&b, kind, p + 1, tsc, 5);
    x->n = 0;
    while ((size_t)(p - buf) + 128 < cap && x->n < MAX_EVENTS) {
        int k = 1 + (int)(rnd() % 15);
        kind = p++;
        *kind = 0;
        bool event = k != MS_REC_STACK_NODE && k != MS_REC_CLOCK;
        int family = (int)(rnd() % 3);
        if (k <= MS_REC_ALLOC_ALIGNED)
            *kind |= (uint8_t)(family << MS_REC_FAMILY_SHIFT);
        if (k != MS_REC_STACK_NODE && k != MS_REC_CLOCK && k != MS_REC_STRING && rnd() % 2) {
            uint64_t dt = rnd() % 3 ? rnd() % 100 : rnd() % (1ull << 40);
            *kind |= MS_REC_TIMED;
            p = ms_varint_put(p, dt);
            tsc += dt;
        }
        struct ms_event *e = &x->ev[x->n];
        memset(e, 0, sizeof *e);
        e->kind = k;
        e->family = k <= MS_REC_ALLOC_ALIGNED ? family : 0;
        e->tsc = tsc;
        uint64_t ptr = (rnd() % 3 ? (rnd() % (1u << 16)) << 4 : rnd()) | 1ull << 40;
        uint64_t stack = next_node > 1 ? rnd() % next_node : 0, size = rnd_value();
        switch (k) {
        case MS_REC_ALLOC:
            p = ms_rec_put_ALLOC(&b, kind, p, ptr, size, stack);
            e->ptr = ptr;
            break;
        case MS_REC_ALLOC_ALIGNED:
            e->align = rnd_value();
            p = ms_rec_put_ALLOC_ALIGNED(&b, kind, p, ptr, size, stack, e->align);
            e->ptr = ptr;
            break;
        case MS_REC_FREE:
            p = ms_rec_put_FREE(&b, kind, p, ptr);
            e->ptr = ptr;
            break;
        case MS_REC_REALLOC:
            e->old_ptr = ptr;
            e->ptr = rnd() % 2 ? ptr : ptr + (rnd() % 4096) * 16 + (rnd() % 2);
            p = ms_rec_put_REALLOC(&b, kind, p, e->old_ptr, e->ptr, size, stack);
            break;
        case MS_REC_STACK_NODE: {
            uint32_t parent = (uint32_t)(rnd() % next_node);
            uint64_t ip = rnd() | 1;
            p = ms_rec_put_STACK_NODE(&b, kind, p, next_node, parent, ip);
            ms_stack_table_set(want, next_node, parent, ip, 0);
            next_node++;
            break;
        }
        case MS_REC_THREAD_START:
        case MS_REC_THREAD_NAME: {
            size_t len = rnd() % 17;
            for (size_t i = 0; i < len; i++)
                x->names[x->n][i] = (char)('a' + rnd() % 26);
            e->name_len = len;
            if (k == MS_REC_THREAD_START) {
                e->value = rnd_value();
                p = ms_rec_put_THREAD_START(&b, kind, p, e->value, x->names[x->n], len);
            } else {
                p = ms_rec_put_THREAD_NAME(&b, kind, p, x->names[x->n], len);
            }
            break;
        }
        case MS_REC_THREAD_CREATE:
            e->value = rnd_value();
            p = ms_rec_put_THREAD_CREATE(&b, kind, p, e->value);
            break;
        case MS_REC_FORK:
            e->value = rnd_value();
            p = ms_rec_put_FORK(&b, kind, p, e->value);
            break;
        case MS_REC_THREAD_EXIT:
            p = ms_rec_put_THREAD_EXIT(&b, kind, p);
            break;
        case MS_REC_FREERES:
            p = ms_rec_put_FREERES(&b, kind, p);
            break;
        case MS_REC_CLOCK:
            if (rnd() % 4) {
                p = kind; /* rarely: it restarts every base */
                continue;
            }
            tsc = rnd() % (1ull << 50);
            task = 0;
            p = ms_rec_put_CLOCK(&b, kind, p, tsc, rnd_value());
            break;
        case MS_REC_TASK:
            task = e->value = rnd() % 4 ? rnd_value() : 0;
            e->size = rnd_value();
            p = ms_rec_put_TASK(&b, kind, p, task, e->size);
            break;
        case MS_REC_STRING:
            e->value = 1 + rnd() % 1000;
            e->name_len = rnd() % 10;
            memcpy(x->names[x->n], "some text", e->name_len);
            p = ms_rec_put_STRING(&b, kind, p, e->value, "some text", e->name_len);
            break;
        case MS_REC_EXTENDED:
            if (rnd() % 2) {
                uint64_t v[7] = {ptr, 1, 2, rnd_value(), 3, rnd_value(), 4};
                e->value = MS_EXT_VARIABLE;
                memcpy(e->x, v, sizeof v);
                p = ms_ext_put_VARIABLE(kind, p, v[0], v[1], v[2], v[3], v[4], v[5], v[6]);
            } else {
                e->value = MS_EXT_MOVE;
                e->x[0] = ptr;
                e->x[1] = rnd_value();
                p = ms_ext_put_MOVE(kind, p, e->x[0], e->x[1]);
            }
            break;
        }
        if (k == MS_REC_ALLOC || k == MS_REC_ALLOC_ALIGNED || k == MS_REC_REALLOC) {
            e->stack = (uint32_t)stack;
            e->size = size;
        }
        e->task = task;
        if (event)
            x->n++;
    }
    return (size_t)(p - buf);
}

static void reader_decodes_what_was_written(void)
{
    static uint8_t buf[1 << 16];
    static struct expect x;
    for (int round = 0; round < 50; round++) {
        struct ms_stack_table want = {0}, got = {0};
        size_t len = random_stream(buf, sizeof buf, &x, &want);
        struct check c = {.want = &x};
        ASSERT_EQ(ms_trace_decode_events(buf, len, 7, &got, compare, &c), 0);
        ASSERT_EQ(c.bad, 0);
        ASSERT_EQ(c.i, x.n);
        ASSERT_EQ(got.defined, want.defined);
        for (uint32_t id = 1; id <= want.defined; id++) {
            struct ms_stack_node a, b;
            ASSERT_TRUE(ms_stack_table_get(&want, id, &a));
            ASSERT_TRUE(ms_stack_table_get(&got, id, &b));
            ASSERT_EQ(a.parent, b.parent);
            ASSERT_EQ(a.ip, b.ip);
        }
        ms_stack_table_free(&want);
        ms_stack_table_free(&got);
    }
}

/* ---- docs/trace-format.md says what the table says ---- */

/* The fields of a row's Fields cell as the table spells them: "value (pthread_t), name" gives
 * "value,name"; "—" none; "then ..." is prose. */
static void doc_fields(const char *cell, char *out, size_t cap)
{
    out[0] = 0;
    char tmp[256];
    snprintf(tmp, sizeof tmp, "%s", cell);
    for (char *tok = strtok(tmp, ","); tok; tok = strtok(NULL, ",")) {
        while (*tok == ' ')
            tok++;
        if (!strncmp(tok, "then ", 5) || !strncmp(tok, "\xe2\x80\x94", 3))
            continue;
        size_t n = strcspn(tok, " (");
        if (out[0])
            strncat(out, ",", cap - strlen(out) - 1);
        strncat(out, tok, n < cap - strlen(out) - 1 ? n : cap - strlen(out) - 1);
    }
}

#define FIELD_NAME(t, f) "," #f

/* ",a,b" (the table's field names, each after a comma) without its first comma. */
static const char *table_fields(const char *list)
{
    return list[0] ? list + 1 : list;
}

struct row {
    int code;
    char name[32], fields[256], notes[256];
};

/* Reads the rows "| code | NAME | fields | notes |" of the table that follows the line header
 * in the document. */
static int doc_rows(const char *doc, const char *header, struct row *rows, int max)
{
    const char *t = strstr(doc, header);
    if (!t)
        return -1;
    int n = 0;
    const char *line = strchr(t, '\n');
    line = line ? strchr(line + 1, '\n') : NULL; /* the |---| line */
    while (line && line[1] == '|' && n < max) {
        line++;
        char cells[4][256] = {{0}};
        const char *c = line + 1;
        for (int i = 0; i < 4 && *c && *c != '\n'; i++) {
            size_t len = strcspn(c, "|\n");
            snprintf(cells[i], sizeof cells[i], "%.*s", (int)len, c);
            c += len;
            if (*c == '|')
                c++;
        }
        struct row *r = &rows[n++];
        r->code = atoi(cells[0]);
        sscanf(cells[1], " %31s", r->name);
        doc_fields(cells[2], r->fields, sizeof r->fields);
        snprintf(r->notes, sizeof r->notes, "%s", cells[3]);
        line = strchr(line, '\n');
    }
    return n;
}

static void docs_match_table(void)
{
    static char doc[1 << 17];
    ASSERT_TRUE(ms_test_read_file(MS_SOURCE_DIR "/docs/trace-format.md", doc, sizeof doc));

    struct row rows[32];
    int n = doc_rows(doc, "| Kind | Name | Fields | Notes |", rows, 32);
    int i = 0;
#define ROW(NAME, num, timing, summary)                                                            \
    do {                                                                                           \
        ASSERT_TRUE(i < n);                                                                        \
        ASSERT_EQ(rows[i].code, num);                                                              \
        ASSERT_STREQ(rows[i].name, #NAME);                                                         \
        ASSERT_STREQ(rows[i].fields, table_fields("" MS_FIELDS_##NAME(FIELD_NAME)));               \
        ASSERT_EQ(strstr(rows[i].notes, "never timed") != NULL,                                    \
                  MS__TIMING_##timing != MS__TIMING_OPT);                                          \
        i++;                                                                                       \
    } while (0);
    MS_RECORDS(ROW)
#undef ROW
    ASSERT_EQ(n, i);

    n = doc_rows(doc, "| Sub-kind | Name | Fields |", rows, 32);
    i = 0;
#define XROW(NAME, num, summary)                                                                   \
    do {                                                                                           \
        ASSERT_TRUE(i < n);                                                                        \
        ASSERT_EQ(rows[i].code, num);                                                              \
        ASSERT_STREQ(rows[i].name, #NAME);                                                         \
        ASSERT_STREQ(rows[i].fields, table_fields("" MS_XFIELDS_##NAME(FIELD_NAME)));              \
        i++;                                                                                       \
    } while (0);
    MS_EXT_RECORDS(XROW)
#undef XROW
    ASSERT_EQ(n, i);
}

/* The chunk payloads round-trip, every shorter payload is refused (but for an OPT field,
 * which may be absent), and a PROCESS payload's last argument without its NUL is still one. */
static void chunk_payloads(void)
{
    uint8_t buf[512];
    static const char args[] = "a\0bc\0def"; /* three arguments, the last without its NUL */
    struct ms_chunk_PROCESS pr = {.pid = 7,
                                  .ppid = 1,
                                  .start_tsc = 1ull << 40,
                                  .depth = 64,
                                  .exe = "/bin/x",
                                  .exe_len = 6,
                                  .argv = args,
                                  .argv_len = sizeof args - 1,
                                  .fork_parent_pid = 5,
                                  .node_limit = 300,
                                  .parent_trace = "p",
                                  .parent_trace_len = 1,
                                  .version = "9",
                                  .version_len = 1,
                                  .sample_bytes = 65536};
    ASSERT_TRUE(ms_chunk_maxlen_PROCESS(&pr) <= sizeof buf);
    size_t len = (size_t)(ms_chunk_put_PROCESS(buf, &pr) - buf);
    size_t opt = len - 3; /* sample_bytes (optional: a payload may end before it) */
    for (size_t cut = 0; cut <= len; cut++) {
        struct ms_cursor c = {buf, buf + cut, false};
        struct ms_chunk_PROCESS got;
        ms_chunk_get_PROCESS(&c, &got);
        ASSERT_EQ(c.bad, cut < opt || (cut > opt && cut < len));
        if (cut == opt)
            ASSERT_EQ(got.sample_bytes, 0);
        if (cut < len)
            continue;
        ASSERT_EQ(got.sample_bytes, 65536);
        ASSERT_EQ(got.pid, 7);
        ASSERT_EQ(got.start_tsc, 1ull << 40);
        ASSERT_EQ(got.node_limit, 300);
        ASSERT_EQ(got.argv_count, 3);
        struct ms_cursor a = {(const uint8_t *)got.argv, (const uint8_t *)got.argv + got.argv_len,
                              false};
        const char *want[] = {"a", "bc", "def"};
        for (int i = 0; i < 3; i++) {
            uint64_t l;
            const char *str = ms_cursor_str(&a, &l);
            ASSERT_TRUE(str && l == strlen(want[i]) && !memcmp(str, want[i], l));
        }
        ASSERT_TRUE(a.p == a.end && got.version_len == 1 && got.version[0] == '9');
    }

    struct ms_chunk_MODULES h = {123, 0};
    uint8_t *p = ms_chunk_put_MODULES(buf, &h);
    ASSERT_EQ(p - buf, 1 + 5); /* the count takes 5 bytes whatever it is */
    h.count = 2;
    ASSERT_TRUE(ms_chunk_put_MODULES(buf, &h) == p);
    struct ms_chunk_MODULE m = {"/lib/l.so", 9, 0x7f0000, 0x7f1000, 0x7f2000, "\x01\x02", 2};
    p = ms_chunk_put_MODULE(p, &m);
    struct ms_cursor c = {buf, p, false};
    struct ms_chunk_MODULES gh;
    struct ms_chunk_MODULE gm;
    ms_chunk_get_MODULES(&c, &gh);
    ms_chunk_get_MODULE(&c, &gm);
    ASSERT_TRUE(!c.bad && c.p == c.end && gh.tsc == 123 && gh.count == 2);
    ASSERT_TRUE(gm.hi == 0x7f2000 && gm.build_id_len == 2 && gm.build_id[1] == 2);

    struct ms_chunk_END e = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, ge;
    len = (size_t)(ms_chunk_put_END(buf, &e) - buf);
    for (size_t cut = 0; cut <= len; cut++) {
        struct ms_cursor ce = {buf, buf + cut, false};
        ms_chunk_get_END(&ce, &ge);
        /* threads, scan, scan_pid, scan_refused and scan_unstopped are optional: a payload that
         * ends before them is whole */
        ASSERT_EQ(ce.bad, cut < len - 5);
        ASSERT_EQ(ge.threads, cut >= len - 4 ? 6u : 0u);
        ASSERT_EQ(ge.scan, cut >= len - 3 ? 7u : 0u);
        ASSERT_EQ(ge.scan_pid, cut >= len - 2 ? 8u : 0u);
        ASSERT_EQ(ge.scan_refused, cut >= len - 1 ? 9u : 0u);
        ASSERT_EQ(ge.scan_unstopped, cut == len ? 10u : 0u);
    }
}

/* The payload tables of docs/trace-format.md (sections 5 to 7): "| field | encoding | ..." after
 * the line header, in the table's order and encodings. */
static void doc_payload(const char *doc, const char *header, const char *fields)
{
    const char *t = strstr(doc, header);
    ASSERT_TRUE(t != NULL);
    const char *line = strstr(t, "\n| Field | Encoding | Meaning |\n");
    ASSERT_TRUE(line != NULL);
    line = strchr(line + 1, '\n');
    line = strchr(line + 1, '\n'); /* the |---| line */
    char got[512] = "";
    while (line && line[1] == '|') {
        char name[64], enc[64];
        ASSERT_EQ(sscanf(line + 1, "| %63[^ |] | %63[^|]|", name, enc), 2);
        size_t n = strlen(enc);
        while (n && enc[n - 1] == ' ')
            enc[--n] = 0;
        snprintf(got + strlen(got), sizeof got - strlen(got), ",%s:%s", name, enc);
        line = strchr(line + 1, '\n');
    }
    ASSERT_STREQ(got, fields);
}

#define ENC_U "varint"
#define ENC_U5 "varint, 5 bytes"
#define ENC_STR "string"
#define ENC_STRS "strings"
#define ENC_OPT "varint, optional"
#define PAYLOAD_FIELD(t, f) "," #f ":" ENC_##t

static void docs_match_payloads(void)
{
    static char doc[1 << 17];
    ASSERT_TRUE(ms_test_read_file(MS_SOURCE_DIR "/docs/trace-format.md", doc, sizeof doc));
    doc_payload(doc, "## 5. PROCESS payload", "" MS_CHUNK_FIELDS_PROCESS(PAYLOAD_FIELD));
    doc_payload(doc, "## 6. MODULES payload", "" MS_CHUNK_FIELDS_MODULES(PAYLOAD_FIELD));
    doc_payload(doc, "then `count` modules:", "" MS_CHUNK_FIELDS_MODULE(PAYLOAD_FIELD));
    doc_payload(doc, "## 7. END payload", "" MS_CHUNK_FIELDS_END(PAYLOAD_FIELD));
    doc_payload(doc, "## 7a. LEAK_SCAN payload", "" MS_CHUNK_FIELDS_LEAK_SCAN(PAYLOAD_FIELD));
    doc_payload(doc, "then `count` blocks:", "" MS_CHUNK_FIELDS_LEAK_BLOCK(PAYLOAD_FIELD));
    doc_payload(doc, "summed up in one header:", "" MS_CHUNK_FIELDS_LEAK_GRAPH(PAYLOAD_FIELD));
    doc_payload(doc, "then `retainers` retainers", "" MS_CHUNK_FIELDS_LEAK_RETAINER(PAYLOAD_FIELD));
    doc_payload(doc, "then `cycles` cycles", "" MS_CHUNK_FIELDS_LEAK_CYCLE(PAYLOAD_FIELD));
    doc_payload(doc,
                "followed by `listed` members:", "" MS_CHUNK_FIELDS_LEAK_MEMBER(PAYLOAD_FIELD));
    doc_payload(doc, "## 7c. RSS payload", "" MS_CHUNK_FIELDS_RSS(PAYLOAD_FIELD));
    doc_payload(doc, "then `count` samples:", "" MS_CHUNK_FIELDS_RSS_SAMPLE(PAYLOAD_FIELD));
}

MS_TEST_MAIN(TEST(every_record), TEST(every_ext_record), TEST(kind_bytes),
             TEST(reader_decodes_what_was_written), TEST(docs_match_table), TEST(chunk_payloads),
             TEST(docs_match_payloads))
