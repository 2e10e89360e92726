/* Builds small synthetic traces byte by byte for the reader and model tests, so that tests
 * do not depend on the capture library and can damage traces on purpose. */
#ifndef MS_TRACE_BUILDER_H
#define MS_TRACE_BUILDER_H

#include "common/trace_format.h"
#include "common/varint.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <zstd.h>

struct tb {
    uint8_t data[1 << 16];
    size_t len;
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
    tb_bytes(b, MS_TRACE_MAGIC, MS_TRACE_MAGIC_LEN);
    tb_le(b, version, 2);
    tb_le(b, MS_FILE_HEADER_SIZE, 2);
    tb_le(b, 0, 4);
}

/* Appends a chunk holding payload p (compressed with zstd when compress is set). */
static inline void tb_chunk(struct tb *b, int type, uint32_t tid, const struct tb *p, int compress)
{
    uint8_t z[1 << 16];
    const uint8_t *stored = p->data;
    size_t n = p->len;
    if (compress) {
        n = ZSTD_compress(z, sizeof z, p->data, p->len, 1);
        stored = z;
    }
    tb_le(b, (uint64_t)type, 1);
    tb_le(b, compress ? MS_CHUNK_ZSTD : 0, 1);
    tb_le(b, 0, 2);
    tb_le(b, n, 4);
    tb_le(b, p->len, 4);
    tb_le(b, tid, 4);
    tb_le(b, 0, 8);
    tb_le(b, 0, 8);
    tb_bytes(b, stored, n);
}

/* A PROCESS payload for pid 42 started at TSC 1000 / 0 ns, with 1 tick = 1 ns. */
static inline void tb_process(struct tb *p, uint64_t pid)
{
    tb_u(p, pid);
    tb_u(p, 1);
    tb_u(p, 1000);
    tb_u(p, 1000000);
    tb_u(p, 0);
    tb_u(p, MS_UNWIND_NONE);
    tb_u(p, 64);
    tb_str(p, "/bin/test");
    tb_u(p, 2);
    tb_str(p, "test");
    tb_str(p, "arg");
    tb_u(p, 0);
    tb_u(p, 0);
    tb_u(p, 0);
    tb_str(p, "");
    tb_str(p, "0.1.0");
}

static inline void tb_end(struct tb *p, uint64_t tsc)
{
    tb_u(p, tsc);
    tb_u(p, 1000000 + (tsc - 1000));
    tb_u(p, MS_END_EXIT);
    tb_u(p, 0);
    tb_u(p, 0);
}

/* Event records: each carries an absolute time as a delta from *last. */
struct tb_ev {
    struct tb *p;
    uint64_t last_tsc, last_ptr;
};

static inline void tb_clock(struct tb_ev *e, uint64_t tsc)
{
    e->p->data[e->p->len++] = MS_REC_CLOCK;
    tb_u(e->p, tsc);
    tb_u(e->p, 1000000 + tsc - 1000);
    e->last_tsc = tsc;
    e->last_ptr = 0;
}

static inline void tb_kind(struct tb_ev *e, int kind, int family, uint64_t tsc)
{
    e->p->data[e->p->len++] = (uint8_t)(kind | family << MS_REC_FAMILY_SHIFT | MS_REC_TIMED);
    tb_u(e->p, tsc - e->last_tsc);
    e->last_tsc = tsc;
}

static inline void tb_ptr(struct tb_ev *e, uint64_t ptr)
{
    tb_u(e->p, ms_zigzag((int64_t)(ptr - e->last_ptr)));
    e->last_ptr = ptr;
}

static inline void tb_alloc(struct tb_ev *e, uint64_t tsc, uint64_t ptr, uint64_t size,
                            uint32_t stack)
{
    tb_kind(e, MS_REC_ALLOC, MS_FAMILY_MALLOC, tsc);
    tb_ptr(e, ptr);
    tb_u(e->p, size);
    tb_u(e->p, stack);
}

static inline void tb_free(struct tb_ev *e, uint64_t tsc, uint64_t ptr)
{
    tb_kind(e, MS_REC_FREE, MS_FAMILY_MALLOC, tsc);
    tb_ptr(e, ptr);
}

/* A FREE without its own time: it shares the previous timed record's. */
static inline void tb_free_untimed(struct tb_ev *e, uint64_t ptr)
{
    e->p->data[e->p->len++] = (uint8_t)MS_REC_FREE;
    tb_ptr(e, ptr);
}

static inline void tb_realloc(struct tb_ev *e, uint64_t tsc, uint64_t old, uint64_t ptr,
                              uint64_t size, uint32_t stack)
{
    tb_kind(e, MS_REC_REALLOC, MS_FAMILY_MALLOC, tsc);
    tb_ptr(e, old);
    tb_u(e->p, ms_zigzag((int64_t)(ptr - old)));
    e->last_ptr = ptr;
    tb_u(e->p, size);
    tb_u(e->p, stack);
}

static inline void tb_node(struct tb_ev *e, uint32_t id, uint32_t parent, uint64_t ip)
{
    e->p->data[e->p->len++] = MS_REC_STACK_NODE;
    tb_u(e->p, id);
    tb_u(e->p, parent);
    tb_u(e->p, ms_zigzag((int64_t)ip)); /* first node of the chunk: delta from 0 */
}

static inline void tb_thread_start(struct tb_ev *e, uint64_t tsc, const char *name)
{
    tb_kind(e, MS_REC_THREAD_START, 0, tsc);
    tb_u(e->p, 7);
    tb_str(e->p, name);
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
