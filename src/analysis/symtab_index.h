/* A module's symbol table sorted by address, to answer what dwfl_module_addrinfo answers — the
 * name of the symbol an address is in, and the offset into it — in O(log n) instead of its scan
 * of every symbol per lookup (which made symbolization most of `memscope report`'s time on
 * programs with big dynamic symbol tables, as gcc's cc1). The answer is libdwfl's own, rule for
 * rule; where the rules need what the index does not keep (the
 * sections of symbols without a size) it says so, and the caller asks libdwfl. */
#ifndef MS_SYMTAB_INDEX_H
#define MS_SYMTAB_INDEX_H

#include <elfutils/libdwfl.h>
#include <stdint.h>

struct ms_symtab_index;

/* The index of mod's symbol table; NULL when it has none or out of memory (ask libdwfl). */
struct ms_symtab_index *ms_symtab_index_new(Dwfl_Module *mod);
void ms_symtab_index_free(struct ms_symtab_index *x);

enum ms_symtab_answer {
    MS_SYMTAB_FOUND, /* *name and *off are dwfl_module_addrinfo's */
    MS_SYMTAB_NONE,  /* dwfl_module_addrinfo finds no symbol */
    MS_SYMTAB_ASK,   /* the index cannot tell: ask dwfl_module_addrinfo */
};

enum ms_symtab_answer ms_symtab_index_lookup(const struct ms_symtab_index *x, uint64_t addr,
                                             const char **name, uint64_t *off);

#endif
