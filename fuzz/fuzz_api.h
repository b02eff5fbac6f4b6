/*
 * fuzz_api.h — the checks of the api fuzz target, shared by the libFuzzer
 * build (build/fuzz/fuzz_api) and the replay of tests/fuzz-regressions/
 * (build/tests/test_fuzz_regressions).
 */
#ifndef BALLAST_FUZZ_API_H
#define BALLAST_FUZZ_API_H

#include <stddef.h>
#include <stdint.h>

#include "api.h"

/* The configuration every fuzz input runs with: limits of 4096 items,
 * samples and elements, answers of at most FUZZ_MAX_OUTPUT bytes, a fixed
 * seed from the entropy hook. Can't fail. */
#define FUZZ_MAX_OUTPUT ((size_t)128 << 10)
bl_api_config fuzz_api_config(void);

/* The endpoint an input is for: its first byte % 3. Can't fail. */
const char *fuzz_api_endpoint(const uint8_t *data, size_t size);

/* The mode of an input (0-11, see fuzz_api.c): a first byte b below 216
 * gives (b / 3) % 6 as it always has; 216 and above, the multipart modes
 * 6 + ((b - 216) / 3) % 6. 0 for an empty input. Can't fail. */
unsigned fuzz_api_mode(const uint8_t *data, size_t size);

/* The boundary of the raw multipart modes (6-8). */
#define FUZZ_BOUNDARY "fuzzb"

/* Runs one input (first byte: endpoint and mode; the rest: body, parts,
 * or Content-Type and body) through bl_api_call or bl_api_handle and
 * checks the invariants listed in fuzz_api.c. Returns 0 when they hold,
 * else 1 with the reason in why. */
int fuzz_api_check(const uint8_t *data, size_t size, char *why, size_t whylen);

#endif
