/* The trace reader's first part (trace_reader.h): the file, its chunk index and its metadata
 * chunks (PROCESS, MODULES, END, LEAK_SCAN, LEAK_CHECK), and the spool a killed process left.
 * Input is hostile: lengths are checked before use and nothing recurses on it. */
#define _GNU_SOURCE
#include "trace_file.h"

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

/* ---- bounds-checked reads (struct ms_cursor, record_codec.h and chunk_codec.h) ---- */

const char ms__bad_sum_what[] = "a chunk fails its checksum";

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

void ms__trace_note_damage(ms_trace *t, uint64_t offset, const char *fmt, ...)
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
int ms__trace_load_chunk_into(ms_trace *t, const struct chunk_ref *c, struct buffer *out,
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
    int err = ms__trace_load_chunk_into(t, c, &b, &scratch, bad_sum);
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

/* The hash of a module's identity: its path, bias and start. */
static uint64_t module_hash(const struct ms_module *m)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (const char *p = m->path; *p; p++)
        h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
    h ^= m->bias * 0x9E3779B97F4A7C15ull;
    h ^= m->lo * 0xC2B2AE3D27D4EB4Full;
    return h ^ (h >> 29);
}

/* The index of the module kept with m's path, bias and start, or t->nmod; *slot is its slot in
 * the index, or the empty slot where it would go. The table must exist (module_index_room). */
static size_t module_find(const ms_trace *t, const struct ms_module *m, size_t *slot)
{
    size_t i = (size_t)module_hash(m) & t->mod_index_mask;
    for (;; i = (i + 1) & t->mod_index_mask) {
        uint32_t v = t->mod_index ? t->mod_index[i] : 0;
        if (!v) {
            *slot = i;
            return t->nmod;
        }
        const struct ms_module *k = &t->modules[v - 1];
        if (k->bias == m->bias && k->lo == m->lo && !strcmp(k->path, m->path)) {
            *slot = i;
            return v - 1;
        }
    }
}

/* Room in the index for one more module: it stays at most half full. Returns 0 or MS_ENOMEM. */
static int module_index_room(ms_trace *t)
{
    size_t slots = t->mod_index ? t->mod_index_mask + 1 : 0;
    if ((t->nmod + 1) * 2 <= slots)
        return 0;
    size_t n = slots ? slots * 2 : 64;
    uint32_t *fresh = calloc(n, sizeof *fresh);
    if (!fresh)
        return MS_ENOMEM;
    free(t->mod_index);
    t->mod_index = fresh;
    t->mod_index_mask = n - 1;
    for (size_t j = 0; j < t->nmod; j++) {
        size_t slot;
        (void)module_find(t, &t->modules[j], &slot);
        t->mod_index[slot] = (uint32_t)j + 1;
    }
    return 0;
}

static int parse_modules(ms_trace *t, const uint8_t *p, size_t n)
{
    struct ms_cursor c = {p, p + n, false};
    struct ms_chunk_MODULES h;
    ms_chunk_get_MODULES(&c, &h);
    uint64_t snap_tsc = h.tsc, count = h.count;
    uint64_t snap = ++t->snapshots;
    /* Far more than any process loads. */
    if (count > 65536 || t->nmod + count > 65536)
        return MS_ECORRUPT;
    int rc = 0;
    t->nlisting = 0;
    for (uint64_t i = 0; i < count && !c.bad; i++) {
        struct ms_chunk_MODULE e;
        ms_chunk_get_MODULE(&c, &e);
        struct ms_module m = {.bias = e.bias, .lo = e.lo, .hi = e.hi};
        if (c.bad || e.build_id_len > sizeof m.build_id) {
            rc = MS_ECORRUPT;
            break;
        }
        if (!(m.path = str_copy(e.path, e.path_len))) {
            rc = MS_ENOMEM;
            break;
        }
        memcpy(m.build_id, e.build_id, e.build_id_len);
        m.build_id_len = e.build_id_len;
        /* Keep one entry per (path, bias): snapshots repeat the modules still loaded. */
        size_t slot, j = module_find(t, &m, &slot);
        if (j < t->nmod) {
            free(m.path);
        } else {
            if ((rc = module_index_room(t)) != 0 ||
                (rc = ms_grow(&t->modules, &t->capmod, t->nmod + 1, sizeof *t->modules, 32)) != 0 ||
                (rc = ms_grow(&t->mod_snapshot, &t->capsnap, t->nmod + 1, sizeof *t->mod_snapshot,
                              32)) != 0) {
                free(m.path);
                break;
            }
            m.first_tsc = snap_tsc;
            (void)module_find(t, &m, &slot); /* the table may have grown */
            t->mod_index[slot] = (uint32_t)t->nmod + 1;
            t->modules[t->nmod++] = m;
        }
        if ((rc = ms_grow(&t->listing, &t->caplisting, t->nlisting + 1, sizeof *t->listing, 32)))
            break;
        t->listing[t->nlisting++] = j;
        t->modules[j].last_tsc = snap_tsc;
        t->modules[j].gone_tsc = 0;
        t->mod_snapshot[j] = snap;
    }
    if (!rc && c.bad)
        rc = MS_ECORRUPT;
    /* Modules this snapshot no longer lists were unloaded (if one was loaded again at the same
     * address, it is listed again, with gone_tsc cleared); a snapshot that does not decode
     * unloads none. */
    for (size_t k = 0; k < t->nlisted; k++) {
        size_t j = t->listed[k];
        if (t->mod_snapshot[j] >= snap || t->modules[j].gone_tsc)
            continue;
        if (!rc) {
            t->modules[j].gone_tsc = snap_tsc ? snap_tsc : 1;
        } else if (ms_grow(&t->listing, &t->caplisting, t->nlisting + 1, sizeof *t->listing, 32)) {
            return MS_ENOMEM;
        } else {
            t->listing[t->nlisting++] = j; /* still loaded, as far as the trace says */
            t->mod_snapshot[j] = snap;
        }
    }
    size_t *was = t->listed, cap = t->caplisted;
    t->listed = t->listing;
    t->caplisted = t->caplisting;
    t->nlisted = t->nlisting;
    t->listing = was;
    t->caplisting = cap;
    return rc;
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

/* The resident-memory samples memscope run appended (docs/trace-format.md, 7c): the last chunk's
 * replace any before. */
static int parse_rss(ms_trace *t, const uint8_t *p, size_t n)
{
    struct ms_cursor c = {p, p + n, false};
    struct ms_chunk_RSS h;
    ms_chunk_get_RSS(&c, &h);
    /* each sample takes 2 bytes at least: a count beyond that is a lie */
    if (c.bad || h.count > MS_RSS_SAMPLES_MAX || h.count > (uint64_t)(c.end - c.p) / 2)
        return MS_ECORRUPT;
    struct ms_rss_sample *s = h.count ? malloc(h.count * sizeof *s) : NULL;
    if (h.count && !s)
        return MS_ENOMEM;
    uint64_t at = h.first_ns;
    for (uint64_t i = 0; i < h.count && !c.bad; i++) {
        struct ms_chunk_RSS_SAMPLE e;
        ms_chunk_get_RSS_SAMPLE(&c, &e);
        if (e.delta_ns > UINT64_MAX - at)
            c.bad = true;
        at += e.delta_ns;
        s[i] = (struct ms_rss_sample){at, e.bytes};
    }
    if (c.bad) {
        free(s);
        return MS_ECORRUPT;
    }
    free(t->rss);
    t->rss = s;
    t->nrss = (size_t)h.count;
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
            ms__trace_note_damage(t, off, "the trace ends inside a chunk header");
            break;
        }
        struct chunk_ref c = chunk_header(t, h, off);
        if (c.type == 0 || c.raw > MS_CHUNK_MAX_RAW || c.stored > MS_CHUNK_MAX_RAW + 65536 ||
            (c.flags & ~MS_CHUNK_ZSTD)) {
            if (t->growing)
                break; /* the final index reports it */
            /* A chunk header that makes no sense: nothing after it can be trusted. */
            t->damage.bytes_lost = t->size - off;
            ms__trace_note_damage(t, off, "invalid chunk header (type %u, %u bytes)", c.type,
                                  c.raw);
            break;
        }
        if (t->size - c.offset < c.stored) {
            if (t->growing)
                break;
            t->damage.bytes_lost = t->size - off;
            ms__trace_note_damage(t, off, "the trace ends inside a chunk (%u of %u bytes present)",
                                  (unsigned)(t->size - c.offset), c.stored);
            break;
        }
        off = c.offset + c.stored;
        if (c.type > MS_CHUNK_LAST) {
            /* A chunk type from a newer writer: its length is known, so skip it. Its checksum
             * tells it from a chunk whose type byte was damaged. */
            if (t->checksums && !stored_sum_ok(t, &c)) {
                t->damage.chunks_bad++;
                ms__trace_note_damage(t, c.offset - MS_CHUNK_HEADER_SIZE, "%s", ms__bad_sum_what);
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
            else if (c.type == MS_CHUNK_RSS)
                err = parse_rss(t, raw, c.raw);
            free(raw);
        }
        if (err == MS_ENOMEM) {
            rc = err;
            break;
        }
        if (err) {
            t->damage.chunks_bad++;
            ms__trace_note_damage(t, c.offset - MS_CHUNK_HEADER_SIZE, "%s",
                                  bad_sum ? ms__bad_sum_what : "a metadata chunk does not decode");
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
    t->read_until = UINT64_MAX;
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
    free(t->mod_index);
    free(t->rss);
    free(t->listed);
    free(t->listing);
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
int ms__trace_find_overlaps(ms_trace *t)
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

const struct ms_rss_sample *ms_trace_rss(const ms_trace *t, size_t *n)
{
    *n = t->nrss;
    return t->rss;
}

void ms_trace_read_until(ms_trace *t, uint64_t tsc)
{
    t->read_until = tsc;
}

uint64_t ms_trace_last_tsc(const ms_trace *t)
{
    if (t->end.present)
        return t->end.tsc;
    uint64_t last = 0;
    for (size_t i = 0; i < t->nchunks; i++)
        if (t->chunks[i].t0 > last)
            last = t->chunks[i].t0;
    return last;
}

double ms_trace_ns_per_tick(const ms_trace *t)
{
    return t->ns_per_tick;
}

uint64_t ms_trace_ns_since_start(const ms_trace *t, uint64_t tsc)
{
    if (tsc <= t->proc.start_tsc)
        return 0;
    double ns = (double)(tsc - t->proc.start_tsc) * t->ns_per_tick;
    return ns < 1.8e19 ? (uint64_t)ns : UINT64_MAX; /* a hostile trace's clock */
}
