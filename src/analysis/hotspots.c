/* Hotspots (hotspots.h): the sites sorted by their group's key, each run of equal keys one
 * group. */
#define _GNU_SOURCE /* qsort_r */
#include "hotspots.h"

#include "common/errors.h"
#include "grow.h"
#include "heap_model.h"
#include "patterns.h"
#include "rank.h"

#include <stdlib.h>
#include <string.h>

static const char *const group_names[] = {"stack", "function", "line", "module"};

int ms_group_by_parse(const char *s, enum ms_group_by *out)
{
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, group_names[i])) {
            *out = (enum ms_group_by)i;
            return 0;
        }
    return -1;
}

const char *ms_group_by_name(enum ms_group_by by)
{
    return (unsigned)by < 4 ? group_names[by] : "?";
}

/* Functions that only allocate for their caller (glibc's, libiberty's, glib's, perl's,
 * CPython's, GMP's, SQLite's; and the C++ standard library's, its containers included: the
 * allocating function is the program's that used them); '*' stands for any characters. They
 * are matched against a function's qualified name (bare). */
static const char *const wrappers[] = {
    /* clang-format off */
    "operator new", "operator new[]", "std::*", "__gnu_cxx::*",
    "malloc", "calloc", "realloc", "strdup", "strndup", "__strdup", "__GI___strdup",
    "__strndup", "__GI___strndup", "xmalloc", "xcalloc", "xrealloc", "xstrdup", "xstrndup",
    "xmemdup", "g_malloc", "g_malloc0", "g_realloc", "g_try_malloc", "g_try_malloc0",
    "g_try_realloc", "g_malloc_n", "g_malloc0_n", "g_realloc_n", "g_strdup", "g_strndup",
    "g_memdup", "g_memdup2", "g_slice_alloc", "g_slice_alloc0", "Perl_safesysmalloc",
    "Perl_safesyscalloc", "Perl_safesysrealloc", "PyMem_RawMalloc", "PyMem_RawCalloc",
    "PyMem_RawRealloc", "PyMem_Malloc", "PyMem_Calloc", "PyMem_Realloc", "PyObject_Malloc",
    "PyObject_Calloc", "PyObject_Realloc", "__gmp_default_allocate", "__gmp_default_reallocate",
    "sqlite3Malloc", "sqlite3MallocZero", "sqlite3Realloc", "sqlite3DbMallocRaw",
    "sqlite3DbMallocRawNN", "sqlite3DbMallocZero", "sqlite3DbRealloc", "sqlite3DbReallocOrFree",
    "sqlite3DbStrDup", "sqlite3DbStrNDup", "sqlite3_malloc", "sqlite3_malloc64",
    "sqlite3_realloc", "sqlite3_realloc64",
    NULL,
    /* clang-format on */
};

/* Whether s matches pattern, whose '*' stands for any characters (only that: C++ names have
 * brackets). */
static bool glob(const char *p, const char *s)
{
    for (; *p; p++, s++) {
        if (*p == '*') {
            while (p[1] == '*')
                p++;
            if (!p[1])
                return true;
            for (; *s; s++)
                if (glob(p + 1, s))
                    return true;
            return false;
        }
        if (*p != *s)
            return false;
    }
    return !*s;
}

/* Whether s[0..n) ends with the word w. */
static bool ends_with(const char *s, size_t n, const char *w)
{
    size_t k = strlen(w);
    return n >= k && !memcmp(s + n - k, w, k);
}

/* name as a qualified name, into buf: without a symbol's "+0xOFF", a method's qualifiers
 * (" const", " &", " noexcept", "[clone .cold]"...), its arguments and a template function's
 * return type ("std::vector<int> make<int>(unsigned long)" is "make<int>"); an operator keeps
 * its own name ("operator()", "operator new"). */
static const char *bare(const char *name, char *buf, size_t len)
{
    const char *plus = strstr(name, "+0x");
    size_t n = plus ? (size_t)(plus - name) : strlen(name);
    if (n >= len)
        n = len - 1;
    memcpy(buf, name, n);
    static const char *const quals[] = {" const", " volatile", " &&", " &", " noexcept"};
    for (bool again = true; again;) {
        again = false;
        if (n && buf[n - 1] == ']') { /* [clone .cold], [abi:cxx11] */
            size_t i = n;
            while (i > 0 && buf[i - 1] != '[')
                i--;
            if (i > 0) {
                n = i - 1;
                while (n && buf[n - 1] == ' ')
                    n--;
                again = true;
            }
        }
        for (size_t q = 0; q < sizeof quals / sizeof *quals; q++)
            if (ends_with(buf, n, quals[q])) {
                n -= strlen(quals[q]);
                again = true;
            }
    }
    if (n && buf[n - 1] == ')') { /* the arguments: back to the '(' that opens them */
        int depth = 0;
        for (size_t i = n; i-- > 0;) {
            depth += buf[i] == ')' ? 1 : buf[i] == '(' ? -1 : 0;
            if (!depth) {
                if (!ends_with(buf, i, "operator")) /* "operator()" without arguments */
                    n = i;
                break;
            }
        }
    }
    buf[n] = 0;
    /* the return type: up to the last space outside <> and () that is not an operator's */
    int depth = 0;
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        char c = buf[i];
        depth += c == '<' || c == '(' ? 1 : c == '>' || c == ')' ? -1 : 0;
        if (c == ' ' && depth == 0 && !ends_with(buf, i, "operator"))
            start = i + 1;
    }
    return buf + start;
}

bool ms_is_alloc_fn(const char *function, const char *const *extra)
{
    char buf[1024];
    const char *name = bare(function, buf, sizeof buf);
    for (const char *const *w = wrappers; *w; w++)
        if (glob(*w, name))
            return true;
    for (const char *const *w = extra; w && *w; w++)
        if (glob(*w, name))
            return true;
    return false;
}

struct member {
    size_t site;
    ms_frame f;
    const char *module; /* f's module's file name */
    size_t fn_len;      /* of f's function name, that names it (fn_len) */
};

static int cmp_str(const char *a, const char *b)
{
    return a == b ? 0 : !a ? -1 : !b ? 1 : strcmp(a, b);
}

/* The module's file name (a group by module is by the library, wherever it was loaded from). */
static const char *base(const char *path)
{
    const char *s = path ? strrchr(path, '/') : NULL;
    return s ? s + 1 : path;
}

/* The length of f's function name that names it: without the "+0xOFF" of a symbol's offset
 * (the same function called from two places), unless the name is the module's (no symbol: the
 * address is all there is). */
static size_t fn_len(const ms_frame *f)
{
    const char *plus = strstr(f->function, "+0x");
    size_t n = plus ? (size_t)(plus - f->function) : strlen(f->function);
    const char *m = base(f->module);
    if (plus && m && strlen(m) == n && !strncmp(m, f->function, n))
        return strlen(f->function);
    return n;
}

static int cmp_function(const struct member *x, const struct member *y)
{
    size_t a = x->fn_len, b = y->fn_len;
    int c = strncmp(x->f.function, y->f.function, a < b ? a : b);
    return c ? c : (a > b) - (a < b);
}

static int cmp_key(const struct member *x, const struct member *y, enum ms_group_by by)
{
    int c = 0;
    switch (by) {
    case MS_GROUP_STACK:
        return (x->site > y->site) - (x->site < y->site);
    case MS_GROUP_LINE:
        /* without a source line, a frame is grouped by its function */
        if (x->f.file && y->f.file) {
            if ((c = cmp_str(x->f.file, y->f.file)) ||
                (c = (x->f.line > y->f.line) - (x->f.line < y->f.line)))
                return c;
        } else if (x->f.file || y->f.file) {
            return x->f.file ? 1 : -1;
        }
        /* fall through */
    case MS_GROUP_FUNCTION:
        if ((c = cmp_function(x, y)))
            return c;
        /* fall through */
    case MS_GROUP_MODULE:
        return cmp_str(x->module, y->module);
    }
    return 0;
}

static int by_key(const void *a, const void *b, void *by)
{
    const struct member *x = a, *y = b;
    int c = cmp_key(x, y, *(const enum ms_group_by *)by);
    return c ? c : (x->site > y->site) - (x->site < y->site);
}

/* ms_is_alloc_fn's answers by function name: the symbolizer's names are interned, one pointer
 * per name, so the pointer is the key. */
struct memo {
    const char **name;
    bool *wrapper;
    size_t cap, n;
};

static bool is_wrapper(struct memo *mo, const char *name, const char *const *extra)
{
    if (mo->n * 2 >= mo->cap) { /* grow (on failure: answer without the memo) */
        size_t cap = mo->cap ? mo->cap * 2 : 1024;
        const char **nn = calloc(cap, sizeof *nn);
        bool *nw = calloc(cap, sizeof *nw);
        if (!nn || !nw) {
            free(nn);
            free(nw);
            return ms_is_alloc_fn(name, extra);
        }
        for (size_t i = 0; i < mo->cap; i++)
            if (mo->name[i]) {
                size_t j = ((uintptr_t)mo->name[i] >> 4) * 0x9E3779B97F4A7C15ull & (cap - 1);
                while (nn[j])
                    j = (j + 1) & (cap - 1);
                nn[j] = mo->name[i];
                nw[j] = mo->wrapper[i];
            }
        free(mo->name);
        free(mo->wrapper);
        mo->name = nn;
        mo->wrapper = nw;
        mo->cap = cap;
    }
    size_t j = ((uintptr_t)name >> 4) * 0x9E3779B97F4A7C15ull & (mo->cap - 1);
    while (mo->name[j] && mo->name[j] != name)
        j = (j + 1) & (mo->cap - 1);
    if (!mo->name[j]) {
        mo->name[j] = name;
        mo->wrapper[j] = ms_is_alloc_fn(name, extra);
        mo->n++;
    }
    return mo->wrapper[j];
}

/* Whether f has no symbol: its name is its module's and an offset. */
static bool nameless(const ms_frame *f)
{
    const char *m = base(f->module);
    size_t k = m ? strlen(m) : 0;
    return m && !strncmp(f->function, m, k) && !strncmp(f->function + k, "+0x", 3);
}

/* The innermost frame of stack that is not an allocation wrapper (of the first 64: the 64th if
 * all of those are). */
static ms_frame allocating(struct ms_analysis *a, uint32_t stack, const char *const *extra,
                           struct memo *mo)
{
    ms_frame f[64];
    /* the first few frames (symbolized one by one: most stacks need two or three), then more */
    for (int max = 4;; max = 64) {
        int n = ms_analysis_stack(a, stack, f, max), i = 0;
        if (n <= 0)
            return (ms_frame){.function = "(no stack)"};
        /* a wrapper, or a frame without a symbol that a wrapper called (a static function of
         * the allocator's, as sqlite3MemMalloc under sqlite3Malloc) */
        while (i + 1 < n && (is_wrapper(mo, f[i].function, extra) ||
                             (nameless(&f[i]) && is_wrapper(mo, f[i + 1].function, extra))))
            i++;
        if (i + 1 < n || n < max || max == 64)
            return f[i];
    }
}

int ms_hotspots_build(struct ms_analysis *a, enum ms_group_by by, const char *const *extra,
                      struct ms_hotspots *out)
{
    *out = (struct ms_hotspots){.by = by};
    const struct ms_heap_model *m = a->model;
    size_t n = ms_heap_model_site_count(m), k = 0;
    struct member *mem = malloc((n ? n : 1) * sizeof *mem);
    size_t cap = 0;
    if (!mem || ms_grow(&out->g, &cap, 1, sizeof *out->g, 64)) {
        free(mem);
        ms_hotspots_free(out);
        return MS_ENOMEM;
    }
    struct memo memo = {0};
    for (size_t i = 0; i < n; i++) {
        const struct ms_site *s = ms_heap_model_site(m, i);
        if (!s->allocs)
            continue;
        mem[k].site = i;
        mem[k].f = allocating(a, s->stack, extra, &memo);
        mem[k].module = base(mem[k].f.module);
        mem[k].fn_len = fn_len(&mem[k].f);
        k++;
    }
    free(memo.name);
    free(memo.wrapper);
    qsort_r(mem, k, sizeof *mem, by_key, &by);
    uint64_t first = 0, last = 0;
    bool timed = true;
    for (size_t i = 0; i < k; i++) {
        const struct ms_site *s = ms_heap_model_site(m, mem[i].site);
        const struct ms_site_pattern *p = ms_patterns_of(m, mem[i].site);
        if (i && cmp_key(&mem[i - 1], &mem[i], by) &&
            ms_grow(&out->g, &cap, ++out->n + 1, sizeof *out->g, 64)) {
            free(mem);
            ms_hotspots_free(out);
            return MS_ENOMEM;
        }
        struct ms_hotspot *g = &out->g[out->n];
        if (!g->stacks) { /* a new group */
            *g = (struct ms_hotspot){.frame = mem[i].f, .site = mem[i].site};
            g->name = by == MS_GROUP_MODULE  ? strdup(mem[i].module ? mem[i].module : "?")
                      : by == MS_GROUP_STACK ? strdup(mem[i].f.function)
                                             : strndup(mem[i].f.function, mem[i].fn_len);
            if (!g->name) {
                out->n++;
                free(mem);
                ms_hotspots_free(out);
                return MS_ENOMEM;
            }
            first = UINT64_MAX;
            last = 0;
            timed = true;
        }
        g->stacks++;
        g->allocs += s->allocs;
        g->bytes += s->bytes;
        g->peak_bytes += s->peak_bytes;
        g->live_bytes += s->live_bytes;
        g->live_blocks += s->live_blocks;
        g->temporary += s->temporary;
        if (s->bytes > ms_heap_model_site(m, g->site)->bytes)
            g->site = mem[i].site;
        if (p && p->allocs) {
            first = p->first_alloc_ns < first ? p->first_alloc_ns : first;
            last = p->last_alloc_ns > last ? p->last_alloc_ns : last;
        } else {
            timed = false;
        }
        g->rate = timed && g->allocs >= MS_RATE_MIN_ALLOCS && last >= first &&
                          last - first >= MS_RATE_MIN_NS
                      ? (double)g->allocs / ((double)(last - first) / 1e9)
                      : -1;
    }
    if (k)
        out->n++;
    free(mem);
    return 0;
}

void ms_hotspots_free(struct ms_hotspots *h)
{
    for (size_t i = 0; h->g && i < h->n; i++)
        free(h->g[i].name);
    free(h->g);
    h->g = NULL;
    h->n = 0;
}

size_t ms_hotspots_rank(const struct ms_hotspots *h, const struct ms_heap_model *m,
                        enum ms_hotspot_key key, size_t top, size_t **out)
{
    struct ms_ranked *r = malloc((h->n ? h->n : 1) * sizeof *r);
    size_t k = 0;
    for (size_t i = 0; i < h->n && r; i++) {
        const struct ms_hotspot *g = &h->g[i];
        double v = key == MS_HOT_ALLOCS  ? (double)g->allocs
                   : key == MS_HOT_BYTES ? (double)g->bytes
                   : key == MS_HOT_PEAK  ? (double)g->peak_bytes
                                         : g->rate;
        if (v > 0)
            r[k++] = (struct ms_ranked){v, ms_heap_model_site(m, g->site)->stack, i};
    }
    return ms_rank_top(r, k, top, out);
}
