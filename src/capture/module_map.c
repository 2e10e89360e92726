/* Walks the loaded ELF objects with dl_iterate_phdr (which does not allocate) to produce the
 * MODULES chunk payload: path, load bias, executable range and build-id of each object. */
#define _GNU_SOURCE
#include "module_map.h"

#include "../common/chunk_codec.h"
#include "../common/runtime_modules.h"

#include <elf.h>
#include <stdbool.h>
#include <link.h>
#include <string.h>
#include <unistd.h>

atomic_uint ms__code_gen;
atomic_uint ms__unload_epoch;

/* The executable ranges of the last encoding and of the one in progress (encodings are
 * serialized by the writer), and the ranges unloaded, the last UNLOADED_KEPT of them. */
#define RANGES_MAX 4096
#define UNLOADED_KEPT 256
struct range {
    uintptr_t lo, hi;
};
static struct range ranges[2][RANGES_MAX];
static size_t nranges[2];
static int cur_ranges;
static bool ranges_known; /* an encoding was complete before */
static bool ranges_overflow;
static struct range unloaded[UNLOADED_KEPT];

static char exe_path[4096];

static int generation_cb(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    *(uint64_t *)data = info->dlpi_adds * 1000003u + info->dlpi_subs;
    return 1;
}

uint64_t ms__modules_generation(void)
{
    uint64_t gen = 0;
    dl_iterate_phdr(generation_cb, &gen);
    return gen;
}

struct encode_state {
    uint8_t *p, *end;
    size_t count;
    int overflow;
};

static size_t build_id_of(struct dl_phdr_info *info, const uint8_t **id)
{
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE)
            continue;
        const uint8_t *n = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr);
        const uint8_t *end = n + ph->p_memsz;
        while (n + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)n;
            const uint8_t *name = n + sizeof *nh;
            const uint8_t *desc = name + ((nh->n_namesz + 3) & ~3u);
            if (desc + nh->n_descsz > end)
                break;
            if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && !memcmp(name, "GNU", 4)) {
                *id = desc;
                return nh->n_descsz;
            }
            n = desc + ((nh->n_descsz + 3) & ~3u);
        }
    }
    return 0;
}

static const char *path_of(struct dl_phdr_info *info)
{
    if (info->dlpi_name && info->dlpi_name[0])
        return info->dlpi_name;
    if (!exe_path[0]) {
        ssize_t n = readlink("/proc/self/exe", exe_path, sizeof exe_path - 1);
        exe_path[n > 0 ? n : 0] = 0;
    }
    return exe_path;
}

/* The runtime range covering the object's executable segments; hi is 0 if it has none. */
/* The span of a module's loaded segments: the executable ones, or all. */
static void load_range(const struct dl_phdr_info *info, bool all, uintptr_t *lo_out,
                       uintptr_t *hi_out)
{
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && (all || (ph->p_flags & PF_X))) {
            uintptr_t a = info->dlpi_addr + ph->p_vaddr;
            if (a < lo)
                lo = a;
            if (a + ph->p_memsz > hi)
                hi = a + ph->p_memsz;
        }
    }
    *lo_out = lo;
    *hi_out = hi;
}

static void exec_range(const struct dl_phdr_info *info, uintptr_t *lo_out, uintptr_t *hi_out)
{
    load_range(info, false, lo_out, hi_out);
}

static int encode_cb(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    struct encode_state *st = data;
    uintptr_t lo, hi;
    exec_range(info, &lo, &hi);
    if (hi == 0)
        return 0;
    const char *path = path_of(info);
    size_t len = strlen(path);
    const uint8_t *id = NULL;
    size_t id_len = build_id_of(info, &id);
    struct ms_chunk_MODULE m = {path, len, info->dlpi_addr, lo, hi, (const char *)id, id_len};
    if ((size_t)(st->end - st->p) < ms_chunk_maxlen_MODULE(&m)) {
        st->overflow = 1;
        return 1;
    }
    st->p = ms_chunk_put_MODULE(st->p, &m);
    st->count++;
    int c = cur_ranges ^ 1;
    if (nranges[c] < RANGES_MAX)
        ranges[c][nranges[c]++] = (struct range){lo, hi};
    else
        ranges_overflow = true;
    return 0;
}

/* Compares the ranges just encoded with the previous encoding's: those gone are unloaded. */
static void note_unloaded(void)
{
    int c = cur_ranges ^ 1;
    if (ranges_known && !ranges_overflow) {
        for (size_t i = 0; i < nranges[cur_ranges]; i++) {
            struct range r = ranges[cur_ranges][i];
            bool still = false;
            for (size_t j = 0; j < nranges[c] && !still; j++)
                still = ranges[c][j].lo == r.lo && ranges[c][j].hi == r.hi;
            if (!still) {
                unsigned e = atomic_load_explicit(&ms__unload_epoch, memory_order_relaxed);
                unloaded[e % UNLOADED_KEPT] = r;
                atomic_store_explicit(&ms__unload_epoch, e + 1, memory_order_release);
            }
        }
    }
    ranges_known = !ranges_overflow;
    ranges_overflow = false;
    cur_ranges = c;
}

bool ms__modules_unloaded(unsigned i, uintptr_t *lo, uintptr_t *hi)
{
    unsigned e = atomic_load_explicit(&ms__unload_epoch, memory_order_acquire);
    if (i >= e || e - i > UNLOADED_KEPT)
        return false;
    *lo = unloaded[i % UNLOADED_KEPT].lo;
    *hi = unloaded[i % UNLOADED_KEPT].hi;
    /* Still the i-th: not overwritten while it was read. */
    return atomic_load_explicit(&ms__unload_epoch, memory_order_acquire) - i <= UNLOADED_KEPT;
}

size_t ms__modules_encode(uint8_t *buf, size_t cap, uint64_t tsc)
{
    /* Layout: the header (tsc, count), then the modules. The count, a fixed-width field, is
     * written again once the list is, so that the list is written in one pass. */
    struct ms_chunk_MODULES h = {tsc, 0};
    if (cap < ms_chunk_maxlen_MODULES(&h))
        return 0;
    uint8_t *p = ms_chunk_put_MODULES(buf, &h);
    struct encode_state st = {p, buf + cap, 0, 0};
    nranges[cur_ranges ^ 1] = 0;
    dl_iterate_phdr(encode_cb, &st);
    if (st.overflow) {
        ranges_known = false;
        return 0;
    }
    note_unloaded();
    /* The count alone (put again, the header's varints would store 8 bytes at once over the
     * first module): its 5 bytes follow the time's. */
    ms_varint_put_width(buf + ms_varint_len(tsc), st.count, 5);
    return (size_t)(st.p - buf);
}

static int tls_cb(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    uintptr_t *q = data; /* q[0]: address inside the module; q[1]: result */
    uintptr_t lo, hi;
    exec_range(info, &lo, &hi);
    if (q[0] < lo || q[0] >= hi)
        return 0;
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_TLS)
            q[1] = 1;
    return 1;
}

bool ms__module_has_tls(const void *addr)
{
    uintptr_t q[2] = {(uintptr_t)addr, 0};
    dl_iterate_phdr(tls_cb, q);
    return q[1] != 0;
}

struct range_query {
    uintptr_t addr, lo, hi;
    bool runtime, all;
};

static int range_cb(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    struct range_query *q = data;
    uintptr_t lo, hi;
    exec_range(info, &lo, &hi);
    if (q->addr >= lo && q->addr < hi) {
        if (q->all)
            load_range(info, true, &lo, &hi);
        q->lo = lo;
        q->hi = hi;
        q->runtime = ms_module_is_runtime(info->dlpi_name);
        return 1;
    }
    return 0;
}

bool ms__module_range_of(const void *addr, uintptr_t *lo, uintptr_t *hi)
{
    struct range_query q = {(uintptr_t)addr, 0, 0, false, false};
    dl_iterate_phdr(range_cb, &q);
    *lo = q.lo;
    *hi = q.hi;
    return q.runtime;
}

void ms__module_extent_of(const void *code, uintptr_t *lo, uintptr_t *hi)
{
    struct range_query q = {(uintptr_t)code, 0, 0, false, true};
    dl_iterate_phdr(range_cb, &q);
    *lo = q.lo;
    *hi = q.hi;
}

struct sole_query {
    uintptr_t lo, hi;
    int count;
};

static int sole_cb(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    struct sole_query *q = data;
    uintptr_t lo, hi;
    exec_range(info, &lo, &hi);
    const char *base = strrchr(info->dlpi_name, '/');
    base = base ? base + 1 : info->dlpi_name;
    /* memscope's own dependencies (its compressor and libunwind's) call no free of the
     * program's */
    bool own = !strncmp(base, "libzstd.", 8) || !strncmp(base, "liblzma.", 8);
    if (lo < hi && !own && !ms_module_is_runtime(info->dlpi_name)) {
        q->lo = lo;
        q->hi = hi;
        q->count++;
    }
    return 0;
}

bool ms__module_sole_program(uintptr_t *lo, uintptr_t *hi)
{
    struct sole_query q = {0, 0, 0};
    dl_iterate_phdr(sole_cb, &q);
    *lo = q.lo;
    *hi = q.hi;
    return q.count == 1;
}
