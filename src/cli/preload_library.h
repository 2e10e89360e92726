/* The LD_PRELOAD that loads libmemscope.so into the traced program: where the library is, and
 * the variable's value that names it first. */
#ifndef MS_CLI_PRELOAD_LIBRARY_H
#define MS_CLI_PRELOAD_LIBRARY_H

#include <stddef.h>

/* Finds libmemscope.so: MEMSCOPE_LIBRARY if it is set (made absolute, symbolic links kept, so
 * that a link can stand for a path the loader cannot take), else next to this memscope (../lib in
 * the build tree, ../lib/memscope installed). The path is absolute because the program may
 * change directory before it executes another program, which inherits LD_PRELOAD. Returns 0
 * with the path in out (cap bytes, at least PATH_MAX); otherwise says why on stderr, in one
 * line that names the fix, and returns 2: no readable library, or a path with a space or a
 * colon, which the dynamic loader takes for separators between the libraries of LD_PRELOAD. */
int ms__preload_find(char *out, size_t cap);

/* LD_PRELOAD's value for the program: lib first, then the preloads of old (the LD_PRELOAD
 * memscope was given, or NULL), whole however long. Returns a string from malloc that the
 * caller frees, or NULL when out of memory. */
char *ms__preload_value(const char *lib, const char *old);

#endif
