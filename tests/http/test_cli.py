#!/usr/bin/env python3
"""The command-line tool, build/ballast, against the daemon.

`ballast weights|sample|loss [FILE|-]` goes through the same api layer as
ballastd's POST routes, so for the same request document its standard output
(or, for a refused request, its standard error) must be byte for byte the body
that the daemon answers. Also: exit statuses (0, 1 refused, 2 usage, 3
unavailable), --help, --version, files and stdin, the input limit.

The binary is build/ballast next to $BALLASTD (the directory make built)."""
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BALLASTD, ROOT, Server, check, eq, main, test  # noqa: E402

CLI = os.path.join(os.path.dirname(os.path.abspath(BALLASTD)), "ballast")
STATUS = {"ok": 200, "invalid_json": 400, "invalid_argument": 400, "limit_exceeded": 400}

srv = None  # the shared daemon, started in __main__


def version_h():
    """BL_VERSION from lib/ballast.h, the one place the version is written."""
    with open(os.path.join(ROOT, "lib", "ballast.h")) as f:
        return re.search(r'^#define BL_VERSION "([^"]+)"', f.read(), re.M).group(1)


def cli(*args, stdin=b"", stdout=subprocess.PIPE):
    """(exit status, stdout bytes, stderr bytes) of one run of the CLI."""
    if isinstance(stdin, str):
        stdin = stdin.encode()
    r = subprocess.run([CLI, *args], input=stdin, stdout=stdout, stderr=subprocess.PIPE,
                       timeout=60)
    return r.returncode, r.stdout, r.stderr


def daemon(endpoint, body):
    """(status, body bytes) of the daemon for the same request document."""
    status, _, data = srv.request("POST", "/" + endpoint, body)
    return status, data


def as_text(body):
    return body if isinstance(body, (str, bytes)) else json.dumps(body)


def same_as_daemon(endpoint, body, *args, what=""):
    """Runs the CLI on body (stdin unless args name a file) and checks that it
    answers exactly what the daemon answers. Returns the parsed document."""
    text = as_text(body)
    status, want = daemon(endpoint, text)
    rc, out, err = cli(endpoint, *args, stdin=text)
    what = what or "%s %s" % (endpoint, text[:80])
    check(want.endswith(b"\n"), "%s: the daemon's body lacks a final newline" % what)
    if status == 200:
        eq(rc, 0, what + ": exit status")
        eq(out, want, what + ": stdout vs the daemon's body")
        eq(err, b"", what + ": stderr")
    else:
        check(400 <= status < 500, "%s: daemon status %d" % (what, status))
        eq(rc, 1, what + ": exit status")
        eq(out, b"", what + ": stdout")
        eq(err, want, what + ": stderr vs the daemon's body")
    return json.loads(want)


# ---- the same answers -----------------------------------------------------

DOCUMENTS = [
    ("weights", {"counts": [100000, 100, 10]}),
    ("weights", {"counts": {"normal": 100000, "flu": 100, "rare": 10}, "scheme": "balanced",
                 "normalize": "mean"}),
    ("weights", {"labels": [0, 0, 1, 2, 2, 2], "sample_weights": True}),
    ("weights", {"counts": [3, 0, 7], "scheme": "effective_number", "beta": 0.99,
                 "zero_counts": "zero", "normalize": "sum"}),
    ("weights", {"counts": [1, 2, 7, 9], "scheme": "median_frequency"}),
    ("sample", {"weights": [100000, 100, 10], "num_samples": 3, "replacement": False,
                "seed": 0, "generator": "torch"}),
    ("sample", {"weights": [0.1, 0.2, 0.3, 0.4], "num_samples": 50, "seed": 42, "epoch": 3}),
    ("sample", {"labels": [0, 0, 0, 1, 2], "num_samples": 7, "seed": 18446744073709551615,
                "world_size": 3, "rank": 2}),
    ("loss", {"logits": [[1, 2], [1, 3], [1, 3]], "targets": [0, 1, 1], "weights": [1, 2],
              "reduction": "none"}),
    ("loss", {"logits": [[1, 2, 0.5]], "targets": [[0.2, 0.3, 0.5]], "label_smoothing": 0.1,
              "grad": True}),
    ("loss", {"loss": "sigmoid_focal", "logits": [[0.3, -2], [4, 0]],
              "targets": [[1, 0], [0, 1]], "reduction": "sum", "grad": True}),
    ("loss", {"logits": [[1, 2]], "targets": [-100]}),  # mean of nothing: null + warning
]


@test
def stdin_answers_like_the_daemon():
    for endpoint, body in DOCUMENTS:
        doc = same_as_daemon(endpoint, body)
        check("error" not in doc, "%s: %r" % (endpoint, doc))


@test
def file_and_dash_answer_like_stdin():
    with tempfile.TemporaryDirectory() as tmp:
        for i, (endpoint, body) in enumerate(DOCUMENTS):
            path = os.path.join(tmp, "req%d.json" % i)
            with open(path, "w") as f:
                f.write(json.dumps(body))
            same_as_daemon(endpoint, body, path, what="%s FILE" % endpoint)
            same_as_daemon(endpoint, body, "-", what="%s -" % endpoint)
        # "--" ends the options: a file whose name starts with a dash.
        odd = os.path.join(tmp, "-req.json")
        with open(odd, "w") as f:
            f.write('{"counts": [2, 1]}')
        r = subprocess.run([CLI, "--", "weights", "-req.json"], cwd=tmp, capture_output=True,
                           timeout=30)
        eq((r.returncode, r.stderr), (0, b""), "-- weights -req.json")
        eq(json.loads(r.stdout)["weights"], [1.0, 2.0], "-- weights -req.json")


@test
def every_api_case_answers_like_the_daemon():
    """The data-driven cases of the api layer (tests/cases/api_cases.json),
    good and bad, through the CLI and the daemon: identical bytes. Cases with
    their own limits need a daemon with other options than the CLI's
    defaults and are left to test_api and test_http."""
    with open(os.path.join(ROOT, "tests", "cases", "api_cases.json")) as f:
        cases = json.load(f)["cases"]
    n = 0
    for c in cases:
        body = c["body"]
        if "limits" in c:
            continue
        if c["endpoint"] == "sample" and c["expect"]["code"] == "ok" and \
                not (isinstance(body, dict) and "seed" in body):
            continue  # a seed from the OS: compared in sample_without_seed
        doc = same_as_daemon(c["endpoint"], body, what=c["name"])
        want = c["expect"]["code"]
        got = doc["error"]["code"] if "error" in doc else "ok"
        eq(got, want, c["name"] + ": code")
        n += 1
    check(n >= 100, "only %d cases compared" % n)
    print("api cases through the CLI and the daemon: %d identical" % n)


@test
def sample_without_seed_replays_on_the_daemon():
    body = {"weights": [5, 1, 1, 3], "num_samples": 20}
    rc, out, err = cli("sample", stdin=json.dumps(body))
    eq((rc, err), (0, b""), "sample without seed")
    doc = json.loads(out)
    check(isinstance(doc["seed"], int) and 0 <= doc["seed"] < 2**64, doc)
    status, want = daemon("sample", json.dumps(dict(body, seed=doc["seed"])))
    eq(status, 200, "daemon status")
    eq(json.loads(want)["indices"], doc["indices"], "the returned seed replays the draw")


@test
def big_document_through_a_pipe():
    """Several MB through stdin and a file (the read buffer grows)."""
    n = 300000
    body = {"weights": [(i % 97) + 0.5 for i in range(n)], "num_samples": 1000, "seed": 7,
            "replacement": False}
    text = json.dumps(body)
    check(len(text) > 1 << 20, "document too small: %d bytes" % len(text))
    same_as_daemon("sample", text, what="sample of %d items via stdin" % n)
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        f.write(text)
        f.flush()
        same_as_daemon("sample", text, f.name, what="sample of %d items via a file" % n)


# ---- refused requests: exit 1, the error document on stderr ---------------

@test
def refused_requests():
    cases = [
        ("weights", "", "invalid_json", None),
        ("weights", "{\"counts\": [1, 2", "invalid_json", None),
        ("weights", {"counts": [1, -2]}, "invalid_argument", "counts[1]"),
        ("weights", {"counts": [1, 2], "reducton": "mean"}, "invalid_argument", "reducton"),
        ("sample", {"weights": [1, 2], "num_samples": 33554433}, "limit_exceeded", None),
        ("loss", {"logits": [[1, 2]], "targets": [5]}, "invalid_argument", "targets[0]"),
        ("loss", [1, 2], "invalid_argument", None),
    ]
    for endpoint, body, code, field in cases:
        doc = same_as_daemon(endpoint, body)
        eq(doc["error"]["code"], code, "%s %r: code" % (endpoint, body))
        if field:
            eq(doc["error"].get("field"), field, "%s %r: field" % (endpoint, body))
        status, _ = daemon(endpoint, as_text(body))
        eq(status, STATUS[code], "daemon status for %s" % code)


@test
def input_over_one_gib_is_refused():
    """A sparse file of 1 GiB + 1 byte: refused from its size, without reading."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "huge.json")
        with open(path, "wb") as f:
            f.truncate((1 << 30) + 1)
        rc, out, err = cli("weights", path)
        eq(rc, 1, "exit status")
        eq(out, b"", "stdout")
        doc = json.loads(err)
        eq(doc["error"]["code"], "payload_too_large", "code")
        check("1073741824" in doc["error"]["message"], doc)


@test
def unwritable_stdout_is_status_3():
    if not os.path.exists("/dev/full"):
        print("no /dev/full; skipped")
        return
    with open("/dev/full", "wb") as full:
        rc, out, err = cli("weights", stdin='{"counts": [1, 2]}', stdout=full)
    eq(rc, 3, "exit status")
    check(err.startswith(b"ballast: cannot write"), err)


# ---- usage: exit 2, a message on stderr -----------------------------------

@test
def usage_errors():
    with tempfile.TemporaryDirectory() as tmp:
        runs = [
            ([], "missing command"),
            (["frobnicate"], "unknown command"),
            (["Weights"], "unknown command"),
            (["--bogus"], "unknown option"),
            (["weights", "-x"], "unknown option"),
            (["weights", "a.json", "b.json"], "too many arguments"),
            (["loss", os.path.join(tmp, "missing.json")], "cannot open"),
            (["sample", tmp], "cannot read"),  # a directory
        ]
        for args, words in runs:
            rc, out, err = cli(*args, stdin='{"counts": [1]}')
            what = "ballast %s" % " ".join(args)
            eq(rc, 2, what + ": exit status")
            eq(out, b"", what + ": stdout")
            text = err.decode()
            check(text.startswith("ballast: ") and words in text, "%s: stderr %r" % (what, text))
            eq(text.count("\n"), 1, what + ": one line on stderr")


@test
def help_and_version():
    for args in (["--help"], ["-h"], ["weights", "--help"]):
        rc, out, err = cli(*args)
        eq((rc, err), (0, b""), " ".join(args))
        text = out.decode()
        check(text.startswith("usage: ballast weights|sample|loss [FILE|-]"), text[:80])
        for word in ("weights", "sample", "loss", "--version", "exit status", "1 GiB"):
            check(word in text, "--help lacks %r" % word)
    rc, out, err = cli("--version")
    eq((rc, out, err), (0, ("ballast %s\n" % version_h()).encode(), b""), "--version")
    status, _, body = srv.request("GET", "/version")
    eq(json.loads(body)["version"], version_h(), "the daemon's version")


@test
def sample_stream_window_and_strategy():
    """stream "continued", windows and strategies through the CLI: the daemon's
    bytes, and the fixtures' indices (PyTorch's, and the balancing reference's)."""
    with open(os.path.join(ROOT, "tests", "conformance", "sample_cases.json")) as f:
        cases = {c["name"]: c for c in json.load(f)["cases"]}
    with open(os.path.join(ROOT, "tests", "conformance", "balance_cases.json")) as f:
        cases.update({c["name"]: c for c in json.load(f)["cases"]})
    names = [n for n in cases if n.startswith("win_cont_shard_")][:2] + \
        [n for n in cases if n.startswith("cont_repl_")][:1] + \
        ["oversample_shard_window", "undersample_counts_object"]
    for name in names:
        doc = same_as_daemon("sample", cases[name]["request"], what=name)
        eq(doc["indices"], cases[name]["expected"]["indices"], name)
    doc = same_as_daemon("sample", {"weights": [1, 2], "seed": 1, "stream": "continued"},
                         what="continued with fast")
    eq(doc["error"]["field"], "stream", "continued with fast")

if __name__ == "__main__":
    if not os.access(CLI, os.X_OK):
        print("no %s; run make first" % CLI)
        print("cli: 0 passed, 1 failed")
        sys.exit(1)
    srv = Server("--log-format", "none")
    try:
        main("cli")
    finally:
        srv.stop()
