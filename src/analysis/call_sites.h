/* The exact counts of a sampled trace's allocations by call site (MEMSCOPE_SAMPLE_BYTES): the
 * CALL_COUNTS records' allocations and bytes, summed per return address of the allocator call.
 * Stacks are only known for the samples; these totals are not estimates. */
#ifndef MS_CALL_SITES_H
#define MS_CALL_SITES_H

#include <stddef.h>
#include <stdint.h>

struct ms_call_site {
    uint64_t ip; /* the allocator call's return address */
    uint64_t allocs, bytes;
};

struct ms_call_sites {
    struct ms_call_site *items;
    size_t n, cap;
    uint32_t *index; /* open addressing over items, by ip: item + 1, 0 empty */
    size_t mask;
};

/* Adds allocs and bytes to the site at ip (not 0). Returns 0 or MS_ENOMEM. */
int ms_call_sites_add(struct ms_call_sites *c, uint64_t ip, uint64_t allocs, uint64_t bytes);
/* Sorts the sites by bytes, then allocations, then address (the index is dropped). */
void ms_call_sites_sort(struct ms_call_sites *c);
void ms_call_sites_free(struct ms_call_sites *c);

#endif
