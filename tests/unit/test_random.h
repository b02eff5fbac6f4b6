/*
 * test_random.h — the unit tests' one source of random inputs: SplitMix64
 * over a state each test seeds (rng_state = seed), and a double's bits both ways. One test program
 * includes it once (test_numparse.c, test_numshort.c, test_dtoa.c).
 */
#ifndef BALLAST_TEST_RANDOM_H
#define BALLAST_TEST_RANDOM_H

#include <stdint.h>
#include <string.h>

static uint64_t rng_state;

static inline uint64_t rnd(void) /* splitmix64 */
{
    uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* Uniform enough in [0, n) for test inputs. */
static inline unsigned below(unsigned n) { return (unsigned)(rnd() % n); }

static inline uint64_t bits_of(double d)
{
    uint64_t b;
    memcpy(&b, &d, sizeof b);
    return b;
}

static inline double double_of(uint64_t b)
{
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

#endif
