#!/usr/bin/env python3
"""The OpenAPI lint: api/openapi.yaml checked by @redocly/cli under the rules
of redocly.yaml (recommended-strict and more, every problem an error), with
the problems that .redocly.lint-ignore.yaml accepts, each with its reason.

Fails on any error and on any warning. The linter is installed by `make
test-deps` (mk/openapi-lint.mk) into $(BUILD)/tools/openapi-lint, found here
beside $BALLASTD (or at $BALLAST_REDOCLY); when it is missing this suite
FAILS, saying why: it never skips.

Also checks that the linter bites (a broken copy of the document must fail)
and that every rule turned down and every ignored problem has its reason
written above it."""
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from harness import BALLASTD, ROOT, check, eq, main, test  # noqa: E402

CONFIG = os.path.join(ROOT, "redocly.yaml")
IGNORE = os.path.join(ROOT, ".redocly.lint-ignore.yaml")
DOC = os.path.join(ROOT, "api", "openapi.yaml")
PIN = os.path.join(ROOT, "tools", "openapi-lint", "package.json")
REDOCLY = os.environ.get("BALLAST_REDOCLY") or os.path.join(
    os.path.dirname(os.path.abspath(BALLASTD)), "tools", "openapi-lint", "node_modules", ".bin",
    "redocly")
ENV = dict(os.environ, REDOCLY_TELEMETRY="off", REDOCLY_SUPPRESS_UPDATE_NOTICE="true",
           NO_UPDATE_NOTIFIER="1", NO_COLOR="1")


def pinned_version():
    with open(PIN) as f:
        return json.load(f)["devDependencies"]["@redocly/cli"]


def installed():
    check(os.path.exists(REDOCLY),
          "the OpenAPI linter is not installed at %s: `make BUILD=%s test-deps` installs it with "
          "npm (tools/openapi-lint/install.sh says why when it cannot; Node.js >= 20.19 and the "
          "npm registry are needed). The lint does not skip: it fails."
          % (REDOCLY, os.path.relpath(os.path.dirname(os.path.abspath(BALLASTD)), ROOT)))


def lint(*args):
    """The JSON report of `redocly lint ARGS --format=json`, run at the root."""
    installed()
    p = subprocess.run([REDOCLY, "lint", "--format=json", "--max-problems=1000",
                        "--lint-config=error", *args],
                       cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
    out = p.stdout.decode("utf-8", "replace")
    try:
        report = json.loads(out[out.index("{"):])
    except ValueError:
        raise AssertionError("redocly lint %s printed no JSON report (exit %d):\n%s\n%s"
                             % (" ".join(args), p.returncode, out[-2000:],
                                p.stderr.decode("utf-8", "replace")[-2000:]))
    return p.returncode, report


def describe(problem):
    loc = (problem.get("location") or [{}])[0]
    start = loc.get("start") or {}
    return "%s %s:%s %s (%s): %s" % (problem["severity"], loc.get("source", {}).get("ref", "?"),
                                     start.get("line", "?"), loc.get("pointer", ""),
                                     problem["ruleId"], problem["message"])


@test
def linter_installed():
    installed()
    p = subprocess.run([REDOCLY, "--version"], env=ENV, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=120)
    version = p.stdout.decode().strip()
    eq(version, pinned_version(), "%s --version" % REDOCLY)
    print("@redocly/cli %s (%s)" % (version, os.path.relpath(REDOCLY, ROOT)))


@test
def document_lints_clean():
    """api/openapi.yaml: 0 errors, 0 warnings (the ignored problems are
    those of .redocly.lint-ignore.yaml)."""
    rc, report = lint("--config", CONFIG)
    totals = report["totals"]
    problems = report["problems"]
    print("openapi.yaml: %d errors, %d warnings, %d ignored (.redocly.lint-ignore.yaml)"
          % (totals["errors"], totals["warnings"], totals["ignored"]))
    for p in problems:
        print("  " + describe(p))
    check(totals["errors"] == 0 and totals["warnings"] == 0 and not problems,
          "%d errors and %d warnings: fix the document, or accept a problem in "
          ".redocly.lint-ignore.yaml or redocly.yaml with its reason"
          % (totals["errors"], totals["warnings"]))
    eq(rc, 0, "redocly lint exit status")


@test
def linter_catches_drift():
    """A copy of the document with a form-urlencoded request body, a response
    example that its schema refuses and an unused component must fail."""
    with open(DOC) as f:
        text = f.read()
    broken = text.replace(
        "          multipart/form-data:\n            schema:\n"
        "              $ref: '#/components/schemas/LossMultipartRequest'",
        "          application/x-www-form-urlencoded:\n            schema:\n"
        "              $ref: '#/components/schemas/LossRequest'\n"
        "          multipart/form-data:\n            schema:\n"
        "              $ref: '#/components/schemas/LossMultipartRequest'", 1)
    broken = re.sub(r"(\n                    total_weight: 3\.0\n)", r"\1                    bogus: 1\n",
                    broken, count=1)
    broken = broken.replace("\n  schemas:\n", "\n  schemas:\n    Unused:\n      type: string\n", 1)
    check(broken.count("bogus: 1") == 1 and "x-www-form-urlencoded:\n" in broken and
          "    Unused:" in broken, "could not break the copy: the document changed shape")
    with tempfile.TemporaryDirectory(prefix="ballast-lint-") as d:
        path = os.path.join(d, "openapi.yaml")
        with open(path, "w") as f:
            f.write(broken)
        rc, report = lint("--config", CONFIG, path)
    rules = {p["ruleId"] for p in report["problems"] if p["severity"] == "error"}
    for rule in ("request-mime-type", "no-invalid-media-type-examples", "no-unused-components"):
        check(rule in rules, "the broken copy passed %s (errors: %s)" % (rule, sorted(rules)))
    check(rc != 0, "redocly lint exited 0 on a broken document")


def reasons_missing(path, key_re):
    """Keys (matched by key_re) whose line is not preceded by a comment."""
    with open(path) as f:
        lines = f.read().split("\n")
    missing = []
    for i, line in enumerate(lines):
        m = re.match(key_re, line)
        if m and not (i > 0 and lines[i - 1].strip().startswith("#")):
            missing.append(m.group(1))
    return missing


@test
def exceptions_have_reasons():
    """Every rule that redocly.yaml turns off or down to a warning, and every
    rule of .redocly.lint-ignore.yaml, has a comment right above it."""
    try:
        import yaml
    except ImportError:
        yaml = None
    with open(CONFIG) as f:
        text = f.read()
    turned_down = []
    if yaml is not None:
        cfg = yaml.safe_load(text)
        for rule, v in (cfg.get("rules") or {}).items():
            sev = v.get("severity") if isinstance(v, dict) else v
            if sev in ("off", "warn", False):  # YAML 1.1 reads a bare off as false
                turned_down.append(rule)
    else:
        turned_down = re.findall(r"^  ([a-z0-9-]+): *(?:off|warn)\b", text, re.M)
    missing = [r for r in reasons_missing(CONFIG, r"^  ([a-z0-9-]+):") if r in turned_down]
    check(not missing, "redocly.yaml turns down %s without a reason (a comment above)" % missing)
    ignored = reasons_missing(IGNORE, r"^  ([a-z0-9-]+):")
    check(not ignored, ".redocly.lint-ignore.yaml ignores %s without a reason (a comment above)"
          % ignored)
    with open(IGNORE) as f:
        ignored_rules = re.findall(r"^  ([a-z0-9-]+):", f.read(), re.M)
    print("turned down in redocly.yaml: %s; rules with ignored problems: %s" % (
        ", ".join(turned_down) or "none", ", ".join(ignored_rules) or "none"))


if __name__ == "__main__":
    main("openapi-lint")
