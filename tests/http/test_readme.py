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
from harness import ROOT, check, eq, main, server, test  # noqa: E402

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
def cli_and_c_examples():
    n = 0
    for block in blocks("sh"):
        for line in block.strip("\n").split("\n"):
            if "build/ballast " in line and not line.startswith("$"):
                out = subprocess.run(line, shell=True, cwd=ROOT, capture_output=True, text=True,
                                     timeout=10)
                eq(out.returncode, 0, line)
                json.loads(out.stdout)
                n += 1
    check(n >= 1, "no CLI example found")
    import tempfile
    c_blocks = blocks("c")
    check(c_blocks, "no C example found")
    for code in c_blocks:
        prog = ("#include <stdio.h>\n%s\nint main(void) {\n%s\n"
                "printf(\"%%g %%g %%g\\n\", w[0], w[1], w[2]);\nreturn 0;\n}\n")
        head = [l for l in code.split("\n") if l.startswith("#include")]
        body = [l for l in code.split("\n") if l and not l.startswith("#include")]
        with tempfile.TemporaryDirectory() as d:
            src, exe = os.path.join(d, "ex.c"), os.path.join(d, "ex")
            open(src, "w").write(prog % ("\n".join(head), "\n".join(body)))
            build = os.path.dirname(os.path.abspath(os.environ.get("BALLASTD", "build/ballastd")))
            sanitize = (os.environ.get("BALLAST_SANITIZE_FLAGS", "").split()
                        if os.environ.get("BALLAST_SANITIZE") == "1" else [])
            cc = subprocess.run(["cc", "-std=c11", "-Wall", "-Werror", *sanitize, "-I", os.path.join(ROOT, "lib"),
                                 src, os.path.join(build, "libballast.a"), "-lmvec", "-lm", "-o", exe],
                                capture_output=True, text=True)
            eq(cc.returncode, 0, cc.stderr)
            out = subprocess.run([exe], capture_output=True, text=True)
            eq(out.stdout.strip(), "1 1000 10000", "the C example's weights")


@test
def js_examples():
    """Every js block runs under node against the live server and prints."""
    import shutil
    node = shutil.which("node")
    check(node, "node not found: the README's JS example needs Node.js 18+ (apt-get install nodejs)")
    n = 0
    for code in blocks("js"):
        code = code.replace("127.0.0.1:8080", "127.0.0.1:%d" % srv.port)
        out = subprocess.run([node, "--input-type=module", "-e", code], capture_output=True,
                             text=True, timeout=20)
        eq(out.returncode, 0, out.stderr)
        printed = out.stdout.strip()
        check(printed and "// " + printed + "," in code,
              "the JS example printed %r, not what its comment says" % printed)
        n += 1
    check(n >= 1, "no JS example found")


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
    srv = server()
    main("readme")
