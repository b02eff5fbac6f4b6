/*
 * rng.c — the two random engines of libballast.
 *
 * MT19937, seeded and read exactly as PyTorch's CPU generator
 * (at::mt19937 in CPUGeneratorImpl): init_genrand with the low 32 bits of
 * the 64-bit seed, and uniform doubles made from two 32-bit outputs, the
 * first being the high word, of which the low 53 bits are kept. Verified bit
 * for bit against PyTorch 1.13 (tests/conformance/torch_multinomial_ref.py).
 *
 * xoshiro256** (Blackman & Vigna, 2018), seeded with SplitMix64, drives the
 * fast generator. Its seeding from (seed, epoch) is part of ballast's stable
 * fast stream (README, "The fast stream"): changing it breaks golden tests.
 */
#include "ballast.h"
#include "rng_internal.h"

#define MT_N 624
#define MT_M 397

void bl_mt19937_seed(bl_mt19937 *mt, uint64_t seed)
{
    mt->state[0] = (uint32_t)seed;
    for (int i = 1; i < MT_N; i++) {
        uint32_t prev = mt->state[i - 1];
        mt->state[i] = 1812433253u * (prev ^ (prev >> 30)) + (uint32_t)i;
    }
    mt->next = MT_N;
}

/* The recurrence over the whole state, in three runs so that no index
 * needs a modulo: i + 1 and i + M wrap at different places. */
static inline uint32_t mt_mix(uint32_t cur, uint32_t nxt, uint32_t far)
{
    uint32_t y = (cur & 0x80000000u) | (nxt & 0x7fffffffu);
    return far ^ (y >> 1) ^ ((0u - (y & 1u)) & 0x9908b0dfu);
}

static void mt_twist(bl_mt19937 *mt)
{
    uint32_t *s = mt->state;
    int i = 0;
    for (; i < MT_N - MT_M; i++)
        s[i] = mt_mix(s[i], s[i + 1], s[i + MT_M]);
    for (; i < MT_N - 1; i++)
        s[i] = mt_mix(s[i], s[i + 1], s[i + MT_M - MT_N]);
    s[MT_N - 1] = mt_mix(s[MT_N - 1], s[0], s[MT_M - 1]);
    mt->next = 0;
}

/* Skipping reads no output: a block of 624 costs one twist, the tempering
 * of the outputs skipped is never done. */
void bl_mt19937_skip(bl_mt19937 *mt, uint64_t outputs)
{
    while (outputs) {
        if (mt->next >= MT_N)
            mt_twist(mt);
        uint64_t avail = (uint64_t)(MT_N - mt->next);
        uint64_t take = outputs < avail ? outputs : avail;
        mt->next += (int)take;
        outputs -= take;
    }
}

uint32_t bl_mt19937_next(bl_mt19937 *mt)
{
    if (mt->next >= MT_N)
        mt_twist(mt);
    uint32_t y = mt->state[mt->next++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

double bl_mt19937_uniform(bl_mt19937 *mt)
{
    uint64_t hi = bl_mt19937_next(mt);
    uint64_t lo = bl_mt19937_next(mt);
    uint64_t r = (hi << 32) | lo;
    return (double)(r & ((UINT64_C(1) << 53) - 1)) * 0x1p-53;
}

/* SplitMix64 (Steele, Lea & Flood 2014): a good 64-bit mixer for seeding. */
static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* Fast stream, version 1: two SplitMix64 sequences, one started at seed and
 * one at epoch XOR a constant, are XORed word by word into the state. Every
 * (seed, epoch) pair gets its own state; the all-zero state, which
 * xoshiro cannot leave, is replaced by s[0] = 1. */
void bl_xoshiro_seed(bl_xoshiro *x, uint64_t seed, uint64_t epoch)
{
    uint64_t a = seed, b = epoch ^ UINT64_C(0x6A09E667F3BCC909);
    for (int i = 0; i < 4; i++)
        x->s[i] = splitmix64(&a) ^ splitmix64(&b);
    if (!(x->s[0] | x->s[1] | x->s[2] | x->s[3]))
        x->s[0] = 1;
}

static inline uint64_t rotl(uint64_t v, int k) { return (v << k) | (v >> (64 - k)); }

uint64_t bl_xoshiro_next(bl_xoshiro *x)
{
    uint64_t *s = x->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double bl_xoshiro_uniform(bl_xoshiro *x) { return (double)(bl_xoshiro_next(x) >> 11) * 0x1p-53; }

/* Fast stream, version 2: output i of the stream (seed, epoch) is a pure
 * function of the key and i, so that any draw is computed without the ones
 * before it. The key is two words from the same SplitMix64 seeding as
 * version 1; output i is mix(mix(k0 + (i + 1) gamma) XOR k1), mix being
 * SplitMix64's finaliser. The first round is SplitMix64's own output i for
 * the start k0; the second, keyed by k1, keeps two keys whose k0 differ by
 * a multiple of gamma from giving shifted copies of one stream.
 * mix is SplitMix64's finaliser (rng_internal.h, inline for sample.c). */

void bl_counter_seed(bl_counter *c, uint64_t seed, uint64_t epoch)
{
    uint64_t a = seed, b = epoch ^ UINT64_C(0x6A09E667F3BCC909);
    c->k0 = splitmix64(&a) ^ splitmix64(&b);
    c->k1 = splitmix64(&a) ^ splitmix64(&b);
}

uint64_t bl_counter_at(const bl_counter *c, uint64_t i) { return blp_counter_at(c, i); }
