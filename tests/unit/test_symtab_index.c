/* Unit test for src/analysis/symtab_index.c: on real ELF files (the arguments: libraries and
 * programs of the system, and a fixture with local symbols), the index's answer for every
 * symbol's edges (of a sample of symbols) and for addresses spread over each module is
 * dwfl_module_addrinfo's — the same
 * name and offset, or none — and it answers by itself (without asking libdwfl) for most. Files
 * that do not exist are skipped; at least two must be read. */
#include "../../src/analysis/symtab_index.h"

#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;
static unsigned long lookups, asked;
/* The same for the modules with 1,000 symbols or more: where libdwfl's scan costs. */
static unsigned long big_lookups, big_asked;

/* One address: the index against libdwfl. */
static void check(Dwfl_Module *mod, const struct ms_symtab_index *x, uint64_t addr,
                  const char *path)
{
    GElf_Off want_off = 0;
    GElf_Sym sym;
    const char *want = dwfl_module_addrinfo(mod, addr, &want_off, &sym, NULL, NULL, NULL);
    const char *got = NULL;
    uint64_t off = 0;
    enum ms_symtab_answer a = ms_symtab_index_lookup(x, addr, &got, &off);
    lookups++;
    if (a == MS_SYMTAB_ASK) {
        asked++;
        return;
    }
    bool same =
        a == MS_SYMTAB_NONE ? !want : want && !strcmp(want, got) && (uint64_t)want_off == off;
    if (!same && failures++ < 20)
        fprintf(stderr, "%s: 0x%llx: index %s+0x%llx, libdwfl %s+0x%llx\n", path,
                (unsigned long long)addr, a == MS_SYMTAB_NONE ? "(none)" : got,
                (unsigned long long)off, want ? want : "(none)", (unsigned long long)want_off);
}

static int one_file(const char *path)
{
    static const Dwfl_Callbacks cb = {.find_elf = dwfl_build_id_find_elf,
                                      .find_debuginfo = dwfl_standard_find_debuginfo,
                                      .section_address = dwfl_offline_section_address};
    Dwfl *dwfl = dwfl_begin(&cb);
    Dwfl_Module *mod = dwfl ? dwfl_report_offline(dwfl, path, path, -1) : NULL;
    if (!mod) {
        fprintf(stderr, "%s: not read: %s\n", path, dwfl_errmsg(-1));
        if (dwfl)
            dwfl_end(dwfl);
        return 0;
    }
    dwfl_report_end(dwfl, NULL, NULL);
    struct ms_symtab_index *x = ms_symtab_index_new(mod);
    if (!x) {
        fprintf(stderr, "%s: no index\n", path);
        failures++;
        dwfl_end(dwfl);
        return 0;
    }
    unsigned long before = lookups, asked_before = asked;
    /* the edges of 500 symbols or so (libdwfl's lookup is the slow one: a scan of all) */
    int n = dwfl_module_getsymtab(mod), every = n / 500 + 1;
    for (int i = 1; i < n; i += every) {
        GElf_Sym sym;
        GElf_Addr v;
        if (!dwfl_module_getsym_info(mod, i, &sym, &v, NULL, NULL, NULL))
            continue;
        uint64_t edges[] = {v - 1, v, v + 1, v + sym.st_size - 1, v + sym.st_size};
        for (size_t k = 0; k < sizeof edges / sizeof *edges; k++)
            check(mod, x, edges[k], path);
    }
    /* addresses spread over the module: about 4,000 */
    Dwarf_Addr lo, hi;
    dwfl_module_info(mod, NULL, &lo, &hi, NULL, NULL, NULL, NULL);
    uint64_t step = (hi - lo) / 4000 + 1;
    step |= 1; /* odd: not always at the same alignment */
    for (uint64_t a = lo; a < hi; a += step)
        check(mod, x, a, path);
    printf("%s: %d symbols, %lu lookups, %lu asked libdwfl\n", path, n, lookups - before,
           asked - asked_before);
    if (n >= 1000) {
        big_lookups += lookups - before;
        big_asked += asked - asked_before;
    }
    ms_symtab_index_free(x);
    dwfl_end(dwfl);
    return 1;
}

int main(int argc, char **argv)
{
    unsetenv("DEBUGINFOD_URLS"); /* the files' own symbols, never a download */
    int read = 0;
    for (int i = 1; i < argc; i++)
        read += one_file(argv[i]);
    printf("%d files, %lu lookups, %lu asked libdwfl, %d differences\n", read, lookups, asked,
           failures);
    if (read < 2) {
        fprintf(stderr, "fewer than two files read\n");
        return 1;
    }
    /* The point of the index: in big tables, libdwfl's scan only for the rare sizeless
     * fallback. */
    if (!big_lookups || big_asked * 10 > big_lookups) {
        fprintf(stderr, "the index asked libdwfl for %lu of the %lu lookups in big tables\n",
                big_asked, big_lookups);
        return 1;
    }
    return failures ? 1 : 0;
}
