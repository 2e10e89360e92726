/* MEMSCOPE_UNWIND_VERIFY's counts and reports: every stack the cached walk (unwind_fast.c)
 * gives, repeats included, is unwound again by libunwind (stack_capture.c does it) and compared
 * here; the counts are printed at the end of the trace. A diagnostic for the tests, not for
 * normal runs (it costs a libunwind unwind per allocation). */
#ifndef MS_CAPTURE_UNWIND_VERIFY_H
#define MS_CAPTURE_UNWIND_VERIFY_H

#include <stdbool.h>
#include <stdint.h>

/* Every fast-path stack is compared with libunwind's. */
extern bool ms__unwind_verify_on;

/* The cached walk's stack (fast, n_fast frames) against libunwind's (lu, n_lu), both trimmed:
 * counted, and the first differences reported with both stacks. */
void ms__unwind_verify_stacks(const uintptr_t *fast, int n_fast, const uintptr_t *lu, int n_lu);
/* A repeated walk reused stack id `stack`; libunwind's stack interned is `again`. */
void ms__unwind_verify_repeat_ids(uint32_t stack, uint32_t again);
/* The interning gave stack id `given` to a cached walk's stack; libunwind's stack is `found` in
 * the shared table. */
void ms__unwind_verify_ids(uint32_t given, uint32_t found);
/* The id a shortcut of the interning gave (the same stack again, the cache of whole stacks)
 * against the same addresses looked up in the shared table from its root (interned). */
void ms__unwind_verify_cached(uint32_t cached, uint32_t interned);
/* The interning was told that the first known frames equal the last stack's, and frame (of
 * them) does not: counted as a difference. */
void ms__unwind_verify_known(int frame, int known);
/* A walk went on as the previous one did from one of its frames on (unwind_fast.c). */
void ms__unwind_count_continued(void);
/* The cached walk gave up on a stack: libunwind took it. */
void ms__unwind_count_fallback(void);
/* Prints the verification counts (at the end of the trace). */
void ms__unwind_verify_report(void);

#endif
