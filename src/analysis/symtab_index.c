/* The symbol index (symtab_index.h). libdwfl's dwfl_module_addrinfo searches the global symbols
 * first (those after dwfl_module_getsymtab_first_global), then the locals only if no global has
 * a size that covers the address; among the symbols that cover it, in table order, a later one
 * wins when it starts closer to the address or binds more strongly (global, weak, local), or,
 * starting at the same address, when it is smaller and binds no worse or as small and binds
 * better. Without such a symbol it falls back to a sizeless one (an assembly label) above every
 * symbol's end and in the address's section, or finds nothing. The index keeps each half of the
 * table sorted by address, with the highest end so far, so that the covering symbols are the few
 * just below the address; for the sizeless fallback it asks libdwfl. */
#include "symtab_index.h"

#include <gelf.h>
#include <stdbool.h>
#include <stdlib.h>

struct sym {
    uint64_t value, size;
    const char *name;
    int index;     /* in the symbol table: the order of libdwfl's search */
    int bind;      /* libdwfl's preference: global 3, weak 2, local 1, others 0 */
    bool absolute; /* in no section (SHN_ABS, non-allocated): a fallback only at its address */
};

struct table {
    struct sym *s;     /* by value */
    uint64_t *max_end; /* the highest value + size of s[0..i] */
    size_t n;
};

struct ms_symtab_index {
    struct table global, local;
    bool locals_searched; /* libdwfl searches the locals when the globals have no answer */
};

/* The most symbols a lookup looks at before it gives up and asks libdwfl. */
#define SCAN_LIMIT 256

static int bind_value(const GElf_Sym *s)
{
    switch (GELF_ST_BIND(s->st_info)) {
    case STB_GLOBAL:
        return 3;
    case STB_WEAK:
        return 2;
    case STB_LOCAL:
        return 1;
    default:
        return 0;
    }
}

static int by_value(const void *a, const void *b)
{
    const struct sym *x = a, *y = b;
    if (x->value != y->value)
        return x->value < y->value ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

/* Table t from the symbols [from, to) of mod that libdwfl considers. */
static int fill(struct table *t, Dwfl_Module *mod, int from, int to)
{
    t->s = malloc((size_t)(to > from ? to - from : 1) * sizeof *t->s);
    if (!t->s)
        return -1;
    for (int i = from; i < to; i++) {
        GElf_Sym sym;
        GElf_Addr value;
        GElf_Word shndx;
        const char *name = dwfl_module_getsym_info(mod, i, &sym, &value, &shndx, NULL, NULL);
        int type = GELF_ST_TYPE(sym.st_info);
        if (!name || !name[0] || sym.st_shndx == SHN_UNDEF || type == STT_SECTION ||
            type == STT_FILE || type == STT_TLS)
            continue;
        t->s[t->n++] =
            (struct sym){value, sym.st_size, name, i, bind_value(&sym), shndx >= SHN_LORESERVE};
    }
    qsort(t->s, t->n, sizeof *t->s, by_value);
    t->max_end = malloc((t->n ? t->n : 1) * sizeof *t->max_end);
    if (!t->max_end)
        return -1;
    uint64_t end = 0;
    for (size_t i = 0; i < t->n; i++) {
        uint64_t e = t->s[i].value + t->s[i].size;
        end = e > end ? e : end;
        t->max_end[i] = end;
    }
    return 0;
}

struct ms_symtab_index *ms_symtab_index_new(Dwfl_Module *mod)
{
    int n = dwfl_module_getsymtab(mod), first_global = dwfl_module_getsymtab_first_global(mod);
    if (n < 0 || first_global < 0)
        return NULL;
    struct ms_symtab_index *x = calloc(1, sizeof *x);
    if (!x)
        return NULL;
    int globals = first_global == 0 ? 1 : first_global;
    x->locals_searched = first_global > 1;
    if (fill(&x->global, mod, globals, n) ||
        (x->locals_searched && fill(&x->local, mod, 1, first_global))) {
        ms_symtab_index_free(x);
        return NULL;
    }
    return x;
}

void ms_symtab_index_free(struct ms_symtab_index *x)
{
    if (!x)
        return;
    free(x->global.s);
    free(x->global.max_end);
    free(x->local.s);
    free(x->local.max_end);
    free(x);
}

/* How many of t's symbols start at addr or below. */
static size_t below(const struct table *t, uint64_t addr)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->s[mid].value <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int by_index(const void *a, const void *b)
{
    const struct sym *x = *(const struct sym *const *)a, *y = *(const struct sym *const *)b;
    return (x->index > y->index) - (x->index < y->index);
}

/* libdwfl's choice among t's symbols with a size that covers addr (the first pos start at addr
 * or below), into *best; false when there is none. *ask is set when there are too many to look
 * at. */
static bool covering(const struct table *t, size_t pos, uint64_t addr, const struct sym **best,
                     bool *ask)
{
    const struct sym *c[SCAN_LIMIT];
    size_t n = 0, seen = 0;
    for (size_t i = pos; i-- > 0 && t->max_end[i] > addr;) {
        if (++seen > SCAN_LIMIT) {
            *ask = true;
            return false;
        }
        if (t->s[i].size && addr - t->s[i].value < t->s[i].size)
            c[n++] = &t->s[i];
    }
    if (!n)
        return false;
    qsort(c, n, sizeof *c, by_index); /* libdwfl's order: ties go to the first found */
    const struct sym *b = NULL;
    for (size_t i = 0; i < n; i++) {
        const struct sym *s = c[i];
        if (!b || b->value < s->value || b->bind < s->bind)
            b = s;
        else if (b->value == s->value && ((b->size > s->size && b->bind <= s->bind) ||
                                          (b->size >= s->size && b->bind < s->bind)))
            b = s;
    }
    *best = b;
    return true;
}

/* Whether t has a sizeless symbol starting in [lo, addr] that could be libdwfl's fallback (the
 * first pos start at addr or below); an absolute one only at addr itself, as libdwfl's
 * same_section says. *ask when it cannot tell within the scan limit. */
static bool sizeless_in(const struct table *t, size_t pos, uint64_t lo, uint64_t addr, bool *ask)
{
    size_t seen = 0;
    for (size_t i = pos; i-- > 0 && t->s[i].value >= lo;) {
        if (++seen > SCAN_LIMIT) {
            *ask = true;
            return false;
        }
        if (!t->s[i].size && t->s[i].value <= addr && (!t->s[i].absolute || t->s[i].value == addr))
            return true;
    }
    return false;
}

enum ms_symtab_answer ms_symtab_index_lookup(const struct ms_symtab_index *x, uint64_t addr,
                                             const char **name, uint64_t *off)
{
    const struct sym *best = NULL;
    bool ask = false;
    size_t g = below(&x->global, addr);
    if (covering(&x->global, g, addr, &best, &ask))
        goto found;
    /* No global covers addr: every global below it ends at min_label or before. A sizeless one
     * above that is libdwfl's fallback (in the address's section: not known here), and one at
     * addr itself stops the search of the locals. */
    uint64_t min_label = g ? x->global.max_end[g - 1] : 0;
    if (ask || sizeless_in(&x->global, g, min_label, addr, &ask) || ask)
        return MS_SYMTAB_ASK;
    if (x->locals_searched) {
        size_t l = below(&x->local, addr);
        if (covering(&x->local, l, addr, &best, &ask))
            goto found;
        if (l && x->local.max_end[l - 1] > min_label)
            min_label = x->local.max_end[l - 1];
        if (ask || sizeless_in(&x->local, l, min_label, addr, &ask) || ask)
            return MS_SYMTAB_ASK;
    }
    return MS_SYMTAB_NONE;
found:
    *name = best->name;
    *off = addr - best->value;
    return MS_SYMTAB_FOUND;
}
