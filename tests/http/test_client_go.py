#!/usr/bin/env python3
"""The Go client module, clients/go (`ballast`), against live ballastd processes:
`go vet`, then `go test` in clients/go with BALLAST_URL (a plain server),
BALLAST_AUTH_URL and BALLAST_TOKEN (one with --auth-token) and BALLASTD (for
the servers the retry tests start themselves), each Go test counted; then the
README's Go examples, each built as a program in another module that requires
`ballast` through a replace directive, must print what its comment says.

Offline: GOPROXY=off, GOFLAGS=-mod=mod, no module outside the standard
library; GOCACHE and GOPATH live in the build directory (next to $BALLASTD).
Needs Go 1.19+ (Debian's golang-go, which `make test` installs): without it
the suite fails."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BALLASTD, ROOT, server, stop_servers  # noqa: E402

GO_DIR = os.path.join(ROOT, "clients", "go")
TOKEN = "client-go-s3cret"


def go_env(build):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GO", "BALLAST_"))}
    env.update(GOFLAGS="-mod=mod -modcacherw", GOPROXY="off", GOSUMDB="off", GONOSUMDB="*", GOTOOLCHAIN="local",
               GO111MODULE="on", GOTELEMETRY="off",
               GOCACHE=os.path.join(build, "go-cache"), GOPATH=os.path.join(build, "gopath"),
               GOMODCACHE=os.path.join(build, "gopath", "pkg", "mod"))
    env.setdefault("HOME", build)
    return env


def readme_go_blocks():
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    section = text.split("\n## Clients", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```go\n(.*?)```", section, re.S)


def main():
    passed = failed = 0
    t0 = time.time()
    go = shutil.which("go")
    if go is None:
        print("FAIL go not found: the Go client needs Go 1.19+ (apt-get install golang-go)")
        print("client_go: 0 passed, 1 failed")
        return 1
    build = os.path.dirname(os.path.abspath(BALLASTD))
    env = go_env(build)
    print(subprocess.run([go, "version"], capture_output=True, text=True, env=env).stdout.strip())
    srv = server()
    auth = server("--log-format", "none", "--auth-token", TOKEN)
    try:
        # go vet: the module compiles, its tests too, without complaints.
        r = subprocess.run([go, "vet", "./..."], cwd=GO_DIR, capture_output=True, text=True, env=env, timeout=300)
        if r.returncode == 0:
            passed += 1
            print("ok   go vet ./...")
        else:
            failed += 1
            print("FAIL go vet ./...\n" + r.stdout[-3000:] + r.stderr[-3000:])
        tenv = dict(env, BALLAST_URL="http://127.0.0.1:%d" % srv.port,
                    BALLAST_AUTH_URL="http://127.0.0.1:%d" % auth.port, BALLAST_TOKEN=TOKEN,
                    BALLASTD=os.path.abspath(BALLASTD))
        r = subprocess.run([go, "test", "-count=1", "-v", "./..."], cwd=GO_DIR, capture_output=True, text=True,
                           env=tenv, timeout=300)
        results = re.findall(r"^--- (PASS|FAIL|SKIP): (\S+)", r.stdout, re.M)
        for status, name in results:
            print("%s go test %s" % ("ok  " if status == "PASS" else status, name))
        ok = sum(1 for s, _ in results if s == "PASS")
        bad = sum(1 for s, _ in results if s != "PASS")   # a skip is a failure here
        passed += ok
        failed += bad
        if r.returncode != 0 or bad or ok < 10:
            if r.returncode != 0 and not bad:
                failed += 1     # a build failure or a panic: no test line to count
            print("FAIL go test (exit %d, %d passed, %d failed or skipped)" % (r.returncode, ok, bad))
            print(r.stdout[-6000:] + r.stderr[-3000:])
        for line in r.stdout.splitlines():
            if "replayed" in line:
                print(line.strip())
        # The README's Go examples, each in a module of its own.
        blocks = readme_go_blocks()
        if not blocks:
            failed += 1
            print("FAIL the README's Clients section has no go block")
        for code in blocks:
            with tempfile.TemporaryDirectory() as d:
                with open(os.path.join(d, "go.mod"), "w") as f:
                    f.write("module readme\n\ngo 1.19\n\nrequire ballast v0.0.0\n\nreplace ballast => %s\n" % GO_DIR)
                with open(os.path.join(d, "main.go"), "w") as f:
                    f.write(code.replace("127.0.0.1:8080", "127.0.0.1:%d" % srv.port))
                r = subprocess.run([go, "run", "."], cwd=d, capture_output=True, text=True, env=env, timeout=300)
            want = re.search(r"fmt\.Println\(.*\)\s*//\s*(.*)$", code, re.M)
            printed = r.stdout.strip()
            if r.returncode == 0 and want and printed == want.group(1).strip():
                passed += 1
                print("ok   README Go example prints %s" % printed)
            else:
                failed += 1
                print("FAIL README Go example: exit %d, printed %r, its comment says %r\n%s"
                      % (r.returncode, printed, want and want.group(1), r.stderr[-3000:]))
    finally:
        stop_servers()
    print("%.1fs" % (time.time() - t0))
    print("client_go: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
