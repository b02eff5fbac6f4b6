#!/usr/bin/env python3
"""The Node.js client package, clients/node (an ES module, `ballast`), against live
ballastd processes: its own node:test suites, clients/node/test/*.test.js,
run with `node --test` (BALLAST_URL: a plain server; BALLAST_AUTH_URL and
BALLAST_TOKEN: one with --auth-token; BALLASTD: for the servers the retry
tests start themselves), each test counted; a skipped or cancelled test is a
failure. Also: the package's metadata (ES module, types, no dependencies) and
its type declarations naming every export.

Needs Node 18+ (Debian bookworm's nodejs works): without it the suite fails."""
import json
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BALLASTD, ROOT, server, stop_servers  # noqa: E402

PKG = os.path.join(ROOT, "clients", "node")
TOKEN = "client-node-s3cret"


def main():
    t0 = time.time()
    passed = failed = 0
    node = shutil.which("node")
    if node is None:
        print("FAIL node not found: the Node.js client needs Node 18+ (apt-get install nodejs)")
        print("client_node: 0 passed, 1 failed")
        return 1
    print("node", subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip())

    # The package: an ES module with types and no dependencies; index.d.ts declares every export.
    with open(os.path.join(PKG, "package.json")) as f:
        pkg = json.load(f)
    with open(os.path.join(PKG, "index.d.ts")) as f:
        dts = f.read()
    exports = subprocess.run([node, "--input-type=module", "-e",
                              "const m = await import(process.argv[1]); console.log(Object.keys(m).sort().join(' '))",
                              os.path.join(PKG, "index.js")], capture_output=True, text=True)
    names = exports.stdout.split()
    undeclared = [n for n in names if not re.search(r"\b(class|function|const|as) %s\b" % re.escape(n), dts)]
    problems = []
    if pkg.get("type") != "module" or pkg.get("types") != "./index.d.ts":
        problems.append("package.json: type module and types ./index.d.ts")
    if pkg.get("dependencies") or pkg.get("devDependencies"):
        problems.append("package.json: no dependencies")
    if exports.returncode != 0 or "Client" not in names:
        problems.append("the package does not import: " + exports.stderr[-2000:])
    if undeclared:
        problems.append("index.d.ts does not declare " + ", ".join(undeclared))
    if problems:
        failed += 1
        print("FAIL package: " + "; ".join(problems))
    else:
        passed += 1
        print("ok   package: ES module, types for %d exports, no dependencies" % len(names))

    srv = server()
    auth = server("--log-format", "none", "--auth-token", TOKEN)
    try:
        env = dict(os.environ, BALLAST_URL="http://127.0.0.1:%d" % srv.port,
                   BALLAST_AUTH_URL="http://127.0.0.1:%d" % auth.port, BALLAST_TOKEN=TOKEN,
                   BALLASTD=os.path.abspath(BALLASTD))
        tests = sorted(os.path.join("test", f) for f in os.listdir(os.path.join(PKG, "test")) if f.endswith(".test.js"))
        r = subprocess.run([node, "--test", "--test-reporter=tap"] + tests, cwd=PKG, env=env,
                           capture_output=True, text=True, timeout=180)
    finally:
        stop_servers()
    for status, name in re.findall(r"^(ok|not ok) \d+ - (.*)$", r.stdout, re.M):
        print("%-4s node --test %s" % ("ok" if status == "ok" else "FAIL", name))
    counts = {k: int(v) for k, v in re.findall(r"^# (tests|pass|fail|skipped|cancelled|todo) (\d+)$", r.stdout, re.M)}
    passed += counts.get("pass", 0)
    bad = counts.get("fail", 0) + counts.get("skipped", 0) + counts.get("cancelled", 0) + counts.get("todo", 0)
    failed += bad
    if r.returncode != 0 or bad or counts.get("pass", 0) < 10:
        if not bad:
            failed += 1
        print("FAIL node --test: exit %d, %r" % (r.returncode, counts))
        print(r.stdout[-6000:] + r.stderr[-3000:])
    print("%.1fs" % (time.time() - t0))
    print("client_node: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
