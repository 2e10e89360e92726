/* Builds small synthetic traces byte by byte for the reader and model tests, so that tests
 * do not depend on the capture library and can damage traces on purpose. */
#ifndef MS_TRACE_BUILDER_H
#define MS_TRACE_BUILDER_H

#include "common/chunk_codec.h"
#include "common/trace_format.h"
#include "common/varint.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <zstd.h>

struct tb {
    uint8_t data[1 << 16];
    size_t len;
    unsigned version; /* of the file header written into it: chunks carry checksums from 2 on */
};

static inline void tb_bytes(struct tb *b, const void *p, size_t n)
{
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static inline void tb_u(struct tb *b, uint64_t v)
{
    b->len = (size_t)(ms_varint_put(b->data + b->len, v) - b->data);
}

static inline void tb_str(struct tb *b, const char *s)
{
    tb_u(b, strlen(s));
    tb_bytes(b, s, strlen(s));
}

static inline void tb_le(struct tb *b, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        b->data[b->len++] = (uint8_t)(v >> (8 * i));
}

static inline void tb_file_header(struct tb *b, unsigned version)
{
    b->version = version;
    tb_bytes(b, MS_TRACE_MAGIC, MS_TRACE_MAGIC_LEN);
    tb_le(b, version, 2);
    tb_le(b, MS_FILE_HEADER_SIZE, 2);
    tb_le(b, 0, 4);
}

/* Appends a chunk holding payload p (compressed with zstd when compress is set), with first
 * time t0 and its checksum (version 2 on) XORed with crc_error: 0 writes the right one. */
static inline void tb_chunk_full(struct tb *b, int type, uint32_t tid, uint64_t t0,
                                 const struct tb *p, int compress, uint32_t crc_error)
{
    uint8_t z[1 << 16];
    const uint8_t *stored = p->data;
    size_t n = p->len;
    if (compress) {
        n = ZSTD_compress(z, sizeof z, p->data, p->len, 1);
        stored = z;
    }
    size_t hdr = b->len;
    tb_le(b, (uint64_t)type, 1);
    tb_le(b, compress ? MS_CHUNK_ZSTD : 0, 1);
    tb_le(b, 0, 2);
    tb_le(b, n, 4);
    tb_le(b, p->len, 4);
    tb_le(b, tid, 4);
    tb_le(b, t0, 8);
    tb_le(b, 0, 8);
    tb_bytes(b, stored, n);
    if (b->version >= MS_TRACE_VERSION_CRC) {
        uint32_t crc = ms_crc32c(ms_chunk_header_crc(b->data + hdr), stored, n) ^ crc_error;
        size_t end = b->len;
        b->len = hdr + MS_CHUNK_CRC_OFFSET;
        tb_le(b, crc, 4);
        b->len = end;
    }
}

static inline void tb_chunk(struct tb *b, int type, uint32_t tid, const struct tb *p, int compress)
{
    tb_chunk_full(b, type, tid, 0, p, compress, 0);
}

/* Writes into p a PROCESS payload for pid, forked from parent_pid (0: not forked) whose trace is
 * parent_trace, started at TSC 1000 / 1000000 ns, with 1 tick = 1 ns. */
static inline void tb_process_forked(struct tb *p, uint64_t pid, uint64_t parent_pid,
                                     const char *parent_trace)
{
    static const char args[] = "test\0arg"; /* two arguments */
    struct ms_chunk_PROCESS pr = {
        .pid = pid,
        .ppid = 1,
        .start_tsc = 1000,
        .start_mono_ns = 1000000,
        .unwind = MS_UNWIND_NONE,
        .depth = 64,
        .exe = "/bin/test",
        .exe_len = strlen("/bin/test"),
        .argv = args,
        .argv_len = sizeof args - 1,
        .fork_parent_pid = parent_pid,
        .fork_tsc = parent_pid ? 1000 : 0,
        .parent_trace = parent_trace,
        .parent_trace_len = strlen(parent_trace),
        .version = "0.1.0",
        .version_len = strlen("0.1.0"),
    };
    p->len = (size_t)(ms_chunk_put_PROCESS(p->data, &pr) - p->data);
}

static inline void tb_process(struct tb *p, uint64_t pid)
{
    tb_process_forked(p, pid, 0, "");
}

/* A MODULES payload: tb_modules with the number of modules, then tb_module for each. */
static inline void tb_modules(struct tb *p, uint64_t tsc, uint64_t count)
{
    struct ms_chunk_MODULES h = {tsc, count};
    p->len = (size_t)(ms_chunk_put_MODULES(p->data, &h) - p->data);
}

/* A module without a build-id. */
static inline void tb_module(struct tb *p, const char *path, uint64_t bias, uint64_t lo,
                             uint64_t hi)
{
    struct ms_chunk_MODULE m = {path, strlen(path), bias, lo, hi, "", 0};
    p->len = (size_t)(ms_chunk_put_MODULE(p->data + p->len, &m) - p->data);
}

static inline void tb_end(struct tb *p, uint64_t tsc)
{
    /* threads 0 (unknown), as the first writers, which did not write it, meant */
    struct ms_chunk_END e = {tsc, 1000000 + (tsc - 1000), MS_END_EXIT, 0, 0, 0, 0, 0, 0, 0};
    p->len = (size_t)(ms_chunk_put_END(p->data + p->len, &e) - p->data);
}

/* Event records, encoded by the capture's own encoders (record_codec.h); each carries an
 * absolute time, stored as a delta from the previous timed record. */
struct tb_ev {
    struct tb *p;
    uint64_t last_tsc;
    struct ms_rec_base base;
};

/* The kind byte of the next record, untimed; the encoder adds the kind code. */
static inline uint8_t *tb_kind_untimed(struct tb_ev *e, int family)
{
    uint8_t *k = e->p->data + e->p->len++;
    *k = (uint8_t)(family << MS_REC_FAMILY_SHIFT);
    return k;
}

/* A timed kind byte (and its time delta) for a record of the given kind. */
static inline uint8_t *tb_kind(struct tb_ev *e, int kind, int family, uint64_t tsc)
{
    uint8_t *k = tb_kind_untimed(e, family);
    *k |= (uint8_t)(kind | MS_REC_TIMED);
    tb_u(e->p, tsc - e->last_tsc);
    e->last_tsc = tsc;
    return k;
}

/* Runs encoder call (a ms_rec_put_* with the record's fields after p) for the record whose kind
 * byte k returns (tb_kind or tb_kind_untimed), at the end of e's payload. */
#define TB_PUT(e, k, call, ...)                                                                    \
    do {                                                                                           \
        uint8_t *k_ = (k);                                                                         \
        struct tb *p_ = (e)->p;                                                                    \
        p_->len = (size_t)(call(&(e)->base, k_, p_->data + p_->len, __VA_ARGS__) - p_->data);      \
    } while (0)
#define TB_PUT0(e, k, call)                                                                        \
    do {                                                                                           \
        uint8_t *k_ = (k);                                                                         \
        struct tb *p_ = (e)->p;                                                                    \
        p_->len = (size_t)(call(&(e)->base, k_, p_->data + p_->len) - p_->data);                   \
    } while (0)

static inline void tb_clock(struct tb_ev *e, uint64_t tsc)
{
    TB_PUT(e, tb_kind_untimed(e, 0), ms_rec_put_CLOCK, tsc, 1000000 + tsc - 1000);
    e->last_tsc = tsc;
}

static inline void tb_alloc(struct tb_ev *e, uint64_t tsc, uint64_t ptr, uint64_t size,
                            uint32_t stack)
{
    TB_PUT(e, tb_kind(e, MS_REC_ALLOC, MS_FAMILY_MALLOC, tsc), ms_rec_put_ALLOC, ptr, size, stack);
}

static inline void tb_free(struct tb_ev *e, uint64_t tsc, uint64_t ptr)
{
    TB_PUT(e, tb_kind(e, MS_REC_FREE, MS_FAMILY_MALLOC, tsc), ms_rec_put_FREE, ptr);
}

/* A FREE without its own time: it shares the previous timed record's. */
static inline void tb_free_untimed(struct tb_ev *e, uint64_t ptr)
{
    TB_PUT(e, tb_kind_untimed(e, MS_FAMILY_MALLOC), ms_rec_put_FREE, ptr);
}

static inline void tb_realloc(struct tb_ev *e, uint64_t tsc, uint64_t old, uint64_t ptr,
                              uint64_t size, uint32_t stack)
{
    TB_PUT(e, tb_kind(e, MS_REC_REALLOC, MS_FAMILY_MALLOC, tsc), ms_rec_put_REALLOC, old, ptr, size,
           stack);
}

/* Stack node id: frame ip called from the stack parent. */
static inline void tb_node(struct tb_ev *e, uint32_t id, uint32_t parent, uint64_t ip)
{
    TB_PUT(e, tb_kind_untimed(e, 0), ms_rec_put_STACK_NODE, id, parent, ip);
}

/* THREAD_START with thread handle pthread. */
static inline void tb_thread_start_as(struct tb_ev *e, uint64_t tsc, uint64_t pthread,
                                      const char *name)
{
    TB_PUT(e, tb_kind(e, MS_REC_THREAD_START, 0, tsc), ms_rec_put_THREAD_START, pthread, name,
           strlen(name));
}

static inline void tb_thread_start(struct tb_ev *e, uint64_t tsc, const char *name)
{
    tb_thread_start_as(e, tsc, 7, name);
}

/* THREAD_CREATE of the thread with handle pthread. */
static inline void tb_thread_create(struct tb_ev *e, uint64_t tsc, uint64_t pthread)
{
    TB_PUT(e, tb_kind(e, MS_REC_THREAD_CREATE, 0, tsc), ms_rec_put_THREAD_CREATE, pthread);
}

/* The C API's records: the current task from tsc on (cpu_ns: the thread's CPU clock, 0 not
 * read), a string of the string table, and an annotation TB_EXT(e, tsc, NAME, fields...) with
 * the fields of MS_XFIELDS_<NAME>. */
static inline void tb_task(struct tb_ev *e, uint64_t tsc, uint64_t task, uint64_t cpu_ns)
{
    TB_PUT(e, tb_kind(e, MS_REC_TASK, 0, tsc), ms_rec_put_TASK, task, cpu_ns);
}

static inline void tb_string(struct tb_ev *e, uint64_t id, const char *text)
{
    TB_PUT(e, tb_kind_untimed(e, 0), ms_rec_put_STRING, id, text, strlen(text));
}

#define TB_EXT(e, tsc, NAME, ...)                                                                  \
    do {                                                                                           \
        uint8_t *k_ = tb_kind((e), MS_REC_EXTENDED, 0, (tsc));                                     \
        *k_ &= (uint8_t)~MS_REC_EXTENDED; /* the encoder adds the kind */                          \
        struct tb *p_ = (e)->p;                                                                    \
        p_->len = (size_t)(ms_ext_put_##NAME(k_, p_->data + p_->len, __VA_ARGS__) - p_->data);     \
    } while (0)

/* THREAD_EXIT at tsc. */
static inline void tb_thread_exit(struct tb_ev *e, uint64_t tsc)
{
    TB_PUT0(e, tb_kind(e, MS_REC_THREAD_EXIT, 0, tsc), ms_rec_put_THREAD_EXIT);
}

/* Starts a trace in b: file header and a PROCESS chunk for pid. */
static inline void tb_begin(struct tb *b, uint64_t pid)
{
    b->len = 0;
    tb_file_header(b, MS_TRACE_VERSION);
    struct tb p = {.len = 0};
    tb_process(&p, pid);
    tb_chunk(b, MS_CHUNK_PROCESS, 0, &p, 0);
}

/* Starts an EVENTS payload in p (a CLOCK record at tsc) and returns its record writer. */
static inline struct tb_ev tb_events(struct tb *p, uint64_t tsc)
{
    p->len = 0;
    struct tb_ev e = {.p = p};
    tb_clock(&e, tsc);
    return e;
}

static inline int tb_write(const struct tb *b, const char *path)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    fwrite(b->data, 1, b->len, f);
    return fclose(f);
}

#endif
