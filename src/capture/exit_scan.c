/* The handshake of the leak scan at exit, the library's side (exit_scan.h). */
#define _GNU_SOURCE
#define UNW_LOCAL_ONLY
#include "exit_scan.h"

#include "../common/leak_handshake.h"
#include "config.h"
#include "module_map.h"
#include "own_memory.h"
#include "thread_state.h"

#include <libunwind.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_RANGES 4096

static struct ms_leak_handshake handshake;
static long parent; /* memscope run, which the wait ends without */

/* The stack pointer of exit()'s caller as it called exit (main's caller after main returned),
 * or 0 if no frame of the walk is exit's. Below it lie exit's frames and memscope's, and the
 * frames of functions that have returned: memcheck, which tracks the stack pointer, sees the
 * stale words there as undefined and never counts them as pointers. */
static uintptr_t exit_caller_sp(void)
{
    uintptr_t ex = (uintptr_t)&exit;
    unw_context_t uc;
    unw_cursor_t c;
    if (unw_getcontext(&uc) != 0 || unw_init_local(&c, &uc) != 0)
        return 0;
    for (int i = 0; i < 16 && unw_step(&c) > 0; i++) {
        unw_word_t ip = 0, sp = 0;
        unw_get_reg(&c, UNW_REG_IP, &ip);
        /* exit ends with its call of __run_exit_handlers: its return address may lie just
         * past it, hence ip - 1 */
        if (ip - 1 >= ex && ip - 1 < ex + 256) {
            if (unw_step(&c) <= 0 || unw_get_reg(&c, UNW_REG_SP, &sp) != 0)
                return 0;
            return (uintptr_t)sp;
        }
    }
    return 0;
}

uint64_t ms__exit_scan_publish(uintptr_t stack_lo)
{
    if (!ms__config.leak_scan || ms__config.sample_bytes || !stack_lo)
        return 0;
    uintptr_t caller = exit_caller_sp();
    if (caller > stack_lo)
        stack_lo = caller;
    size_t len = MAX_RANGES * sizeof(struct ms__own_range);
    struct ms__own_range *r =
        ms__own_map(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (r == MAP_FAILED)
        return 0;
    bool lost = false;
    size_t n = ms__own_ranges(r, MAX_RANGES, &lost);
    if (n > MAX_RANGES) {
        n = MAX_RANGES;
        lost = true;
    }
    uintptr_t lo, hi;
    ms__module_extent_of((const void *)&ms__exit_scan_publish, &lo, &hi);
    /* The last block a realloc resized, kept for sampling: not the program's pointer. */
    ms__tls.realloc_old = 0;
    handshake = (struct ms_leak_handshake){.stack_lo = stack_lo,
                                           .lib_lo = lo,
                                           .lib_hi = hi,
                                           .ranges = (uint64_t)(uintptr_t)r,
                                           .nranges = n,
                                           .ranges_lost = lost};
    parent = syscall(SYS_getppid);
    atomic_thread_fence(memory_order_release);
    handshake.magic = MS_LEAK_HANDSHAKE_MAGIC;
    return (uint64_t)(uintptr_t)&handshake;
}

void ms__exit_scan_wait(void)
{
    if (handshake.magic != MS_LEAK_HANDSHAKE_MAGIC)
        return;
    /* memscope run writes done from outside (process_vm_writev): read it afresh each time. */
    volatile uint64_t *done = &handshake.done;
    for (long ms = 0; ms < MS_LEAK_WAIT_MAX_S * 1000L; ms++) {
        uint64_t d = *done;
        if (d == MS_LEAK_DONE || syscall(SYS_getppid) != parent ||
            (d == MS_LEAK_WAITING && ms >= MS_LEAK_SEEN_MAX_S * 1000L))
            break;
        struct timespec t = {0, 1000000};
        syscall(SYS_nanosleep, &t, NULL);
    }
}
