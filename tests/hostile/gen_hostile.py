#!/usr/bin/env python3
"""Writes tests/hostile/cases.json: malformed and hostile HTTP requests and
the documented answer to each (README.md "Errors", api/openapi.yaml's responses).

    python3 tests/hostile/gen_hostile.py

Every case is {name, method, path, headers?, body | body_b64, expect_status,
expect_code}: body is sent as UTF-8, body_b64 carries raw bytes (invalid
UTF-8, NUL bytes). expect_code is the error's "code" (null for HEAD, whose
answer has no body). tests/http/test_hostile.py sends every case to one
ballastd started with `server_args` and checks status, code and that the
body is {"error": {"code", "message"}}; the fuzz seed corpus
(fuzz/make_corpus.py) takes the bodies of the POST cases too.

A new hostile input is a new entry here, not new test code.
"""
import base64
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))

# The server the cases are written for: small limits keep the limit cases
# small (a 10001-entry array is 20 KB); max-body must let the 10^5-deep
# bodies through (600 KB at most).
LIMITS = {"max_items": 10000, "max_samples": 10000, "max_elements": 10000}
MAX_BODY = 700 * 1024
SERVER_ARGS = ["--max-items", str(LIMITS["max_items"]),
               "--max-samples", str(LIMITS["max_samples"]),
               "--max-elements", str(LIMITS["max_elements"]),
               "--max-body", "700K", "--timeout", "5", "--log-format", "none"]

STATUS = {"invalid_json": 400, "invalid_argument": 400, "limit_exceeded": 400,
          "not_found": 404, "method_not_allowed": 405, "payload_too_large": 413,
          "unsupported_media_type": 415}

cases = []
names = set()


def add(name, code, path="/weights", body=None, raw=None, method="POST", headers=None,
        status=None):
    """One case; body is a str (or a JSON value, dumped), raw is bytes."""
    assert name not in names, name
    names.add(name)
    c = {"name": name, "method": method, "path": path}
    if headers:
        c["headers"] = headers
    if raw is not None:
        c["body_b64"] = base64.b64encode(raw).decode()
    elif body is not None:
        c["body"] = body if isinstance(body, str) else json.dumps(body)
    c["expect_status"] = status if status is not None else STATUS[code]
    c["expect_code"] = code
    cases.append(c)


def bad_json(name, endpoint, body):
    add(name, "invalid_json", "/" + endpoint, body=body)


def bad_arg(name, endpoint, body):
    add(name, "invalid_argument", "/" + endpoint, body=body)


def limit(name, endpoint, body):
    add(name, "limit_exceeded", "/" + endpoint, body=body)


# ---- bodies that are not JSON --------------------------------------------------
VALID = {
    "weights": '{"counts": [100000, 100, 10], "scheme": "balanced"}',
    "sample": '{"weights": [1, 2, 3], "num_samples": 5, "seed": 7}',
    "loss": '{"logits": [[1, 2], [1, 3]], "targets": [0, 1], "reduction": "none"}',
}
for ep, body in VALID.items():
    # Cut short at several places: every prefix of a valid body is invalid.
    for cut in sorted({1, 2, 5, len(body) // 3, len(body) // 2, len(body) - 2, len(body) - 1}):
        bad_json("truncated_%s_at_%d" % (ep, cut), ep, body[:cut])
    bad_json("trailing_garbage_" + ep, ep, body + " x")
    bad_json("two_documents_" + ep, ep, body + body)
    bad_json("trailing_nul_" + ep, ep, body + "\u0000")
    add("empty_body_" + ep, "invalid_json", "/" + ep, body="")
    bad_json("whitespace_only_" + ep, ep, " \t\r\n  ")
    bad_json("deep_arrays_1e5_" + ep, ep, "[" * 100000 + "]" * 100000)
bad_json("deep_objects_1e5", "weights", '{"":' * 100000 + "1" + "}" * 100000)
bad_json("deep_arrays_1e5_unclosed", "loss", '{"logits": ' + "[" * 100000)
bad_json("deep_mixed_1e4", "sample", '{"weights": ' + '[{"":' * 5000 + "1" + "}]" * 5000 + "}")

for name, body in [
    ("unquoted_key", '{counts: [1, 2]}'),
    ("single_quotes", "{'counts': [1, 2]}"),
    ("trailing_comma_array", '{"counts": [1, 2,]}'),
    ("trailing_comma_object", '{"counts": [1, 2],}'),
    ("missing_colon", '{"counts" [1, 2]}'),
    ("missing_comma", '{"counts": [1 2]}'),
    ("nan_literal", '{"counts": [NaN, 1]}'),
    ("infinity_literal", '{"counts": [Infinity, 1]}'),
    ("plus_sign", '{"counts": [+1, 2]}'),
    ("leading_zero", '{"counts": [01, 2]}'),
    ("bare_dot", '{"counts": [.5, 2]}'),
    ("dangling_dot", '{"counts": [1., 2]}'),
    ("dangling_exponent", '{"counts": [1e, 2]}'),
    ("hex_number", '{"counts": [0x10, 2]}'),
    ("comment", '{"counts": [1, 2] /* hi */}'),
    ("bad_escape", '{"scheme": "\\x41"}'),
    ("lone_high_surrogate", '{"scheme": "\\ud800"}'),
    ("lone_low_surrogate", '{"scheme": "\\udc00x"}'),
    ("escaped_nul_in_value", '{"counts": [1, 2], "scheme": "inverse\\u0000x"}'),
    ("escaped_nul_in_key", '{"cou\\u0000nts": [1, 2]}'),
    ("raw_tab_in_string", '{"scheme": "inv\terse", "counts": [1]}'),
    ("real_overflow_1e400", '{"counts": [1e400, 1]}'),
    ("real_overflow_neg_1e400", '{"counts": [-1e400, 1]}'),
    ("duplicate_key", '{"counts": [1, 2], "counts": [3, 4]}'),
    ("duplicate_key_nested", '{"counts": {"a": 1, "a": 2}}'),
    ("deep_arrays_2049", '{"counts": ' + "[" * 2049 + "]" * 2049 + '}'),
    ("top_level_number", "1"),
    ("top_level_string", '"counts"'),
    ("top_level_null", "null"),
    ("top_level_true", "true"),
]:
    bad_json(name, "weights", body)
bad_json("duplicate_key_sample", "sample", '{"weights": [1], "seed": 1, "seed": 2}')
bad_json("duplicate_key_loss", "loss", '{"logits": [[1, 2]], "targets": [0], "grad": true, "grad": false}')
bad_json("real_overflow_in_logits", "loss", '{"logits": [[1e400, 2]], "targets": [0]}')
bad_json("real_overflow_seed", "sample", '{"weights": [1], "seed": 1e400}')

# Raw bytes: invalid UTF-8 and NUL bytes, inside and outside strings.
for name, raw in [
    ("invalid_utf8_ff_fe", b'{"scheme": "\xff\xfe", "counts": [1]}'),
    ("invalid_utf8_overlong_slash", b'{"scheme": "\xc0\xaf", "counts": [1]}'),
    ("invalid_utf8_encoded_surrogate", b'{"scheme": "\xed\xa0\x80", "counts": [1]}'),
    ("invalid_utf8_truncated_sequence", b'{"scheme": "\xe2\x82", "counts": [1]}'),
    ("invalid_utf8_in_key", b'{"co\xffunts": [1, 2]}'),
    ("invalid_utf8_outside_string", b'{"counts": [1, 2]\xff}'),
    ("invalid_utf8_above_u10ffff", b'{"scheme": "\xf4\x90\x80\x80", "counts": [1]}'),
    ("utf8_bom", b'\xef\xbb\xbf{"counts": [1, 2]}'),
    ("raw_nul_in_string", b'{"scheme": "inv\x00erse", "counts": [1]}'),
    ("raw_nul_in_key", b'{"cou\x00nts": [1, 2]}'),
    ("raw_nul_before_body", b'\x00{"counts": [1, 2]}'),
    ("raw_nul_between_tokens", b'{"counts":\x00[1, 2]}'),
    ("only_nul_bytes", b"\x00" * 64),
    ("utf16_body", '{"counts": [1, 2]}'.encode("utf-16")),
]:
    add(name, "invalid_json", "/weights", raw=raw)
add("invalid_utf8_sample_generator", "invalid_json", "/sample",
    raw=b'{"weights": [1], "generator": "\xfe"}')
add("invalid_utf8_loss_reduction", "invalid_json", "/loss",
    raw=b'{"logits": [[1, 2]], "targets": [0], "reduction": "\x80"}')

# Valid JSON, but not an object.
for name, body in [("top_level_array", "[1, 2]"), ("top_level_empty_array", "[]"),
                   ("top_level_deep_array", "[" * 1000 + "]" * 1000)]:
    bad_arg(name, "weights", body)
bad_arg("top_level_array_loss", "loss", '[[1, 2]]')
bad_arg("top_level_array_sample", "sample", '[1, 2, 3]')

# ---- wrong types in every field of every endpoint --------------------------------
# The base body makes the field applicable, so that its type is the only fault.
NUM_ARRAY_BAD = [None, True, "1", 1, 1.5, [[1]], ["1"], [None], [True], [-1], [{}], [[]]]
INT_ARRAY_BAD = [None, True, "0", 0, {}, [0.5], ["0"], [None], [True], [[0]], [1.0]]
TENSOR_BAD = [None, True, "1", {}, [["x"]], [[None]], [[True]], [[{}]], [[[1, 2], [3]]]]
INT_BAD = [None, True, "1", 1.5, 1.0, [], {}, [1]]
UINT64_BAD = [None, True, "1", 1.5, 1.0, -1, [], {}, 18446744073709551616,
              -123456789012345678901234567890]
ENUM_BAD = [None, True, 1, [], {}, "", "nope", "INVERSE", " inverse"]
BOOL_BAD = [None, 0, 1, "true", "false", [], {}, [True]]
NUMBER_BAD = [None, True, "0.5", [], {}, [0.5]]
# A seed may also be a string of decimal digits ("1" is a seed): only other strings are bad.
SEED_BAD = [v for v in UINT64_BAD if v != "1"] + ["", "x", "-1", "1 ", "1.5", "1e3", "0x10",
                                                  "18446744073709551616"]


def tname(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool_" + str(v).lower()
    if isinstance(v, str):
        return "string_" + ("".join(ch if ch.isalnum() else "_" for ch in v) or "empty")
    if isinstance(v, float):
        return "real_" + repr(v).replace(".", "p").replace("-", "m")
    if isinstance(v, int):
        return ("int_" + str(v).replace("-", "m"))[:24]
    if isinstance(v, list):
        return "array_" + ("empty" if not v else tname(v[0]))
    return "object" if not v else "object_" + tname(list(v.values())[0])


FIELDS = {
    "weights": [
        ("counts", {}, NUM_ARRAY_BAD + [{"a": "1"}, {"a": -1}, {"a": None}]),
        ("labels", {}, INT_ARRAY_BAD),
        ("num_classes", {"labels": [0, 1]}, INT_BAD + [0, -1]),
        ("scheme", {"counts": [3, 1]}, ENUM_BAD),
        ("beta", {"counts": [3, 1], "scheme": "effective_number"}, NUMBER_BAD + [1, 1.5, -0.1]),
        ("c", {"counts": [3, 1], "scheme": "enet"}, NUMBER_BAD + [1, 0.5, -2]),
        ("normalize", {"counts": [3, 1]}, ENUM_BAD),
        ("zero_counts", {"counts": [3, 1]}, ENUM_BAD),
        ("sample_weights", {"labels": [0, 1]}, BOOL_BAD),
    ],
    "sample": [
        ("weights", {"seed": 1}, NUM_ARRAY_BAD),
        ("labels", {"seed": 1}, INT_ARRAY_BAD),
        ("class_weights", {"labels": [0, 1], "seed": 1}, NUM_ARRAY_BAD),
        ("num_samples", {"weights": [1, 2], "seed": 1}, INT_BAD + [0, -1]),
        ("replacement", {"weights": [1, 2], "seed": 1}, BOOL_BAD),
        ("seed", {"weights": [1, 2]}, SEED_BAD),
        ("epoch", {"weights": [1, 2], "seed": 1}, UINT64_BAD),
        ("generator", {"weights": [1, 2], "seed": 1}, ENUM_BAD),
        ("world_size", {"weights": [1, 2], "seed": 1}, INT_BAD + [0, -1]),
        ("rank", {"weights": [1, 2], "seed": 1, "world_size": 2}, INT_BAD + [-1, 2]),
    ],
    "loss": [
        ("loss", {"logits": [[1, 2]], "targets": [0]}, ENUM_BAD),
        ("logits", {"targets": [0]}, TENSOR_BAD + [1]),
        ("log_probs", {"loss": "nll", "targets": [0]}, TENSOR_BAD + [1]),
        ("targets", {"logits": [[1, 2]]}, TENSOR_BAD + [[0.5], [[0, 1, 2]]]),
        ("weights", {"logits": [[1, 2]], "targets": [0]}, NUM_ARRAY_BAD + [[1]]),
        ("pos_weight", {"loss": "bce_with_logits", "logits": [[1, 2]], "targets": [[0, 1]]},
         NUM_ARRAY_BAD + [[1, 2, 3]]),
        ("reduction", {"logits": [[1, 2]], "targets": [0]}, ENUM_BAD),
        ("ignore_index", {"logits": [[1, 2]], "targets": [0]}, INT_BAD),
        ("label_smoothing", {"logits": [[1, 2]], "targets": [0]}, NUMBER_BAD + [-0.1, 1.5]),
        ("gamma", {"loss": "focal", "logits": [[1, 2]], "targets": [0]}, NUMBER_BAD + [-1]),
        ("alpha", {"loss": "sigmoid_focal", "logits": [[1, 2]], "targets": [[0, 1]]},
         NUMBER_BAD + [-0.5, 1.5, -2]),
        ("grad", {"logits": [[1, 2]], "targets": [0]}, BOOL_BAD),
    ],
}
for ep, rows in FIELDS.items():
    for field, base, bad in rows:
        for v in bad:
            body = dict(base)
            body[field] = v
            bad_arg("type_%s_%s_%s" % (ep, field, tname(v)), ep, body)

# Fields that do not belong, or are unknown.
bad_arg("unknown_field_weights", "weights", {"counts": [1], "reducton": "sum"})
bad_arg("unknown_field_sample", "sample", {"weights": [1], "seed": 1, "Seed": 1})
bad_arg("unknown_field_loss", "loss", {"logits": [[1, 2]], "targets": [0], "reducton": "sum"})
bad_arg("empty_key", "weights", {"counts": [1], "": 1})
bad_arg("empty_object_weights", "weights", {})
bad_arg("empty_object_sample", "sample", {})
bad_arg("empty_object_loss", "loss", {})
bad_arg("field_of_other_loss", "loss", {"logits": [[1, 2]], "targets": [0], "alpha": 0.5})
bad_arg("counts_and_labels", "weights", {"counts": [1], "labels": [0]})
bad_arg("weights_and_labels", "sample", {"weights": [1], "labels": [0], "seed": 1})

# ---- numbers at the edges -----------------------------------------------------------
D30 = "123456789012345678901234567890"
for name, ep, body in [
    ("num_samples_30_digits", "sample", '{"weights": [1], "seed": 1, "num_samples": %s}' % D30),
    ("num_samples_neg_30_digits", "sample", '{"weights": [1], "seed": 1, "num_samples": -%s}' % D30),
    ("seed_30_digits", "sample", '{"weights": [1], "seed": %s}' % D30),
    ("seed_2_to_64", "sample", '{"weights": [1], "seed": 18446744073709551616}'),
    ("seed_negative", "sample", '{"weights": [1], "seed": -1}'),
    ("seed_minus_zero_real", "sample", '{"weights": [1], "seed": -0.0}'),
    ("epoch_30_digits", "sample", '{"weights": [1], "seed": 1, "epoch": %s}' % D30),
    ("world_size_30_digits", "sample", '{"weights": [1], "seed": 1, "world_size": %s}' % D30),
    ("rank_30_digits", "sample", '{"weights": [1], "seed": 1, "world_size": 2, "rank": %s}' % D30),
    ("num_samples_minus_zero", "sample", '{"weights": [1], "seed": 1, "num_samples": -0}'),
    ("num_samples_1e_minus_400", "sample", '{"weights": [1], "seed": 1, "num_samples": 1e-400}'),
    ("num_samples_int_as_exponent", "sample", '{"weights": [1], "seed": 1, "num_samples": 1e2}'),
    ("weight_negative_tiny", "sample", '{"weights": [1, -1e-300], "seed": 1}'),
    ("weight_negative_huge", "sample", '{"weights": [1, -1.7976931348623157e308], "seed": 1}'),
    ("weights_all_minus_zero", "sample", '{"weights": [-0.0, -0], "seed": 1}'),
    ("weights_all_1e_minus_400", "sample", '{"weights": [1e-400, 1e-400], "seed": 1}'),
    ("weights_30_digit_and_negative", "sample", '{"weights": [%s, -1], "seed": 1}' % D30),
    ("num_classes_30_digits", "weights", '{"labels": [0], "num_classes": %s}' % D30),
    ("num_classes_minus_zero", "weights", '{"labels": [0], "num_classes": -0}'),
    ("label_neg_30_digits", "weights", '{"labels": [0, -%s]}' % D30),
    ("count_negative_huge", "weights", '{"counts": [1, -1e308]}'),
    ("counts_all_minus_zero", "weights", '{"counts": [-0, -0.0]}'),
    ("counts_all_1e_minus_400", "weights", '{"counts": [1e-400, 0]}'),
    ("beta_1e_minus_400_wrong_scheme", "weights", '{"counts": [1], "beta": 1e-400}'),
    ("c_30_digits_wrong_scheme", "weights", '{"counts": [1], "c": %s}' % D30),
    ("label_smoothing_1e_minus_400_focal", "loss",
     '{"loss": "focal", "logits": [[1, 2]], "targets": [0], "label_smoothing": 1e-400}'),
    ("gamma_huge_negative", "loss",
     '{"loss": "focal", "logits": [[1, 2]], "targets": [0], "gamma": -1.7976931348623157e308}'),
    ("target_30_digits", "loss", '{"logits": [[1, 2]], "targets": [%s]}' % D30),
    ("target_neg_30_digits", "loss", '{"logits": [[1, 2]], "targets": [-%s]}' % D30),
    ("target_2_to_63", "loss", '{"logits": [[1, 2]], "targets": [9223372036854775808]}'),
    ("target_huge_real", "loss", '{"logits": [[1, 2]], "targets": [1e300]}'),
    ("target_minus_zero_real_is_not_index", "loss", '{"logits": [[1, 2]], "targets": [-0.0]}'),
    ("ignore_index_real", "loss", '{"logits": [[1, 2]], "targets": [0], "ignore_index": -100.0}'),
]:
    bad_arg(name, ep, body)

# ---- shapes ---------------------------------------------------------------------------
def nest(depth, leaf="0.5"):
    """A leaf inside depth arrays, as text (Python's json recurses)."""
    return "[" * depth + leaf + "]" * depth


for depth in (17, 18, 64, 2000):
    bad_arg("logits_%d_dims" % depth, "loss", '{"logits": %s, "targets": 0}' % nest(depth))
bad_arg("targets_17_dims", "loss", '{"logits": [[1, 2]], "targets": %s}' % nest(17, "0"))
bad_arg("binary_17_dims", "loss",
        '{"loss": "bce_with_logits", "logits": %s, "targets": %s}' % (nest(17), nest(17)))
# Ragged at several depths.
for name, logits in [
    ("ragged_depth1", [[1, 2], [3]]),
    ("ragged_depth1_longer", [[1, 2], [3, 4, 5]]),
    ("ragged_depth2", [[[1, 2], [3, 4]], [[5, 6], [7]]]),
    ("ragged_depth3", [[[[1], [2]], [[3], [4]]], [[[5], [6]], [[7], [8, 9]]]]),
    ("ragged_scalar_in_row", [[1, 2], 3]),
    ("ragged_row_in_leaves", [[1, [2]], [3, 4]]),
    ("ragged_empty_row", [[1, 2], []]),
    ("ragged_last_row", [[1, 2], [3, 4], [5, 6], [7, 8], [9]]),
]:
    bad_arg("logits_" + name, "loss", {"logits": logits, "targets": [0] * len(logits)})
bad_arg("targets_ragged", "loss", {"logits": [[1, 2, 3], [4, 5, 6]], "targets": [[0.5, 0.5, 0], [1]]})
bad_arg("binary_ragged", "loss", {"loss": "bce_with_logits", "logits": [[1, 2], [3]], "targets": [[0, 1], [1]]})
bad_arg("targets_shape_mismatch", "loss", {"logits": [[1, 2], [3, 4]], "targets": [0, 1, 0]})
bad_arg("targets_out_of_bounds", "loss", {"logits": [[1, 2]], "targets": [2]})
bad_arg("logits_empty_classes", "loss", {"logits": [[]], "targets": [0]})


def first_path(lengths, leaf="0"):
    """A nested array whose first-element path has the given lengths, with
    zeros elsewhere: a few KB that announce a shape of prod(lengths)."""
    s = leaf
    for n in reversed(lengths):
        s = "[" + s + ",0" * (n - 1) + "]"
    return s


limit("shape_product_1e9", "loss", '{"logits": %s, "targets": [0]}' % first_path([1000, 1000, 1000]))
limit("shape_product_over_2_64", "loss",
      '{"logits": %s, "targets": [0]}' % first_path([1000] * 7))
limit("shape_product_over_2_64_16_dims", "loss",
      '{"logits": %s, "targets": [0]}' % first_path([20] * 16))
limit("targets_shape_product_1e9", "loss",
      '{"logits": [[1, 2]], "targets": %s}' % first_path([1000, 1000, 1000]))

# ---- work over the server's limits -------------------------------------------------
M = LIMITS["max_items"]
limit("counts_over_max_items", "weights", '{"counts": [%s]}' % ",".join(["1"] * (M + 1)))
limit("counts_object_over_max_items", "weights",
      '{"counts": {%s}}' % ",".join('"%d":1' % i for i in range(M + 1)))
limit("labels_over_max_items", "weights", '{"labels": [%s]}' % ",".join(["0"] * (M + 1)))
limit("num_classes_over_max_items", "weights", {"labels": [0], "num_classes": M + 1})
limit("num_classes_huge", "weights", {"labels": [0], "num_classes": 10 ** 18})
limit("label_value_over_max_items", "weights", {"labels": [0, 10 ** 12]})
limit("sample_weights_over_max_items", "sample", '{"weights": [%s], "seed": 1}' % ",".join(["1"] * (M + 1)))
limit("num_samples_over_max_samples", "sample", {"weights": [1], "seed": 1, "num_samples": M + 1})
limit("num_samples_huge", "sample", {"weights": [1], "seed": 1, "num_samples": 2 ** 62})
limit("num_samples_int64_max", "sample", {"weights": [1], "seed": 1, "num_samples": 2 ** 63 - 1})
limit("sample_label_value_huge", "sample", {"labels": [0, 10 ** 15], "seed": 1})
limit("logits_over_max_elements", "loss",
      '{"loss": "bce_with_logits", "logits": [%s], "targets": [0]}' % ",".join(["0"] * (M + 1)))

# ---- bodies over --max-body -----------------------------------------------------------
# Refused from Content-Length before the body is read (the connection is
# closed after the answer), so the body itself can stay small.
# (A Content-Length of 2^64 or more is refused by libmicrohttpd itself, with
# its own 413 page: that one is a raw-socket case of test_hostile.py.)
for name, cl in [("just_over", MAX_BODY + 1), ("huge", 10 ** 15), ("2_63", 2 ** 63)]:
    add("content_length_%s_max_body" % name, "payload_too_large", "/weights", body="{}",
        headers={"Content-Length": str(cl)})

# ---- methods and paths ------------------------------------------------------------------
for path in ("/weights", "/sample", "/loss"):
    for m in ("GET", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT", "BREW"):
        add("method_%s_%s" % (m.lower(), path[1:]), "method_not_allowed", path, method=m,
            body=None if m in ("GET", "TRACE", "OPTIONS", "CONNECT") else "{}")
    add("method_head_" + path[1:], None, path, method="HEAD", status=405)
for path in ("/healthz", "/readyz", "/version", "/openapi.yaml", "/metrics"):
    add("method_post" + path.replace("/", "_").replace(".", "_"), "method_not_allowed", path,
        body="{}")
    add("method_delete" + path.replace("/", "_").replace(".", "_"), "method_not_allowed", path,
        method="DELETE")
# GET / redirects to /docs, so POST / is a known path with the wrong method.
add("path_root", "method_not_allowed", "/", body=VALID["weights"])
for name, path in [
    ("trailing_slash", "/weights/"), ("upper_case", "/WEIGHTS"),
    ("mixed_case", "/Sample"), ("double_slash", "//weights"), ("dot_segment", "/./weights"),
    ("dotdot_etc_passwd", "/../etc/passwd"), ("encoded_dotdot", "/%2e%2e/etc/passwd"),
    ("encoded_slash", "/weights%2f"), ("dotdot_inside", "/sample/../weights"),
    ("semicolon", "/weights;x=1"), ("suffix", "/weights.json"), ("prefix", "/api/weights"),
    ("percent_ff", "/%ff%fe"), ("bad_percent", "/weights%zz"), ("long_path_4k", "/" + "a" * 4000),
    ("long_path_segments", "/weights" * 500), ("healthz_trailing", "/healthz/"),
    ("unicode_path", "/w%C3%A9ights"),
]:
    add("path_" + name, "not_found", path, body=VALID["weights"])
# A query string is not part of the path: /weights?x=1 is /weights. The server
# decides by the body: here an empty object, so invalid_argument (and a valid
# body gets 200, which test_hostile.py checks outside the corpus).
add("path_query_string_is_ignored", "invalid_argument", "/weights?x=1", body="{}")
add("path_query_string_only_question", "invalid_argument", "/sample?", body="{}")
add("path_unknown_with_query", "not_found", "/nope?path=/weights", body="{}")

# ---- content types --------------------------------------------------------------------
for name, ctype in [("text_plain", "text/plain"), ("xml", "application/xml"),
                    ("octet_stream", "application/octet-stream"),
                    ("json_suffix", "application/jsonx"), ("json_patch", "application/json-patch+json"),
                    ("text_json", "text/json"), ("wildcard", "*/*"), ("app_wildcard", "application/*"),
                    ("garbage", "%%%"), ("json_no_subtype", "application/"),
                    ("json_with_junk", "application/json,text/plain")]:
    for ep in ("weights", "loss"):
        add("content_type_%s_%s" % (name, ep), "unsupported_media_type", "/" + ep,
            body=VALID[ep], headers={"Content-Type": ctype})

# multipart/form-data is documented for .npy parts: a body that is not one
# is a bad request, not a bad type.
for name, ctype, code in [("no_boundary", "multipart/form-data", "invalid_argument"),
                          ("one_char_boundary", "multipart/form-data; boundary=x", "invalid_argument"),
                          ("json_body", "multipart/form-data; boundary=xyz123", "invalid_argument")]:
    for ep in ("weights", "sample"):
        add("multipart_%s_%s" % (name, ep), code, "/" + ep, body=VALID[ep],
            headers={"Content-Type": ctype})

if __name__ == "__main__":
    out = {
        "generator": "tests/hostile/gen_hostile.py",
        "server_args": SERVER_ARGS,
        "limits": LIMITS,
        "cases": cases,
    }
    path = os.path.join(HERE, "cases.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print("%s: %d cases" % (os.path.relpath(path), len(cases)))
