/* Passports (include/memscope.h): which module owns each block (the module of its allocation
 * stack's first frame outside the runtime), which module freed it, and the hand-overs, reclaims
 * and notes the program stamped on it. The heap model hands this module the frees of blocks that
 * crossed modules or carry stamps, and the stamps; it keeps a passport for each such block (the
 * first MS_PASSPORTS_KEPT, the rest counted) and totals per (status, owner, other module,
 * allocation stack). Memory grows with stamped blocks and with such groups, never with events. */
#ifndef MS_PASSPORTS_H
#define MS_PASSPORTS_H

#include "common/trace_format.h"
#include "module_owner.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MS_PASSPORTS_KEPT 100000
#define MS_PASSPORT_STAMPS_KEPT 16

/* The statuses, as the JSON report names them. */
#define MS_PASSPORT_STATUSES(X)                                                                    \
    X(FREED_BY_OWNER, "freed_by_owner", "freed by the module that allocated it")                   \
    X(FREED_BY_FOREIGN, "freed_by_foreign", "freed by another module, with no hand-over to it")    \
    X(FREED_BY_CUSTODIAN, "freed_by_custodian", "freed by the module it was handed over to")       \
    X(RECLAIMED, "reclaimed", "handed over, reclaimed, then freed by its owner")                   \
    X(IN_FOREIGN_CUSTODY, "in_foreign_custody", "still allocated at exit, handed over")            \
    X(LIVE_WITH_OWNER, "live_with_owner", "still allocated at exit, with its owner")

enum ms_passport_status {
#define MS__PP_ENUM(NAME, key, text) MS_PASSPORT_##NAME,
    MS_PASSPORT_STATUSES(MS__PP_ENUM)
#undef MS__PP_ENUM
        MS_PASSPORT_STATUS_MAX
};
const char *ms_passport_status_key(enum ms_passport_status s);
const char *ms_passport_status_text(enum ms_passport_status s);

/* The PASSPORT annotation's actions: enum ms_passport_action (common/trace_format.h). */
const char *ms_passport_action_key(uint64_t action);

struct ms_passport_stamp {
    uint64_t tsc;
    uint32_t action;       /* enum ms_passport_action */
    uint32_t module, note; /* string ids (0: none) */
};

struct ms_passport {
    uint64_t address, size;
    uint32_t alloc_stack;
    uint32_t free_stack;            /* 0: not freed, or the trace does not have it */
    uint32_t owner, freed_by;       /* module keys (module_owner.h; 0: unknown, or not freed) */
    uint32_t custodian;             /* string id of the last hand-over's module (0: none) */
    enum ms_passport_status status; /* from ms_passports_finish */
    bool freed, handed, reclaimed;
    struct ms_passport_stamp stamps[MS_PASSPORT_STAMPS_KEPT];
    uint32_t nstamps, stamps_total;
};

/* Blocks of one status, owner, freer, custodian and allocation stack. */
struct ms_passport_group {
    enum ms_passport_status status;
    uint32_t owner, other; /* module keys: the owner, the freer (0: unknown or not freed) */
    uint32_t custodian;    /* string id of the module it was handed over to (0: none) */
    uint32_t alloc_stack;
    uint64_t blocks, bytes;
    uint32_t example; /* index + 1 of a passport of the group, one with a free stack if any
                         kept has one (0: none kept) */
};

struct ms_passports;
/* Names given to hand-overs are the C API's strings, which text(ctx, id) resolves once the whole
 * trace is read (a STRING may come after its first use), at ms_passports_finish. */
struct ms_passports *ms_passports_new(const char *(*text)(const void *ctx, uint32_t id),
                                      const void *ctx);
void ms_passports_free(struct ms_passports *p);

/* A stamp (PASSPORT annotation ev) on the live block (address, size, stack, owner key) whose
 * passport index + 1 is *pp (0: none yet, set here). Returns 0, MS_ENOMEM, or
 * MS_PASSPORT_NOT_HANDED for a reclaim of a block not handed over (recorded, with no effect). */
#define MS_PASSPORT_NOT_HANDED 1
/* A block note's passport when the block was stamped beyond the MS_PASSPORTS_KEPT: not kept,
 * counted once in ms_passports_forgotten, in no status. */
#define MS_PASSPORT_NOT_KEPT UINT32_MAX
int ms_passports_stamp(struct ms_passports *p, uint32_t *pp, uint64_t address, uint64_t size,
                       uint32_t stack, uint32_t owner, const struct ms_event *ev);
/* The block is freed by module freer (0: unknown) at free_stack (0: not recorded): its passport
 * pp (0: none, the block crossed modules unstamped: owner and freer differ). */
int ms_passports_on_free(struct ms_passports *p, uint32_t pp, uint64_t address, uint64_t size,
                         uint32_t stack, uint32_t owner, uint32_t freer, uint32_t free_stack);
/* After the last event: statuses and groups; owners names the modules (may be NULL). */
void ms_passports_finish(struct ms_passports *p, const struct ms_module_owner *owners);

/* Passport pp now belongs to the block at address, of size bytes (ms_move). */
void ms_passports_moved(struct ms_passports *p, uint32_t pp, uint64_t address, uint64_t size);

size_t ms_passports_count(const struct ms_passports *p);
const struct ms_passport *ms_passports_get(const struct ms_passports *p, size_t i);
/* Passports not kept (beyond MS_PASSPORTS_KEPT): counted in the groups only. */
uint64_t ms_passports_forgotten(const struct ms_passports *p);
/* The groups (after finish): the findings (freed_by_foreign, in_foreign_custody) first, each
 * kind by bytes. */
size_t ms_passports_group_count(const struct ms_passports *p);
const struct ms_passport_group *ms_passports_group(const struct ms_passports *p, size_t i);
const struct ms_module_owner *ms_passports_owners(const struct ms_passports *p);
/* The blocks and bytes of each status, summed over the groups (p may be NULL: all 0). */
void ms_passports_status_totals(const struct ms_passports *p,
                                uint64_t blocks[MS_PASSPORT_STATUS_MAX],
                                uint64_t bytes[MS_PASSPORT_STATUS_MAX]);

#endif
