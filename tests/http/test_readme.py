#!/usr/bin/env python3
"""Runs the README's examples against a real ballastd: every `$ curl ...`
line in a sh block must print (as JSON) what the README shows below it, and
every python block must run (with the port substituted)."""
import contextlib
import io
import json
import os
import re
import shlex
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ROOT, Server, check, eq, main, test  # noqa: E402

srv = None


def blocks(lang):
    text = open(os.path.join(ROOT, "README.md")).read()
    return re.findall(r"```%s\n(.*?)```" % lang, text, re.S)


@test
def curl_examples():
    n = 0
    for block in blocks("sh"):
        lines = block.strip("\n").split("\n")
        for i, line in enumerate(lines):
            if not line.startswith("$ curl"):
                continue
            expected = lines[i + 1]
            cmd = shlex.split(line[2:].replace("localhost:8080", "127.0.0.1:%d" % srv.port))
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
            eq(out.returncode, 0, line)
            eq(json.loads(out.stdout), json.loads(expected), line)
            n += 1
    check(n >= 5, "found only %d curl examples" % n)
    print("README curl examples: %d/%d as shown" % (n, n))


@test
def python_examples():
    n = 0
    for block in blocks("python"):
        code = block.replace("127.0.0.1:8080", "127.0.0.1:%d" % srv.port)
        if "import torch" in code or "torch." in code.split("\n")[0]:
            continue  # the PyTorch reference snippet, not a ballast client
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            exec(compile(code, "README.md", "exec"), {"weights": [1.0, 2.0, 3.0]})
        if "print(" in code:
            check(buf.getvalue().strip(), "printed nothing")
        n += 1
    check(n >= 2, "found only %d python examples" % n)


if __name__ == "__main__":
    srv = Server("--log-format", "none")
    try:
        main("readme")
    finally:
        srv.stop()
