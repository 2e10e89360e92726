/* Fixture for test_symbolize: prints its module map and the runtime addresses (and source lines)
 * of a few known code locations, so the test can symbolize them offline after it exits. Built as
 * C at -O0 and -O2, and as C++ (g++ -x c++) with and without -g, see test_symbolize.c. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <elf.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifdef __cplusplus
namespace ms_fx
{
#endif

struct sites {
    void *direct;    /* return address of a plain call in fixture_outer */
    void *inl;       /* return address of a call inside the inlined fixture_inlined */
    int direct_line; /* line of that plain call */
    int inner_line;  /* line of the call inside fixture_inlined */
    int outer_line;  /* line where fixture_outer calls fixture_inlined */
};

void *fixture_leaf(int x);
void fixture_outer(struct sites *out);

/* Returns its own return address, i.e. a return site in its caller. */
__attribute__((noinline, noipa)) void *fixture_leaf(int x)
{
    (void)x;
    return __builtin_extract_return_addr(__builtin_return_address(0));
}

static inline __attribute__((always_inline)) void *fixture_inlined(int x, int *line)
{
    return (*line = __LINE__, fixture_leaf(x));
}

/* Records two return sites: a plain call and a call inside inlined code. */
__attribute__((noinline)) void fixture_outer(struct sites *out)
{
    out->direct = (out->direct_line = __LINE__, fixture_leaf(1));
    out->inl = (out->outer_line = __LINE__, fixture_inlined(2, &out->inner_line));
}

#ifdef __cplusplus
} /* namespace ms_fx */
using namespace ms_fx;
#endif

static void print_hex(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf("%02x", p[i]);
}

/* Prints "module PATH BIAS LO HI BUILDID" for each loaded object. */
static int print_module(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    int *first = (int *)data;
    char exe[4096];
    const char *name = info->dlpi_name;
    if (*first) {
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        exe[n > 0 ? n : 0] = '\0';
        name = exe;
        *first = 0;
    }
    if (!name || !name[0])
        return 0;
    uint64_t lo = UINT64_MAX, hi = 0;
    const unsigned char *bid = NULL;
    size_t bid_len = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
            uint64_t a = info->dlpi_addr + ph->p_vaddr;
            lo = a < lo ? a : lo;
            hi = a + ph->p_memsz > hi ? a + ph->p_memsz : hi;
        } else if (ph->p_type == PT_NOTE && !bid) {
            const unsigned char *p = (const unsigned char *)(info->dlpi_addr + ph->p_vaddr);
            const unsigned char *end = p + ph->p_memsz;
            while (p + sizeof(ElfW(Nhdr)) <= end) {
                const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
                const unsigned char *nm = p + sizeof(*nh);
                const unsigned char *desc = nm + ((nh->n_namesz + 3) & ~3u);
                if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
                    memcmp(nm, "GNU", 4) == 0) {
                    bid = desc;
                    bid_len = nh->n_descsz;
                    break;
                }
                p = desc + ((nh->n_descsz + 3) & ~3u);
            }
        }
    }
    if (hi == 0)
        return 0;
    printf("module %s 0x%llx 0x%llx 0x%llx ", name, (unsigned long long)info->dlpi_addr,
           (unsigned long long)lo, (unsigned long long)hi);
    if (bid)
        print_hex(bid, bid_len);
    else
        printf("-");
    printf("\n");
    return 0;
}

int main(void)
{
    struct sites s;
    memset(&s, 0, sizeof(s));
    fixture_outer(&s);
    int first = 1;
    dl_iterate_phdr(print_module, &first);
    printf("direct %p %d\n", s.direct, s.direct_line);
    printf("inline %p %d %d\n", s.inl, s.inner_line, s.outer_line);
    printf("func %p\n", (void *)(uintptr_t)&fixture_outer);
    printf("libc %p\n", (void *)(uintptr_t)&puts);
    return 0;
}
