/*
 * topk.h — libballast's private replica of PyTorch 1.13's CPU topk order,
 * for the torch generator's draws without replacement (sample.c).
 */
#ifndef BALLAST_TOPK_H
#define BALLAST_TOPK_H

#include <stddef.h>
#include <stdint.h>

#include "vmath.h" /* BLP_HIDDEN */

/* A sampling key and the item it belongs to. */
typedef struct {
    double key;
    int64_t index;
} blp_keyed;

/*
 * Moves the k largest keys of v[0..n) to v[0..k), largest first, exactly as
 * torch.topk(keys, k) on CPU orders them in PyTorch 1.13, ties included:
 * the same libstdc++ algorithms (partial_sort when 64 k <= n, else
 * nth_element then sort of the first k - 1) with the same comparison, step
 * for step. 2 <= k <= n. Can't fail; nothing is allocated.
 */
BLP_HIDDEN void blp_torch_topk(blp_keyed *v, size_t n, size_t k);

#endif
