/* test_prng.c - the private generator of fault injection: reproducible per
 * (seed, stream), streams independent, atomic under threads, uniform. */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "prng.h"

#define DRAWS        100000
#define BUCKETS      16
#define THREADS      8
#define PER_THREAD   20000
#define TOTAL_DRAWS  (THREADS * PER_THREAD)
#define P_QUARTER    0x4000000000000000ull /* p=0.25 as a threshold: 2^62 */
#define SIGMA5(n, p) (5.0 * __builtin_sqrt((double)(n) * (p) * (1.0 - (p))))

Test(prng, same_seed_and_stream_give_the_same_sequence)
{
    struct ss_prng a = {0}, b = {0};
    uint64_t base = ss_prng_base(42, 3);
    cr_assert_eq(base, ss_prng_base(42, 3));
    for (int i = 0; i < 1000; i++) {
        uint64_t x = ss_prng_next(&a, base), y = ss_prng_next(&b, base);
        cr_assert_eq(x, y, "draw %d differs", i);
        cr_assert_eq(x, ss_prng_at(base, (uint64_t)i));
    }
    cr_assert_eq(a.drawn, 1000);
}

Test(prng, streams_and_seeds_differ)
{
    uint64_t b1 = ss_prng_base(42, 1), b2 = ss_prng_base(42, 2), b3 = ss_prng_base(43, 1);
    cr_assert_neq(b1, b2);
    cr_assert_neq(b1, b3);
    int same12 = 0, same13 = 0;
    for (uint64_t k = 0; k < 1000; k++) {
        same12 += ss_prng_at(b1, k) == ss_prng_at(b2, k);
        same13 += ss_prng_at(b1, k) == ss_prng_at(b3, k);
    }
    cr_assert_eq(same12, 0);
    cr_assert_eq(same13, 0);
    /* Seed 0 and stream 0 are ordinary values too. */
    cr_assert_neq(ss_prng_at(ss_prng_base(0, 0), 0), 0);
}

Test(prng, known_values_pin_the_algorithm)
{
    /* SplitMix64's published first output for state 0 (i.e. after one
     * increment): a changed algorithm would silently change every user's
     * reproduced fault schedule. */
    cr_assert_eq(ss_prng_at(0, 0), 0xe220a8397b1dcdafull);
}

Test(prng, range_stays_inside_and_covers)
{
    int seen[BUCKETS];
    memset(seen, 0, sizeof seen);
    uint64_t base = ss_prng_base(7, 1);
    for (uint64_t k = 0; k < DRAWS; k++) {
        uint64_t v = ss_prng_range(ss_prng_at(base, k), 10, 10 + BUCKETS - 1);
        cr_assert(v >= 10 && v < 10 + BUCKETS, "out of range: %llu", (unsigned long long)v);
        seen[v - 10]++;
    }
    double expect = (double)DRAWS / BUCKETS;
    for (int i = 0; i < BUCKETS; i++)
        cr_expect(seen[i] > expect - SIGMA5(DRAWS, 1.0 / BUCKETS) &&
                      seen[i] < expect + SIGMA5(DRAWS, 1.0 / BUCKETS),
                  "bucket %d: %d draws, expected about %.0f", i, seen[i], expect);
    cr_assert_eq(ss_prng_range(123, 5, 5), 5);
    cr_assert_eq(ss_prng_range(123, 0, UINT64_MAX), 123);
    cr_assert_eq(ss_prng_range(UINT64_MAX, 0, 9), 9);
    cr_assert_eq(ss_prng_range(0, 0, 9), 0);
}

Test(prng, a_threshold_fires_with_its_probability)
{
    uint64_t base = ss_prng_base(2024, 1);
    int fired = 0;
    for (uint64_t k = 0; k < DRAWS; k++)
        fired += ss_prng_at(base, k) < P_QUARTER;
    cr_assert(fired > DRAWS / 4 - SIGMA5(DRAWS, 0.25) && fired < DRAWS / 4 + SIGMA5(DRAWS, 0.25),
              "p=0.25 fired %d times of %d", fired, DRAWS);
}

static struct ss_prng shared;
static uint64_t shared_base;
static uint64_t outputs[TOTAL_DRAWS];

static void *drawer(void *arg)
{
    uint64_t *out = arg;
    for (int i = 0; i < PER_THREAD; i++)
        out[i] = ss_prng_next(&shared, shared_base);
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

Test(prng, threads_each_get_a_distinct_step)
{
    pthread_t t[THREADS];
    shared_base = ss_prng_base(99, 5);
    for (int i = 0; i < THREADS; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, drawer, outputs + i * PER_THREAD), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    cr_assert_eq(shared.drawn, TOTAL_DRAWS);
    /* Exactly the first TOTAL_DRAWS outputs of the stream, each once. */
    static uint64_t want[TOTAL_DRAWS];
    for (uint64_t k = 0; k < TOTAL_DRAWS; k++)
        want[k] = ss_prng_at(shared_base, k);
    qsort(outputs, TOTAL_DRAWS, sizeof outputs[0], cmp_u64);
    qsort(want, TOTAL_DRAWS, sizeof want[0], cmp_u64);
    cr_assert_eq(memcmp(outputs, want, sizeof want), 0, "a step was lost or drawn twice");
}

/* Per process and per rule set (prng.h): set 0 of a process started by exec
 * draws from the seed itself; every other (process, set) pair has a seed of
 * its own, and fork streams are never 0 and differ by parent and order. */
Test(prng, set_and_fork_streams_are_distinct)
{
    enum { SETS = 64, FORKS = 64 };
    cr_assert_eq(ss_prng_set_seed(42, 0, 0), 42);
    uint64_t seen[SETS * 2 + FORKS * 2];
    int n = 0;
    for (uint64_t set = 0; set < SETS; set++) {
        seen[n++] = ss_prng_set_seed(42, 0, set);
        seen[n++] = ss_prng_set_seed(42, ss_prng_fork_stream(0, 0), set);
    }
    for (uint64_t k = 0; k < FORKS; k++) {
        uint64_t child = ss_prng_fork_stream(0, k), grandchild = ss_prng_fork_stream(child, 0);
        cr_assert_neq(child, 0);
        cr_assert_eq(child, ss_prng_fork_stream(0, k), "not reproducible");
        seen[n++] = ss_prng_set_seed(42, child, SETS);
        seen[n++] = ss_prng_set_seed(42, grandchild, SETS);
    }
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            cr_assert_neq(seen[i], seen[j], "seeds %d and %d coincide", i, j);
    /* A different seed moves every set. */
    cr_assert_neq(ss_prng_set_seed(43, 0, 1), ss_prng_set_seed(42, 0, 1));
}
