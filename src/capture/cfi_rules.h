/* The x86-64 unwind rule at one instruction address, read from the .eh_frame call-frame
 * information (CFI) of the loaded module that contains it. Only the "standard frame" that
 * libunwind's own fast trace (tdep_trace) caches is described: CFA = rsp or rbp + offset, return
 * address at CFA-8, rbp unchanged or saved at a constant offset from the CFA. Every other frame
 * (signal frames, CFA expressions, realigned stacks, code without CFI) is MS_RULE_OTHER, and the
 * caller hands the whole stack to libunwind. */
#ifndef MS_CAPTURE_CFI_RULES_H
#define MS_CAPTURE_CFI_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ms_rule_kind {
    MS_RULE_OTHER = 0, /* not a standard frame: libunwind must unwind this stack */
    MS_RULE_RSP = 1,   /* CFA = rsp + cfa_off */
    MS_RULE_RBP = 2,   /* CFA = rbp + cfa_off */
    MS_RULE_LAST = 3,  /* outermost frame: return address or rbp undefined (_start, clone) */
};

struct ms__cfi_rule {
    int32_t cfa_off;
    int16_t rbp_off; /* where the caller's rbp is saved, relative to the CFA, if rbp_saved */
    uint8_t kind;    /* enum ms_rule_kind */
    uint8_t rbp_saved;
};

/* The rule in force at ip, found through the module's .eh_frame_hdr (located with glibc's
 * _dl_find_object). Never fails: anything unknown is MS_RULE_OTHER. Allocates nothing and
 * takes no lock. */
struct ms__cfi_rule ms__cfi_rule_at(uintptr_t ip);

/* The rule at ip given one FDE (eh_frame bytes; fde points at its length field) and the
 * .eh_frame_hdr base for datarel encodings. Exposed for the unit tests. */
struct ms__cfi_rule ms__cfi_rule_in_fde(const uint8_t *fde, uintptr_t ip, uintptr_t datarel);

/* True when this glibc can locate unwind tables without a lock (_dl_find_object, 2.35+). */
bool ms__cfi_available(void);

#endif
