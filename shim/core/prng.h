/* prng.h - the private pseudo-random generator of fault injection (SPEC 8).
 *
 * SplitMix64 (Steele, Lea, Flood 2014): the state is a 64-bit counter that
 * advances by a fixed odd constant, and each output is a bijective mix of the
 * state. Because advancing is a plain addition, a generator shared by threads
 * and signal handlers needs no lock and no CAS loop: one atomic fetch-and-add
 * hands each caller its own step, wait-free and async-signal-safe. Every
 * stream is a function of (seed, stream number), so the same seed and the
 * same call sequence give the same numbers. libc's random() is never used:
 * the program's own sequence stays untouched. */
#ifndef SENDSHIM_PRNG_H
#define SENDSHIM_PRNG_H

#include <stdint.h>

/* The library's own symbols bind locally: a global is one RIP-relative load,
 * not a load of its address from the GOT first. */
#pragma GCC visibility push(hidden)

/* The generator's state: a base fixed by seed and stream, and how many
 * numbers were drawn. Zero-initialized state is valid (nothing drawn). */
struct ss_prng {
    uint64_t drawn;
};

/* The base of stream `stream` (a rule's position) under `seed`. Distinct
 * streams of one seed are unrelated sequences. */
uint64_t ss_prng_base(uint64_t seed, uint64_t stream);

/* Streams per process and per rule set. A process started by exec has
 * stream id 0; the k-th child it forks (k = 0, 1, ...) has id
 * ss_prng_fork_stream(0, k), that child's k-th child
 * ss_prng_fork_stream(that id, k), and so on: never 0, and the same for the
 * same fork order. Each rule set installed in a process is numbered (0: the
 * constructor's, then 1, 2, ... per sendshim_set_faults), and its rules draw
 * under the seed ss_prng_set_seed(seed, process id, set number), which is
 * `seed` itself for set 0 of id 0, so a process that neither forks nor
 * replaces its rules draws exactly from the seed it was given. */
uint64_t ss_prng_fork_stream(uint64_t parent, uint64_t k);
uint64_t ss_prng_set_seed(uint64_t seed, uint64_t proc, uint64_t set);

/* The k-th output (k = 0, 1, ...) of the stream with this base. Pure. */
uint64_t ss_prng_at(uint64_t base, uint64_t k);

/* The next output of the stream: atomically claims the next index. */
uint64_t ss_prng_next(struct ss_prng *g, uint64_t base);

/* A uniform value in [lo, hi] (inclusive) from one 64-bit output, by the
 * multiply-high method; its bias is below (hi - lo + 1) / 2^64. */
uint64_t ss_prng_range(uint64_t r, uint64_t lo, uint64_t hi);

#pragma GCC visibility pop

#endif
