/* Lookup of functions in the loaded objects, for hooks that forward to the next definition. */
#ifndef MS_CAPTURE_SYMBOL_LOOKUP_H
#define MS_CAPTURE_SYMBOL_LOOKUP_H

#include <stdint.h>

/* The next definition of name after libmemscope (dlsym RTLD_NEXT), else the first definition
 * outside libmemscope in the scope of any loaded object (a library loaded with RTLD_LOCAL may
 * bring its own allocator), else NULL. */
void *ms__next_symbol(const char *name);

/* For the functions of one allocator library (tcmalloc's tc_*, jemalloc's *allocx): the
 * definition of name in the object that defines anchor, that object being chosen once, at the
 * first call, and kept in *provider (0: not chosen yet). NULL when no object defines anchor, or
 * that one does not define name: all the family's hooks then agree. */
void *ms__family_symbol(uintptr_t *provider, const char *anchor, const char *name);

/* The definition of name in the object that holds the code at fn (NULL: none, or no object). */
void *ms__object_symbol(const void *fn, const char *name);

#endif
