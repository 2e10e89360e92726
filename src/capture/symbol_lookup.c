/* Finds symbols in the loaded objects by reading their dynamic symbol tables (GNU or SysV hash,
 * default versions). dlsym reports a missing symbol through dlerror, whose message it allocates
 * and frees at a later dl* call: from a hook, that would allocate behind the program's back and
 * free outside the hook, and change what the program's own dlerror() says. */
#define _GNU_SOURCE
#include "symbol_lookup.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <stdbool.h>
#include <string.h>

struct sym_search {
    const char *name;
    uint32_t gnu_hash, elf_hash;
    uintptr_t self_base;
    int pass; /* 0: objects after libmemscope (RTLD_NEXT order), 1: the others */
    bool after_self;
    bool restricted; /* search only the object loaded at address only */
    uintptr_t only;
    bool skipped; /* a definition by that name was passed over (IFUNC, data, hidden version) */
    void *found;
    uintptr_t found_in; /* the address of the object it was found in */
};

static uint32_t gnu_hash(const char *s)
{
    uint32_t h = 5381;
    for (; *s; s++)
        h = h * 33 + (unsigned char)*s;
    return h;
}

static uint32_t elf_hash(const char *s)
{
    uint32_t h = 0;
    for (; *s; s++) {
        h = (h << 4) + (unsigned char)*s;
        uint32_t g = h & 0xf0000000u;
        h ^= g >> 24;
        h &= ~g;
    }
    return h;
}

/* Whether sym defines s->name; a definition this reader does not use (an IFUNC, whose address
 * needs its resolver; data; a non-default version) is noted in s->skipped. */
static bool sym_matches(const ElfW(Sym) * sym, const char *strtab, const ElfW(Half) * versym,
                        size_t index, struct sym_search *s)
{
    if (sym->st_shndx == SHN_UNDEF || strcmp(strtab + sym->st_name, s->name) != 0)
        return false;
    int type = ELF64_ST_TYPE(sym->st_info), bind = ELF64_ST_BIND(sym->st_info);
    if (bind != STB_GLOBAL && bind != STB_WEAK)
        return false;
    if (type != STT_FUNC || !sym->st_value || (versym && (versym[index] & 0x8000))) {
        s->skipped = true;
        return false;
    }
    return true;
}

/* The definition of s->name in one object's dynamic symbol table, or NULL. */
static const ElfW(Sym) * object_lookup(const struct dl_phdr_info *info, struct sym_search *s)
{
    const ElfW(Dyn) *dyn = NULL;
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_DYNAMIC)
            dyn = (const ElfW(Dyn) *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
    if (!dyn) {
        s->skipped = true;
        return NULL;
    }
    uintptr_t base = info->dlpi_addr, symtab = 0, strtab = 0, gnuhash = 0, hash = 0, versym = 0;
    for (; dyn->d_tag != DT_NULL; dyn++) {
        /* glibc relocates these entries in place; the vDSO's are offsets. */
        uintptr_t v = dyn->d_un.d_ptr < base ? base + dyn->d_un.d_ptr : dyn->d_un.d_ptr;
        switch (dyn->d_tag) {
        case DT_SYMTAB:
            symtab = v;
            break;
        case DT_STRTAB:
            strtab = v;
            break;
        case DT_GNU_HASH:
            gnuhash = v;
            break;
        case DT_HASH:
            hash = v;
            break;
        case DT_VERSYM:
            versym = v;
            break;
        }
    }
    if (!symtab || !strtab || (!gnuhash && !hash)) {
        s->skipped = true;
        return NULL;
    }
    const ElfW(Sym) *syms = (const ElfW(Sym) *)symtab;
    const char *strs = (const char *)strtab;
    const ElfW(Half) *vers = (const ElfW(Half) *)versym;
    if (gnuhash) {
        const uint32_t *h = (const uint32_t *)gnuhash;
        uint32_t nbuckets = h[0], symoffset = h[1], bloom_size = h[2];
        if (!nbuckets)
            return NULL;
        const uint32_t *buckets = h + 4 + bloom_size * (sizeof(ElfW(Addr)) / 4);
        const uint32_t *chain = buckets + nbuckets;
        uint32_t i = buckets[s->gnu_hash % nbuckets];
        if (i < symoffset)
            return NULL;
        for (;; i++) {
            uint32_t ch = chain[i - symoffset];
            if ((ch | 1) == (s->gnu_hash | 1) && sym_matches(&syms[i], strs, vers, i, s))
                return &syms[i];
            if (ch & 1)
                return NULL;
        }
    }
    if (hash) {
        const uint32_t *h = (const uint32_t *)hash;
        uint32_t nbucket = h[0];
        if (!nbucket)
            return NULL;
        const uint32_t *bucket = h + 2, *chain = bucket + nbucket;
        for (uint32_t i = bucket[s->elf_hash % nbucket]; i != STN_UNDEF; i = chain[i])
            if (sym_matches(&syms[i], strs, vers, i, s))
                return &syms[i];
    }
    return NULL;
}

static int search_object(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    struct sym_search *s = arg;
    if (info->dlpi_addr == s->self_base) {
        s->after_self = true;
        return 0;
    }
    if (s->restricted ? info->dlpi_addr != s->only : s->after_self != (s->pass == 0))
        return 0;
    if (info->dlpi_name && strstr(info->dlpi_name, "linux-vdso"))
        return 0;
    const ElfW(Sym) *sym = object_lookup(info, s);
    if (!sym)
        return 0;
    s->found = (void *)(info->dlpi_addr + sym->st_value);
    s->found_in = info->dlpi_addr;
    return 1;
}

static struct sym_search search_for(const char *name)
{
    return (struct sym_search){
        .name = name, .gnu_hash = gnu_hash(name), .elf_hash = elf_hash(name)};
}

static void search(struct sym_search *s)
{
    struct link_map *self = NULL;
    Dl_info info;
    if (dladdr1((const void *)&search, &info, (void **)&self, RTLD_DL_LINKMAP) && self)
        s->self_base = self->l_addr;
    /* First the objects after libmemscope, as dlsym(RTLD_NEXT) searches them; then the rest, for
     * a library loaded with RTLD_LOCAL that brings its own allocator (tcmalloc, jemalloc). */
    for (s->pass = 0; s->pass < (s->restricted ? 1 : 2) && !s->found; s->pass++) {
        s->after_self = false;
        dl_iterate_phdr(search_object, s);
    }
}

void *ms__next_symbol(const char *name)
{
    struct sym_search s = search_for(name);
    search(&s);
    if (s.found)
        return s.found;
    /* Only a definition this reader passed over is worth asking the loader for: a dlsym that
     * fails leaves an allocated dlerror message behind, visible to the program. */
    return s.skipped ? dlsym(RTLD_NEXT, name) : NULL;
}

void *ms__object_symbol(const void *fn, const char *name)
{
    struct link_map *lm = NULL;
    Dl_info info;
    if (!fn || !dladdr1(fn, &info, (void **)&lm, RTLD_DL_LINKMAP) || !lm)
        return NULL;
    struct sym_search s = search_for(name);
    s.restricted = true;
    s.only = lm->l_addr;
    search(&s);
    return s.found;
}

void *ms__family_symbol(uintptr_t *provider, const char *anchor, const char *name)
{
    uintptr_t p = __atomic_load_n(provider, __ATOMIC_ACQUIRE);
    if (!p) {
        struct sym_search a = search_for(anchor);
        search(&a);
        p = a.found ? a.found_in + 1 : 1; /* stored +1: an object may be loaded at address 0 */
        __atomic_store_n(provider, p, __ATOMIC_RELEASE);
    }
    if (p == 1)
        return NULL;
    struct sym_search s = search_for(name);
    s.restricted = true;
    s.only = p - 1;
    search(&s);
    return s.found;
}
