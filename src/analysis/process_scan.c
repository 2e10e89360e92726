/* The leak scan of a process paused at its exit (process_scan.h). */
#define _GNU_SOURCE
#include "process_scan.h"

#include "retainers.h"

#include "common/chunk_codec.h"
#include "common/errors.h"
#include "common/file_io.h"
#include "common/leak_handshake.h"
#include "common/trace_format.h"
#include "grow.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>

#define PAGE 4096u
/* glibc's arenas other than the main one live in heaps of this size, aligned to it, each
 * starting with its heap_info (HEAP_MAX_SIZE on 64-bit systems). */
#define ARENA_HEAP_MAX (64u << 20)

struct regions {
    struct ms_leak_region *v;
    size_t n, cap;
};

static int add(struct regions *r, uint64_t lo, uint64_t hi)
{
    if (lo >= hi)
        return 0;
    if (ms_grow(&r->v, &r->cap, r->n + 1, sizeof *r->v, 64) != 0)
        return MS_ENOMEM;
    r->v[r->n++] = (struct ms_leak_region){lo, hi};
    return 0;
}

/* glibc malloc's chunk flag: the chunk is a mapping of its own (malloc/malloc.c). */
#define MS_CHUNK_IS_MMAPPED 2

static int remote_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
    pid_t pid = *(const pid_t *)ctx;
    struct iovec local = {buf, len}, remote = {(void *)(uintptr_t)addr, len};
    ssize_t got = process_vm_readv(pid, &local, 1, &remote, 1, 0);
    if (got >= 0 && got != (ssize_t)len)
        errno = EIO; /* a short read sets none */
    return got == (ssize_t)len ? 0 : -1;
}

/* Small reads of the process go through a cache of LINES lines of LINE bytes (direct-mapped,
 * each line inside one readable mapping: a read across a mapping's end fails whole): the scan
 * reads block after block, most of them small and near others, and a system call for each would
 * cost more than the scan itself. Larger reads (a root, a large block) go straight through. */
#define LINE (1u << 16)
#define LINES 64
#define DIRECT (LINE / 4)
struct line_cache {
    pid_t pid;
    const struct regions *readable;
    uint64_t base[LINES], len[LINES];
    uint8_t *buf; /* LINES * LINE bytes */
};

static int cached_read(void *ctx, uint64_t addr, void *out, size_t len)
{
    struct line_cache *c = ctx;
    uint64_t line = addr & ~(uint64_t)(LINE - 1);
    size_t slot = (size_t)(line / LINE) % LINES;
    if (!c->buf || len > DIRECT || addr + len > line + LINE)
        return remote_read(&c->pid, addr, out, len);
    uint8_t *mem = c->buf + slot * LINE;
    if (c->base[slot] != line || addr + len > line + c->len[slot]) {
        const struct ms_leak_region *m = ms_leak_region_of(c->readable->v, c->readable->n, addr);
        uint64_t from = m && m->lo > line ? m->lo : line;
        uint64_t to = m && m->hi < line + LINE ? m->hi : line + LINE;
        c->len[slot] = 0;
        if (!m || addr + len > to || remote_read(&c->pid, from, mem + (from - line), to - from))
            return remote_read(&c->pid, addr, out, len);
        /* bytes of the line before the mapping are never asked for: a read starts in it */
        c->base[slot] = line;
        c->len[slot] = to - line;
    }
    memcpy(out, mem + (addr - line), len);
    return 0;
}

static int by_lo(const void *a, const void *b)
{
    const struct ms_leak_region *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Sorts r and merges the ranges that overlap or touch. */
static void normalize(struct regions *r)
{
    if (!r->n)
        return;
    qsort(r->v, r->n, sizeof *r->v, by_lo);
    size_t k = 0;
    for (size_t i = 1; i < r->n; i++) {
        if (r->v[i].lo <= r->v[k].hi) {
            if (r->v[i].hi > r->v[k].hi)
                r->v[k].hi = r->v[i].hi;
        } else {
            r->v[++k] = r->v[i];
        }
    }
    r->n = k + 1;
}

/* out = a minus x (both sorted; x merged). */
static int subtract(const struct regions *a, const struct regions *x, struct regions *out)
{
    size_t j = 0;
    for (size_t i = 0; i < a->n; i++) {
        uint64_t lo = a->v[i].lo, hi = a->v[i].hi;
        while (j < x->n && x->v[j].hi <= lo)
            j++;
        for (size_t k = j; k < x->n && x->v[k].lo < hi && lo < hi; k++) {
            if (x->v[k].lo > lo && add(out, lo, x->v[k].lo) != 0)
                return MS_ENOMEM;
            if (x->v[k].hi > lo)
                lo = x->v[k].hi;
        }
        if (lo < hi && add(out, lo, hi) != 0)
            return MS_ENOMEM;
    }
    return 0;
}

/* The first block at or above addr. */
static size_t first_block(const struct ms_leak_block *b, size_t n, uint64_t addr)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (b[mid].addr < addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Whether block b is one glibc mapped for itself alone, and if so the pages of that mapping in
 * [*lo, *hi). Such a block can share a kernel mapping with the program's own memory (the kernel
 * merges neighbouring anonymous mappings), which stays a root. Its chunk header, 16 bytes before
 * it, has IS_MMAPPED in its size word, and its first word is the chunk's offset from the start
 * of glibc's mapping: 0 for malloc's (the block 16 bytes into its first page), more for
 * memalign's and the other aligned ones. */
static bool own_mapping(pid_t pid, const struct ms_leak_block *b, uint64_t *lo, uint64_t *hi)
{
    uint64_t h[2]; /* the offset, then the chunk's size and flags */
    if (b->addr < 16 || remote_read((void *)&pid, b->addr - 16, h, sizeof h) != 0 ||
        !(h[1] & MS_CHUNK_IS_MMAPPED))
        return false;
    uint64_t chunk = b->addr - 16, size = h[1] & ~(uint64_t)7;
    if (h[0] > chunk || ((chunk - h[0]) & (PAGE - 1)) || size < b->size + 16 ||
        chunk + size < chunk)
        return false;
    *lo = chunk - h[0];
    *hi = (chunk + size + PAGE - 1) & ~(uint64_t)(PAGE - 1);
    return true;
}

/* Whether the mapping [lo, hi) is one of glibc's arena heaps: aligned to their size, starting
 * with a heap_info {arena, previous heap, size, mprotect size} that describes it. */
static bool arena_heap(pid_t pid, uint64_t lo, uint64_t hi)
{
    uint64_t info[4];
    if (lo % ARENA_HEAP_MAX || hi - lo > ARENA_HEAP_MAX ||
        remote_read((void *)&pid, lo, info, sizeof info) != 0)
        return false;
    return info[0] != 0 && info[2] <= info[3] && info[3] == hi - lo;
}

struct maps {
    struct regions readable, roots, excluded;
    struct regions files, code; /* mappings of files: readable, executable (vtables, code) */
    struct regions libc;        /* libc's writable data and .bss: its malloc's main arena */
    struct regions anon;        /* private anonymous writable mappings */
};

/* Reads /proc/PID/maps: every readable mapping but device files (memcheck's rule, which keeps
 * /dev/zero), and the candidate roots among them (readable and writable, not [heap] nor an
 * arena heap nor a mapping holding a block of an arena). */
static int read_maps(pid_t pid, const struct ms_leak_block *b, size_t n, struct maps *m, int *error)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f) {
        *error = errno;
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    int rc = 0;
    uint64_t libc_end = 0; /* the end of libc's writable data: its .bss may follow */
    while (!rc && getline(&line, &cap, f) > 0) {
        unsigned long long lo, hi, inode;
        char perms[8];
        int name_at = 0;
        if (sscanf(line, "%llx-%llx %7s %*x %*x:%*x %llu %n", &lo, &hi, perms, &inode, &name_at) <
            4)
            continue;
        char *name = line + name_at;
        name[strcspn(name, "\n")] = 0;
        bool device = !strncmp(name, "/dev/", 5) && strcmp(name, "/dev/zero") &&
                      strncmp(name, "/dev/shm/", 9);
        if (perms[0] != 'r' || device || !strcmp(name, "[vvar]") || !strcmp(name, "[vsyscall]"))
            continue;
        rc = add(&m->readable, lo, hi);
        if (!rc && name[0] == '/')
            rc = add(&m->files, lo, hi);
        if (!rc && name[0] == '/' && perms[2] == 'x')
            rc = add(&m->code, lo, hi);
        if (rc || perms[1] != 'w' || !strcmp(name, "[heap]"))
            continue;
        const char *base = strrchr(name, '/');
        bool libc = base && (!strncmp(base, "/libc.so", 8) || !strncmp(base, "/libc-", 6));
        if (libc || (lo == libc_end && !name[0])) {
            rc = add(&m->libc, lo, hi);
            libc_end = libc ? hi : 0;
        }
        if (!rc && !name[0] && perms[3] == 'p')
            rc = add(&m->anon, lo, hi);
        bool arena = arena_heap(pid, lo, hi);
        for (size_t i = first_block(b, n, lo); !arena && !rc && i < n && b[i].addr < hi; i++) {
            uint64_t own_lo, own_hi;
            if (!own_mapping(pid, &b[i], &own_lo, &own_hi))
                arena = true;
            else /* the block's own mapping, the chunk header and the alignment gap with it */
                rc = add(&m->excluded, own_lo, own_hi);
        }
        if (!arena && !rc)
            rc = add(&m->roots, lo, hi);
    }
    free(line);
    fclose(f);
    return rc;
}

/* The size of the chunk glibc's malloc gives a block of size bytes (64-bit: 8 bytes of header
 * beside the block, a multiple of 16, at least 32). */
static uint64_t chunk_size(uint64_t size)
{
    uint64_t c = (size + 8 + 15) & ~(uint64_t)15;
    return c < 32 ? 32 : c;
}

/* The words of libc's data that point to the chunk right after a live block: the main arena's
 * pointers to free chunks and to its top chunk. Such a chunk's header starts 8 bytes before
 * the end of the block's usable space, so the pointer lies inside the block; memcheck, whose
 * malloc replaces glibc's, never sees them. They are left out of the roots. */
static int exclude_arena_words(pid_t pid, const struct ms_leak_block *b, size_t n,
                               const struct regions *roots, const struct regions *libc,
                               struct regions *out)
{
    uint64_t buf[512];
    for (size_t r = 0; r < roots->n; r++)
        for (size_t l = 0; l < libc->n; l++) {
            uint64_t lo = roots->v[r].lo > libc->v[l].lo ? roots->v[r].lo : libc->v[l].lo;
            uint64_t hi = roots->v[r].hi < libc->v[l].hi ? roots->v[r].hi : libc->v[l].hi;
            for (uint64_t at = lo & ~(uint64_t)7; at + 8 <= hi; at += sizeof buf) {
                size_t len = hi - at < sizeof buf ? (size_t)(hi - at) & ~(size_t)7 : sizeof buf;
                if (remote_read(&pid, at, buf, len) != 0)
                    continue;
                for (size_t i = 0; i < len / 8; i++) {
                    size_t k = first_block(b, n, buf[i] + 1);
                    if (k == 0)
                        continue;
                    const struct ms_leak_block *blk = &b[k - 1]; /* the last starting below */
                    if (buf[i] == blk->addr - 16 + chunk_size(blk->size) &&
                        buf[i] < blk->addr + blk->size && add(out, at + 8 * i, at + 8 * i + 8))
                        return MS_ENOMEM;
                }
            }
        }
    return 0;
}

/* The pages of the roots, in private anonymous mappings, that the process never touched (not in
 * memory, not swapped out: /proc/PID/pagemap): they hold zeros, so no pointer; a program that
 * reserves large areas (a garbage-collected heap) would otherwise have them all read. When
 * pagemap cannot be read, nothing is left out. */
static int exclude_untouched(pid_t pid, const struct regions *roots, const struct regions *anon,
                             struct regions *out)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/pagemap", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    uint64_t e[512];
    int rc = 0;
    for (size_t r = 0; r < roots->n && !rc; r++)
        for (size_t a = 0; a < anon->n && !rc; a++) {
            uint64_t lo = roots->v[r].lo > anon->v[a].lo ? roots->v[r].lo : anon->v[a].lo;
            uint64_t hi = roots->v[r].hi < anon->v[a].hi ? roots->v[r].hi : anon->v[a].hi;
            lo = (lo + PAGE - 1) & ~(uint64_t)(PAGE - 1);
            for (uint64_t at = lo; at + PAGE <= hi && !rc;) {
                size_t pages = (hi - at) / PAGE < 512 ? (size_t)((hi - at) / PAGE) : 512;
                if (ms_pread_all(fd, e, pages * 8, at / PAGE * 8) != 0) {
                    close(fd);
                    return 0;
                }
                for (size_t i = 0; i < pages && !rc; i++)
                    if (!(e[i] >> 62)) /* bit 63: in memory, 62: swapped */
                        rc = add(out, at + i * PAGE, at + (i + 1) * PAGE);
                at += pages * PAGE;
            }
        }
    close(fd);
    return rc;
}

/* Leaves out the stack below sp: of the mapping that holds sp, from its start. */
static int exclude_below(struct maps *m, uint64_t sp)
{
    for (size_t i = 0; i < m->readable.n; i++)
        if (m->readable.v[i].lo <= sp && sp < m->readable.v[i].hi)
            return sp > m->readable.v[i].lo ? add(&m->excluded, m->readable.v[i].lo, sp) : 0;
    return 0;
}

/* The other threads the snapshot was made with (stopped by memscope run): their entries, whose
 * registers are roots. Returns how many (at most MS_LEAK_MAX_THREADS), 0 when none or unreadable.
 */
static size_t other_threads(pid_t pid, const struct ms_leak_handshake *h,
                            struct ms_leak_thread **out)
{
    *out = NULL;
    size_t n = h->nthreads <= MS_LEAK_MAX_THREADS ? (size_t)h->nthreads : 0;
    struct ms_leak_thread *t = n ? malloc(n * sizeof *t) : NULL;
    if (!t || remote_read(&pid, h->threads, t, n * sizeof *t) != 0) {
        free(t);
        return 0;
    }
    *out = t;
    return n;
}

/* What the handshake leaves out: memscope's library, its own memory, the stack below the
 * exiting thread's frame, and the stacks of the other threads below their stack pointers, the
 * ABI's 128-byte red zone too: the words there are mostly the dead frames of the calls the
 * thread made last, which memcheck (tracking each thread's stack pointer) sees as undefined
 * and never counts. */
static int exclude_memscope(pid_t pid, const struct ms_leak_handshake *h, struct maps *m,
                            const struct ms_leak_thread *others, size_t nothers)
{
    int rc = add(&m->excluded, h->lib_lo, h->lib_hi);
    if (!rc)
        rc = exclude_below(m, h->stack_lo);
    for (size_t i = 0; !rc && i < nothers; i++)
        rc = exclude_below(m, others[i].sp);
    size_t nr = h->nranges < MS_LEAK_MAX_OWN_RANGES ? (size_t)h->nranges : MS_LEAK_MAX_OWN_RANGES;
    uint64_t *own = nr ? malloc(nr * 16) : NULL;
    if (!rc && nr && !own)
        rc = MS_ENOMEM;
    if (!rc && nr && remote_read(&pid, h->ranges, own, nr * 16) == 0)
        for (size_t i = 0; !rc && i < nr; i++)
            rc = add(&m->excluded, own[2 * i], own[2 * i + 1]);
    free(own);
    return rc;
}

/* The LEAK_SCAN payload: its header, then each block's address (as the difference from the
 * previous one) and kind byte, then (who not NULL) who keeps what alive. */
static int encode(const struct ms_leak_block *b, size_t n, const uint8_t *kind,
                  const struct ms_who_keeps *who, struct ms_process_scan *out, uint64_t root_bytes)
{
    struct ms_chunk_LEAK_SCAN h = {
        (uint64_t)out->status,        (uint64_t)out->error, root_bytes,
        out->totals.unreadable_bytes, out->scan_ns,         kind ? n : 0};
    size_t cap = ms_chunk_maxlen_LEAK_SCAN(&h) + (kind ? n : 0) * 2 * MS_VARINT_MAX;
    if (who)
        cap += (7 + 3 * MS_RETAINERS_LISTED + (3 + MS_CYCLE_MEMBERS_LISTED) * MS_CYCLES_LISTED) *
               MS_VARINT_MAX;
    uint8_t *p = out->payload = malloc(cap);
    if (!p)
        return MS_ENOMEM;
    p = ms_chunk_put_LEAK_SCAN(p, &h);
    uint64_t prev = 0;
    for (size_t i = 0; kind && i < n; i++) {
        struct ms_chunk_LEAK_BLOCK e = {b[i].addr - prev, kind[i]};
        p = ms_chunk_put_LEAK_BLOCK(p, &e);
        prev = b[i].addr;
    }
    if (who) {
        struct ms_chunk_LEAK_GRAPH gh = {who->edges,      who->top_level,    who->nretainers,
                                         who->all_cycles, who->cycle_blocks, who->cycle_bytes,
                                         who->ncycles};
        p = ms_chunk_put_LEAK_GRAPH(p, &gh);
        /* node k + 1 is block k */
        for (size_t i = 0; i < who->nretainers; i++) {
            const struct ms_retainer *r = &who->retainers[i];
            struct ms_chunk_LEAK_RETAINER e = {r->node - 1u, r->bytes, r->blocks};
            p = ms_chunk_put_LEAK_RETAINER(p, &e);
        }
        for (size_t c = 0; c < who->ncycles; c++) {
            const struct ms_cycle *y = &who->cycles[c];
            struct ms_chunk_LEAK_CYCLE e = {y->bytes, y->blocks, y->listed};
            p = ms_chunk_put_LEAK_CYCLE(p, &e);
            for (uint32_t k = 0; k < y->listed; k++) {
                struct ms_chunk_LEAK_MEMBER m = {y->member[k] - 1u};
                p = ms_chunk_put_LEAK_MEMBER(p, &m);
            }
        }
    }
    out->len = (size_t)(p - out->payload);
    return 0;
}

/* Who keeps what alive, from the pointers the scan found (graph, freed here): NULL when out of
 * memory for it (the kinds stand without it). */
static struct ms_who_keeps *who_keeps(struct ms_leak_graph *graph)
{
    struct ms_who_keeps *who = malloc(sizeof *who);
    struct ms_graph g = {graph->n, graph->size, graph->first, graph->to};
    if (who && ms_who_keeps(&g, who) != 0) {
        free(who);
        who = NULL;
    }
    ms_leak_graph_free(graph);
    return who;
}

int ms_process_scan(pid_t pid, uint64_t hs, const struct ms_leak_block *blocks, size_t n,
                    int status, struct ms_process_scan *out)
{
    memset(out, 0, sizeof *out);
    out->status = status;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct ms_leak_handshake h;
    if (status == MS_SCAN_DONE && remote_read(&pid, hs, &h, sizeof h) != 0) {
        out->status = MS_SCAN_NO_ACCESS;
        out->error = errno;
    } else if (status == MS_SCAN_DONE && h.magic != MS_LEAK_HANDSHAKE_MAGIC) {
        out->status = MS_SCAN_NO_ACCESS;
        out->error = EINVAL;
    }
    struct maps m = {0};
    struct regions roots = {0};
    uint8_t *kind = NULL;
    struct ms_who_keeps *who = NULL;
    uint64_t root_bytes = 0;
    int rc = 0;
    if (out->status == MS_SCAN_DONE) {
        int e = 0;
        rc = read_maps(pid, blocks, n, &m, &e);
        if (rc < 0 && e) {
            out->status = MS_SCAN_NO_ACCESS;
            out->error = e;
            rc = 0;
        }
    }
    struct ms_leak_thread *others = NULL;
    size_t nothers = out->status == MS_SCAN_DONE ? other_threads(pid, &h, &others) : 0;
    if (!rc && out->status == MS_SCAN_DONE)
        rc = exclude_memscope(pid, &h, &m, others, nothers);
    if (!rc && out->status == MS_SCAN_DONE) {
        normalize(&m.readable);
        normalize(&m.files);
        normalize(&m.code);
        normalize(&m.roots);
        normalize(&m.excluded);
        rc = subtract(&m.roots, &m.excluded, &roots);
        /* The other threads' registers, in memscope's own memory (left out above): roots, as
         * memcheck scans every thread's registers. */
        for (size_t i = 0; !rc && i < nothers; i++) {
            uint64_t at = h.threads + i * sizeof *others + offsetof(struct ms_leak_thread, regs);
            rc = add(&roots, at, at + sizeof others->regs);
        }
        if (!rc && nothers)
            normalize(&roots);
        struct regions arena = {0}, kept = {0};
        if (!rc)
            rc = exclude_arena_words(pid, blocks, n, &roots, &m.libc, &arena);
        if (!rc)
            rc = exclude_untouched(pid, &roots, &m.anon, &arena);
        if (!rc && arena.n) {
            normalize(&arena);
            rc = subtract(&roots, &arena, &kept);
            free(roots.v);
            roots = kept;
        }
        free(arena.v);
        kind = rc ? NULL : malloc(n ? n : 1);
        if (!rc && !kind)
            rc = MS_ENOMEM;
    }
    if (!rc && out->status == MS_SCAN_DONE) {
        struct line_cache *w = calloc(1, sizeof *w);
        if (w) {
            w->pid = pid;
            w->readable = &m.readable;
            w->buf = malloc((size_t)LINES * LINE);
            for (size_t i = 0; i < LINES; i++)
                w->base[i] = UINT64_MAX;
        }
        struct ms_leak_memory mem = {w ? cached_read : remote_read,
                                     w ? (void *)w : &pid,
                                     m.readable.v,
                                     m.readable.n,
                                     m.files.v,
                                     m.code.v,
                                     m.files.n,
                                     m.code.n,
                                     remote_read,
                                     &pid};
        struct ms_leak_graph graph = {0};
        rc = ms_leak_scan(blocks, n, roots.v, roots.n, &mem, kind, NULL, &out->totals, &graph);
        if (rc == MS_ENOMEM) /* the kinds without the graph, which takes the most memory */
            rc = ms_leak_scan(blocks, n, roots.v, roots.n, &mem, kind, NULL, &out->totals, NULL);
        else if (!rc)
            who = who_keeps(&graph);
        if (w)
            free(w->buf);
        free(w);
        for (size_t i = 0; i < roots.n; i++)
            root_bytes += roots.v[i].hi - roots.v[i].lo;
    }
    if (rc == MS_ENOMEM) {
        out->status = MS_SCAN_NO_MEMORY;
        free(kind);
        kind = NULL;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    out->scan_ns = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000u + (uint64_t)t1.tv_nsec -
                   (uint64_t)t0.tv_nsec;
    free(m.readable.v);
    free(m.roots.v);
    free(others);
    free(m.excluded.v);
    free(m.libc.v);
    free(m.anon.v);
    free(m.files.v);
    free(m.code.v);
    free(roots.v);
    bool done = out->status == MS_SCAN_DONE;
    rc = encode(blocks, n, done ? kind : NULL, done ? who : NULL, out, root_bytes);
    free(kind);
    free(who);
    return rc;
}
