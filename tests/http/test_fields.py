#!/usr/bin/env python3
"""The request forms of the api layer against the contract: every field of
the tables in api/weights.c, api/sample.c and api/loss.c (as the helper
$(BUILD)/dump_fields prints them, mk/fields.mk) must be described by
api/openapi.yaml exactly, and nothing else may be:

- the properties of WeightsRequest, SampleRequest and LossRequest are the
  table's names, and those of their multipart forms `request` plus the array
  fields (NpyArray parts);
- types (integer int64, integer uint64 — and a digit string where the row
  takes one —, number, boolean, string with the enum of its choices, in
  order; an array field's schema takes an array), defaults, ranges
  (minimum, maximum, exclusiveMinimum/exclusiveMaximum; a value allowed
  outside the range as an `anyOf` with its `enum`);
- `required` lists the fields that every request must send; the rules between
  fields are OpenAPI extensions that generated clients ignore (oneOf/anyOf/not
  clauses would make them loose or unusable): a field that applies to some
  values of an enum field only has `x-only-with: {loss: [focal,
  sigmoid_focal]}` (and `x-required: true` when it must be sent whenever it
  applies: logits unless loss is nll), and the schema's `x-rules` lists the
  table's rules (`{one-of: [counts, labels]}`, `{needs: [class_weights,
  labels]}`, `{excludes: [counts, num_classes]}`);
- every field appears in README.md's table for its endpoint, and has a doc.

A mismatch in either direction fails: the document cannot drift from the
code. Needs PyYAML (Debian: python3-yaml)."""
import json
import os
import re
import subprocess
import sys

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ROOT, check, main, test  # noqa: E402

U64_MAX = 2 ** 64 - 1
SCHEMA = {"weights": "WeightsRequest", "sample": "SampleRequest", "loss": "LossRequest"}
# The rules between fields are x-rules and x-only-with, not oneOf/anyOf/not
# clauses (which make generated clients loose or unusable).
TOP_KEYS = {"type", "additionalProperties", "description", "properties", "required", "x-rules"}


def dump():
    build = os.path.dirname(os.path.abspath(os.environ.get("BALLASTD", "build/ballastd")))
    out = subprocess.run([os.path.join(build, "dump_fields")], capture_output=True, check=True,
                         timeout=30)
    return {f["endpoint"]: f for f in json.loads(out.stdout)["forms"]}


with open(os.path.join(ROOT, "api", "openapi.yaml")) as f:
    DOC = yaml.safe_load(f)
SCHEMAS = DOC["components"]["schemas"]
FORMS = dump()


def resolve(s):
    while isinstance(s, dict) and "$ref" in s:
        s = SCHEMAS[s["$ref"].split("/")[-1]]
    return s


def takes_array(s, depth=0):
    """Whether a value of schema s may be an array."""
    s = resolve(s)
    if depth > 8 or not isinstance(s, dict):
        return False
    if s.get("type") == "array":
        return True
    return any(takes_array(x, depth + 1) for k in ("oneOf", "anyOf", "allOf") for x in s.get(k, []))


def canon(x):
    """A comparable form of a schema clause: lists of alternatives, required
    names and enums are sets."""
    if isinstance(x, dict):
        out = {}
        for k, v in x.items():
            if k in ("anyOf", "oneOf", "allOf", "required", "enum") and isinstance(v, list):
                out[k] = sorted((canon(i) for i in v), key=lambda i: json.dumps(i, sort_keys=True))
            else:
                out[k] = canon(v)
        return out
    if isinstance(x, list):
        return [canon(i) for i in x]
    if isinstance(x, float) and x.is_integer():
        return int(x)  # 1.0 in the table is 1 in YAML
    return x


def key(x):
    return json.dumps(canon(x), sort_keys=True)


RULE_KEYS = {"one_of": "one-of", "needs": "needs", "excludes": "excludes"}


def rule_problems(form, s):
    """The rules between fields: the schema's x-rules, one entry per rule of
    the table ({"one-of": [counts, labels]}, {"needs": [class_weights,
    labels]}, {"excludes": [counts, num_classes]})."""
    also = {}  # one_of_also: one more choice of the one-of rule of the same a
    for r in form["rules"]:
        if r["kind"] == "one_of_also":
            also.setdefault(r["a"], []).append(r["b"])
    want = sorted(key({RULE_KEYS[r["kind"]]: [r["a"], r["b"]] +
                       (also.get(r["a"], []) if r["kind"] == "one_of" else [])})
                  for r in form["rules"] if r["kind"] != "one_of_also")
    got = sorted(key(r) for r in s.get("x-rules", []))
    if want != got:
        return ["x-rules %s, not %s" % (got, want)]
    return []


def only_problems(f, p):
    """A field that applies to some values of an enum field only: its
    x-only-with {field: [values]}; x-required: true when it must be sent
    whenever it applies."""
    name, only = f["name"], f.get("only")
    want = {only["field"]: only["values"]} if only else None
    probs = []
    if p.get("x-only-with") != want:
        probs.append("%s: x-only-with %r, not %r" % (name, p.get("x-only-with"), want))
    if bool(p.get("x-required")) != bool(f["required"] and only):
        probs.append("%s: x-required %r, the table says %s" % (
            name, p.get("x-required"), "required when it applies" if f["required"] else "optional"))
    return probs


def type_problems(f, p):
    t, name = f["type"], f["name"]
    probs = []
    u64 = {"type": "integer", "format": "uint64", "minimum": 0, "maximum": U64_MAX}
    if t == "bool":
        probs += [] if p.get("type") == "boolean" else ["%s: type %r, not boolean" % (name, p.get("type"))]
    elif t == "int":
        if (p.get("type"), p.get("format")) != ("integer", "int64"):
            probs.append("%s: not an integer of format int64" % name)
    elif t == "uint64" and f["decimal_string"]:
        want = [u64, {"type": "string", "pattern": "^[0-9]+$"}]
        if key(p.get("oneOf")) != key(want):
            probs.append("%s: oneOf %r, not %r" % (name, p.get("oneOf"), want))
    elif t == "uint64":
        if {k: p.get(k) for k in u64} != u64:
            probs.append("%s: not an integer of format uint64 in [0, 2^64 - 1]" % name)
    elif t == "number":
        probs += [] if p.get("type") == "number" else ["%s: type %r, not number" % (name, p.get("type"))]
    elif t == "enum":
        if p.get("type") != "string" or p.get("enum") != f["choices"]:
            probs.append("%s: enum %r, not %r" % (name, p.get("enum"), f["choices"]))
    elif t == "array":
        probs += [] if takes_array(p) else ["%s: its schema takes no array" % name]
    return probs


def range_problems(f, p):
    name, r = f["name"], f.get("range")
    got = {k: p[k] for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
           if k in p and p[k] is not False}
    want = {}
    if f["type"] == "uint64":
        return []
    if r:
        lo, hi, also = r["min"], r["max"], r.get("also")
        want["minimum"] = min(lo, also) if also is not None else lo
        if hi is not None:
            want["maximum"] = max(hi, also) if also is not None else hi
        if r["min_open"]:
            want["exclusiveMinimum"] = True
        if r["max_open"]:
            want["exclusiveMaximum"] = True
        if also is not None:
            branch = {"minimum": lo, "maximum": hi} if hi is not None else {"minimum": lo}
            alts = [branch, {"enum": [also]}]
            if key(p.get("anyOf")) != key(alts):
                return ["%s: anyOf %r, not %r" % (name, p.get("anyOf"), alts)]
    if got != want:
        return ["%s: range %r, not %r" % (name, got, want)]
    return []


def default_problems(f, p):
    name = f["name"]
    if "default" not in f:
        return ["%s: default %r in the document, none in the table" % (name, p["default"])] \
            if "default" in p else []
    if "default" not in p:
        return ["%s: default %r in the table, none in the document" % (name, f["default"])]
    d, want = p["default"], f["default"]
    if type(d) is bool or type(want) is bool:
        same = d is want
    else:
        same = d == want
    return [] if same else ["%s: default %r, not %r" % (name, d, want)]


def schema_problems(endpoint):
    form, s = FORMS[endpoint], SCHEMAS[SCHEMA[endpoint]]
    probs = []
    props = s.get("properties", {})
    names = [f["name"] for f in form["fields"]]
    if set(props) != set(names):
        probs.append("properties %s, fields %s" % (sorted(props), sorted(names)))
    if s.get("additionalProperties") is not False:
        probs.append("additionalProperties is not false")
    if set(s) - TOP_KEYS:
        probs.append("clauses beside the tables' x-rules and x-only-with: %s" % sorted(set(s) - TOP_KEYS))
    for f in form["fields"]:
        p = props.get(f["name"])
        if p is None:
            continue
        probs += type_problems(f, p) + range_problems(f, p) + default_problems(f, p)
        probs += only_problems(f, p)
        if not f["doc"]:
            probs.append("%s: no doc string in the table" % f["name"])
    always = sorted(f["name"] for f in form["fields"] if f["required"] and not f.get("only"))
    if sorted(s.get("required", [])) != always:
        probs.append("required %s, not %s" % (sorted(s.get("required", [])), always))
    return probs + rule_problems(form, s)


def multipart_problems(endpoint):
    s = SCHEMAS[SCHEMA[endpoint].replace("Request", "MultipartRequest")]
    arrays = {f["name"] for f in FORMS[endpoint]["fields"]
              if f["type"] == "array" and not f.get("json_only")}  # label_sets: JSON only
    props = s.get("properties", {})
    probs = []
    if set(props) != arrays | {"request"}:
        probs.append("multipart properties %s, not request and %s" % (sorted(props), sorted(arrays)))
    for n in arrays & set(props):
        if props[n] != {"$ref": "#/components/schemas/NpyArray"}:
            probs.append("multipart %s is not an NpyArray" % n)
    if s.get("additionalProperties") is not False:
        probs.append("multipart additionalProperties is not false")
    return probs


def readme_problems(endpoint):
    text = open(os.path.join(ROOT, "README.md")).read()
    m = re.search(r"^## POST /%s\n(.*?)(?=^## )" % endpoint, text, re.S | re.M)
    if not m:
        return ["README has no section ## POST /%s" % endpoint]
    table = re.search(r"^\| field \|.*?\n((?:\|.*\n)+)", m.group(1), re.M)
    if not table:
        return ["README's POST /%s has no field table" % endpoint]
    listed = set()
    for row in table.group(1).splitlines():
        listed |= set(re.findall(r"`([a-z_]+)`", row.split("|")[1]))
    names = {f["name"] for f in FORMS[endpoint]["fields"]}
    probs = []
    if names - listed:
        probs.append("README's /%s table lacks %s" % (endpoint, sorted(names - listed)))
    if listed - names:
        probs.append("README's /%s table lists %s, not fields" % (endpoint, sorted(listed - names)))
    return probs


def run(endpoint):
    probs = schema_problems(endpoint) + multipart_problems(endpoint) + readme_problems(endpoint)
    n = len(FORMS[endpoint]["fields"])
    print("%s: %d fields, %d rules: %s" % (
        SCHEMA[endpoint], n, len(FORMS[endpoint]["rules"]),
        "as the tables say" if not probs else "%d mismatches" % len(probs)))
    check(not probs, "\n".join(probs))


@test
def weights_form():
    run("weights")


@test
def sample_form():
    run("sample")


@test
def loss_form():
    run("loss")


@test
def a_drifted_document_fails():
    """The check itself: a copy of the document with one default, one range,
    one enum and one clause changed yields a mismatch for each."""
    global SCHEMAS
    saved = SCHEMAS
    try:
        bad = json.loads(json.dumps(saved))
        bad["WeightsRequest"]["properties"]["beta"]["default"] = 0.99
        bad["SampleRequest"]["properties"]["rank"]["minimum"] = 1
        bad["LossRequest"]["properties"]["reduction"]["enum"] = ["mean", "sum"]
        del bad["LossRequest"]["properties"]["gamma"]["x-only-with"]
        bad["SampleRequest"]["x-rules"] = bad["SampleRequest"]["x-rules"][1:]
        SCHEMAS = bad
        check(any("beta: default" in p for p in schema_problems("weights")), "beta's default")
        probs = schema_problems("sample")
        check(any("rank: range" in p for p in probs), "rank's range")
        check(any("x-rules" in p for p in probs), "a missing rule")
        probs = schema_problems("loss")
        check(any("reduction: enum" in p for p in probs), "reduction's enum")
        check(any("gamma: x-only-with" in p for p in probs), "gamma's loss")
    finally:
        SCHEMAS = saved


if __name__ == "__main__":
    main("fields")
