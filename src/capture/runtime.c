/* The state runtime.h and spinlock.h declare. */
#include "runtime.h"

#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "spinlock.h"

atomic_bool ms__active;
atomic_int ms__spin_held;
atomic_bool ms__count_passes;
atomic_uint ms__passes;
__thread int ms__cached_tid __attribute__((tls_model("initial-exec")));

void ms__zero_memory(void *p, size_t n)
{
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t lo = (uintptr_t)p, hi = lo + n;
    uintptr_t a = (lo + page - 1) & ~(page - 1), b = hi & ~(page - 1);
    /* The system call, not the program's madvise (process_hooks.c interposes it). */
    if (a >= b || syscall(SYS_madvise, a, b - a, MADV_DONTNEED) != 0) {
        memset(p, 0, n);
        return;
    }
    memset(p, 0, a - lo);
    memset((void *)b, 0, hi - b);
}
