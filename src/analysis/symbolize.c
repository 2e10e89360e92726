/* Offline symbolizer: maps runtime addresses of a traced process to function, file:line and
 * inlined-call chains through elfutils' libdwfl, verifying each module's build-id first and
 * falling back to symbol+offset or module+offset text when debug information is unusable. The
 * module paths come from the trace, so every file opened here is opened as untrusted input. */
#include "symbolize.h"

#include "symtab_index.h"

#include "grow.h"

#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <elfutils/libdwfl.h>
#include <gelf.h>
#include <libelf.h>

#include "../common/errors.h"
#include "../common/open_regular.h"

/* Provided by libstdc++ (the final binary links it); declared here to keep this file C. */
char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);

/* The most frames one address can produce (inlining depth); deeper chains are cut. */
#define MAX_FRAMES 64

enum mod_state {
    MOD_OK,       /* symbols usable */
    MOD_MISSING,  /* file could not be opened */
    MOD_UNUSABLE, /* not a regular file (never opened then), not ELF, or libdwfl refused it */
    MOD_MISMATCH, /* build-id differs from the recorded one */
};

struct module {
    char *path;
    const char *base; /* basename, points into path */
    uint64_t bias, lo, hi;
    enum mod_state state;
    Dwfl_Module *dwmod; /* NULL unless state == MOD_OK */
    dev_t dev;          /* the file opened, when state == MOD_OK */
    ino_t ino;
    /* Its symbol table by address (symtab_index.h), made at the first lookup; NULL: ask libdwfl. */
    struct ms_symtab_index *symbols;
    bool symbols_made;
};

struct cache_entry {
    uint64_t address;
    const struct module *in; /* the module asked for (ms_symbolize_in), or NULL */
    bool ret;
    int nframes; /* 0 marks an empty slot */
    ms_frame *frames;
};

struct ms_symbolizer {
    Dwfl_Callbacks callbacks; /* must outlive dwfl */
    Dwfl *dwfl;
    /* More sessions, for modules loaded at addresses an earlier module had (one libdwfl session
     * holds modules that do not overlap). */
    Dwfl **more;
    size_t nmore, capmore;
    struct module **mods;
    size_t nmods, capmods;
    bool sorted;
    struct cache_entry *cache; /* open addressing, capacity a power of two */
    size_t cache_cap, cache_count;
    char **strs; /* interned strings, open addressing, capacity a power of two */
    size_t str_cap, str_count;
};

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static uint64_t hash_str(const char *p)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *p; p++) {
        h ^= (unsigned char)*p;
        h *= 0x100000001b3ULL;
    }
    return h;
}

static int strs_grow(ms_symbolizer *s)
{
    size_t cap = s->str_cap ? s->str_cap * 2 : 256;
    char **n = calloc(cap, sizeof(*n));
    if (!n)
        return MS_ENOMEM;
    for (size_t i = 0; i < s->str_cap; i++) {
        if (!s->strs[i])
            continue;
        size_t j = hash_str(s->strs[i]) & (cap - 1);
        while (n[j])
            j = (j + 1) & (cap - 1);
        n[j] = s->strs[i];
    }
    free(s->strs);
    s->strs = n;
    s->str_cap = cap;
    return 0;
}

/* Returns the symbolizer's single copy of str, or NULL when out of memory. */
static const char *intern(ms_symbolizer *s, const char *str)
{
    if ((s->str_count + 1) * 2 > s->str_cap && strs_grow(s) < 0)
        return NULL;
    size_t j = hash_str(str) & (s->str_cap - 1);
    while (s->strs[j]) {
        if (strcmp(s->strs[j], str) == 0)
            return s->strs[j];
        j = (j + 1) & (s->str_cap - 1);
    }
    char *copy = strdup(str);
    if (!copy)
        return NULL;
    s->strs[j] = copy;
    s->str_count++;
    return copy;
}

static const char *intern_fmt(ms_symbolizer *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Interns a printf-formatted string; NULL when out of memory. */
static const char *intern_fmt(ms_symbolizer *s, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    if ((size_t)n < sizeof(small))
        return intern(s, small);
    char *big = malloc((size_t)n + 1);
    if (!big)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    const char *r = intern(s, big);
    free(big);
    return r;
}

/* Interns name, demangled when it is an Itanium C++ mangled name. */
static const char *intern_demangled(ms_symbolizer *s, const char *name)
{
    if (name[0] == '_' && name[1] == 'Z') {
        int status = 0;
        char *d = __cxa_demangle(name, NULL, NULL, &status);
        if (d && status == 0) {
            const char *r = intern(s, d);
            free(d);
            return r;
        }
        free(d);
    }
    return intern(s, name);
}

/* The directories libdwfl's own lookup searches (see find_debuginfo): absolute only. */
static char debug_dir[] = "/usr/lib/debug";
static char *debuginfo_path = debug_dir;

/* Opens path as a candidate separate debug file of module m, whose build-id is id: only a
 * regular file that is not the module itself and has the same build-id. Returns the descriptor
 * or -1. */
static int open_debug_file(const char *path, const struct module *m, const void *id, int idlen)
{
    struct stat st;
    int fd = ms_open_regular(path, &st);
    if (fd < 0)
        return -1;
    bool same = false;
    if (!m || st.st_dev != m->dev || st.st_ino != m->ino) {
        Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
        const void *bits = NULL;
        same = elf && dwelf_elf_gnu_build_id(elf, &bits) == idlen &&
               memcmp(bits, id, (size_t)idlen) == 0;
        if (elf)
            elf_end(elf);
    }
    if (!same) {
        close(fd);
        return -1;
    }
    return fd;
}

/* libdwfl's find_debuginfo callback. The standard lookup (dwfl_standard_find_debuginfo) opens
 * with a blocking open() files named after the module's path and the debug link in its ELF
 * file: in the module's directory, its .debug subdirectory and under /usr/lib/debug. Both come
 * from the trace, and a FIFO there would hang the report. So the standard lookup runs here
 * without the module's path and with only absolute directories to search (debuginfo_path): it
 * then opens build-id names (and dwz files' basenames) under /usr/lib/debug only, and asks
 * debuginfod servers if MEMSCOPE_DEBUGINFOD let it. The debug link is then looked for in the
 * same three places as libdwfl does, each candidate opened as untrusted input and used only if
 * its build-id is the module's (so a module without a build-id gets no debug link file). */
static int find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
                          const char *file_name, const char *debuglink, GElf_Word crc,
                          char **debuginfo_file_name)
{
    int fd = dwfl_standard_find_debuginfo(mod, userdata, modname, base, NULL, debuglink, crc,
                                          debuginfo_file_name);
    const unsigned char *id;
    GElf_Addr id_vaddr;
    int idlen = dwfl_module_build_id(mod, &id, &id_vaddr);
    if (fd >= 0 || !file_name || idlen <= 0)
        return fd;
    const struct module *m = userdata ? *userdata : NULL;
    /* As libdwfl does, the module's path and, if it differs, its real path (a symlink's). */
    char *canon = realpath(file_name, NULL);
    const char *names[2] = {file_name, canon && strcmp(canon, file_name) ? canon : NULL};
    for (int i = 0; i < 2 && names[i] && fd < 0; i++) {
        const char *slash = strrchr(names[i], '/');
        const char *dir = slash ? names[i] : ".";
        int dirlen = slash ? (int)(slash - names[i]) : 1;
        char invented[NAME_MAX + 8];
        const char *link = debuglink;
        if (!link) { /* no debug link: libdwfl tries "<module file name>.debug" */
            const char *file = slash ? slash + 1 : names[i];
            if ((size_t)snprintf(invented, sizeof invented, "%s.debug", file) >= sizeof invented)
                continue;
            link = invented;
        }
        for (int j = 0; j < 3 && fd < 0; j++) {
            char path[PATH_MAX];
            int n = -1;
            if (j == 0)
                n = snprintf(path, sizeof path, "%.*s/%s", dirlen, dir, link);
            else if (j == 1)
                n = snprintf(path, sizeof path, "%.*s/.debug/%s", dirlen, dir, link);
            else if (dir[0] == '/') /* only an absolute directory has a copy under debug_dir */
                n = snprintf(path, sizeof path, "%s%.*s/%s", debug_dir, dirlen, dir, link);
            if (n < 0 || (size_t)n >= sizeof path)
                continue;
            fd = open_debug_file(path, m, id, idlen);
            if (fd >= 0 && !(*debuginfo_file_name = strdup(path))) {
                close(fd);
                fd = -1;
                break;
            }
        }
    }
    free(canon);
    return fd;
}

int ms_symbolizer_new(ms_symbolizer **out)
{
    if (!out)
        return MS_EINVAL;
    *out = NULL;
    ms_symbolizer *s = calloc(1, sizeof(*s));
    if (!s)
        return MS_ENOMEM;
    elf_version(EV_CURRENT);
    s->callbacks.find_elf = dwfl_build_id_find_elf;
    s->callbacks.find_debuginfo = find_debuginfo;
    s->callbacks.section_address = dwfl_offline_section_address;
    s->callbacks.debuginfo_path = &debuginfo_path;
    s->dwfl = dwfl_begin(&s->callbacks);
    if (!s->dwfl) {
        free(s);
        return MS_ENOMEM;
    }
    dwfl_report_begin(s->dwfl);
    dwfl_report_end(s->dwfl, NULL, NULL);
    s->sorted = true;
    *out = s;
    return 0;
}

void ms_symbolizer_free(ms_symbolizer *s)
{
    if (!s)
        return;
    if (s->dwfl)
        dwfl_end(s->dwfl);
    for (size_t i = 0; i < s->nmore; i++)
        dwfl_end(s->more[i]);
    free(s->more);
    for (size_t i = 0; i < s->nmods; i++) {
        ms_symtab_index_free(s->mods[i]->symbols);
        free(s->mods[i]->path);
        free(s->mods[i]);
    }
    free(s->mods);
    for (size_t i = 0; i < s->cache_cap; i++)
        free(s->cache[i].frames);
    free(s->cache);
    for (size_t i = 0; i < s->str_cap; i++)
        free(s->strs[i]);
    free(s->strs);
    free(s);
}

/* Opens path (a regular file only: a FIFO or device named by the trace is not opened) and
 * checks its build-id. On MOD_OK, *fd_out is an open descriptor for it, described by *info. */
static enum mod_state check_file(const char *path, const uint8_t *build_id, size_t build_id_len,
                                 int *fd_out, struct stat *info)
{
    *fd_out = -1;
    int fd = ms_open_regular(path, info);
    if (fd < 0)
        return fd == MS_EINVAL ? MOD_UNUSABLE : MOD_MISSING;
    Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    enum mod_state st = MOD_OK;
    if (!elf || elf_kind(elf) != ELF_K_ELF) {
        st = MOD_UNUSABLE;
    } else if (build_id_len > 0) {
        const void *bits = NULL;
        ssize_t n = dwelf_elf_gnu_build_id(elf, &bits);
        if (n != (ssize_t)build_id_len || memcmp(bits, build_id, build_id_len) != 0)
            st = MOD_MISMATCH;
    }
    if (elf)
        elf_end(elf);
    if (st != MOD_OK)
        close(fd);
    else
        *fd_out = fd;
    return st;
}

/* Reports module m (file fd) to session d. Given the fd, libdwfl does not open the path itself.
 * On success the fd belongs to libdwfl; on failure (its addresses overlap a module of d's) it is
 * still ours. */
static Dwfl_Module *report_elf(Dwfl *d, const struct module *m, int fd)
{
    dwfl_report_begin_add(d);
    /* add_p_vaddr: bias is dlpi_addr, i.e. relative to the ELF's p_vaddr. */
    Dwfl_Module *dm = dwfl_report_elf(d, m->path, m->path, fd, m->bias, true);
    dwfl_report_end(d, NULL, NULL);
    return dm;
}

int ms_symbolizer_add_module(ms_symbolizer *s, const char *path, uint64_t bias, uint64_t lo,
                             uint64_t hi, const uint8_t *build_id, size_t build_id_len)
{
    if (!s || !path || hi < lo || (build_id_len > 0 && !build_id))
        return MS_EINVAL;
    /* Registering a module twice (a forked child and its parent both list it) is a no-op:
     * reporting it to libdwfl again would fail and hide its symbols. */
    for (size_t i = 0; i < s->nmods; i++)
        if (s->mods[i]->bias == bias && s->mods[i]->lo == lo && s->mods[i]->hi == hi &&
            !strcmp(s->mods[i]->path, path))
            return 0;
    if (ms_grow(&s->mods, &s->capmods, s->nmods + 1, sizeof *s->mods, 16) != 0)
        return MS_ENOMEM;
    struct module *m = calloc(1, sizeof(*m));
    if (!m)
        return MS_ENOMEM;
    m->path = strdup(path);
    if (!m->path) {
        free(m);
        return MS_ENOMEM;
    }
    const char *slash = strrchr(m->path, '/');
    m->base = slash && slash[1] ? slash + 1 : m->path;
    m->bias = bias;
    m->lo = lo;
    m->hi = hi;

    int fd;
    struct stat st;
    m->state = check_file(path, build_id, build_id_len, &fd, &st);
    if (m->state == MOD_OK) {
        m->dev = st.st_dev;
        m->ino = st.st_ino;
        /* The first session where it overlaps no module, a new one if none. */
        m->dwmod = report_elf(s->dwfl, m, fd);
        for (size_t i = 0; !m->dwmod && i < s->nmore; i++)
            m->dwmod = report_elf(s->more[i], m, fd);
        if (!m->dwmod && ms_grow(&s->more, &s->capmore, s->nmore + 1, sizeof *s->more, 4) == 0) {
            Dwfl *d = dwfl_begin(&s->callbacks);
            if (d) {
                dwfl_report_begin(d);
                dwfl_report_end(d, NULL, NULL);
                s->more[s->nmore++] = d;
                m->dwmod = report_elf(d, m, fd);
            }
        }
        if (!m->dwmod) {
            close(fd);
            m->state = MOD_UNUSABLE;
        } else {
            void **userdata = NULL;
            dwfl_module_info(m->dwmod, &userdata, NULL, NULL, NULL, NULL, NULL, NULL);
            if (userdata)
                *userdata = m;
        }
    }
    s->mods[s->nmods++] = m;
    s->sorted = false;
    return 0;
}

int ms_symbolizer_preload(ms_symbolizer *s, const char *path)
{
    int n = 0;
    for (size_t i = 0; s && path && i < s->nmods; i++) {
        struct module *m = s->mods[i];
        if (m->state != MOD_OK || strcmp(m->path, path) != 0)
            continue;
        Dwarf_Addr bias;
        dwfl_module_getsymtab(m->dwmod);
        if (dwfl_module_getdwarf(m->dwmod, &bias))
            dwfl_module_addrdie(m->dwmod, m->lo, &bias); /* builds the address ranges */
        n++;
    }
    return n;
}

static int cmp_mod(const void *a, const void *b)
{
    const struct module *x = *(struct module *const *)a;
    const struct module *y = *(struct module *const *)b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* The module whose executable range holds addr, else a usable module whose ELF image holds it
 * (libdwfl knows the whole mapped extent), else NULL. */
static struct module *find_module(ms_symbolizer *s, uint64_t addr)
{
    if (!s->sorted) {
        qsort(s->mods, s->nmods, sizeof(*s->mods), cmp_mod);
        s->sorted = true;
    }
    size_t lo = 0, hi = s->nmods; /* find the last module with m->lo <= addr */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->mods[mid]->lo <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo > 0 && addr < s->mods[lo - 1]->hi)
        return s->mods[lo - 1];
    for (size_t i = 0; i < s->nmods; i++) /* overlapping ranges: rare */
        if (s->mods[i]->lo <= addr && addr < s->mods[i]->hi)
            return s->mods[i];
    Dwfl_Module *dm = dwfl_addrmodule(s->dwfl, addr);
    if (dm) {
        void **userdata = NULL;
        dwfl_module_info(dm, &userdata, NULL, NULL, NULL, NULL, NULL, NULL);
        if (userdata && *userdata)
            return *userdata;
    }
    return NULL;
}

/* "basename+0xOFF", optionally with a mismatch mark. */
static const char *module_offset_name(ms_symbolizer *s, const struct module *m, uint64_t address)
{
    return intern_fmt(s, "%s+0x%" PRIx64 "%s", m->base, address - m->bias,
                      m->state == MOD_MISMATCH ? " [build-id mismatch]" : "");
}

/* "symbol+0xOFF" from .symtab/.dynsym, else "basename+0xOFF". */
static const char *symtab_name(ms_symbolizer *s, const struct module *m, uint64_t lookup,
                               uint64_t address)
{
    /* The index is the module's cache: made once, by the symbolizer that owns the module. */
    struct module *mm = (struct module *)m;
    if (!mm->symbols_made) {
        mm->symbols_made = true;
        mm->symbols = ms_symtab_index_new(m->dwmod);
    }
    const char *name = NULL;
    uint64_t off = 0;
    enum ms_symtab_answer a =
        m->symbols ? ms_symtab_index_lookup(m->symbols, lookup, &name, &off) : MS_SYMTAB_ASK;
    if (a == MS_SYMTAB_ASK) {
        GElf_Off o = 0;
        GElf_Sym sym;
        name = dwfl_module_addrinfo(m->dwmod, lookup, &o, &sym, NULL, NULL, NULL);
        off = o;
    }
    if (!name || !name[0])
        return module_offset_name(s, m, address);
    const char *dem = intern_demangled(s, name);
    if (!dem)
        return NULL;
    return intern_fmt(s, "%s+0x%" PRIx64, dem, (uint64_t)off + (address - lookup));
}

static bool is_cxx(Dwarf_Die *die)
{
    Dwarf_Die cu;
    if (!dwarf_diecu(die, &cu, NULL, NULL))
        return false;
    switch (dwarf_srclang(&cu)) {
    case DW_LANG_C_plus_plus:
    case DW_LANG_C_plus_plus_03:
    case DW_LANG_C_plus_plus_11:
    case DW_LANG_C_plus_plus_14:
    case DW_LANG_ObjC_plus_plus:
        return true;
    default:
        return false;
    }
}

/* Prefixes a C++ DW_AT_name with its enclosing namespaces and classes ("ns::C::name"), for
 * functions without a linkage name (e.g. internal-linkage functions that were only inlined). */
static const char *qualify(ms_symbolizer *s, Dwarf_Die *die, const char *name)
{
    if (!is_cxx(die))
        return intern(s, name);
    /* Find the declaration: the abstract origin and/or specification hold the real parent. */
    Dwarf_Die decl = *die;
    for (int hops = 0; hops < 8; hops++) {
        Dwarf_Attribute attr;
        Dwarf_Attribute *a = dwarf_attr(&decl, DW_AT_abstract_origin, &attr);
        if (!a)
            a = dwarf_attr(&decl, DW_AT_specification, &attr);
        if (!a || !dwarf_formref_die(a, &decl))
            break;
    }
    Dwarf_Die *chain = NULL;
    int n = dwarf_getscopes_die(&decl, &chain);
    size_t len = strlen(name) + 1;
    for (int i = 1; i < n; i++)
        if (dwarf_tag(&chain[i]) != DW_TAG_compile_unit) {
            const char *part = dwarf_diename(&chain[i]);
            len += (part ? strlen(part) : 21) + 2;
        }
    char *buf = malloc(len);
    if (!buf) {
        free(chain);
        return NULL;
    }
    buf[0] = '\0';
    for (int i = n - 1; i >= 1; i--) {
        int tag = dwarf_tag(&chain[i]);
        if (tag != DW_TAG_namespace && tag != DW_TAG_class_type && tag != DW_TAG_structure_type &&
            tag != DW_TAG_union_type)
            continue;
        const char *part = dwarf_diename(&chain[i]);
        strcat(buf, part                      ? part
                    : tag == DW_TAG_namespace ? "(anonymous namespace)"
                                              : "(anonymous)");
        strcat(buf, "::");
    }
    strcat(buf, name);
    free(chain);
    const char *r = intern(s, buf);
    free(buf);
    return r;
}

/* The name of a subprogram or inlined-subroutine DIE, demangled or namespace-qualified, "" if it
 * has none, or NULL when out of memory. */
static const char *die_name(ms_symbolizer *s, Dwarf_Die *die)
{
    Dwarf_Attribute attr;
    const char *name = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_linkage_name, &attr));
    if (!name)
        name = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr));
    if (name)
        return intern_demangled(s, name);
    name = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_name, &attr));
    if (!name)
        return "";
    return qualify(s, die, name);
}

static bool is_function_tag(int tag)
{
    return tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine ||
           tag == DW_TAG_entry_point;
}

/* Interns a source path from the line table of cu. libdw leaves DWARF 5 paths relative when the
 * directory entry is relative (e.g. "src/x.c" for `gcc -c src/x.c`); those are relative to the
 * CU's DW_AT_comp_dir, so they are made absolute here. NULL in, NULL out. */
static const char *intern_path(ms_symbolizer *s, Dwarf_Die *cu, const char *file, bool *oom)
{
    if (!file)
        return NULL;
    Dwarf_Attribute attr;
    const char *dir = cu ? dwarf_formstring(dwarf_attr(cu, DW_AT_comp_dir, &attr)) : NULL;
    const char *r;
    if (file[0] != '/' && dir && dir[0])
        r = intern_fmt(s, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", file);
    else
        r = intern(s, file);
    if (!r)
        *oom = true;
    return r;
}

/* The DW_AT_call_file / DW_AT_call_line of an inlined-subroutine DIE, the file interned. */
static void call_site(ms_symbolizer *s, Dwarf_Die *die, const char **file, unsigned *line,
                      bool *oom)
{
    Dwarf_Attribute attr;
    Dwarf_Word val;
    Dwarf_Die cu;
    Dwarf_Files *files;
    *file = NULL;
    *line = 0;
    if (dwarf_formudata(dwarf_attr(die, DW_AT_call_file, &attr), &val) == 0 &&
        dwarf_diecu(die, &cu, NULL, NULL) && dwarf_getsrcfiles(&cu, &files, NULL) == 0)
        *file = intern_path(s, &cu, dwarf_filesrc(files, val, NULL, NULL), oom);
    if (dwarf_formudata(dwarf_attr(die, DW_AT_call_line, &attr), &val) == 0)
        *line = (unsigned)val;
}

/* Symbolizes lookup inside a usable module into out[]; returns the count or MS_ENOMEM. */
static int resolve_in_module(ms_symbolizer *s, const struct module *m, uint64_t lookup,
                             uint64_t address, ms_frame *out)
{
    Dwarf_Die funcs[MAX_FRAMES];
    int nfuncs = 0;
    Dwarf_Addr dbias = 0;
    Dwarf_Die *cudie = dwfl_module_addrdie(m->dwmod, lookup, &dbias);
    if (cudie) {
        Dwarf_Die *scopes = NULL;
        int nscopes = dwarf_getscopes(cudie, lookup - dbias, &scopes);
        if (nscopes > 0) {
            /* dwarf_getscopes continues past an inlined instance into its abstract origin's
             * scopes; the physical nesting (callers of inlined code) comes from the DIE tree. */
            Dwarf_Die *chain = NULL;
            int nchain = dwarf_getscopes_die(&scopes[0], &chain);
            for (int i = 0; i < nchain && nfuncs < MAX_FRAMES; i++) {
                int tag = dwarf_tag(&chain[i]);
                if (!is_function_tag(tag))
                    continue;
                funcs[nfuncs++] = chain[i];
                if (tag != DW_TAG_inlined_subroutine)
                    break;
            }
            free(chain);
        }
        free(scopes);
    }

    bool oom = false;
    const char *file = NULL;
    int lineno = 0;
    Dwfl_Line *l = dwfl_module_getsrc(m->dwmod, lookup);
    if (l) {
        file =
            intern_path(s, dwfl_linecu(l), dwfl_lineinfo(l, NULL, &lineno, NULL, NULL, NULL), &oom);
    }
    unsigned line = lineno > 0 ? (unsigned)lineno : 0;

    if (nfuncs == 0) {
        out[0].function = symtab_name(s, m, lookup, address);
        out[0].file = file;
        out[0].line = line;
        return out[0].function && !oom ? 1 : MS_ENOMEM;
    }
    for (int i = 0; i < nfuncs; i++) {
        ms_frame *f = &out[i];
        f->inlined = dwarf_tag(&funcs[i]) == DW_TAG_inlined_subroutine;
        f->function = die_name(s, &funcs[i]);
        if (f->function && !f->function[0])
            f->function = f->inlined ? "??" : symtab_name(s, m, lookup, address);
        if (i > 0)
            call_site(s, &funcs[i - 1], &file, &line, &oom);
        f->file = file;
        f->line = line;
        if (!f->function || oom)
            return MS_ENOMEM;
    }
    return nfuncs;
}

static int cache_grow(ms_symbolizer *s)
{
    size_t cap = s->cache_cap ? s->cache_cap * 2 : 256;
    struct cache_entry *n = calloc(cap, sizeof(*n));
    if (!n)
        return MS_ENOMEM;
    for (size_t i = 0; i < s->cache_cap; i++) {
        struct cache_entry *e = &s->cache[i];
        if (!e->nframes)
            continue;
        size_t j = mix64((e->address * 2 + e->ret) ^ (uint64_t)(uintptr_t)e->in) & (cap - 1);
        while (n[j].nframes)
            j = (j + 1) & (cap - 1);
        n[j] = *e;
    }
    free(s->cache);
    s->cache = n;
    s->cache_cap = cap;
    return 0;
}

/* Computes the frames for a cache miss into a fresh malloc'd array, in module `in` (NULL: the
 * module found by address). */
static int resolve(ms_symbolizer *s, uint64_t address, bool ret, const struct module *in,
                   ms_frame **out)
{
    ms_frame tmp[MAX_FRAMES];
    memset(tmp, 0, sizeof(tmp));
    uint64_t lookup = ret && address > 0 ? address - 1 : address;
    int n = 1;
    const struct module *m = in ? in : find_module(s, lookup);
    if (!m) {
        tmp[0].function = intern_fmt(s, "0x%" PRIx64, address);
        if (!tmp[0].function)
            return MS_ENOMEM;
    } else if (m->state != MOD_OK) {
        tmp[0].function = module_offset_name(s, m, address);
        if (!tmp[0].function)
            return MS_ENOMEM;
    } else {
        n = resolve_in_module(s, m, lookup, address, tmp);
        if (n < 0)
            return n;
    }
    *out = malloc((size_t)n * sizeof(**out));
    if (!*out)
        return MS_ENOMEM;
    for (int i = 0; i < n; i++) {
        tmp[i].module = m ? m->path : NULL;
        tmp[i].address = address;
        (*out)[i] = tmp[i];
    }
    return n;
}

const ms_symbol_module *ms_symbolizer_find(ms_symbolizer *s, const char *path, uint64_t bias,
                                           uint64_t lo, uint64_t hi)
{
    for (size_t i = 0; s && path && i < s->nmods; i++)
        if (s->mods[i]->bias == bias && s->mods[i]->lo == lo && s->mods[i]->hi == hi &&
            !strcmp(s->mods[i]->path, path))
            return (const ms_symbol_module *)s->mods[i];
    return NULL;
}

static size_t cache_slot(const ms_symbolizer *s, uint64_t address, bool ret,
                         const struct module *in)
{
    return mix64((address * 2 + ret) ^ (uint64_t)(uintptr_t)in) & (s->cache_cap - 1);
}

int ms_symbolize(ms_symbolizer *s, uint64_t address, bool is_return_address, ms_frame *frames,
                 int max)
{
    return ms_symbolize_in(s, NULL, address, is_return_address, frames, max);
}

int ms_symbolize_in(ms_symbolizer *s, const ms_symbol_module *module, uint64_t address,
                    bool is_return_address, ms_frame *frames, int max)
{
    const struct module *in = (const struct module *)module;
    if (!s || (max > 0 && !frames))
        return MS_EINVAL;
    if ((s->cache_count + 1) * 2 > s->cache_cap && cache_grow(s) < 0)
        return MS_ENOMEM;
    size_t j = cache_slot(s, address, is_return_address, in);
    struct cache_entry *e;
    for (;;) {
        e = &s->cache[j];
        if (!e->nframes || (e->address == address && e->ret == is_return_address && e->in == in))
            break;
        j = (j + 1) & (s->cache_cap - 1);
    }
    if (!e->nframes) {
        ms_frame *f = NULL;
        int n = resolve(s, address, is_return_address, in, &f);
        if (n < 0)
            return n;
        e->address = address;
        e->in = in;
        e->ret = is_return_address;
        e->nframes = n;
        e->frames = f;
        s->cache_count++;
    }
    int n = e->nframes < max ? e->nframes : max;
    for (int i = 0; i < n; i++)
        frames[i] = e->frames[i];
    return n > 0 ? n : 0;
}

size_t ms_symbolizer_cache_count(const ms_symbolizer *s)
{
    return s ? s->cache_count : 0;
}
