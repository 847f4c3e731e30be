/* prng.c - SplitMix64, see prng.h. */
#include "prng.h"

/* 2^64 / golden ratio, odd: SplitMix64's increment (Weyl sequence). */
#define SS_PRNG_GAMMA 0x9e3779b97f4a7c15ull
/* Distinguishes the stream number from the seed before mixing, so that
 * (seed, stream) and (seed', stream') rarely collide. */
#define SS_PRNG_STREAM_SALT 0xd1b54a32d192ed03ull
/* The same for a process's stream id, and for a rule set's number. */
#define SS_PRNG_PROC_SALT 0x8cb92ba72f3d8dd7ull
#define SS_PRNG_SET_SALT  0xa0761d6478bd642full

/* SplitMix64's output function (Stafford's "Mix13" variant). */
static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t ss_prng_base(uint64_t seed, uint64_t stream)
{
    return mix64(seed ^ mix64((stream + 1) * SS_PRNG_STREAM_SALT));
}

uint64_t ss_prng_fork_stream(uint64_t parent, uint64_t k)
{
    uint64_t id = mix64(mix64(parent ^ SS_PRNG_PROC_SALT) + (k + 1) * SS_PRNG_GAMMA);
    return id ? id : 1; /* 0 names a process started by exec */
}

uint64_t ss_prng_set_seed(uint64_t seed, uint64_t proc, uint64_t set)
{
    if (!proc && !set)
        return seed;
    return seed ^ mix64(mix64(proc ^ SS_PRNG_PROC_SALT) + (set + 1) * SS_PRNG_SET_SALT);
}

uint64_t ss_prng_at(uint64_t base, uint64_t k)
{
    return mix64(base + (k + 1) * SS_PRNG_GAMMA);
}

uint64_t ss_prng_next(struct ss_prng *g, uint64_t base)
{
    uint64_t k = __atomic_fetch_add(&g->drawn, 1, __ATOMIC_RELAXED);
    return ss_prng_at(base, k);
}

uint64_t ss_prng_range(uint64_t r, uint64_t lo, uint64_t hi)
{
    if (hi <= lo)
        return lo;
    uint64_t span = hi - lo;
    if (span == UINT64_MAX)
        return r;
    return lo + (uint64_t)(((unsigned __int128)r * (span + 1)) >> 64);
}
