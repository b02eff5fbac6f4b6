/*
 * loss_longtail.h — libballast's private door to loss_longtail.c: the
 * long-tail options of bl_loss (logit adjustment, ldam) and the reduction
 * sum_over_batch_size, computed around the losses of loss.c.
 */
#ifndef BALLAST_LOSS_LONGTAIL_H
#define BALLAST_LOSS_LONGTAIL_H

#include "ballast.h"
#include "vmath.h" /* BLP_HIDDEN */

/* Whether a asks for anything of loss_longtail.c: loss ldam, reduction
 * sum_over_batch_size, class_counts, class_priors or a logit adjustment.
 * Can't fail. */
BLP_HIDDEN int blp_longtail_wanted(const bl_loss_args *a);

/* bl_loss for such arguments: checks the long-tail options, then calls
 * bl_loss on plain arguments (adjusted logits, reduction sum) and finishes
 * the result. a and res are not NULL. */
BLP_HIDDEN bl_status blp_longtail_loss(const bl_loss_args *a, bl_loss_result *res, bl_error *err);

#endif
