/* Which module a stack belongs to: the module (executable or shared library) of its first frame
 * outside the runtime modules (common/runtime_modules.h), as passports define a block's owner and
 * the module that freed it. Modules get keys that stay the same across the traces of a fork
 * chain (one per path), so that a block a parent allocated and its forked child freed compares
 * by key. Memory grows with the modules and the stacks asked about. */
#ifndef MS_MODULE_OWNER_H
#define MS_MODULE_OWNER_H

#include "id_map.h"
#include "stack_table.h"
#include "trace_reader.h"

#include <stdbool.h>
#include <stdint.h>

struct ms_module_owner;

/* Owners of the stacks of the table (which the replay fills meanwhile). NULL: out of memory. */
struct ms_module_owner *ms_module_owner_new(const struct ms_stack_table *stacks);
void ms_module_owner_free(struct ms_module_owner *o);
/* The trace whose events come next (before replaying each trace of a fork chain): its modules
 * get their keys. Returns 0 or MS_ENOMEM. */
int ms_module_owner_use_trace(struct ms_module_owner *o, const ms_trace *t);
/* The key of the module of stack's first frame outside the runtime (a stack node made at about
 * tsc), or of ip when there is no stack (ip 0: none); 0 when every frame is a runtime module's
 * or in no module, or o is NULL. */
uint32_t ms_module_owner_of(struct ms_module_owner *o, uint32_t stack, uint64_t ip, uint64_t tsc);
/* The path of key's module (NULL for 0, an unknown key, or o NULL). */
const char *ms_module_owner_path(const struct ms_module_owner *o, uint32_t key);
/* Whether name, as a program names a module (ms_passport_handover), is the module of key: its
 * path, its base name, or its base name up to a '.' (libfoo.so for libfoo.so.1.2). */
bool ms_module_owner_matches(const struct ms_module_owner *o, uint32_t key, const char *name,
                             size_t len);

#endif
