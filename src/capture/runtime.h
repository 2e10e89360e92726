/* The capture's lowest layer, shared by every other file: whether events are being recorded,
 * the clock events are timed with, and branch hints. (The calling thread's id is spinlock.h's.)
 * The capture's files form layers, each using only those below it (docs/capture.md):
 * runtime and config -> record buffers and spool -> writer and module map -> unwinding and
 * stack interning -> thread slots -> event path -> hooks and lifecycle. */
#ifndef MS_CAPTURE_RUNTIME_H
#define MS_CAPTURE_RUNTIME_H

#include <stdatomic.h>
#include <stdint.h>
#include <x86intrin.h>

#define MS_LIKELY(x) __builtin_expect(!!(x), 1)
#define MS_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* True while events are recorded: after start-up, before the trace is finished (or tracking
 * stopped). */
extern atomic_bool ms__active;

static inline uint64_t ms__now(void)
{
    return __rdtsc();
}

#endif
