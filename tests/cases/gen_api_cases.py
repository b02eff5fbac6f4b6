#!/usr/bin/env python3
"""Writes tests/cases/api_cases.json: request documents and what the api
must answer. The C api test (tests/unit/test_api.c) and the HTTP test
(tests/http/test_http.py) both run every case; a new case is a new entry
here. No PyTorch needed: expected numbers are exact or computed by hand.

    python3 tests/cases/gen_api_cases.py
"""
import json, math, os

cases = []
# The expected numbers are exact or computed by hand in double precision: the
# tests compare them at this tolerance (tests/unit/check_close.h states the rule).
TOLERANCE = {"rel": 1e-12, "abs": 1e-15}


def ok(name, endpoint, body, response=None, absent=None):
    c = {"name": name, "endpoint": endpoint, "body": body, "expect": {"code": "ok"}}
    if response is not None:
        c["expect"]["response"] = response
    if absent:
        c["expect"]["absent"] = absent
    cases.append(c)


def err(name, endpoint, body, code="invalid_argument", *, field, contains, limits=None,
        content_type=None):
    """body: an object, a text sent verbatim, or bytes (kept as body_hex, and
    as text in body for the readers of "body" alone). Every error case names
    the error's field (None: the error has none, e.g. invalid JSON) and a
    fragment of its message: the tests check the code, the field and the
    message, never the code alone."""
    assert contains, name + ": an error case needs a message fragment"
    e = {"code": code, "field": field, "message_contains": contains}
    c = {"name": name, "endpoint": endpoint, "body": body, "expect": e}
    if isinstance(body, bytes):  # (without NULs in the text: \u0000 would spoil the file for api_parse)
        c["body"], c["body_hex"] = body.decode("latin-1").replace("\0", " "), body.hex()
    if content_type:
        c["content_type"] = content_type  # over HTTP
    if limits:
        c["limits"] = limits
    cases.append(c)


# ---- /weights: results ----------------------------------------------------
seed = [100000, 100, 10]
ok("weights_seed_example", "weights", {"counts": seed},
   {"weights": [1, 1000, 10000], "counts": seed, "num_classes": 3,
    "scheme": "max_over_count", "normalize": "none"}, absent=["sample_weights", "warnings"])
ok("weights_inverse", "weights", {"counts": [4, 2], "scheme": "inverse"}, {"weights": [0.25, 0.5]})
ok("weights_balanced", "weights", {"counts": [6, 2], "scheme": "balanced"},
   {"weights": [8 / (2 * 6), 8 / (2 * 2)]})
ok("weights_inverse_sqrt", "weights", {"counts": [4, 16], "scheme": "inverse_sqrt"},
   {"weights": [0.5, 0.25]})
ok("weights_effective_number", "weights", {"counts": [1, 2], "scheme": "effective_number", "beta": 0.5},
   {"weights": [1.0, 0.5 / 0.75]})
ok("weights_effective_number_beta0", "weights", {"counts": [3, 7], "scheme": "effective_number", "beta": 0},
   {"weights": [1.0, 1.0]})
ok("weights_median_frequency", "weights", {"counts": [1, 2, 7], "scheme": "median_frequency"},
   {"weights": [2.0, 1.0, 2 / 7]})
ok("weights_enet", "weights", {"counts": [1, 1], "scheme": "enet", "c": 1.5},
   {"weights": [1 / math.log(2.0), 1 / math.log(2.0)]})
ok("weights_normalize_sum", "weights", {"counts": [1, 3], "scheme": "inverse", "normalize": "sum"},
   {"weights": [0.75, 0.25]})
ok("weights_normalize_mean", "weights", {"counts": [1, 3], "scheme": "inverse", "normalize": "mean"},
   {"weights": [1.5, 0.5]})
ok("weights_normalize_max", "weights", {"counts": [1, 4], "scheme": "inverse", "normalize": "max"},
   {"weights": [1.0, 0.25]})
ok("weights_zero_counts_zero", "weights", {"counts": [2, 0, 4], "zero_counts": "zero", "scheme": "balanced"},
   {"weights": [6 / 4, 0.0, 6 / 8], "counts": [2, 0, 4], "num_classes": 3})
ok("weights_named", "weights", {"counts": {"normal": 100000, "flu": 100, "rare": 10}},
   {"weights": {"normal": 1, "flu": 1000, "rare": 10000}, "counts": {"normal": 100000, "flu": 100, "rare": 10}})
ok("weights_labels", "weights", {"labels": [0, 0, 1, 2, 2, 2], "sample_weights": True},
   {"weights": [1.5, 3, 1], "counts": [2, 1, 3], "num_classes": 3,
    "sample_weights": [1.5, 1.5, 3, 1, 1, 1]})
ok("weights_labels_num_classes_zero", "weights",
   {"labels": [0, 2], "num_classes": 4, "zero_counts": "zero"},
   {"weights": [1, 0, 1, 0], "counts": [1, 0, 1, 0], "num_classes": 4})
ok("weights_real_counts", "weights", {"counts": [0.5, 2.5], "scheme": "inverse"}, {"weights": [2.0, 0.4]})
ok("weights_counts_2_53", "weights", {"counts": [9007199254740992, 1]},
   {"weights": [1.0, 9007199254740992.0], "counts": [9007199254740992, 1]})
ok("weights_big_integer_count", "weights", '{"counts": [1, 100000000000000000000]}',
   {"weights": [1e20, 1.0]})
ok("weights_one_class", "weights", {"counts": [7], "scheme": "balanced"}, {"weights": [1.0]})
ok("weights_urlencoded_style_body", "weights", '{"counts":[2,1]}', {"weights": [1.0, 2.0]})

# ---- /weights: errors ------------------------------------------------------
err("weights_empty_body", "weights", "", "invalid_json", contains="empty", field=None)
err("weights_truncated", "weights", '{"counts": [1, 2', "invalid_json", contains="line 1", field=None)
err("weights_trailing_garbage", "weights", '{"counts": [1]} x', "invalid_json",
    field=None, contains="end of file expected near 'x'")
err("weights_not_object", "weights", "[1, 2]", "invalid_argument", contains="JSON object", field=None)
err("weights_duplicate_key", "weights", '{"counts": [1], "counts": [2]}', "invalid_json",
    contains="duplicate", field=None)
err("weights_lone_surrogate", "weights", '{"scheme": "\\udcff"}', "invalid_json",
    field=None, contains="invalid Unicode '\\uDCFF'")
err("weights_unknown_field", "weights", {"counts": [1], "reducton": "sum"},
    field="reducton", contains="unknown field")
err("weights_neither", "weights", {}, contains="counts", field=None)
err("weights_both", "weights", {"counts": [1], "labels": [0]}, field="labels", contains="only one of")
err("weights_empty_counts", "weights", {"counts": []}, field="counts", contains="empty")
err("weights_negative_count", "weights", {"counts": [1, -2]}, field="counts[1]", contains=">= 0")
err("weights_string_count", "weights", {"counts": [1, "2"]}, field="counts[1]", contains="string")
err("weights_null_count", "weights", {"counts": [1, None]},
    field="counts[1]", contains="counts[1] must be a number, not a null")
err("weights_counts_not_array", "weights", {"counts": 5},
    field="counts", contains="it must be an array of numbers")
err("weights_zero_count", "weights", {"counts": [5, 0, 1]}, field="counts[1]", contains="class 1")
err("weights_all_zero", "weights", {"counts": [0, 0], "zero_counts": "zero"}, field="counts", contains="all")
err("weights_named_zero", "weights", {"counts": {"a": 1, "b": 0}}, field='counts["b"]', contains='"b"')
err("weights_named_negative", "weights", {"counts": {"a": -1}}, field='counts["a"]', contains=">= 0")
err("weights_bad_scheme", "weights", {"counts": [1], "scheme": "sqrt"},
    field="scheme", contains="max_over_count")
err("weights_scheme_type", "weights", {"counts": [1], "scheme": 3},
    field="scheme", contains="scheme must be a string, one of")
err("weights_beta_range", "weights", {"counts": [1], "scheme": "effective_number", "beta": 1},
    field="beta", contains="[0, 1)")
err("weights_beta_negative", "weights", {"counts": [1], "scheme": "effective_number", "beta": -0.1},
    field="beta", contains="beta must be a number in [0, 1); got -0.1")
err("weights_beta_wrong_scheme", "weights", {"counts": [1], "beta": 0.9}, field="beta",
    contains='beta applies only to scheme "effective_number", not to scheme "max_over_count" (the default)')
err("weights_c_range", "weights", {"counts": [1], "scheme": "enet", "c": 1}, field="c", contains="> 1")
err("weights_c_wrong_scheme", "weights", {"counts": [1], "c": 1.5},
    field="c", contains="c applies only to scheme \"enet\"")
err("weights_normalize_bad", "weights", {"counts": [1], "normalize": "l2"},
    field="normalize", contains="normalize \"l2\" is not one of")
err("weights_zero_counts_bad", "weights", {"counts": [1], "zero_counts": "skip"},
    field="zero_counts", contains="zero_counts \"skip\" is not one of \"error\", \"zero\"")
err("weights_sample_weights_type", "weights", {"labels": [0], "sample_weights": 1},
    field="sample_weights", contains="sample_weights must be true or false, not an integer")
err("weights_sample_weights_counts", "weights", {"counts": [1], "sample_weights": True},
    field="sample_weights", contains="sample_weights needs labels")
err("weights_label_negative", "weights", {"labels": [0, -1]},
    field="labels[1]", contains="labels must be integers >= 0")
err("weights_label_real", "weights", {"labels": [0, 1.5]}, field="labels[1]", contains="integer")
err("weights_label_out_of_range", "weights", {"labels": [0, 3], "num_classes": 3},
    field="labels[1]", contains="out of range")
err("weights_labels_missing_class", "weights", {"labels": [0, 2]}, field="labels", contains="class 1")
err("weights_num_classes_zero", "weights", {"labels": [0], "num_classes": 0},
    field="num_classes", contains="num_classes must be an integer >= 1; got 0")
err("weights_num_classes_with_counts", "weights", {"counts": [1], "num_classes": 2},
    field="num_classes", contains="num_classes goes with labels")
err("weights_empty_labels", "weights", {"labels": []}, field="labels", contains="empty")
err("weights_num_classes_huge", "weights", {"labels": [0], "num_classes": 10**12}, "limit_exceeded",
    field="num_classes", contains="max-items")
err("weights_too_many_counts", "weights", {"counts": [1] * 11}, "limit_exceeded", field="counts",
    contains="max-items", limits={"max_items": 10})
err("weights_count_1e400", "weights", '{"counts": [1e400]}', "invalid_json",
    field=None, contains="real number overflow near '1e400'")

# ---- /sample ------------------------------------------------------------------
ok("sample_torch_replay", "sample",
   {"weights": [100000, 100, 10], "num_samples": 3, "replacement": False, "seed": 0, "generator": "torch"},
   {"num_samples": 3, "seed": 0, "epoch": 0, "generator": "torch"}, absent=["rank", "world_size"])
ok("sample_defaults", "sample", {"weights": [1, 1, 1, 1], "seed": 7},
   {"num_samples": 4, "seed": 7, "epoch": 0, "generator": "fast"})
ok("sample_seed_max", "sample", '{"weights": [1, 2], "seed": 18446744073709551615}',
   {"seed": 18446744073709551615})
ok("sample_one_heavy", "sample", {"weights": [0, 0, 5, 0], "num_samples": 6, "seed": 1},
   {"indices": [2, 2, 2, 2, 2, 2]})
ok("sample_labels_default_class_weights", "sample", {"labels": [0, 0, 0, 1], "num_samples": 2, "seed": 3},
   {"num_samples": 2})
ok("sample_labels_class_weights", "sample",
   {"labels": [0, 1, 0, 1], "class_weights": [0, 1], "num_samples": 8, "seed": 3},
   {"num_samples": 8})
ok("sample_distributed", "sample",
   {"weights": [1, 2, 3], "num_samples": 5, "seed": 9, "world_size": 2, "rank": 1},
   {"num_samples": 5, "rank": 1, "world_size": 2, "total_size": 6})
ok("sample_without_all", "sample",
   {"weights": [1, 0, 2], "num_samples": 2, "replacement": False, "seed": 4}, {"num_samples": 2})
err("sample_neither", "sample", {"seed": 1}, contains="weights", field=None)
err("sample_both", "sample", {"weights": [1], "labels": [0]},
    field="labels", contains="send either weights or labels, not both")
err("sample_negative_weight", "sample", {"weights": [1, -1]}, field="weights[1]", contains=">= 0")
err("sample_zero_sum", "sample", {"weights": [0, 0]}, field="weights", contains="sum to 0")
err("sample_empty", "sample", {"weights": []}, field="weights", contains="empty")
err("sample_num_samples_zero", "sample", {"weights": [1], "num_samples": 0},
    field="num_samples", contains="num_samples must be an integer >= 1; got 0")
err("sample_num_samples_real", "sample", {"weights": [1], "num_samples": 2.0},
    field="num_samples", contains="integer")
err("sample_num_samples_huge", "sample", {"weights": [1], "num_samples": 10**12}, "limit_exceeded",
    field="num_samples", contains="max-samples")
err("sample_without_too_many", "sample", {"weights": [1, 0, 1], "num_samples": 3, "replacement": False},
    field="num_samples", contains="non-zero")
err("sample_rank_range", "sample", {"weights": [1], "world_size": 2, "rank": 2},
    field="rank", contains="rank = 2 must be in [0, world_size = 2)")
err("sample_rank_negative", "sample", {"weights": [1], "rank": -1},
    field="rank", contains="rank must be an integer >= 0; got -1")
err("sample_world_size_zero", "sample", {"weights": [1], "world_size": 0},
    field="world_size", contains="world_size must be an integer >= 1; got 0")
err("sample_seed_negative", "sample", {"weights": [1], "seed": -1}, field="seed", contains="2^64")
err("sample_seed_too_big", "sample", '{"weights": [1], "seed": 18446744073709551616}',
    field="seed", contains="seed must be an integer in [0, 2^64)")
err("sample_seed_real", "sample", {"weights": [1], "seed": 1.5}, field="seed", contains="not a real")
# A seed may be a string of decimal digits (JavaScript's numbers stop at 2^53); it comes back as one.
ok("sample_seed_string", "sample", {"weights": [1], "seed": "42"}, {"seed": "42", "indices": [0]},
   absent=["seed_string"])
ok("sample_seed_string_max", "sample", {"weights": [1, 2], "seed": "18446744073709551615"},
   {"seed": "18446744073709551615"}, absent=["seed_string"])
ok("sample_seed_string_leading_zeros", "sample", {"weights": [1, 2], "seed": "007"}, {"seed": "7"})
ok("sample_seed_integer_no_seed_string", "sample", {"weights": [1, 2], "seed": 7}, {"seed": 7},
   absent=["seed_string"])
err("sample_seed_string_2_64", "sample", {"weights": [1], "seed": "18446744073709551616"}, field="seed",
    contains="must be an integer in [0, 2^64)")
err("sample_seed_string_negative", "sample", {"weights": [1], "seed": "-1"}, field="seed",
    contains="decimal digits only")
err("sample_seed_string_empty", "sample", {"weights": [1], "seed": ""},
    field="seed", contains="decimal digits")
err("sample_seed_string_real", "sample", {"weights": [1], "seed": "1.5"},
    field="seed", contains="decimal digits")
err("sample_seed_string_space", "sample", {"weights": [1], "seed": " 42"},
    field="seed", contains="decimal digits")
err("sample_seed_string_hex", "sample", {"weights": [1], "seed": "0x2a"},
    field="seed", contains="decimal digits")
err("sample_seed_bool", "sample", {"weights": [1], "seed": True}, field="seed",
    contains="seed must be an integer (or a string of decimal digits), not a boolean")
err("sample_epoch_string", "sample", {"weights": [1], "seed": 1, "epoch": "1"}, field="epoch",
    contains="epoch must be an integer, not a string")
err("sample_generator_bad", "sample", {"weights": [1], "generator": "numpy"},
    field="generator", contains="generator \"numpy\" is not one of \"fast\", \"torch\"")
err("sample_replacement_type", "sample", {"weights": [1], "replacement": "yes"},
    field="replacement", contains="replacement must be true or false, not a string")
err("sample_label_no_class_weight", "sample", {"labels": [0, 2], "class_weights": [1, 1]},
    field="labels[1]", contains="no class weight")
err("sample_class_weights_without_labels", "sample", {"weights": [1], "class_weights": [1]},
    field="class_weights", contains="class_weights goes with labels")
err("sample_label_negative", "sample", {"labels": [0, -3]},
    field="labels[1]", contains="labels[1] = -3: labels must be integers >= 0")
err("sample_too_many_items", "sample", {"weights": [1] * 6}, "limit_exceeded", field="weights",
    limits={"max_items": 5}, contains="more than the server's max-items limit of 5")

# ---- /loss ----------------------------------------------------------------------
L = [[1, 2], [1, 3], [1, 3]]
ok("loss_seed_mean", "loss", {"logits": L, "targets": [0, 1, 1]},
   {"loss": (math.log1p(math.e) + 2 * math.log1p(math.exp(-2))) / 3, "reduction": "mean",
    "total_weight": 3.0}, absent=["grad", "warnings"])
ok("loss_nan_mean_warns", "loss", {"logits": L, "targets": [-100, -100, -100]},
   {"loss": None, "total_weight": 0.0})
ok("loss_1d_none_is_scalar", "loss", {"logits": [0, 0], "targets": 1, "reduction": "none"},
   {"loss": math.log(2)})
err("loss_missing_logits", "loss", {"targets": [0]}, field="logits", contains="logits is required")
err("loss_missing_targets", "loss", {"logits": [[1, 2]]}, field="targets", contains="targets is required")
err("loss_ragged", "loss", {"logits": [[1, 2], [3]], "targets": [0, 0]}, field="logits[1]", contains="ragged")
err("loss_ragged_deep", "loss", {"logits": [[[1, 2]], [[1, 2, 3]]], "targets": [[0], [0]]},
    field="logits[1][0]", contains="has length 3 where 2 was expected")
err("loss_leaf_string", "loss", {"logits": [[1, "2"]], "targets": [0]},
    field="logits[0][1]", contains="must be a finite number, not a string")
err("loss_target_out_of_bounds", "loss", {"logits": L, "targets": [0, 5, 1]}, field="targets[1]",
    contains="Target 5 is out of bounds")
err("loss_target_negative", "loss", {"logits": L, "targets": [0, -1, 1]}, field="targets[1]",
    contains="out of bounds")
err("loss_target_real", "loss", {"logits": L, "targets": [0, 1.5, 1]}, field="targets", contains="integers")
err("loss_target_shape", "loss", {"logits": L, "targets": [0, 1]}, field="targets", contains="shape")
err("loss_weights_length", "loss", {"logits": L, "targets": [0, 1, 1], "weights": [1, 2, 3]},
    field="weights", contains="weights has 3 entries; expected 2 (the number of classes)")
err("loss_weights_negative", "loss", {"logits": L, "targets": [0, 1, 1], "weights": [1, -2]},
    field="weights[1]", contains="weights[1] = -2, but it must be a finite number >= 0")
err("loss_label_smoothing_negative", "loss", {"logits": L, "targets": [0, 1, 1], "label_smoothing": -0.1},
    field="label_smoothing", contains="label_smoothing must be a number in [0, 1]; got -0.1")
err("loss_label_smoothing_big", "loss", {"logits": L, "targets": [0, 1, 1], "label_smoothing": 1.5},
    field="label_smoothing", contains="label_smoothing must be a number in [0, 1]; got 1.5")
err("loss_label_smoothing_nll", "loss", {"loss": "nll", "log_probs": L, "targets": [0, 1, 1],
                                          "label_smoothing": 0.1}, field="label_smoothing",
    contains="not to loss \"nll\"")
err("loss_prob_ignore_index", "loss", {"logits": L, "targets": [[1, 0], [0, 1], [0.5, 0.5]],
                                       "ignore_index": 0}, field="ignore_index",
    contains="cannot be used with class-probability targets")
err("loss_prob_targets_nll", "loss", {"loss": "nll", "log_probs": L, "targets": [[1, 0], [0, 1], [0.5, 0.5]]},
    field="targets", contains="cross_entropy")
err("loss_prob_targets_focal", "loss", {"loss": "focal", "logits": L, "targets": [[1, 0], [0, 1], [0.5, 0.5]]},
    field="targets", contains="loss \"focal\" needs class indices")
err("loss_nll_logits", "loss", {"loss": "nll", "logits": L, "targets": [0, 1, 1]},
    field="logits", contains="log_probs")
err("loss_ce_log_probs", "loss", {"log_probs": L, "targets": [0, 1, 1]},
    field="log_probs", contains="log_probs applies only to loss \"nll\"")
err("loss_bad_loss", "loss", {"loss": "hinge", "logits": L, "targets": [0, 1, 1]},
    field="loss", contains="loss \"hinge\" is not one of")
err("loss_bad_reduction", "loss", {"logits": L, "targets": [0, 1, 1], "reduction": "avg"},
    field="reduction", contains="reduction \"avg\" is not one of \"mean\", \"sum\", \"none\"")
err("loss_gamma_negative", "loss", {"loss": "focal", "logits": L, "targets": [0, 1, 1], "gamma": -1},
    field="gamma", contains="gamma must be a number >= 0; got -1")
err("loss_gamma_ce", "loss", {"logits": L, "targets": [0, 1, 1], "gamma": 2}, field="gamma",
    contains='gamma applies only to loss "focal" or "sigmoid_focal", not to loss "cross_entropy"')
err("loss_alpha_range", "loss", {"loss": "sigmoid_focal", "logits": [0.5], "targets": [1], "alpha": 2}, field="alpha",
    contains="alpha must be a number in [0, 1] or -1; got 2")
err("loss_alpha_negative", "loss", {"loss": "sigmoid_focal", "logits": [0.5], "targets": [1], "alpha": -0.5},
    field="alpha", contains="in [0, 1] or -1")
ok("loss_alpha_minus_one", "loss", {"loss": "sigmoid_focal", "logits": [0.0], "targets": [1], "alpha": -1,
                                       "gamma": 0},
   {"loss": math.log(2)})
err("loss_alpha_focal_points_to_weights", "loss",
    {"loss": "focal", "logits": L, "targets": [0, 1, 1], "alpha": 0.25}, field="alpha",
    contains='send per-class "weights" (for loss "focal", weights[c] is the alpha of class c)')
err("loss_ignore_index_binary_lists_losses", "loss",
    {"loss": "sigmoid_focal", "logits": [0.5], "targets": [1], "ignore_index": -100}, field="ignore_index",
    contains='ignore_index applies only to loss "cross_entropy", "nll", "focal" or "ldam", not to loss "sigmoid_focal"')
err("loss_pos_weight_ce", "loss", {"logits": L, "targets": [0, 1, 1], "pos_weight": [1, 1]},
    field="pos_weight", contains="pos_weight applies only to loss \"bce_with_logits\"")
err("loss_pos_weight_length", "loss", {"loss": "bce_with_logits", "logits": [[0.5, 1]], "targets": [[1, 0]],
                                       "pos_weight": [1, 2, 3]}, field="pos_weight",
    contains="pos_weight has 3 entries; expected 2 (the last dim of logits)")
err("loss_bce_target_shape", "loss", {"loss": "bce_with_logits", "logits": [[0.5, 1]], "targets": [1, 0]},
    field="targets", contains="shape")
err("loss_bce_target_range", "loss", {"loss": "bce_with_logits", "logits": [0.5, 1], "targets": [1, 2]},
    field="targets[1]", contains="targets[1] = 2 is outside [0, 1]")
err("loss_scalar_logits", "loss", {"logits": 3, "targets": 0}, field="logits", contains="not a single number")
err("loss_ignore_index_binary", "loss", {"loss": "bce_with_logits", "logits": [0.5], "targets": [1],
                                         "ignore_index": 0}, field="ignore_index",
    contains="not to loss \"bce_with_logits\"")
err("loss_grad_type", "loss", {"logits": L, "targets": [0, 1, 1], "grad": "yes"},
    field="grad", contains="grad must be true or false, not a string")
err("loss_too_many_elements", "loss", {"logits": [[0.0] * 4] * 3, "targets": [0, 1, 2]}, "limit_exceeded",
    field="logits", contains="max-elements", limits={"max_elements": 10})
err("loss_nan_literal", "loss", '{"logits": [[NaN, 1]], "targets": [0]}', "invalid_json",
    field=None, contains="invalid token near 'NaN'")
err("loss_deep_nesting", "loss", '{"logits": ' + "[" * 100000 + "]" * 100000 + ', "targets": 0}', "invalid_json",
    field=None, contains="maximum parsing depth reached")

# ---- errors that teach: the nearest valid name, PyTorch's and Keras's names --------
err("suggest_field_weight", "sample", {"weight": [1, 2]}, field="weight",
    contains='unknown field "weight"; did you mean "weights"?')
err("suggest_field_target", "loss", {"logits": L, "target": [0, 1, 1]}, field="target",
    contains='did you mean "targets"?')
err("suggest_field_input_is_logits", "loss", {"input": L, "targets": [0, 1, 1]}, field="input",
    contains='did you mean "logits"?')
err("suggest_field_weight_of_cross_entropy", "loss", {"logits": L, "targets": [0, 1, 1], "weight": [1, 2]},
    field="weight", contains='did you mean "weights"?')
err("suggest_field_pos_weights", "loss", {"loss": "bce_with_logits", "logits": [0.5], "targets": [1],
                                          "pos_weights": [2]}, field="pos_weights",
    contains='did you mean "pos_weight"?')
err("suggest_field_labels_of_loss", "loss", {"logits": L, "labels": [0, 1, 1]}, field="labels",
    contains='did you mean "targets"?')
err("suggest_field_case", "sample", {"weights": [1], "Seed": 1},
    field="Seed", contains='did you mean "seed"?')
err("suggest_field_numpy_replace", "sample", {"weights": [1, 2], "replace": False}, field="replace",
    contains='did you mean "replacement"?')
err("suggest_field_num_replicas", "sample", {"weights": [1, 2], "num_replicas": 2}, field="num_replicas",
    contains='did you mean "world_size"?')
err("suggest_field_random_state", "sample", {"weights": [1, 2], "random_state": 2}, field="random_state",
    contains='did you mean "seed"?')
err("suggest_field_sklearn_class_weight", "weights", {"counts": [1, 2], "class_weight": "balanced"},
    field="class_weight", contains='did you mean "scheme"?')
err("suggest_field_typo", "loss", {"logits": L, "targets": [0, 1, 1], "reducton": "sum"}, field="reducton",
    contains='did you mean "reduction"?')
err("suggest_none_when_far", "weights", {"counts": [1], "gama": 1}, field="gama",
    contains='unknown field "gama"; expected counts, labels')
err("suggest_loss_CrossEntropyLoss", "loss", {"loss": "CrossEntropyLoss", "logits": L, "targets": [0, 1, 1]},
    field="loss", contains='did you mean "cross_entropy"?')
err("suggest_loss_NLLLoss", "loss", {"loss": "NLLLoss", "log_probs": L, "targets": [0, 1, 1]},
    field="loss", contains='did you mean "nll"?')
err("suggest_loss_BCEWithLogitsLoss", "loss", {"loss": "BCEWithLogitsLoss", "logits": [0.5], "targets": [1]},
    field="loss", contains='did you mean "bce_with_logits"?')
err("suggest_loss_keras_name", "loss", {"loss": "sparse_categorical_crossentropy", "logits": L,
                                        "targets": [0, 1, 1]}, field="loss",
    contains='did you mean "cross_entropy"?')
err("suggest_scheme_balanse", "weights", {"counts": [1, 2], "scheme": "balanse"}, field="scheme",
    contains='not one of "max_over_count", "inverse", "balanced", "inverse_sqrt", "effective_number", '
             '"median_frequency", "enet", "power", "repeat_factor"; did you mean "balanced"?')
err("suggest_reduction_elementwise_mean", "loss", {"logits": L, "targets": [0, 1, 1],
                                                   "reduction": "elementwise_mean"},
    field="reduction", contains='did you mean "mean"?')
err("suggest_generator_pytorch", "sample", {"weights": [1], "generator": "pytorch"}, field="generator",
    contains='did you mean "torch"?')
err("suggest_none_for_world", "sample", {"weights": [1], "seed": 1, "world": 2}, field="world",
    contains='unknown field "world"; expected')

# A body that is not JSON but something recognisable: say what to send.
err("form_encoded_body", "weights", "counts=1&counts=2", "invalid_json",
    contains="not JSON: send the fields as one JSON object, e.g. {\"counts\": ...}; with Python requests "
             "use json={...}, not data={...}",
    content_type="application/x-www-form-urlencoded", field=None)
err("form_encoded_body_default_type", "sample", "weights=1&weights=2&seed=3\n", "invalid_json",
    contains='the body is form-encoded ("weights=1&weights=2&seed=3")', field=None)
err("npy_body", "sample", b"\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }",
    "invalid_json", contains="send arrays as .npy parts of a multipart/form-data request", field=None)
err("json_error_unchanged", "weights", "counts: [1, 2]", "invalid_json", contains="invalid JSON at line 1",
    field=None)

# ---- long arrays: parsed by the fast number-array path (16+ plain numbers) --
pad = " " * 4096  # bodies under 4 KiB skip the fast path
long_w = [0.5 + i for i in range(40)]
ok("fast_sample_long_weights", "sample",
   json.dumps({"weights": long_w, "num_samples": 5, "seed": 1, "generator": "torch"}) + pad,
   {"num_samples": 5})
ok("fast_sample_one_heavy", "sample",
   json.dumps({"weights": [0] * 30 + [2.5] + [0] * 9, "num_samples": 4, "seed": 2}) + pad,
   {"indices": [30, 30, 30, 30]})
err("fast_negative_weight_named", "sample",
    json.dumps({"weights": long_w[:17] + [-1.0] + long_w[18:]}) + pad, field="weights[17]",
    contains=">= 0")
err("fast_string_in_long_array", "sample",
    json.dumps({"weights": long_w[:20] + ["x"] + long_w[21:]}) + pad, field="weights[20]",
    contains="weights[20] must be a number, not a string")
err("fast_overflow_literal", "sample",
    '{"weights": [' + ",".join(["1"] * 20) + ',1e400]}' + pad, "invalid_json", field=None,
    contains="real number overflow near '1e400'")
err("fast_real_labels", "weights", json.dumps({"labels": [0, 1] * 10 + [1.5]}) + pad,
    field="labels[20]", contains="integer")
ok("fast_labels", "weights", json.dumps({"labels": [0, 1, 1, 1] * 5}) + pad,
   {"counts": [5, 15], "weights": [3.0, 1.0]})
ok("fast_long_counts_big_ints", "weights",
   '{"counts": [' + ",".join(["9007199254740993"] * 20) + ']}' + pad,
   {"counts": [9007199254740992] * 20})
ok("fast_logits_rows", "loss",
   json.dumps({"logits": [[0.0] * 20, [1.0] * 20], "targets": [3, 19], "reduction": "none"}) + pad,
   {"loss": [math.log(20), math.log(20)]})
err("fast_ragged_rows", "loss",
    json.dumps({"logits": [[0.0] * 20, [1.0] * 21], "targets": [3, 19]}) + pad,
    field="logits[1]", contains="ragged")
err("fast_row_where_number_expected", "loss",
    json.dumps({"logits": [[[0.0] * 20], [0.5] * 20], "targets": [[3], 19]}) + pad, field="logits[1]",
    contains="has length 20 where 1 was expected")
ok("fast_tricky_numbers", "sample",
   '{"weights": [0.1, 1e-310, 5e-324, 1.7976931348623157e308, 0.30000000000000004, 1E5, 2e-0, '
   '-0, 0.0, 123456789012345678901234567890e-10, 1.00000000000000011102230246251565404236316680908203125,'
   ' 3, 4, 5, 6, 7], "num_samples": 1, "seed": 1}' + pad, {"num_samples": 1})
err("fast_sum_overflow_named", "sample",
    '{"weights": [' + ",".join(["1.7976931348623157e308"] * 20) + ']}' + pad,
    contains="overflows", field="weights")

# Found by the fuzzer's differential check (fast path vs jansson):
err("fast_nul_escape_refused", "sample",
    '{"weights": [' + ",".join(["1"] * 20) + '], "generator": "torch\\u0000x"}' + pad, "invalid_json",
    field=None, contains="\\u0000 is not allowed")
err("fast_nul_key_refused", "sample",
    '{"weights": [' + ",".join(["1"] * 20) + '], "seed\\u0000": 1, "seed": 2}' + pad, "invalid_json",
    field=None, contains="NUL byte in object key")
err("fast_first_real_label_named", "weights",
    '{"labels": [0, 1, 2, 3, 4, 5, 2.0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1e2]}' + pad,
    field="labels[6]", contains="integer")
err("fast_top_level_array", "sample", "[" + ",".join(["1"] * 20) + "]" + pad,
    contains="JSON object", field=None)

# From the review: placeholders never show in messages; a huge ignore_index is refused.
err("fast_array_for_enum_named_array", "weights",
    json.dumps({"counts": [1, 2], "scheme": list(range(20))}) + pad, field="scheme", contains="string")
err("fast_array_for_bool", "weights",
    json.dumps({"labels": [0, 1], "sample_weights": list(range(20))}) + pad, field="sample_weights",
    contains="an array")
err("ignore_index_huge", "loss",
    '{"logits": [[1, 2]], "targets": [0], "ignore_index": 99999999999999999999999}',
    field="ignore_index", contains="64-bit")

# power, multi-label and repeat_factor (README "Scheme power", "Multi-label weights",
# "Repeat factors"): options out of range or with the wrong scheme, bad label sets and
# matrices, and the limits on a matrix's elements and on label_sets' ids.
ok("power_q1_is_inverse", "weights", {"counts": [4, 5], "scheme": "power", "exponent": 1},
   {"weights": [0.25, 0.2], "scheme": "power"})
err("power_exponent_range", "weights", {"counts": [1, 2], "scheme": "power", "exponent": 65},
    field="exponent", contains="64")
err("power_exponent_negative", "weights", {"counts": [1, 2], "scheme": "power", "exponent": -1},
    field="exponent", contains="in [0, 64]; got -1")
err("exponent_wrong_scheme", "weights", {"counts": [1, 2], "exponent": 0.5}, field="exponent",
    contains="applies only to scheme \"power\"")
err("threshold_wrong_scheme", "weights", {"label_sets": [[0]], "threshold": 0.5},
    field="threshold", contains="repeat_factor")
err("threshold_range", "weights", {"label_sets": [[0]], "scheme": "repeat_factor",
                                   "threshold": 1.5}, field="threshold", contains="in [0, 1]; got 1.5")
err("repeat_factor_normalize", "weights", {"label_sets": [[0]], "scheme": "repeat_factor",
                                           "normalize": "none"},
    field="normalize", contains="never normalised")
err("repeat_factor_counts", "weights", {"counts": [1, 2], "scheme": "repeat_factor"},
    field="scheme", contains="label_sets")
err("label_sets_and_labels", "weights", {"label_sets": [[0]], "labels": [0]},
    field="label_sets", contains="only one of")
err("label_sets_and_counts", "weights", {"label_sets": [[0]], "counts": [1]},
    field="label_sets", contains="only one of")
err("label_sets_empty", "weights", {"label_sets": []}, field="label_sets", contains="empty")
err("label_sets_all_empty", "weights", {"label_sets": [[], []]}, field="label_sets",
    contains="num_classes")
ok("label_sets_all_empty_num_classes_zero", "weights",
   {"label_sets": [[], [1]], "num_classes": 2, "zero_counts": "zero"},
   {"weights": [0.0, 1.0], "positives": [0, 1], "pos_weight": [0.0, 1.0], "num_samples": 2})
err("label_sets_negative_id", "weights", {"label_sets": [[0], [1, -2]]},
    field="label_sets[1][1]", contains="negative")
err("label_sets_id_out_of_range", "weights", {"label_sets": [[0], [3]], "num_classes": 2},
    field="label_sets[1][0]", contains="out of range")
err("label_sets_not_a_list", "weights", {"label_sets": [[0], 1]}, field="label_sets[1]",
    contains="array of integers")
err("label_sets_real_id", "weights", {"label_sets": [[0, 1.5]]}, field="label_sets[0][1]",
    contains="integer")
err("label_sets_zero_positives", "weights", {"label_sets": [[0], [2]]}, field="label_sets",
    contains="class 1 has no positive sample")
err("label_matrix_not_01", "weights", {"labels": [[1, 0], [0, 2]]}, field="labels[1][1]",
    contains="0 and 1")
err("label_matrix_real", "weights", {"labels": [[1, 0], [0, 1.0]]}, field="labels",
    contains="integers 0 and 1")
err("label_matrix_ragged", "weights", {"labels": [[1, 0], [0]]}, field="labels[1]",
    contains="ragged")
err("label_matrix_3d", "weights", {"labels": [[[1]]]}, field="labels", contains="dimensions")
err("label_matrix_num_classes", "weights", {"labels": [[1, 0], [0, 1]], "num_classes": 3},
    field="num_classes", contains="2 columns")
err("label_matrix_over_max_items", "weights", {"labels": [[1, 0, 1], [0, 1, 1]]},
    "limit_exceeded", field="labels", contains="max-items", limits={"max_items": 5})
err("label_sets_ids_over_max_items", "weights", {"label_sets": [[0, 1, 2], [0, 1, 2]]},
    "limit_exceeded", field="label_sets", contains="max-items", limits={"max_items": 5})
err("label_sets_classes_over_max_items", "weights", {"label_sets": [[0], [9]]},
    "limit_exceeded", field="label_sets", contains="max-items", limits={"max_items": 5})
err("sample_weight_reduce_alone", "weights", {"label_sets": [[0]], "sample_weight_reduce": "mean"},
    field="sample_weight_reduce", contains="sample_weights")
err("sample_weight_reduce_bad", "weights", {"label_sets": [[0]], "sample_weights": True,
                                            "sample_weight_reduce": "median"},
    field="sample_weight_reduce", contains="not one of")
ok("label_sets_fast_rows", "weights",
   {"label_sets": [list(range(16)), list(range(16))], "scheme": "inverse"},
   {"weights": [0.5] * 16, "pos_weight": [0.0] * 16})
err("label_sets_fast_rows_real", "weights", {"label_sets": [list(range(16)), list(range(15)) + [1.5]]},
    field="label_sets[1][15]", contains="integer")

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "api_cases.json"), "w") as f:
    f.write('{\n "generator": "tests/cases/gen_api_cases.py",\n'
            ' "tolerance": {"rel": %r, "abs": %r},\n "cases": [\n' % (TOLERANCE["rel"], TOLERANCE["abs"]))
    f.write(",\n".join(json.dumps(c, separators=(",", ":")) for c in cases))
    f.write("\n ]\n}\n")
print(f"wrote {len(cases)} cases")
