/* The module map of the traced process: every loaded ELF object with its path, load bias,
 * executable address range and GNU build-id, encoded as a MODULES chunk payload so that the
 * trace can be symbolized offline. */
#ifndef MS_CAPTURE_MODULE_MAP_H
#define MS_CAPTURE_MODULE_MAP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A counter that changes whenever an object is loaded or unloaded (glibc's dlpi_adds and
 * dlpi_subs). */
uint64_t ms__modules_generation(void);

/* Bumped whenever code may have been mapped or unmapped (dlopen, dlclose, or a module change
 * the writer noticed): rules cached from the old code are dropped (unwind_fast.h). */
extern atomic_uint ms__code_gen;

/* Executable ranges of modules that were unloaded, as the encodings of the module map find them
 * (each MODULES chunk compares the map with the previous one): ms__unload_epoch counts them,
 * and ms__modules_unloaded gives the i-th (0-based). Code loaded later at the same addresses is
 * other code: the stack tree must not give its frames the old nodes (stack_intern.c). */
extern atomic_uint ms__unload_epoch;
/* Sets [*lo, *hi) to the i-th unloaded range; false when it is no longer kept (so many were
 * unloaded since that the caller must treat every range as unloaded). */
bool ms__modules_unloaded(unsigned i, uintptr_t *lo, uintptr_t *hi);

/* Encodes the current module map into buf (capacity cap). Returns the length, or 0 if it did
 * not fit. */
size_t ms__modules_encode(uint8_t *buf, size_t cap, uint64_t tsc);

/* The [lo, hi) executable range of the module containing addr (0,0 if none); returns whether it
 * is a runtime module (runtime_modules.h). Takes the loader's lock (dl_iterate_phdr). */
bool ms__module_range_of(const void *addr, uintptr_t *lo, uintptr_t *hi);
/* The span [lo, hi) of every loaded segment (data and .bss included) of the module whose code
 * holds the address code (0,0 if none). Takes the loader's lock. */
void ms__module_extent_of(const void *code, uintptr_t *lo, uintptr_t *hi);

/* True when one loaded module only is not a runtime module (the executable, usually), with its
 * executable range in [*lo, *hi): every frame outside the runtime is then its. memscope's own
 * dependencies (libzstd, liblzma) do not count. Takes the loader's lock. */
bool ms__module_sole_program(uintptr_t *lo, uintptr_t *hi);

/* True if the module containing addr has a thread-local storage segment. */
bool ms__module_has_tls(const void *addr);

#endif
