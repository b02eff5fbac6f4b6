/*
 * rng_internal.h — the fast stream's counter engine (version 2) inline, for
 * the draw loops of sample.c; rng.c's bl_counter_at is the same function.
 */
#ifndef BALLAST_RNG_INTERNAL_H
#define BALLAST_RNG_INTERNAL_H

#include "ballast.h"

/* SplitMix64's finaliser. */
static inline uint64_t blp_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* Output i of the counter stream c (rng.c, "Fast stream, version 2"). */
static inline uint64_t blp_counter_at(const bl_counter *c, uint64_t i)
{
    return blp_mix64(blp_mix64(c->k0 + (i + 1) * UINT64_C(0x9E3779B97F4A7C15)) ^ c->k1);
}

#endif
