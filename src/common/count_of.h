/* A figure computed in double (a time from a trace's clock, a rate, a mean) as a count: 0 for
 * NaN or anything below 1, UINT64_MAX for more than fits (a hostile trace's clock can make it
 * anything; a plain cast would be undefined there). */
#ifndef MS_COUNT_OF_H
#define MS_COUNT_OF_H

#include <stdint.h>

static inline uint64_t ms_count_of(double v)
{
    return v >= 1.8e19 ? UINT64_MAX : v > 0 ? (uint64_t)v : 0;
}

#endif
