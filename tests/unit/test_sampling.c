/* Tests for sampling by bytes (src/common/sampling.h): the logarithm without libm, the
 * intervals' distribution, and that weighted samples estimate a stream's count and bytes
 * without bias. Fixed seeds: every run draws the same numbers. */
#include "common/sampling.h"
#include "ms_test.h"

#include <math.h>

static void neg_log_accuracy(void)
{
    uint64_t s = ms_sample_seed(1);
    for (int i = 0; i < 100000; i++) {
        double u = (double)((ms_sample_rand(&s) >> 11) + 1) / 9007199254740992.0;
        double want = -log(u), got = ms_sample_neg_log(u);
        ASSERT_TRUE(fabs(got - want) <= 1e-9 * (1 + want));
    }
    ASSERT_TRUE(ms_sample_neg_log(1.0) == 0);
    ASSERT_TRUE(fabs(ms_sample_neg_log(0.5) - log(2.0)) < 1e-9);
    ASSERT_TRUE(fabs(ms_sample_neg_log(1.0 / 9007199254740992.0) - 53 * log(2.0)) < 1e-9);
}

/* An exponential distribution with mean N has standard deviation N and P(X > N) = 1/e. */
static void intervals_exponential(void)
{
    const uint64_t mean = 512 * 1024;
    const int n = 1000000;
    uint64_t s = ms_sample_seed(42);
    double sum = 0, sum2 = 0;
    int above = 0;
    for (int i = 0; i < n; i++) {
        uint64_t d = ms_sample_next(&s, mean);
        ASSERT_TRUE(d >= 1);
        sum += (double)d;
        sum2 += (double)d * (double)d;
        above += d > mean;
    }
    double m = sum / n, sd = sqrt(sum2 / n - m * m);
    ASSERT_TRUE(fabs(m / mean - 1) < 0.005);
    ASSERT_TRUE(fabs(sd / mean - 1) < 0.01);
    ASSERT_TRUE(fabs((double)above / n - exp(-1.0)) < 0.002);
    ASSERT_EQ(ms_sample_next(&s, 0), 1);
}

/* The capture's countdown over a stream of mixed sizes (many small, some large): the weighted
 * samples give the stream's count and bytes within 3% (about 16,000 small blocks are sampled:
 * 0.8% standard error), while only a small share is sampled. */
static void weighted_estimates(void)
{
    const uint64_t mean = 16 * 1024;
    uint64_t rs = ms_sample_seed(7), ss = ms_sample_seed(8);
    uint64_t left = ms_sample_next(&ss, mean);
    double est_count = 0, est_bytes = 0;
    uint64_t count = 0, bytes = 0, sampled = 0;
    for (int i = 0; i < 2000000; i++) {
        uint64_t r = ms_sample_rand(&rs);
        uint64_t size = (r & 0xff) < 250 ? 16 + (r >> 8) % 240 : 4096 + (r >> 8) % (1 << 20);
        count++;
        bytes += size;
        if (size < left) {
            left -= size;
            continue;
        }
        /* Sampled: the next interval starts afresh (memorylessness makes this exact). */
        left = ms_sample_next(&ss, mean);
        sampled++;
        double w = ms_sample_weight(size, mean);
        est_count += w;
        est_bytes += w * (double)size;
    }
    fprintf(stderr, "sampled %llu of %llu: count %.4f, bytes %.4f of the true ones\n",
            (unsigned long long)sampled, (unsigned long long)count, est_count / (double)count,
            est_bytes / (double)bytes);
    ASSERT_TRUE(sampled < count / 10);
    ASSERT_TRUE(fabs(est_count / (double)count - 1) < 0.03);
    ASSERT_TRUE(fabs(est_bytes / (double)bytes - 1) < 0.03);
    /* A block far larger than the mean is always sampled and weighs 1. */
    ASSERT_TRUE(fabs(ms_sample_weight(100 * mean, mean) - 1) < 1e-12);
    ASSERT_TRUE(ms_sample_weight(1, 0) == 1);
}

MS_TEST_MAIN(TEST(neg_log_accuracy), TEST(intervals_exponential), TEST(weighted_estimates))
