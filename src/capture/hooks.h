/* The hooks of hooks.c that other hooks fall back on (alloc_lib_hooks.c: the tc_* and *allocx
 * forms when no tcmalloc or jemalloc is loaded), by their hidden names (HOOK in hooks_common.h):
 * memscope never calls its own exported symbols. */
#ifndef MS_CAPTURE_HOOKS_H
#define MS_CAPTURE_HOOKS_H

#include <stddef.h>

typedef struct nothrow_tag nothrow_tag;

void *ms__hook_malloc(size_t n);
void *ms__hook_calloc(size_t n, size_t size);
void *ms__hook_realloc(void *old, size_t n);
void ms__hook_free(void *p);
int ms__hook_posix_memalign(void **out, size_t align, size_t size);
void *ms__hook_memalign(size_t align, size_t size);
void *ms__hook_valloc(size_t size);
void *ms__hook_pvalloc(size_t size);
size_t ms__hook_malloc_usable_size(void *p);
void *ms__hook__Znwm(size_t n);
void *ms__hook__Znam(size_t n);
void *ms__hook__ZnwmRKSt9nothrow_t(size_t n, const nothrow_tag *t);
void *ms__hook__ZnamRKSt9nothrow_t(size_t n, const nothrow_tag *t);
void *ms__hook__ZnwmSt11align_val_t(size_t n, size_t al);
void *ms__hook__ZnamSt11align_val_t(size_t n, size_t al);
void *ms__hook__ZnwmSt11align_val_tRKSt9nothrow_t(size_t n, size_t al, const nothrow_tag *t);
void *ms__hook__ZnamSt11align_val_tRKSt9nothrow_t(size_t n, size_t al, const nothrow_tag *t);
void ms__hook__ZdlPv(void *p);
void ms__hook__ZdaPv(void *p);
void ms__hook__ZdlPvSt11align_val_t(void *p, size_t al);
void ms__hook__ZdaPvSt11align_val_t(void *p, size_t al);

#endif
