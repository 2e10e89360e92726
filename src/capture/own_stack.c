/* Own stacks (own_stack.h): mapped with a guard page below, and the switch to one. */
#include "own_stack.h"
#include "own_memory.h"

#include <sys/mman.h>
#include <unistd.h>

/* Whether this thread runs on an own stack. */
static __thread int on_own_stack __attribute__((tls_model("initial-exec")));

void ms__call_on_stack(void *top, void (*fn)(void *), void *arg);

void ms__on_own_stack(void *top, void (*fn)(void *), void *arg)
{
    if (!top || on_own_stack) {
        fn(arg);
        return;
    }
    on_own_stack = 1;
    ms__call_on_stack(top, fn, arg);
    on_own_stack = 0;
}

void *ms__own_stack_new(void)
{
    size_t guard = (size_t)sysconf(_SC_PAGESIZE);
    size_t size = guard + MS_OWN_STACK_SIZE;
    char *p = ms__own_map(NULL, size, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    if (mprotect(p, guard, PROT_NONE) != 0) {
        ms__own_unmap(p, size);
        return NULL;
    }
    return p + size;
}

void ms__own_stack_free(void *top)
{
    if (!top)
        return;
    size_t size = (size_t)sysconf(_SC_PAGESIZE) + MS_OWN_STACK_SIZE;
    ms__own_unmap((char *)top - size, size);
}

#if defined(__x86_64__)
/* rdi = top, rsi = fn, rdx = arg. The frame keeps the caller's rsp in rbp, so that the CFA is
 * rbp + 16 for as long as fn runs, whatever stack fn is on. */
__asm__(".text\n"
        ".globl ms__call_on_stack\n"
        ".hidden ms__call_on_stack\n"
        ".type ms__call_on_stack, @function\n"
        "ms__call_on_stack:\n"
        ".cfi_startproc\n"
        "    pushq %rbp\n"
        ".cfi_def_cfa_offset 16\n"
        ".cfi_offset %rbp, -16\n"
        "    movq %rsp, %rbp\n"
        ".cfi_def_cfa_register %rbp\n"
        "    andq $-16, %rdi\n"
        "    movq %rdi, %rsp\n"
        "    movq %rdx, %rdi\n"
        "    callq *%rsi\n"
        "    movq %rbp, %rsp\n"
        ".cfi_def_cfa %rsp, 16\n"
        "    popq %rbp\n"
        ".cfi_def_cfa_offset 8\n"
        "    retq\n"
        ".cfi_endproc\n"
        ".size ms__call_on_stack, .-ms__call_on_stack\n");
#else
void ms__call_on_stack(void *top, void (*fn)(void *), void *arg)
{
    (void)top; /* no switch on this architecture: fn runs on the caller's stack */
    fn(arg);
}
#endif
