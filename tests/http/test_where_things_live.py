#!/usr/bin/env python3
"""README's "Where things live" table and its three checklists (adding a
scheme, a field, a loss) name files and functions; this checks that every
one of them exists, so that the table cannot go stale:

  - every `path` (a token with a "/" or a file name with an extension; a
    "*" is a glob) is a file or directory of the tree (a bare file name:
    somewhere in it);
  - every `name()` is defined (a C definition, whose signature is followed
    by "{" before any ";", or a Python def) in a file that the same table
    row or checklist step names, or anywhere in the sources when that row
    names no source file;
  - every `table[]` is defined ("table[...] =") in a file of its row;
  - every other identifier (a word with an underscore: `bl_scheme_names`,
    `BL_SCHEME_*` with "*" as a prefix, `sum_over_batch_size`) occurs in
    the sources.
No server is needed."""
import fnmatch
import glob
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ROOT, check, main, test  # noqa: E402

SOURCE_DIRS = ("lib", "api", "server", "cli", "tests", "fuzz", "bench", "clients", "tools")
SOURCE_EXT = (".c", ".h", ".py", ".go", ".js", ".ts", ".sh")
SKIP_DIRS = {"build", "build-sanitize", "node_modules", ".git", "__pycache__"}


def readme_section(text):
    """The section from "## Where things live" to the next level-2 heading."""
    start = text.index("\n## Where things live\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end >= 0 else len(text)]


def units(section):
    """The table's rows and the checklists' numbered steps (with their
    continuation lines), each as one string."""
    out, step = [], None
    for line in section.split("\n"):
        if line.startswith("|"):
            if not re.match(r"^\|\s*(what|-+)\s*\|", line):
                out.append(line)
            step = None
        elif re.match(r"^\d+\. ", line):
            step = [line]
            out.append(step)
        elif step is not None and line.startswith("   "):
            step.append(line)
        else:
            step = None
    return [u if isinstance(u, str) else "\n".join(u) for u in out]


def tree_files():
    files = []
    for d, dirs, names in os.walk(ROOT):
        dirs[:] = [x for x in dirs if x not in SKIP_DIRS]
        for n in names:
            files.append(os.path.relpath(os.path.join(d, n), ROOT))
    return files


def is_path(tok):
    return not tok.startswith("/") and ("/" in tok or re.match(r"^[\w*.-]*\w\.[a-z]+$", tok))


def path_exists(tok, files):
    if "/" in tok:
        return bool(glob.glob(os.path.join(ROOT, tok)))
    return any(fnmatch.fnmatch(os.path.basename(f), tok) for f in files)


def defines_function(text, name, python):
    if python:
        return re.search(r"^\s*def %s\(" % re.escape(name), text, re.M) is not None
    for m in re.finditer(r"^[A-Za-z_][^\n;]*\b%s\(" % re.escape(name), text, re.M):
        rest = text[m.end():]
        brace, semi = rest.find("{"), rest.find(";")
        if brace >= 0 and (semi < 0 or brace < semi):
            return True
    return False


def defines_table(text, name):
    return re.search(r"\b%s\[[^\]\n]*\]\s*=" % re.escape(name), text) is not None


def problems_of(section, files, read):
    """What the section names that is not in the tree; files: the tree's
    files (relative paths), read(path): a file's text."""
    me = os.path.relpath(os.path.abspath(__file__), ROOT)  # names its own bad examples
    sources = [f for f in files if f.split(os.sep)[0] in SOURCE_DIRS and f.endswith(SOURCE_EXT)
               and f != me]
    everything = None
    probs = []
    for unit in units(section):
        toks = re.findall(r"`([^`]+)`", unit)
        named = [t for t in toks if is_path(t) and "/" in t and "*" not in t]
        own = [t for t in named if t.endswith(SOURCE_EXT) and os.path.isfile(os.path.join(ROOT, t))
               or t in files]
        own = [t for t in own if t.endswith(SOURCE_EXT)]
        for tok in toks:
            if is_path(tok):
                if not path_exists(tok, files):
                    probs.append("no file %s" % tok)
            elif re.match(r"^\w+\(\)$", tok):
                name = tok[:-2]
                where = own or sources
                if not any(defines_function(read(f), name, f.endswith(".py")) for f in where):
                    probs.append("%s is not defined in %s" % (tok, ", ".join(own) or "the sources"))
            elif re.match(r"^\w+\[\]$", tok):
                name = tok[:-2]
                where = own or sources
                if not any(defines_table(read(f), name) for f in where):
                    probs.append("%s is not defined in %s" % (tok, ", ".join(own) or "the sources"))
            elif re.match(r"^[A-Za-z]\w*_\w*\*?$", tok):
                if everything is None:
                    everything = "\n".join(read(f) for f in sources)
                pat = re.escape(tok[:-1]) + r"\w+" if tok.endswith("*") else re.escape(tok) + r"\b"
                if not re.search(r"\b" + pat, everything):
                    probs.append("%s occurs nowhere in the sources" % tok)
    return probs


def read_file(path):
    with open(os.path.join(ROOT, path), encoding="utf-8", errors="replace") as f:
        return f.read()


@test
def every_named_file_and_function_exists():
    section = readme_section(read_file("README.md"))
    n = len(re.findall(r"`[^`]+`", section))
    check(len(units(section)) >= 20, "found only %d rows and steps" % len(units(section)))
    probs = problems_of(section, tree_files(), read_file)
    check(not probs, "README's Where things live is stale:\n  " + "\n  ".join(probs))
    print("Where things live: %d names checked" % n)


@test
def a_stale_name_is_found():
    """The check fails on what it must fail on: a missing file, a function
    that its row's file does not define, an undefined table, an unknown
    identifier; and passes the true ones."""
    section = ("\n## Where things live\n\n| what | one home | also |\n| --- | --- | --- |\n"
               "| a | `scheme_weight()` in `lib/weights.c`, `lib/nowhere.c` | |\n"
               "| b | `bl_loss()` in `lib/weights.c` | |\n"
               "| c | `nosuch[]` in `api/api.c`, `endpoints[]` | |\n"
               "| d | `bl_no_such_thing`, `BL_SCHEME_*`, `status_of`, `gen_no_such.py` | |\n"
               "\n### Adding\n\n1. `reference()` in\n   `tests/unit/test_loss.c`, `missing_fn()`\n"
               "\n## Next\n")
    probs = problems_of(readme_section(section), tree_files(), read_file)
    want = ["no file lib/nowhere.c", "bl_loss() is not defined in lib/weights.c",
            "nosuch[] is not defined in api/api.c", "bl_no_such_thing occurs nowhere",
            "status_of occurs nowhere", "no file gen_no_such.py", "missing_fn() is not defined in tests/unit/test_loss.c"]
    for w in want:
        check(any(p.startswith(w) for p in probs), "not found: %s (got %r)" % (w, probs))
    check(len(probs) == len(want), "unexpected problems: %r" % probs)


if __name__ == "__main__":
    main("where-things-live")
