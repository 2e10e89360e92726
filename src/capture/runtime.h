/* The capture's lowest layer, shared by every other file: whether events are being recorded,
 * the clock events are timed with, and branch hints. (The calling thread's id is spinlock.h's.)
 * The capture's files form layers, each using only those below it (docs/capture.md):
 * runtime and config -> record buffers and spool -> writer and module map -> unwinding and
 * stack interning -> thread slots -> event path -> hooks and lifecycle. */
#ifndef MS_CAPTURE_RUNTIME_H
#define MS_CAPTURE_RUNTIME_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <x86intrin.h>

#define MS_LIKELY(x) __builtin_expect(!!(x), 1)
#define MS_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* True while events are recorded: after start-up, before the trace is finished (or tracking
 * stopped). */
extern atomic_bool ms__active;
/* While the process exits with other threads running (exit_scan.c): their allocation hooks,
 * passing straight through, are counted in ms__passes. */
extern atomic_bool ms__count_passes;
extern atomic_uint ms__passes;

static inline uint64_t ms__now(void)
{
    return __rdtsc();
}

/* Zeroes n bytes at p, inside a private anonymous mapping (a thread slot): its whole pages go
 * back to the kernel, so that they read as zero and take no memory until written again (a
 * cache emptied by every thread after a dlopen must not make every page of it resident), and
 * the rest is cleared. */
void ms__zero_memory(void *p, size_t n);

#endif
