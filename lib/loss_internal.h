/*
 * loss_internal.h — libballast's private interface between lib/loss.c and
 * the losses kept in files of their own: asymmetric (lib/loss_multilabel.c)
 * and dice / tversky (lib/loss_seg.c). lib/loss.c validates and dispatches;
 * the formulas are in those files and in the README.
 */
#ifndef BALLAST_LOSS_INTERNAL_H
#define BALLAST_LOSS_INTERNAL_H

#include "ballast.h"
#include "vmath.h" /* BLP_HIDDEN */

/* A class-index target y at position n outside [0, classes): the error
 * every class-index loss gives, its first sentence torch's own. */
static inline bl_status blp_target_out_of_bounds(bl_error *err, size_t n, int64_t y, size_t classes)
{
    return bl_error_set(err, BL_EINVAL, "targets", (int64_t)n,
                        "Target %lld is out of bounds. (targets[%zu]; %zu classes)", (long long)y,
                        n, classes);
}

/* asymmetric: the ranges of gamma_pos, gamma_neg, clip and eps. Shape,
 * targets and weights are checked by lib/loss.c as for bce_with_logits. */
BLP_HIDDEN bl_status blp_asymmetric_check(const bl_loss_args *a, bl_error *err);
/* asymmetric over `elements` elements, weights broadcast along the last dim
 * (`last` entries): fills per (NULL for none) and grad (NULL for none; the
 * gradient of the reduced loss, mean dividing by elements) and returns the
 * sum of the element losses. The arguments have been checked. */
BLP_HIDDEN double blp_asymmetric(const bl_loss_args *a, size_t elements, size_t last, double *per,
                                 double *grad);

/* dice or tversky. */
BLP_HIDDEN int blp_is_seg(bl_loss_kind k);
/* Their number of scores (bl_loss_positions): N C', or C' with batch; 0 for
 * a shape they refuse. */
BLP_HIDDEN size_t blp_seg_scores(const bl_loss_args *a);
/* The whole of bl_loss for dice and tversky: checks, then computes. */
BLP_HIDDEN bl_status blp_seg_loss(const bl_loss_args *a, bl_loss_result *res, bl_error *err);

#endif
