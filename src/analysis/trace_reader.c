/* The trace reader: chunk index, metadata chunks, and the time-ordered merge of the per-thread
 * event streams. Input is hostile: lengths are checked before use and nothing recurses on it. */
#define _GNU_SOURCE
#include "trace_reader.h"

#include "common/errors.h"
#include "common/file_io.h"
#include "grow.h"
#include "leak_scan.h"
#include "retainers.h"
#include "common/open_regular.h"
#include "common/chunk_codec.h"
#include "common/trace_format.h"
#include "common/varint.h"
#include "spool_reader.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

struct chunk_ref {
    uint64_t offset; /* of the payload */
    uint32_t stored, raw, tid;
    uint8_t type, flags;
    uint64_t t0;
    uint32_t crc;      /* the checksum the header holds (version 2 on) */
    uint32_t crc_head; /* the checksum of the header alone, which the payload's continues */
    bool spool;        /* a buffer in the spool file (raw records, no checksum) */
    /* Spool chunks: bytes that follow the buffer's (tail_len of raw), the counts its head page
     * held (spool_reader.h); owned by the trace. */
    uint8_t *tail;
    uint32_t tail_len;
};

/* The damage report's words for a chunk whose checksum does not match. */
static const char bad_sum_what[] = "a chunk fails its checksum";

struct ms_trace {
    char *path;
    int fd;
    uint64_t size;
    struct ms_process_info proc;
    bool have_proc;
    struct ms_module *modules;
    size_t nmod, capmod;
    uint64_t snapshots;     /* MODULES chunks read */
    uint64_t *mod_snapshot; /* per module: the last snapshot (1-based) that listed it */
    size_t capsnap;
    bool module_overlaps; /* some module's addresses held another module before or after */
    struct ms_end_info end;
    struct ms_leak_scan_info scan;
    struct ms_leak_check_result checks[MS_LEAK_CHECKS_KEPT]; /* by seq, ascending */
    size_t nchecks;
    struct ms_trace_damage damage;
    bool checksums; /* version 2 on: every chunk's checksum is checked when it is loaded */
    struct chunk_ref *chunks;
    size_t nchunks, capchunks;
    double ns_per_tick;
    uint32_t max_node; /* see ms_trace_max_node */
    uint64_t raw_event_bytes;
    uint64_t unknown_chunks; /* chunks of a type this reader does not know, skipped */
    int spool_fd;            /* the spool a killed process left, or -1 (spool_reader.h) */
    uint64_t spool_chunks, spool_bytes;
    uint64_t indexed_to; /* the end of the last chunk indexed */
    bool growing;        /* still being written: an incomplete tail is waited for, not damage */
};

/* ---- bounds-checked reads (struct ms_cursor, record_codec.h and chunk_codec.h) ---- */

/* A decoded string as a NUL-terminated copy (NULL when out of memory or bad). */
static char *str_copy(const char *s, uint64_t len)
{
    if (!s)
        return NULL;
    char *r = malloc(len + 1);
    if (r) {
        memcpy(r, s, len);
        r[len] = 0;
    }
    return r;
}

static void damage(ms_trace *t, uint64_t offset, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void damage(ms_trace *t, uint64_t offset, const char *fmt, ...)
{
    if (t->damage.what[0] == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(t->damage.what, sizeof t->damage.what, fmt, ap);
        va_end(ap);
        t->damage.first_bad_offset = offset;
    }
}

static int read_at(ms_trace *t, uint64_t off, void *buf, size_t n)
{
    return ms_pread_all(t->fd, buf, n, off);
}

/* A growable buffer that chunk loads reuse, so that replaying does not allocate per chunk. */
struct buffer {
    uint8_t *data;
    size_t cap;
};

static int buffer_reserve(struct buffer *b, size_t n)
{
    if (n <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < n)
        cap *= 2;
    uint8_t *d = realloc(b->data, cap);
    if (!d)
        return MS_ENOMEM;
    b->data = d;
    b->cap = cap;
    return 0;
}

/* Reads a chunk's stored bytes, checks its checksum (version 2 on) and decompresses them into
 * out (c->raw bytes); scratch holds the stored bytes of compressed chunks. The checksum is
 * checked here, where the bytes are read anyway, so no chunk is read twice to check it. On
 * MS_ECORRUPT, *bad_sum tells a checksum mismatch from a payload that does not decompress. */
static int load_chunk_into(ms_trace *t, const struct chunk_ref *c, struct buffer *out,
                           struct buffer *scratch, bool *bad_sum)
{
    int err;
    bool zstd = c->flags & MS_CHUNK_ZSTD;
    *bad_sum = false;
    if (c->spool) {
        if ((err = buffer_reserve(out, (size_t)c->raw + 1)) != 0)
            return err;
        uint32_t file = c->raw - c->tail_len;
        if (file && (err = ms_pread_all(t->spool_fd, out->data, file, c->offset)) != 0)
            return err;
        if (c->tail_len)
            memcpy(out->data + file, c->tail, c->tail_len);
        return 0;
    }
    /* Without a checksum there is nothing to learn from the bytes of such a chunk. */
    if (!zstd && c->stored != c->raw && !t->checksums)
        return MS_ECORRUPT;
    struct buffer *in = zstd || c->stored != c->raw ? scratch : out;
    if ((err = buffer_reserve(out, (size_t)c->raw + 1)) != 0 ||
        (err = buffer_reserve(in, (size_t)c->stored + 1)) != 0 ||
        (err = read_at(t, c->offset, in->data, c->stored)) != 0)
        return err;
    if (t->checksums && ms_crc32c(c->crc_head, in->data, c->stored) != c->crc) {
        *bad_sum = true;
        return MS_ECORRUPT;
    }
    if (!zstd)
        return c->stored == c->raw ? 0 : MS_ECORRUPT;
    size_t n = ZSTD_decompress(out->data, c->raw, scratch->data, c->stored);
    return ZSTD_isError(n) || n != c->raw ? MS_ECORRUPT : 0;
}

/* The same into a new buffer, which the caller frees. */
static int load_chunk(ms_trace *t, const struct chunk_ref *c, uint8_t **out, bool *bad_sum)
{
    struct buffer b = {0}, scratch = {0};
    int err = load_chunk_into(t, c, &b, &scratch, bad_sum);
    free(scratch.data);
    if (err) {
        free(b.data);
        return err;
    }
    *out = b.data;
    return 0;
}

/* ---- metadata chunks ---- */

static void process_info_free(struct ms_process_info *pi)
{
    free(pi->exe);
    for (int i = 0; i < pi->argc; i++)
        free(pi->argv[i]);
    free(pi->argv);
    free(pi->parent_trace);
    free(pi->version);
    memset(pi, 0, sizeof *pi);
}

static int parse_process(ms_trace *t, const uint8_t *p, size_t n)
{
    struct ms_cursor c = {p, p + n, false};
    struct ms_process_info *pi = &t->proc;
    /* A damaged earlier PROCESS chunk may have left a partial parse. */
    process_info_free(pi);
    struct ms_chunk_PROCESS pr;
    ms_chunk_get_PROCESS(&c, &pr);
    if (c.bad)
        return MS_ECORRUPT;
    pi->pid = pr.pid;
    pi->ppid = pr.ppid;
    pi->start_tsc = pr.start_tsc;
    pi->start_mono_ns = pr.start_mono_ns;
    pi->start_real_ns = pr.start_real_ns;
    pi->unwind = (int)pr.unwind;
    pi->depth = (int)pr.depth;
    pi->fork_parent_pid = pr.fork_parent_pid;
    pi->fork_tsc = pr.fork_tsc;
    pi->node_limit = (uint32_t)pr.node_limit;
    pi->sample_bytes = pr.sample_bytes <= (1ull << 40) ? pr.sample_bytes : 0;
    /* Every string decoded: the count of arguments is at most the bytes they take. */
    pi->argv = calloc(pr.argv_count + 1, sizeof *pi->argv);
    pi->exe = str_copy(pr.exe, pr.exe_len);
    pi->parent_trace = str_copy(pr.parent_trace, pr.parent_trace_len);
    pi->version = str_copy(pr.version, pr.version_len);
    if (!pi->argv || !pi->exe || !pi->parent_trace || !pi->version)
        return MS_ENOMEM;
    struct ms_cursor args = {(const uint8_t *)pr.argv, (const uint8_t *)pr.argv + pr.argv_len,
                             false};
    for (uint64_t i = 0; i < pr.argv_count; i++) {
        uint64_t len;
        const char *a = ms_cursor_str(&args, &len);
        if (!(pi->argv[pi->argc++] = str_copy(a, len)))
            return MS_ENOMEM;
    }
    t->have_proc = true;
    return 0;
}

static int parse_modules(ms_trace *t, const uint8_t *p, size_t n)
{
    struct ms_cursor c = {p, p + n, false};
    struct ms_chunk_MODULES h;
    ms_chunk_get_MODULES(&c, &h);
    uint64_t snap_tsc = h.tsc, count = h.count;
    uint64_t snap = ++t->snapshots;
    /* Far more than any process loads; the duplicate check below is quadratic. */
    if (count > 65536 || t->nmod + count > 65536)
        return MS_ECORRUPT;
    for (uint64_t i = 0; i < count && !c.bad; i++) {
        struct ms_chunk_MODULE e;
        ms_chunk_get_MODULE(&c, &e);
        struct ms_module m = {.bias = e.bias, .lo = e.lo, .hi = e.hi};
        if (c.bad || e.build_id_len > sizeof m.build_id)
            return MS_ECORRUPT;
        if (!(m.path = str_copy(e.path, e.path_len)))
            return MS_ENOMEM;
        memcpy(m.build_id, e.build_id, e.build_id_len);
        m.build_id_len = e.build_id_len;
        /* Keep one entry per (path, bias): snapshots repeat the modules still loaded. */
        size_t j = 0;
        while (j < t->nmod && !(t->modules[j].bias == m.bias && t->modules[j].lo == m.lo &&
                                !strcmp(t->modules[j].path, m.path)))
            j++;
        if (j < t->nmod) {
            free(m.path);
        } else {
            if (ms_grow(&t->modules, &t->capmod, t->nmod + 1, sizeof *t->modules, 32) != 0 ||
                ms_grow(&t->mod_snapshot, &t->capsnap, t->nmod + 1, sizeof *t->mod_snapshot, 32) !=
                    0) {
                free(m.path);
                return MS_ENOMEM;
            }
            m.first_tsc = snap_tsc;
            t->modules[t->nmod++] = m;
        }
        t->modules[j].last_tsc = snap_tsc;
        t->modules[j].gone_tsc = 0;
        t->mod_snapshot[j] = snap;
    }
    /* Modules this snapshot no longer lists were unloaded (if one was loaded again at the same
     * address, it is listed again, with gone_tsc cleared). */
    for (size_t j = 0; j < t->nmod && !c.bad; j++)
        if (t->mod_snapshot[j] < snap && !t->modules[j].gone_tsc)
            t->modules[j].gone_tsc = snap_tsc ? snap_tsc : 1;
    return c.bad ? MS_ECORRUPT : 0;
}

static int parse_end(ms_trace *t, const uint8_t *p, size_t n)
{
    struct ms_cursor c = {p, p + n, false};
    struct ms_chunk_END d;
    ms_chunk_get_END(&c, &d);
    if (c.bad)
        return MS_ECORRUPT;
    struct ms_end_info e = {.tsc = d.tsc,
                            .mono_ns = d.mono_ns,
                            .reason = (int)d.reason,
                            .code = (int)d.code,
                            .dropped = d.dropped,
                            .threads_at_exit = d.threads,
                            .scan = d.scan,
                            .scan_pid = d.scan_pid,
                            .scan_refused = (int)d.scan_refused,
                            .scan_unstopped = d.scan_unstopped};
    e.present = true;
    /* A trace can hold several END chunks when an exec failed; the last one counts. */
    t->end = e;
    return 0;
}

void ms_leak_scan_info_free(struct ms_leak_scan_info *s)
{
    if (!s)
        return;
    free(s->addr);
    free(s->kind);
    free(s->retainers);
    free(s->cycles);
    free(s->member);
    *s = (struct ms_leak_scan_info){0};
}

/* Addresses must ascend and kinds be known, or the payload is damage. */
/* Who keeps what alive, after the blocks (docs/trace-format.md, 7a): every index a block's, no
 * count beyond what the payload holds (each entry takes a byte per field at least). */
static int decode_graph(struct ms_cursor *c, struct ms_leak_scan_info *s)
{
    struct ms_chunk_LEAK_GRAPH h;
    ms_chunk_get_LEAK_GRAPH(c, &h);
    size_t left = (size_t)(c->end - c->p);
    if (c->bad || h.retainers > left / 3 || h.cycles > left / 3 || h.retainers > h.top_level ||
        h.retainers > MS_RETAINERS_LISTED || h.top_level > s->n || h.cycles > h.all_cycles ||
        h.cycles > MS_CYCLES_LISTED || h.cycle_blocks > s->n || h.all_cycles > h.cycle_blocks)
        return MS_ECORRUPT;
    s->graph = true;
    s->edges = h.edges;
    s->top_level = h.top_level;
    s->all_cycles = h.all_cycles;
    s->cycle_blocks = h.cycle_blocks;
    s->cycle_bytes = h.cycle_bytes;
    s->nretainers = (size_t)h.retainers;
    s->ncycles = (size_t)h.cycles;
    if ((s->nretainers && !(s->retainers = malloc(s->nretainers * sizeof *s->retainers))) ||
        (s->ncycles && !(s->cycles = malloc(s->ncycles * sizeof *s->cycles))))
        return MS_ENOMEM;
    for (size_t i = 0; i < s->nretainers; i++) {
        struct ms_chunk_LEAK_RETAINER e;
        ms_chunk_get_LEAK_RETAINER(c, &e);
        if (c->bad || e.block >= s->n || !e.retained_blocks || e.retained_blocks > s->n)
            return MS_ECORRUPT;
        s->retainers[i] =
            (struct ms_leak_retainer){(size_t)e.block, e.retained_bytes, e.retained_blocks};
    }
    size_t members = 0, cap = 0;
    uint64_t in_cycles = 0; /* blocks of the cycles listed: never more than all cycles hold */
    for (size_t k = 0; k < s->ncycles; k++) {
        struct ms_chunk_LEAK_CYCLE e;
        ms_chunk_get_LEAK_CYCLE(c, &e);
        uint64_t want = e.blocks < MS_CYCLE_MEMBERS_LISTED ? e.blocks : MS_CYCLE_MEMBERS_LISTED;
        in_cycles += e.blocks;
        if (c->bad || !e.blocks || e.blocks > h.cycle_blocks || in_cycles > h.cycle_blocks ||
            e.listed != want || e.listed > (uint64_t)(c->end - c->p))
            return MS_ECORRUPT;
        s->cycles[k] = (struct ms_leak_cycle){e.bytes, e.blocks, members, (size_t)e.listed};
        if (ms_grow(&s->member, &cap, members + (size_t)e.listed, sizeof *s->member, 64))
            return MS_ENOMEM;
        for (uint64_t m = 0; m < e.listed; m++) {
            struct ms_chunk_LEAK_MEMBER x;
            ms_chunk_get_LEAK_MEMBER(c, &x);
            if (c->bad || x.block >= s->n || (m && x.block <= s->member[members - 1]))
                return MS_ECORRUPT;
            s->member[members++] = (size_t)x.block;
        }
    }
    return 0;
}

int ms_leak_scan_decode(const uint8_t *p, size_t n, struct ms_leak_scan_info *out)
{
    *out = (struct ms_leak_scan_info){0};
    struct ms_cursor c = {p, p + n, false};
    struct ms_chunk_LEAK_SCAN h;
    ms_chunk_get_LEAK_SCAN(&c, &h);
    /* each entry takes at least two bytes: a count beyond that is a lie */
    if (c.bad || h.status >= MS_SCAN_STATUSES || h.count > (uint64_t)(c.end - c.p) / 2 ||
        (h.count && h.status != MS_SCAN_DONE) || h.error > INT32_MAX)
        return MS_ECORRUPT;
    struct ms_leak_scan_info s = {.present = true,
                                  .status = (int)h.status,
                                  .error = (int)h.error,
                                  .root_bytes = h.root_bytes,
                                  .unreadable_bytes = h.unreadable_bytes,
                                  .scan_ns = h.scan_ns,
                                  .n = (size_t)h.count};
    if (s.n && (!(s.addr = malloc(s.n * sizeof *s.addr)) || !(s.kind = malloc(s.n)))) {
        ms_leak_scan_info_free(&s);
        return MS_ENOMEM;
    }
    uint64_t at = 0;
    for (size_t i = 0; i < s.n; i++) {
        struct ms_chunk_LEAK_BLOCK e;
        ms_chunk_get_LEAK_BLOCK(&c, &e);
        bool first = i == 0;
        uint64_t heuristic = e.kind >> MS_LEAK_HEURISTIC_SHIFT;
        if (c.bad || (!first && e.delta == 0) || e.delta > UINT64_MAX - at ||
            heuristic > MS_LEAK_HEURISTICS ||
            (heuristic && (e.kind & MS_LEAK_KIND_MASK) != MS_LEAK_REACHABLE)) {
            ms_leak_scan_info_free(&s);
            return MS_ECORRUPT;
        }
        at += e.delta;
        s.addr[i] = at;
        s.kind[i] = (uint8_t)e.kind;
    }
    int rc = c.p < c.end ? decode_graph(&c, &s) : 0;
    if (rc) {
        ms_leak_scan_info_free(&s);
        return rc;
    }
    *out = s;
    return 0;
}

/* A LEAK_SCAN chunk (common/chunk_table.h): the last one counts. */
static int parse_leak_scan(ms_trace *t, const uint8_t *p, size_t n)
{
    struct ms_leak_scan_info s;
    int rc = ms_leak_scan_decode(p, n, &s);
    if (rc)
        return rc;
    ms_leak_scan_info_free(&t->scan);
    t->scan = s;
    return 0;
}

/* A LEAK_CHECK chunk: an on-demand scan's kinds. One per check (a later one for the same seq
 * replaces it); past MS_LEAK_CHECKS_KEPT, the latest checks are kept. */
static int parse_leak_check(ms_trace *t, const uint8_t *p, size_t n)
{
    struct ms_cursor c = {p, p + n, false};
    struct ms_chunk_LEAK_CHECK h;
    ms_chunk_get_LEAK_CHECK(&c, &h);
    if (c.bad || !h.seq)
        return MS_ECORRUPT;
    struct ms_leak_check_result r = {.seq = h.seq, .tsc = h.tsc, .cause = (int)h.cause};
    int rc = ms_leak_scan_decode(c.p, (size_t)(c.end - c.p), &r.scan);
    if (rc)
        return rc;
    size_t i = 0;
    while (i < t->nchecks && t->checks[i].seq < r.seq)
        i++;
    if (i < t->nchecks && t->checks[i].seq == r.seq) {
        ms_leak_scan_info_free(&t->checks[i].scan);
        t->checks[i] = r;
        return 0;
    }
    if (t->nchecks == MS_LEAK_CHECKS_KEPT) {
        if (i == 0) { /* older than every check kept */
            ms_leak_scan_info_free(&r.scan);
            return 0;
        }
        ms_leak_scan_info_free(&t->checks[0].scan);
        memmove(t->checks, t->checks + 1, --t->nchecks * sizeof *t->checks);
        i--;
    }
    memmove(t->checks + i + 1, t->checks + i, (t->nchecks - i) * sizeof *t->checks);
    t->checks[i] = r;
    t->nchecks++;
    return 0;
}

static int add_chunk(ms_trace *t, const struct chunk_ref *c)
{
    int err = ms_grow(&t->chunks, &t->capchunks, t->nchunks + 1, sizeof *t->chunks, 256);
    if (!err)
        t->chunks[t->nchunks++] = *c;
    return err;
}

/* The clock of a trace without an END chunk: the CLOCK record that starts its last chunk. */
static void calibrate(ms_trace *t)
{
    uint64_t tsc = 0, ns = 0;
    if (t->end.present) {
        tsc = t->end.tsc;
        ns = t->end.mono_ns;
    } else {
        for (size_t i = t->nchunks; i-- > 0;) {
            if (t->chunks[i].type != MS_CHUNK_EVENTS)
                continue;
            uint8_t *raw;
            bool bad_sum; /* the merge reports it when it loads the chunk */
            if (load_chunk(t, &t->chunks[i], &raw, &bad_sum) != 0)
                continue;
            struct ms_cursor c = {raw, raw + t->chunks[i].raw, false};
            if (c.p < c.end && *c.p++ == MS_REC_CLOCK) {
                tsc = ms_cursor_u(&c);
                ns = ms_cursor_u(&c);
                if (c.bad)
                    tsc = 0;
            }
            free(raw);
            break;
        }
    }
    t->ns_per_tick = 1.0;
    if (tsc > t->proc.start_tsc && ns > t->proc.start_mono_ns)
        t->ns_per_tick = (double)(ns - t->proc.start_mono_ns) / (double)(tsc - t->proc.start_tsc);
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Whether the stored bytes of a chunk that is otherwise skipped (a type this reader does not
 * know) match its checksum. They are read for this only, piecewise, without allocating. */
static bool stored_sum_ok(ms_trace *t, const struct chunk_ref *c)
{
    uint8_t buf[16384];
    uint32_t crc = c->crc_head;
    for (uint32_t done = 0; done < c->stored;) {
        uint32_t n = c->stored - done < sizeof buf ? c->stored - done : (uint32_t)sizeof buf;
        if (read_at(t, c->offset + done, buf, n) != 0)
            return false;
        crc = ms_crc32c(crc, buf, n);
        done += n;
    }
    return crc == c->crc;
}

/* The chunk whose header h is at file offset off. */
static struct chunk_ref chunk_header(const ms_trace *t, const uint8_t *h, uint64_t off)
{
    struct chunk_ref c = {
        .offset = off + MS_CHUNK_HEADER_SIZE,
        .type = h[0],
        .flags = h[1],
        .stored = (uint32_t)ms_get_le(h + 4, 4),
        .raw = (uint32_t)ms_get_le(h + 8, 4),
        .tid = (uint32_t)ms_get_le(h + 12, 4),
        .t0 = ms_get_le(h + 16, 8),
    };
    if (t->checksums) {
        c.crc = (uint32_t)ms_get_le(h + MS_CHUNK_CRC_OFFSET, 4);
        c.crc_head = ms_chunk_header_crc(h);
    }
    return c;
}

/* Indexes the chunks after the last one indexed. A trace still being written (t->growing) is
 * indexed up to its last whole chunk, and what follows is left for the next call. */
static int index_chunks(ms_trace *t)
{
    uint64_t off = t->indexed_to;
    int rc = 0;
    for (; off < t->size; t->indexed_to = off) {
        uint8_t h[MS_CHUNK_HEADER_SIZE];
        if (t->size - off < MS_CHUNK_HEADER_SIZE || read_at(t, off, h, sizeof h) != 0) {
            if (t->growing)
                break;
            t->damage.bytes_lost = t->size - off;
            damage(t, off, "the trace ends inside a chunk header");
            break;
        }
        struct chunk_ref c = chunk_header(t, h, off);
        if (c.type == 0 || c.raw > MS_CHUNK_MAX_RAW || c.stored > MS_CHUNK_MAX_RAW + 65536 ||
            (c.flags & ~MS_CHUNK_ZSTD)) {
            if (t->growing)
                break; /* the final index reports it */
            /* A chunk header that makes no sense: nothing after it can be trusted. */
            t->damage.bytes_lost = t->size - off;
            damage(t, off, "invalid chunk header (type %u, %u bytes)", c.type, c.raw);
            break;
        }
        if (t->size - c.offset < c.stored) {
            if (t->growing)
                break;
            t->damage.bytes_lost = t->size - off;
            damage(t, off, "the trace ends inside a chunk (%u of %u bytes present)",
                   (unsigned)(t->size - c.offset), c.stored);
            break;
        }
        off = c.offset + c.stored;
        if (c.type > MS_CHUNK_LAST) {
            /* A chunk type from a newer writer: its length is known, so skip it. Its checksum
             * tells it from a chunk whose type byte was damaged. */
            if (t->checksums && !stored_sum_ok(t, &c)) {
                t->damage.chunks_bad++;
                damage(t, c.offset - MS_CHUNK_HEADER_SIZE, "%s", bad_sum_what);
            } else {
                t->unknown_chunks++;
            }
            continue;
        }
        if (c.type == MS_CHUNK_EVENTS) {
            t->raw_event_bytes += c.raw;
            if (add_chunk(t, &c) != 0) {
                rc = MS_ENOMEM;
                break;
            }
            continue;
        }
        uint8_t *raw;
        bool bad_sum;
        int err = load_chunk(t, &c, &raw, &bad_sum);
        if (err == MS_ENOMEM) {
            rc = err;
            break;
        }
        if (err == 0) {
            if (c.type == MS_CHUNK_PROCESS && !t->have_proc)
                err = parse_process(t, raw, c.raw);
            else if (c.type == MS_CHUNK_MODULES)
                err = parse_modules(t, raw, c.raw);
            else if (c.type == MS_CHUNK_END)
                err = parse_end(t, raw, c.raw);
            else if (c.type == MS_CHUNK_LEAK_SCAN)
                err = parse_leak_scan(t, raw, c.raw);
            else if (c.type == MS_CHUNK_LEAK_CHECK)
                err = parse_leak_check(t, raw, c.raw);
            free(raw);
        }
        if (err == MS_ENOMEM) {
            rc = err;
            break;
        }
        if (err) {
            t->damage.chunks_bad++;
            damage(t, c.offset - MS_CHUNK_HEADER_SIZE, "%s",
                   bad_sum ? bad_sum_what : "a metadata chunk does not decode");
        }
    }
    /* Past damage nothing more is read: later calls start at the end. */
    t->indexed_to = rc || t->growing ? t->indexed_to : t->size;
    return rc;
}

/* The buffers that a process killed before it finished left in its spool, as the last EVENTS
 * chunk of each thread; a buffer that was written as a chunk before the kill (same thread, same
 * CLOCK) is already in the trace. */
static int add_spool(ms_trace *t)
{
    struct ms_spool_buffer *bufs;
    int n = ms_spool_scan(t->path, &t->spool_fd, &bufs);
    if (n <= 0)
        return n == MS_ENOMEM ? n : 0; /* an unreadable spool is as good as none */
    size_t written = t->nchunks;
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        /* A spool left by an earlier process under the same name (its trace was deleted, the
         * spool not) is not this process's: its buffers began before this process started. */
        if (bufs[i].clock_tsc < t->proc.start_tsc ||
            (t->end.present && bufs[i].clock_tsc > t->end.tsc))
            continue;
        bool dup = !bufs[i].records;
        for (size_t j = 0; j < written && !dup; j++)
            dup = t->chunks[j].type == MS_CHUNK_EVENTS && t->chunks[j].tid == bufs[i].tid &&
                  t->chunks[j].t0 == bufs[i].clock_tsc;
        if (dup && !bufs[i].counts_len)
            continue;
        /* The counts of the head page follow the buffer's records; when those are in the trace
         * already (or there are none), they make a chunk of their own, after a CLOCK. */
        struct chunk_ref c = {.offset = bufs[i].offset,
                              .stored = bufs[i].len,
                              .raw = bufs[i].len,
                              .tid = bufs[i].tid,
                              .type = MS_CHUNK_EVENTS,
                              .t0 = bufs[i].clock_tsc,
                              .spool = true,
                              .tail = bufs[i].counts,
                              .tail_len = bufs[i].counts_len};
        if (dup) {
            c.tail = ms_spool_counts_chunk(&bufs[i], &c.tail_len);
            if (!c.tail) {
                rc = MS_ENOMEM;
                break;
            }
            c.stored = c.raw = c.tail_len;
        } else {
            c.stored = c.raw = bufs[i].len + bufs[i].counts_len;
            bufs[i].counts = NULL; /* the chunk's now */
        }
        if ((rc = add_chunk(t, &c)) != 0) {
            free(c.tail);
            break;
        }
        t->raw_event_bytes += c.raw;
        t->spool_chunks++;
        t->spool_bytes += c.raw;
    }
    ms_spool_buffers_free(bufs, n);
    return rc;
}

/* Node ids are dense and every STACK_NODE record takes at least 4 bytes, so no valid id exceeds
 * this; a forked child also uses its parent's ids below node_limit. */
static void set_max_node(ms_trace *t)
{
    uint64_t max_node = t->proc.node_limit + t->raw_event_bytes / 4 + 1;
    t->max_node = max_node >= UINT32_MAX ? UINT32_MAX - 1 : (uint32_t)max_node;
}

/* What an index that is complete adds: the spool a killed process left, and the clock. */
static int complete_index(ms_trace *t)
{
    int rc = add_spool(t);
    if (rc)
        return rc;
    calibrate(t);
    set_max_node(t);
    return 0;
}

static int trace_open(const char *path, bool growing, ms_trace **out, char *err, size_t errlen)
{
    *out = NULL;
    /* A forked child's trace names its parent's, so a damaged one can name a FIFO or a device:
     * that must neither hang the reader nor be read. */
    struct stat st;
    int fd = ms_open_regular(path, &st);
    if (fd == MS_EINVAL) {
        set_err(err, errlen,
                "%s: not a regular file; give the path of a trace written by "
                "`memscope run`",
                path);
        return MS_ENOTRACE;
    }
    if (fd < 0) {
        set_err(err, errlen, "%s: %s", path, strerror(errno));
        return fd;
    }
    ms_trace *t = calloc(1, sizeof *t);
    if (!t) {
        close(fd);
        return MS_ENOMEM;
    }
    t->fd = fd;
    t->spool_fd = -1;
    t->size = (uint64_t)st.st_size;
    t->path = strdup(path);
    t->damage.file_size = t->size;
    t->indexed_to = MS_FILE_HEADER_SIZE;
    t->growing = growing;
    uint8_t h[MS_FILE_HEADER_SIZE];
    int rc;
    if (growing && t->size < MS_FILE_HEADER_SIZE) {
        rc = MS_ETRUNCATED; /* not begun yet */
        goto fail;
    }
    if (t->size == 0) {
        set_err(err, errlen,
                "%s: the file is empty; the traced program may still be running "
                "or was killed before writing anything",
                path);
        rc = MS_ENOTRACE;
        goto fail;
    }
    if (t->size < MS_FILE_HEADER_SIZE || read_at(t, 0, h, sizeof h) != 0 ||
        memcmp(h, MS_TRACE_MAGIC, MS_TRACE_MAGIC_LEN) != 0) {
        set_err(err, errlen,
                "%s: not a memscope trace (bad magic bytes); give a file written "
                "by `memscope run`",
                path);
        rc = MS_ENOTRACE;
        goto fail;
    }
    unsigned version = (unsigned)ms_get_le(h + 8, 2);
    if (version > MS_TRACE_VERSION) {
        set_err(err, errlen,
                "%s: trace format version %u is newer than this memscope reads "
                "(%d); use a newer memscope",
                path, version, MS_TRACE_VERSION);
        rc = MS_EVERSION;
        goto fail;
    }
    if (version == 0 || ms_get_le(h + 10, 2) != MS_FILE_HEADER_SIZE) {
        set_err(err, errlen, "%s: corrupt file header at offset 8", path);
        rc = MS_ECORRUPT;
        goto fail;
    }
    t->checksums = version >= MS_TRACE_VERSION_CRC;
    rc = index_chunks(t);
    if (rc == 0 && !t->have_proc && growing)
        rc = MS_ETRUNCATED;
    else if (rc == 0 && !t->have_proc) {
        set_err(err, errlen,
                "%s: the trace has no readable process information (%s at offset "
                "%llu); it cannot be analysed",
                path, t->damage.what[0] ? t->damage.what : "no PROCESS chunk",
                (unsigned long long)t->damage.first_bad_offset);
        rc = MS_ECORRUPT;
    }
    if (rc == 0 && growing)
        set_max_node(t); /* the rest comes with the final ms_trace_refresh */
    else if (rc == 0)
        rc = complete_index(t);
    if (rc)
        goto fail;
    *out = t;
    return 0;
fail:
    if (rc == MS_ENOMEM)
        set_err(err, errlen, "%s: out of memory while reading", path);
    ms_trace_close(t);
    return rc;
}

int ms_trace_open(const char *path, ms_trace **out, char *err, size_t errlen)
{
    return trace_open(path, false, out, err, errlen);
}

int ms_trace_open_growing(const char *path, ms_trace **out)
{
    return trace_open(path, true, out, NULL, 0);
}

/* Whether the file header and the header of every EVENTS chunk indexed so far still read as
 * they did (with their checksums, version 2 on). */
static bool headers_unchanged(ms_trace *t)
{
    uint8_t h[MS_CHUNK_HEADER_SIZE];
    if (read_at(t, 0, h, MS_FILE_HEADER_SIZE) != 0 ||
        memcmp(h, MS_TRACE_MAGIC, MS_TRACE_MAGIC_LEN) != 0)
        return false;
    for (size_t i = 0; i < t->nchunks; i++) {
        const struct chunk_ref *c = &t->chunks[i];
        if (c->spool)
            continue;
        uint64_t off = c->offset - MS_CHUNK_HEADER_SIZE;
        if (read_at(t, off, h, sizeof h) != 0)
            return false;
        struct chunk_ref now = chunk_header(t, h, off);
        if (now.type != c->type || now.flags != c->flags || now.stored != c->stored ||
            now.raw != c->raw || now.tid != c->tid || now.t0 != c->t0 || now.crc != c->crc ||
            now.crc_head != c->crc_head)
            return false;
    }
    return true;
}

int ms_trace_refresh(ms_trace *t, bool final)
{
    if (!t->growing)
        return 0;
    struct stat st, named;
    if (fstat(t->fd, &st) != 0)
        return MS_EIO;
    /* The file read so far must still be the one the path names (the program may have removed
     * or replaced its trace): the finished trace is what is at the path. */
    if (final &&
        (stat(t->path, &named) != 0 || named.st_dev != st.st_dev || named.st_ino != st.st_ino))
        return MS_ENOENT;
    /* A trace only grows: one that shrank or whose headers changed was rewritten in place. */
    if ((uint64_t)st.st_size < t->size || (final && !headers_unchanged(t)))
        return MS_ECORRUPT;
    t->size = (uint64_t)st.st_size;
    t->growing = !final;
    t->damage.file_size = t->size;
    int rc = index_chunks(t);
    if (rc)
        return rc;
    if (final)
        return complete_index(t);
    set_max_node(t);
    return 0;
}

void ms_trace_close(ms_trace *t)
{
    if (!t)
        return;
    close(t->fd);
    if (t->spool_fd >= 0)
        close(t->spool_fd);
    free(t->path);
    process_info_free(&t->proc);
    for (size_t i = 0; i < t->nmod; i++)
        free(t->modules[i].path);
    free(t->modules);
    free(t->mod_snapshot);
    ms_leak_scan_info_free(&t->scan);
    for (size_t i = 0; i < t->nchecks; i++)
        ms_leak_scan_info_free(&t->checks[i].scan);
    for (size_t i = 0; i < t->nchunks; i++)
        free(t->chunks[i].tail);
    free(t->chunks);
    free(t);
}

const struct ms_process_info *ms_trace_process(const ms_trace *t)
{
    return &t->proc;
}

const struct ms_end_info *ms_trace_end(const ms_trace *t)
{
    return &t->end;
}

const struct ms_leak_scan_info *ms_trace_leak_scan(const ms_trace *t)
{
    return &t->scan;
}

const struct ms_leak_check_result *ms_trace_leak_checks(const ms_trace *t, size_t *n)
{
    *n = t->nchecks;
    return t->checks;
}

const struct ms_trace_damage *ms_trace_damage(const ms_trace *t)
{
    return &t->damage;
}

static int by_lo(const void *a, const void *b, void *trace)
{
    const ms_trace *t = trace;
    uint64_t x = t->modules[*(const size_t *)a].lo, y = t->modules[*(const size_t *)b].lo;
    return x < y ? -1 : x > y;
}

/* Marks the modules whose ranges overlap another's (sorted by start, so that a hostile trace
 * of many modules costs n log n). Returns 0 or MS_ENOMEM. */
static int find_overlaps(ms_trace *t)
{
    t->module_overlaps = false;
    if (t->nmod < 2)
        return 0;
    size_t *order = malloc(t->nmod * sizeof *order);
    if (!order)
        return MS_ENOMEM;
    for (size_t i = 0; i < t->nmod; i++) {
        order[i] = i;
        t->modules[i].overlaps = false;
    }
    qsort_r(order, t->nmod, sizeof *order, by_lo, t);
    size_t reach = order[0]; /* the module reaching furthest so far */
    for (size_t k = 1; k < t->nmod; k++) {
        struct ms_module *m = &t->modules[order[k]], *r = &t->modules[reach];
        if (m->lo < r->hi && m->hi > m->lo && r->hi > r->lo) {
            m->overlaps = r->overlaps = true;
            t->module_overlaps = true;
        }
        if (m->hi > r->hi)
            reach = order[k];
    }
    free(order);
    return 0;
}

int ms_trace_module_at(const ms_trace *t, uint64_t addr, uint64_t tsc)
{
    int during = -1, after = -1, last = -1;
    for (size_t i = 0; t->module_overlaps && i < t->nmod; i++) {
        const struct ms_module *m = &t->modules[i];
        if (!m->overlaps || addr < m->lo || addr >= m->hi)
            continue;
        if (m->first_tsc <= tsc && (!m->gone_tsc || tsc < m->gone_tsc)) {
            if (during < 0 || m->first_tsc > t->modules[during].first_tsc)
                during = (int)i;
        } else if (m->first_tsc > tsc) {
            if (after < 0 || m->first_tsc < t->modules[after].first_tsc)
                after = (int)i;
        } else if (last < 0 || m->gone_tsc > t->modules[last].gone_tsc) {
            last = (int)i;
        }
    }
    return during >= 0 ? during : after >= 0 ? after : last;
}

size_t ms_trace_module_count(const ms_trace *t)
{
    return t->nmod;
}

const struct ms_module *ms_trace_module(const ms_trace *t, size_t i)
{
    return i < t->nmod ? &t->modules[i] : NULL;
}

uint32_t ms_trace_max_node(const ms_trace *t)
{
    return t->max_node;
}

uint64_t ms_trace_spool_bytes(const ms_trace *t, uint64_t *buffers)
{
    if (buffers)
        *buffers = t->spool_chunks;
    return t->spool_bytes;
}

uint64_t ms_trace_unknown_chunks(const ms_trace *t)
{
    return t->unknown_chunks;
}

const char *ms_trace_path(const ms_trace *t)
{
    return t->path;
}

uint64_t ms_trace_ns_since_start(const ms_trace *t, uint64_t tsc)
{
    if (tsc <= t->proc.start_tsc)
        return 0;
    return (uint64_t)((double)(tsc - t->proc.start_tsc) * t->ns_per_tick);
}

/* ---- event decoding ---- */

struct decoder {
    struct ms_cursor c;
    const uint8_t *rec; /* start of the last event record decoded */
    bool timed;         /* whether that record carried its own time */
    uint32_t max_node;  /* no valid node id can exceed this (see ms_trace_max_node) */
    uint32_t tid;
    uint64_t tsc;
    uint64_t task; /* the stream's current task (TASK records) */
    /* The stream's last FREE_CALLER (kept from one chunk to the next), and whether the next
     * free is the one it was written for. */
    uint64_t free_ip;
    uint32_t free_stack;
    /* free_every: that FREE_CALLER holds for every free after it in the chunk; free_pending: no
     * free has come after it yet (then the next chunk's first free is the one it was for) */
    bool free_own, free_every, free_pending;
    struct ms_rec_base base;
    uint32_t node_limit;
    struct ms_stack_table *stacks;
    const ms_trace *modules; /* set: give nodes in reloaded modules their module (hints) */
    /* Nodes in reloaded modules whose time is not known yet: a node record has no time of its
     * own, and the next timed record's (an upper bound) dates it better than the last one's
     * (the writer times the first record after dlopen and dlclose). */
    uint32_t pending[16];
    int npending;
};

/* Dates the pending nodes at tsc and gives them the module loaded then. */
static void resolve_pending(struct decoder *d, uint64_t tsc)
{
    for (int i = 0; i < d->npending; i++) {
        struct ms_stack_node n;
        if (ms_stack_table_get(d->stacks, d->pending[i], &n))
            ms_stack_table_set_module(d->stacks, d->pending[i],
                                      (uint32_t)(ms_trace_module_at(d->modules, n.ip, tsc) + 1));
    }
    d->npending = 0;
}

/* The records that are not allocation events: stack nodes, thread and process records, and the
 * stream state (CLOCK, TASK, STRING, EXTENDED). Returns 1 with *ev filled, 0 for a record the
 * consumer does not see, MS_ECORRUPT, MS_ENOMEM. Out of line: the hot loop stays small. */
static __attribute__((noinline)) int decode_other(struct decoder *d, struct ms_event *ev, uint8_t b,
                                                  int kind)
{
    struct ms_cursor *c = &d->c;
    switch (kind) {
    case MS_REC_STACK_NODE: {
        struct ms_rec_STACK_NODE r;
        ms_rec_get_STACK_NODE(c, &d->base, b, &r);
        if (c->bad || r.id > d->max_node || r.parent >= r.id)
            return MS_ECORRUPT;
        if (d->stacks && (!d->node_limit || r.id < d->node_limit)) {
            int at = d->modules ? ms_trace_module_at(d->modules, r.ip, d->tsc) : -1;
            struct ms_stack_node old;
            bool fresh = at >= 0 && !ms_stack_table_get(d->stacks, (uint32_t)r.id, &old);
            int err = ms_stack_table_set(d->stacks, (uint32_t)r.id, (uint32_t)r.parent, r.ip,
                                         (uint32_t)(at + 1));
            if (err)
                return err;
            if (fresh && d->npending < (int)(sizeof d->pending / sizeof *d->pending))
                d->pending[d->npending++] = (uint32_t)r.id;
        }
        return 0;
    }
    case MS_REC_THREAD_START: {
        struct ms_rec_THREAD_START r;
        ms_rec_get_THREAD_START(c, &d->base, b, &r);
        ev->value = r.value;
        ev->name = r.name;
        ev->name_len = r.name_len;
        return 1;
    }
    case MS_REC_THREAD_NAME: {
        struct ms_rec_THREAD_NAME r;
        ms_rec_get_THREAD_NAME(c, &d->base, b, &r);
        ev->name = r.name;
        ev->name_len = r.name_len;
        return 1;
    }
    case MS_REC_THREAD_CREATE:
    case MS_REC_FORK: {
        struct ms_rec_FORK r; /* THREAD_CREATE's fields are FORK's */
        ms_rec_get_FORK(c, &d->base, b, &r);
        ev->value = r.value;
        return 1;
    }
    case MS_REC_THREAD_EXIT:
    case MS_REC_FREERES:
        return 1;
    case MS_REC_CLOCK: {
        struct ms_rec_CLOCK r;
        ms_rec_get_CLOCK(c, &d->base, b, &r);
        d->tsc = r.tsc;
        d->task = 0; /* a chunk names its task again after its CLOCK */
        return c->bad ? MS_ECORRUPT : 0;
    }
    case MS_REC_TASK: {
        struct ms_rec_TASK r;
        ms_rec_get_TASK(c, &d->base, b, &r);
        d->task = ev->task = ev->value = r.task;
        ev->size = r.cpu_ns;
        return c->bad ? MS_ECORRUPT : 1;
    }
    case MS_REC_STRING: {
        struct ms_rec_STRING r;
        ms_rec_get_STRING(c, &d->base, b, &r);
        ev->value = r.id;
        ev->name = r.text;
        ev->name_len = r.text_len;
        return c->bad || !r.id ? MS_ECORRUPT : 1;
    }
    case MS_REC_EXTENDED: {
        /* A sub-kind this table does not have is skipped whole; fields beyond the ones it
         * knows (a newer writer's) too. */
        struct ms_rec_EXTENDED r;
        ms_rec_get_EXTENDED(c, &d->base, b, &r);
        if (c->bad || r.length > (uint64_t)(c->end - c->p))
            return MS_ECORRUPT;
        struct ms_cursor sub = {.p = c->p, .end = c->p + r.length};
        c->p += r.length;
        int n = ms_ext_field_count(r.subkind);
        if (n < 0)
            return 0;
        /* FREE_CALLER's `every` came later: an older writer's record ends before it (read as
         * 0). Every other field must be there. */
        int need = r.subkind == MS_EXT_FREE_CALLER ? 2 : n;
        for (int i = 0; i < n; i++)
            ev->x[i] = i < need || sub.p < sub.end ? ms_cursor_u(&sub) : 0;
        ev->value = r.subkind;
        if (r.subkind == MS_EXT_FREE_CALLER && !sub.bad) {
            /* x: stack, ip, every */
            d->free_stack = ev->x[0] <= d->max_node ? (uint32_t)ev->x[0] : 0;
            d->free_ip = ev->x[1];
            d->free_own = d->free_pending = true;
            d->free_every = ev->x[2] != 0;
        }
        return sub.bad ? MS_ECORRUPT : 1;
    }
    default:
        return MS_ECORRUPT;
    }
}

/* Sets what every event has, from its record's kind byte b at d->rec, and clears the fields
 * of other kinds (cheaply: only the fields of its kind are set after this). */
static inline __attribute__((always_inline)) void event_begin(const struct decoder *d,
                                                              struct ms_event *ev, uint8_t b)
{
    ev->ptr = ev->old_ptr = ev->size = ev->align = ev->value = 0;
    ev->stack = 0;
    ev->forced = false;
    ev->name = NULL;
    ev->name_len = 0;
    ev->kind = b & MS_REC_KIND_MASK;
    ev->family = (b >> MS_REC_FAMILY_SHIFT) & MS_REC_FAMILY_MASK;
    ev->tid = d->tid;
    ev->tsc = d->tsc;
    ev->timed = d->timed;
    ev->task = d->task;
}

/* The allocation records' fields, decoded by get (ms_rec_get_* through a cursor, or the
 * unchecked ms_rec_getf_*) into ev, after the statement begin. The writer never records a NULL
 * block, and every stack id names a node the trace can hold: anything else is corruption, not a
 * reason to allocate. Returns whether the fields are sound. */
#define MS__ALLOC_FIELDS(begin, get, ...)                                                          \
    case MS_REC_ALLOC: {                                                                           \
        struct ms_rec_ALLOC r;                                                                     \
        get(ALLOC, __VA_ARGS__, &r);                                                               \
        begin(ALLOC);                                                                              \
        ev->ptr = r.ptr;                                                                           \
        ev->size = r.size;                                                                         \
        ev->stack = (uint32_t)r.stack;                                                             \
        ok = ok && r.ptr && r.stack <= d->max_node;                                                \
        break;                                                                                     \
    }                                                                                              \
    case MS_REC_ALLOC_ALIGNED: {                                                                   \
        struct ms_rec_ALLOC_ALIGNED r;                                                             \
        get(ALLOC_ALIGNED, __VA_ARGS__, &r);                                                       \
        begin(ALLOC_ALIGNED);                                                                      \
        ev->ptr = r.ptr;                                                                           \
        ev->size = r.size;                                                                         \
        ev->stack = (uint32_t)r.stack;                                                             \
        ev->align = r.align;                                                                       \
        ok = ok && r.ptr && r.stack <= d->max_node;                                                \
        break;                                                                                     \
    }                                                                                              \
    case MS_REC_FREE: {                                                                            \
        struct ms_rec_FREE r;                                                                      \
        get(FREE, __VA_ARGS__, &r);                                                                \
        begin(FREE);                                                                               \
        ev->ptr = r.ptr;                                                                           \
        ev->free_ip = d->free_ip;                                                                  \
        ev->free_stack = d->free_stack;                                                            \
        ev->free_own = d->free_own;                                                                \
        d->free_own = d->free_every;                                                               \
        d->free_pending = false;                                                                   \
        ok = ok && r.ptr != 0;                                                                     \
        break;                                                                                     \
    }                                                                                              \
    case MS_REC_REALLOC: {                                                                         \
        struct ms_rec_REALLOC r;                                                                   \
        get(REALLOC, __VA_ARGS__, &r);                                                             \
        begin(REALLOC);                                                                            \
        ev->old_ptr = r.old_ptr;                                                                   \
        ev->ptr = r.ptr;                                                                           \
        ev->size = r.size;                                                                         \
        ev->stack = (uint32_t)r.stack;                                                             \
        ok = ok && r.ptr && r.old_ptr && r.stack <= d->max_node;                                   \
        break;                                                                                     \
    }
#define MS__NO_BEGIN(NAME) (void)0
#define MS__GET_CHECKED(NAME, c, b, r) ms_rec_get_##NAME(c, &d->base, b, r)
#define MS__GET_UNCHECKED(NAME, p, b, r) p = ms_rec_getf_##NAME(p, &d->base, b, r)

/* The allocation event whose record starts at the cursor, which has MS_REC_FAST_LEN bytes
 * left, decoded without a bounds check per field: 1 with *ev filled, 0 if the record is of
 * another kind (nothing read), MS_ECORRUPT. */
static inline __attribute__((always_inline)) int next_alloc_event(struct decoder *d,
                                                                  struct ms_event *ev)
{
    const uint8_t *p = d->c.p;
    uint8_t b = *p++;
    bool ok; /* set by MS__BEGIN: the flags are ones the kind may have */
    bool timed = b & MS_REC_TIMED;
    if (timed && __builtin_expect(d->npending != 0, 0))
        return 0; /* the general path dates the pending nodes */
    uint64_t tsc = d->tsc;
    if (timed)
        tsc += ms_varint_get_unchecked(&p);
        /* Each case reads its fields, then updates d and the event's common fields. */
#define MS__BEGIN(NAME)                                                                            \
    ok = MS_REC_FLAGS_OK(NAME, b);                                                                 \
    d->rec = d->c.p;                                                                               \
    d->timed = timed;                                                                              \
    d->tsc = tsc;                                                                                  \
    event_begin(d, ev, b)
    switch (b & MS_REC_KIND_MASK) {
        MS__ALLOC_FIELDS(MS__BEGIN, MS__GET_UNCHECKED, p, b)
    default:
        return 0;
    }
#undef MS__BEGIN
    d->c.p = p;
    return ok ? 1 : MS_ECORRUPT;
}

/* Decodes records until the next event for the consumer. Returns 1 with *ev filled, 0 at the
 * end of the chunk, MS_ECORRUPT on bad input, MS_ENOMEM. The fields of each kind are the record
 * table's (record_table.h). Inline: called once per event by the merge; the allocation records
 * are decoded here, the rest by decode_other. */
static inline __attribute__((always_inline)) int next_event(struct decoder *d, struct ms_event *ev)
{
    struct ms_cursor *c = &d->c;
    while (c->p < c->end) {
        if (__builtin_expect(c->end - c->p >= MS_REC_FAST_LEN, 1)) {
            int r = next_alloc_event(d, ev);
            if (r)
                return r;
        }
        d->rec = c->p;
        uint8_t b = *c->p++;
        int kind = b & MS_REC_KIND_MASK;
        if (!ms_rec_kind_ok(b))
            return MS_ECORRUPT;
        d->timed = b & MS_REC_TIMED;
        if (d->timed) {
            d->tsc += ms_cursor_u(c);
            if (__builtin_expect(d->npending != 0, 0))
                resolve_pending(d, d->tsc);
        }
        event_begin(d, ev, b);
        bool ok = true;
        switch (kind) {
            MS__ALLOC_FIELDS(MS__NO_BEGIN, MS__GET_CHECKED, c, b)
        default: {
            int r = decode_other(d, ev, b, kind);
            if (r == 0)
                continue;
            if (r < 0)
                return r;
        }
        }
        if (c->bad || !ok)
            return MS_ECORRUPT;
        return 1;
    }
    if (d->npending) /* no later time in this chunk: the last one */
        resolve_pending(d, d->tsc);
    return 0;
}
#undef MS__GET_CHECKED
#undef MS__NO_BEGIN
#undef MS__GET_UNCHECKED
#undef MS__ALLOC_FIELDS

int ms_trace_decode_events(const uint8_t *raw, size_t len, uint32_t tid,
                           struct ms_stack_table *stacks, ms_event_fn fn, void *ctx)
{
    struct decoder d = {.c = {raw, raw + len, false},
                        .tid = tid,
                        .stacks = stacks,
                        .max_node = (uint32_t)(len / 4 + 1)};
    struct ms_event ev;
    int r;
    while ((r = next_event(&d, &ev)) == 1) {
        if (!fn)
            continue;
        r = fn(ctx, &ev);
        if (r > 0 && r <= MS_REPLAY_WANT_ALLOC_OLD) {
            ev.forced = true; /* one thread: no other stream can resolve it */
            r = fn(ctx, &ev);
        }
        if (r != 0)
            return r;
    }
    return r;
}

/* ---- the merge ---- */

struct stream {
    uint32_t tid;
    size_t *chunks; /* indices into t->chunks, in file order */
    size_t n, cap, next;
    uint8_t *buf; /* the decoded chunk being read (in raw), or NULL */
    struct buffer raw;
    struct decoder d;
    struct ms_event ev; /* the pending event */
    size_t ev_off;      /* its record's offset in buf */
    bool ev_timed;      /* it carries its own time (else its time is a lower bound) */
    bool requeued;      /* it was put back at its upper bound after a conflict */
    bool has_ev;
    bool exited; /* live replay: its thread's exit was delivered */
    uint64_t key;
    /* Offsets (in the current chunk) of events another stream's conflict already delivered. */
    size_t *consumed;
    size_t nconsumed, capconsumed;
};

/* The most decoded chunk bytes the merge holds at once (one chunk per thread). */
#define MS_MERGE_MEMORY (1024u << 20)

struct merge {
    ms_trace *t;
    size_t held; /* bytes of stream buffers */
    struct buffer scratch;
    struct stream *streams;
    size_t nstreams, capstreams;
    size_t *heap;
    size_t nheap, capheap;
    struct ms_stack_table *stacks;
    uint32_t node_limit;
    bool hints; /* nodes get module hints (the trace replayed for itself, not as an ancestor) */
    size_t distributed; /* chunks of t already given to their streams */
    size_t last_stream;
};

static bool before(struct merge *m, size_t a, size_t b)
{
    struct stream *x = &m->streams[a], *y = &m->streams[b];
    return x->key < y->key || (x->key == y->key && a < b);
}

static void heap_push(struct merge *m, size_t s)
{
    size_t i = m->nheap++;
    m->heap[i] = s;
    while (i > 0 && before(m, m->heap[i], m->heap[(i - 1) / 2])) {
        size_t p = (i - 1) / 2, tmp = m->heap[p];
        m->heap[p] = m->heap[i];
        m->heap[i] = tmp;
        i = p;
    }
}

static size_t heap_pop(struct merge *m)
{
    size_t top = m->heap[0];
    m->heap[0] = m->heap[--m->nheap];
    for (size_t i = 0;;) {
        size_t l = 2 * i + 1, r = l + 1, best = i;
        if (l < m->nheap && before(m, m->heap[l], m->heap[best]))
            best = l;
        if (r < m->nheap && before(m, m->heap[r], m->heap[best]))
            best = r;
        if (best == i)
            break;
        size_t tmp = m->heap[best];
        m->heap[best] = m->heap[i];
        m->heap[i] = tmp;
        i = best;
    }
    return top;
}

static bool is_consumed(const struct stream *s, size_t off)
{
    for (size_t i = 0; i < s->nconsumed; i++)
        if (s->consumed[i] == off)
            return true;
    return false;
}

/* Ends stream s's current chunk, on error r from next_event (counted as damage). Then loads its
 * next chunk: returns 1 when s->buf holds one to decode (or one was skipped as damaged: go on),
 * 0 at the stream's end, MS_ENOMEM. */
static __attribute__((noinline)) int stream_next_chunk(struct merge *m, struct stream *s, int r)
{
    if (r == MS_ENOMEM)
        return r;
    if (r < 0 || !s->buf)
        s->d.free_pending = false; /* a chunk lost or cut: its FREE_CALLERs may be missing */
    if (r < 0) {
        const struct chunk_ref *c = &m->t->chunks[s->chunks[s->next - 1]];
        m->t->damage.chunks_bad++;
        damage(m->t, c->offset - MS_CHUNK_HEADER_SIZE + (uint64_t)(s->d.c.p - s->buf),
               "an event record does not decode (thread %u)", s->tid);
    }
    s->buf = NULL;
    if (s->next >= s->n) {
        s->has_ev = false;
        return 0;
    }
    const struct chunk_ref *c = &m->t->chunks[s->chunks[s->next++]];
    s->nconsumed = 0;
    /* Every thread's current chunk is held at once: a damaged trace claiming many huge chunks
     * must not make that unbounded. */
    if (c->raw > s->raw.cap && m->held + c->raw - s->raw.cap > MS_MERGE_MEMORY) {
        m->t->damage.chunks_bad++;
        damage(m->t, c->offset - MS_CHUNK_HEADER_SIZE, "chunks held at once would exceed %u MiB",
               MS_MERGE_MEMORY >> 20);
        return 1;
    }
    size_t had = s->raw.cap;
    bool bad_sum;
    int err = load_chunk_into(m->t, c, &s->raw, &m->scratch, &bad_sum);
    m->held += s->raw.cap - had;
    if (err == MS_ENOMEM)
        return err;
    if (err) {
        m->t->damage.chunks_bad++;
        damage(m->t, c->offset - MS_CHUNK_HEADER_SIZE, "%s",
               bad_sum ? bad_sum_what : "a chunk does not decompress");
        return 1;
    }
    s->buf = s->raw.data;
    uint64_t tsc = s->d.tsc;
    s->d = (struct decoder){.c = {s->buf, s->buf + c->raw, false},
                            .max_node = m->t->max_node,
                            .tid = c->tid,
                            .tsc = tsc,
                            .free_ip = s->d.free_ip,
                            .free_stack = s->d.free_stack,
                            /* The writer restates a FREE_CALLER in each chunk: one carries
                             * over only when its free is in this chunk (it ended the last). */
                            .free_own = s->d.free_pending,
                            .free_every = s->d.free_pending && s->d.free_every,
                            .free_pending = s->d.free_pending,
                            .stacks = m->stacks,
                            .node_limit = m->node_limit,
                            .modules = m->hints && m->t->module_overlaps ? m->t : NULL};
    return 1;
}

/* Advances stream s to its next event, loading chunks as needed. Returns 1 if it has one, 0 at
 * its end, MS_ENOMEM. Undecodable chunks are skipped and counted. Inline: once per event. */
static inline __attribute__((always_inline)) int stream_advance(struct merge *m, struct stream *s)
{
    for (;;) {
        int r = 0;
        if (s->buf) {
            r = next_event(&s->d, &s->ev);
            if (r == 1) {
                s->ev_off = (size_t)(s->d.rec - s->buf);
                if (s->nconsumed && is_consumed(s, s->ev_off))
                    continue;
                s->ev_timed = s->d.timed;
                s->requeued = false;
                s->has_ev = true;
                s->key = s->ev.tsc;
                return 1;
            }
        }
        if ((r = stream_next_chunk(m, s, r)) <= 0)
            return r;
    }
}

/* Reads the rest of a stream for its stack nodes only. */
static int stream_drain_nodes(struct merge *m, struct stream *s)
{
    int r;
    while ((r = stream_advance(m, s)) == 1)
        ;
    return r;
}

/* ---- conflicts between streams ----
 * In a multi-threaded process only every 16th record of a thread carries a time, so events of
 * different threads close in time may merge in the wrong order. The model notices when that
 * matters (an address allocated while still live, a free of an address not live) and asks for
 * the missing event; it is then looked for among the next events of the other threads and
 * delivered first. Events of one address therefore always replay in the true order. */

#define LOOKAHEAD 4096

/* Looks in stream t (its pending event, then the rest of its current chunk) for the first event
 * touching addr; true, with the event and its offset, if that event is the wanted free (or,
 * with want_free false, allocation) of addr. */
static bool find_match(struct stream *t, uint64_t addr, bool want_free, struct ms_event *out,
                       size_t *off)
{
    if (!t->has_ev || !t->buf)
        return false;
    struct decoder d = t->d;
    for (int i = 0; i < LOOKAHEAD; i++) {
        struct ms_event e;
        size_t eoff;
        if (i == 0) {
            e = t->ev;
            eoff = t->ev_off;
        } else {
            if (next_event(&d, &e) != 1)
                return false;
            eoff = (size_t)(d.rec - t->buf);
        }
        if (t->nconsumed && is_consumed(t, eoff))
            continue;
        bool is_alloc = e.kind == MS_REC_ALLOC || e.kind == MS_REC_ALLOC_ALIGNED;
        if ((is_alloc || e.kind == MS_REC_FREE || e.kind == MS_REC_REALLOC) && e.ptr == addr) {
            if (e.kind == MS_REC_REALLOC || is_alloc == want_free)
                return false;
            *out = e;
            *off = eoff;
            return true;
        }
        if (e.kind == MS_REC_REALLOC && e.old_ptr == addr)
            return false;
    }
    return false;
}

static int mark_consumed(struct stream *t, size_t off)
{
    int err = ms_grow(&t->consumed, &t->capconsumed, t->nconsumed + 1, sizeof *t->consumed, 16);
    if (!err)
        t->consumed[t->nconsumed++] = off;
    return err;
}

/* The latest time stream s's pending event can have happened: the time of the stream's next
 * timed record, else the start of its next chunk, else the end of time. */
static uint64_t upper_bound(struct merge *m, struct stream *s)
{
    if (s->ev_timed)
        return s->ev.tsc;
    struct decoder d = s->d;
    struct ms_event e;
    while (next_event(&d, &e) == 1)
        if (d.timed)
            return e.tsc;
    if (s->next < s->n)
        return m->t->chunks[s->chunks[s->next]].t0;
    return UINT64_MAX;
}

#define MS_REQUEUED 1

/* Resolves the conflict r that the consumer reported for stream si's pending event (see
 * deliver). */
static __attribute__((noinline)) int resolve(struct merge *m, size_t si, ms_event_fn fn, void *ctx,
                                             bool may_requeue, int r)
{
    struct ms_event ev = m->streams[si].ev;
    for (int tries = 0;; tries++) {
        if (tries > 0)
            r = fn(ctx, &ev);
        if (r <= 0 || r > MS_REPLAY_WANT_ALLOC_OLD)
            return r;
        if (ev.forced)
            return MS_EINVAL;
        uint64_t addr = r == MS_REPLAY_WANT_ALLOC_OLD ? ev.old_ptr : ev.ptr;
        bool want_free = r == MS_REPLAY_WANT_FREE;
        bool found = false;
        for (size_t ti = 0; ti < m->nstreams && tries < 8 && !found; ti++) {
            struct ms_event match;
            size_t off;
            if (ti == si || !find_match(&m->streams[ti], addr, want_free, &match, &off))
                continue;
            int r2 = fn(ctx, &match);
            if (r2 < 0)
                return r2;
            if (r2 == 0) {
                if ((r2 = mark_consumed(&m->streams[ti], off)) != 0)
                    return r2;
                found = true;
            }
        }
        if (!found) {
            struct stream *s = &m->streams[si];
            if (may_requeue && !s->requeued) {
                uint64_t ub = upper_bound(m, s);
                if (ub > s->key) {
                    s->key = ub;
                    s->requeued = true;
                    return MS_REQUEUED;
                }
            }
            ev.forced = true; /* nothing can resolve it: the consumer applies its fallback */
        }
    }
}

/* Delivers stream si's pending event, resolving the conflicts the consumer reports. Returns
 * MS_REQUEUED when the event, whose time is only a lower bound, was instead put back at its
 * upper bound so that the other threads' events before it come first. */
static inline __attribute__((always_inline)) int deliver(struct merge *m, size_t si, ms_event_fn fn,
                                                         void *ctx, bool may_requeue)
{
    int r = fn(ctx, &m->streams[si].ev);
    if (__builtin_expect(r <= 0 || r > MS_REPLAY_WANT_ALLOC_OLD, 1))
        return r;
    return resolve(m, si, fn, ctx, may_requeue, r);
}

static int find_stream(struct merge *m, uint32_t tid, size_t *out)
{
    for (size_t i = m->nstreams; i-- > 0;)
        if (m->streams[i].tid == tid) {
            *out = i;
            return 0;
        }
    int err = ms_grow(&m->streams, &m->capstreams, m->nstreams + 1, sizeof *m->streams, 8);
    if (err)
        return err;
    m->streams[m->nstreams] = (struct stream){.tid = tid};
    *out = m->nstreams++;
    return ms_grow(&m->heap, &m->capheap, m->nstreams, sizeof *m->heap, 8);
}

static void merge_free(struct merge *m)
{
    for (size_t i = 0; i < m->nstreams; i++) {
        free(m->streams[i].chunks);
        free(m->streams[i].raw.data);
        free(m->streams[i].consumed);
    }
    free(m->scratch.data);
    free(m->streams);
    free(m->heap);
}

static bool at_cut(const struct ms_replay_cut *cut, const struct ms_event *ev)
{
    if (!cut)
        return false;
    if (ev->kind == MS_REC_FORK && ev->value == cut->child_pid)
        return true;
    return ev->tsc >= cut->tsc;
}

/* Gives the chunks indexed since the last call to their threads' streams. A new stream is
 * numbered in the order of its first chunk in the file, as in a replay of the whole trace. */
static int distribute(struct merge *m)
{
    ms_trace *t = m->t;
    /* A growing trace's limit on node ids grows with it: the chunks being decoded get the new
     * one, as a replay of the whole trace would have used the final one from the start. */
    for (size_t i = 0; i < m->nstreams; i++)
        m->streams[i].d.max_node = t->max_node;
    for (; m->distributed < t->nchunks; m->distributed++) {
        const struct chunk_ref *c = &t->chunks[m->distributed];
        size_t si;
        int rc;
        if (m->last_stream < m->nstreams && m->streams[m->last_stream].tid == c->tid)
            si = m->last_stream;
        else if ((rc = find_stream(m, c->tid, &si)) != 0)
            return rc;
        m->last_stream = si;
        struct stream *s = &m->streams[si];
        if ((rc = ms_grow(&s->chunks, &s->cap, s->n + 1, sizeof *s->chunks, 8)) != 0)
            return rc;
        s->chunks[s->n++] = m->distributed;
    }
    return 0;
}

/* What a live replay has delivered: the time order of its last event. */
struct delivered {
    bool any;
    uint64_t key;
    size_t stream;
};

/* Brings every stream without a pending event to its next one, if its chunks now have one, and
 * puts it in the heap. With done given, reports in *late whether such an event comes before
 * what was already delivered (a replay of the whole trace would have delivered it earlier). */
static int advance_idle(struct merge *m, const struct delivered *done, bool *late)
{
    for (size_t i = 0; i < m->nstreams; i++) {
        struct stream *s = &m->streams[i];
        if (s->has_ev || s->next >= s->n)
            continue;
        int r = stream_advance(m, s);
        if (r < 0)
            return r;
        if (r != 1)
            continue;
        s->exited = false;
        if (done && done->any && (s->key < done->key || (s->key == done->key && i < done->stream)))
            *late = true;
        heap_push(m, i);
    }
    return 0;
}

/* The time-ordered merge of every stream from where it stands (all pending events in the heap)
 * to the end of the trace. */
static int merge_run(struct merge *m, const struct ms_replay_cut *cut, ms_event_fn fn, void *ctx)
{
    int rc = 0;
    /* si: the stream being read, out of the heap while it stays first in time order (most of
     * a thread's consecutive events share one time), so that the heap is touched only when
     * another stream becomes first. */
    size_t si = SIZE_MAX;
    while (si != SIZE_MAX || m->nheap > 0) {
        if (si != SIZE_MAX && m->nheap == 0) {
            heap_push(m, si);
            si = SIZE_MAX;
        }
        if (si == SIZE_MAX && m->nheap == 1 && !cut) {
            /* One thread left: no merging needed, stream its events straight through. */
            struct stream *s = &m->streams[m->heap[0]];
            int r = 1;
            while (r == 1) {
                bool early = s->nconsumed && is_consumed(s, s->ev_off);
                if (!early && fn && (rc = deliver(m, m->heap[0], fn, ctx, false)) != 0)
                    return rc;
                r = stream_advance(m, s);
            }
            return r < 0 ? r : 0;
        }
        if (si == SIZE_MAX)
            si = heap_pop(m);
        struct stream *s = &m->streams[si];
        if (at_cut(cut, &s->ev)) {
            if ((rc = stream_drain_nodes(m, s)) < 0)
                return rc;
            si = SIZE_MAX;
            continue;
        }
        /* The pending event may have been delivered early for another stream's conflict. */
        bool early = s->nconsumed && is_consumed(s, s->ev_off);
        if (!early && fn && (rc = deliver(m, si, fn, ctx, true)) != 0) {
            if (rc != MS_REQUEUED)
                return rc;
            rc = 0;
            heap_push(m, si);
            si = SIZE_MAX;
            continue;
        }
        int r = stream_advance(m, s);
        if (r < 0)
            return r;
        /* Stay with this stream while it is still first: exactly the order a push and a pop of
         * the heap would give. */
        if (r != 1) {
            si = SIZE_MAX;
        } else if (m->nheap > 0 && !before(m, si, m->heap[0])) {
            heap_push(m, si);
            si = SIZE_MAX;
        }
    }
    return 0;
}

int ms_trace_replay(ms_trace *t, const struct ms_replay_cut *cut, uint32_t node_limit,
                    struct ms_stack_table *stacks, ms_event_fn fn, void *ctx)
{
    struct merge m = {
        .t = t, .stacks = stacks, .node_limit = node_limit, .hints = !cut, .last_stream = SIZE_MAX};
    int rc = find_overlaps(t);
    if (!rc)
        rc = distribute(&m);
    if (!rc)
        rc = advance_idle(&m, NULL, NULL);
    if (!rc)
        rc = merge_run(&m, cut, fn, ctx);
    merge_free(&m);
    return rc;
}

/* ---- replaying a trace as it is written ---- */

struct ms_live_replay {
    struct merge m;
    ms_event_fn fn;
    void *ctx;
    struct delivered done;
    /* Thread handles whose THREAD_START was delivered and not yet matched by the creator's
     * THREAD_CREATE, with how many times. */
    struct started {
        uint64_t pthread;
        int64_t count; /* below 0: created, start still to come */
    } * started;
    size_t nstarted, capstarted;
    bool stopped; /* at a conflict: the rest waits for the whole trace */
    bool late;    /* a thread's events came after later ones were delivered */
    int error;
};

int ms_live_replay_new(ms_trace *t, struct ms_stack_table *stacks, ms_event_fn fn, void *ctx,
                       struct ms_live_replay **out)
{
    struct ms_live_replay *r = calloc(1, sizeof *r);
    if (!r)
        return MS_ENOMEM;
    r->m = (struct merge){.t = t, .stacks = stacks, .hints = true, .last_stream = SIZE_MAX};
    if (find_overlaps(t) == MS_ENOMEM) {
        free(r);
        return MS_ENOMEM;
    }
    r->fn = fn;
    r->ctx = ctx;
    *out = r;
    return 0;
}

/* Whether a stream without a pending event holds the live replay back: a running thread's
 * next chunk can hold events before every other pending one. The orphan buffer (thread 0,
 * shared by events recorded outside any thread's own buffer) is written only now and then, so
 * waiting for it would wait for the end; its events are checked when they come instead. */
static bool holds_back(const struct stream *s)
{
    return !s->has_ev && !s->exited && s->tid != 0;
}

/* Whether ev may be delivered now as far as new threads go: a thread's events can precede its
 * creator's record of pthread_create, so that record waits until the new thread's stream is
 * known (its THREAD_START delivered or pending; the stream then holds the replay back when it
 * runs dry). */
static int thread_order(struct ms_live_replay *r, const struct ms_event *ev, bool *ok)
{
    *ok = true;
    if (ev->kind != MS_REC_THREAD_START && ev->kind != MS_REC_THREAD_CREATE)
        return 0;
    size_t i = 0;
    while (i < r->nstarted && r->started[i].pthread != ev->value)
        i++;
    if (i == r->nstarted) {
        int err = ms_grow(&r->started, &r->capstarted, i + 1, sizeof *r->started, 16);
        if (err)
            return err;
        r->started[r->nstarted++] = (struct started){ev->value, 0};
    }
    if (ev->kind == MS_REC_THREAD_CREATE && r->started[i].count <= 0) {
        *ok = false;
        for (size_t k = 0; k < r->m.nstreams && !*ok; k++) {
            const struct stream *s = &r->m.streams[k];
            *ok = s->has_ev && s->ev.kind == MS_REC_THREAD_START && s->ev.value == ev->value;
        }
    }
    return 0;
}

/* Counts a delivered THREAD_START or THREAD_CREATE (thread_order found its handle's entry). */
static void thread_order_done(struct ms_live_replay *r, const struct ms_event *ev)
{
    for (size_t i = 0; i < r->nstarted; i++)
        if (r->started[i].pthread == ev->value) {
            if (ev->kind == MS_REC_THREAD_START)
                r->started[i].count++;
            else if (ev->kind == MS_REC_THREAD_CREATE)
                r->started[i].count--;
            return;
        }
}

/* Delivers, in time order, the events that no chunk still to be written can precede: while
 * every running thread has a pending event and every thread created has started. Stops for
 * good at the first event the callback finds in conflict: resolving it may need events not
 * written yet. */
int ms_live_replay_step(struct ms_live_replay *r)
{
    struct merge *m = &r->m;
    if (r->error || r->stopped || r->late)
        return r->error;
    /* A chunk that fails to load or decode while the trace grows may be fine in the finished
     * trace (a stack node id beyond what the bytes so far allow, whose node another thread has
     * not written yet): the live replay then cannot be what the whole replay does. */
    uint64_t bad = m->t->damage.chunks_bad;
    int rc = distribute(m);
    if (!rc)
        rc = advance_idle(m, &r->done, &r->late);
    /* The main thread starts the others, so its events come first: nothing is delivered
     * before its first chunk is there (a main thread that only waits for its workers writes
     * that chunk at the end). Only a stream that runs dry changes what holds the replay back
     * within a step, so the rest is looked at once per step. */
    bool main_known = false, wait = false;
    for (size_t i = 0; i < m->nstreams; i++) {
        main_known |= m->streams[i].tid == ms_trace_process(m->t)->pid;
        wait |= holds_back(&m->streams[i]);
    }
    r->late |= m->t->damage.chunks_bad != bad;
    /* si: the stream being delivered, kept out of the heap while it stays first in time order
     * (as in merge_run), and put back when another stream comes first or the loop ends. */
    size_t si = SIZE_MAX;
    while (!rc && !r->late && main_known && !wait && (si != SIZE_MAX || m->nheap > 0)) {
        if (si == SIZE_MAX)
            si = heap_pop(m);
        struct stream *s = &m->streams[si];
        bool thread_kind = s->ev.kind == MS_REC_THREAD_START || s->ev.kind == MS_REC_THREAD_CREATE;
        bool ok = true;
        if (thread_kind && ((rc = thread_order(r, &s->ev, &ok)) != 0 || !ok))
            break;
        int v = r->fn(r->ctx, &s->ev);
        if (v > 0 && v <= MS_REPLAY_WANT_ALLOC_OLD) {
            r->stopped = true; /* nothing changed: the final replay delivers it */
            break;
        }
        if (v != 0) {
            rc = v < 0 ? v : MS_EINVAL;
            break;
        }
        /* The latest in time order delivered (a thread's clock may step back). */
        if (!r->done.any || s->key > r->done.key || (s->key == r->done.key && si > r->done.stream))
            r->done = (struct delivered){true, s->key, si};
        if (thread_kind)
            thread_order_done(r, &s->ev);
        bool exit = s->ev.kind == MS_REC_THREAD_EXIT;
        int a = stream_advance(m, s);
        if (a < 0) {
            rc = a;
            si = SIZE_MAX;
        } else if (a == 0) {
            s->exited = exit;
            wait = holds_back(s);
            si = SIZE_MAX;
        } else if (m->nheap > 0 && !before(m, si, m->heap[0])) {
            heap_push(m, si);
            si = SIZE_MAX;
        }
        r->late |= m->t->damage.chunks_bad != bad;
    }
    if (si != SIZE_MAX)
        heap_push(m, si);
    r->error = rc;
    return rc;
}

int ms_live_replay_finish(struct ms_live_replay *r)
{
    struct merge *m = &r->m;
    if (r->error)
        return r->error;
    int rc = r->late ? 0 : distribute(m);
    if (!rc && !r->late)
        rc = advance_idle(m, &r->done, &r->late);
    if (!rc && r->late)
        rc = MS_REPLAY_RESTART;
    if (!rc)
        rc = merge_run(m, NULL, r->fn, r->ctx);
    r->error = rc ? rc : MS_EINVAL; /* finished: no more steps */
    return rc;
}

void ms_live_replay_free(struct ms_live_replay *r)
{
    if (!r)
        return;
    merge_free(&r->m);
    free(r->started);
    free(r);
}
