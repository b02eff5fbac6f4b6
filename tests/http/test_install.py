#!/usr/bin/env python3
"""`make install` into a temporary prefix, and the installed tree in use.

Installs with PREFIX=<tmp> (and once with DESTDIR), checks every file, the
symlinks and the soname, builds a small C program against the installed
library through pkg-config (dynamically and statically) and runs it, renders
the man pages, checks that they document every option, and uninstalls.

make runs from the repository root with the build directory of $BALLASTD, so
under `make test` everything is built already; a second install must not
rebuild anything."""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BALLASTD, ROOT, check, eq, main, test  # noqa: E402

BUILD_ABS = os.path.dirname(os.path.abspath(BALLASTD))
BUILD = os.path.relpath(BUILD_ABS, ROOT) if BUILD_ABS.startswith(ROOT + os.sep) else BUILD_ABS
CC = os.environ.get("CC", "cc")
# Under make check-sanitize the libraries need the sanitizer runtimes.
SANITIZE = os.environ.get("BALLAST_SANITIZE") == "1"
SANITIZE_FLAGS = os.environ.get("BALLAST_SANITIZE_FLAGS", "").split() if SANITIZE else []

PROGRAM = r"""
#include <ballast.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
    double counts[3] = {100000, 100, 10}, w[3];
    bl_weights_opts opts = bl_weights_opts_default();
    bl_error err;
    if (bl_class_weights(counts, 3, &opts, w, &err) != BL_OK) {
        fprintf(stderr, "bl_class_weights: %s\n", err.message);
        return 1;
    }
    printf("%g %g %g\n", w[0], w[1], w[2]);
    return strcmp(BL_VERSION, EXPECTED_VERSION) != 0;
}
"""

tmp = None  # the temporary prefix of this run


def version_h():
    with open(os.path.join(ROOT, "lib", "ballast.h")) as f:
        return re.search(r'^#define BL_VERSION "([^"]+)"', f.read(), re.M).group(1)


def run(cmd, env=None, cwd=None, ok=True, timeout=300):
    e = dict(os.environ)
    e.update(env or {})
    r = subprocess.run(cmd, capture_output=True, text=True, env=e, cwd=cwd, timeout=timeout)
    if ok and r.returncode != 0:
        raise AssertionError("%s: exit %d\n%s%s" % (" ".join(cmd), r.returncode, r.stdout,
                                                   r.stderr))
    return r


def make(*args):
    """make -s in the repository root, with this run's build directory. The
    jobserver of an enclosing make (make test) is not passed on: it would be
    half-closed in this process; nothing is to be built here anyway."""
    e = {k: v for k, v in os.environ.items()
         if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}
    r = subprocess.run(["make", "-s", "-C", ROOT, "BUILD=" + BUILD, "LDCONFIG=", *args],
                       capture_output=True, text=True, env=e, timeout=600)
    if r.returncode != 0:
        raise AssertionError("make %s: exit %d\n%s%s" % (" ".join(args), r.returncode, r.stdout,
                                                        r.stderr))
    return r


def build_state():
    """mtime of every file of the build directory that make install needs,
    directly or through its prerequisites (other makefiles' work in the same
    directory, such as images or fuzzers, is not its business)."""
    state = {}
    for dirpath, dirs, files in os.walk(BUILD_ABS):
        rel = os.path.relpath(dirpath, BUILD_ABS)
        top = rel.split(os.sep)[0]
        if rel == ".":
            dirs[:] = [d for d in dirs if d in ("obj", "man", "gen")]
        elif top == "obj" and rel == "obj":
            dirs[:] = [d for d in dirs if d in ("lib", "api", "server", "cli", "gen")]
        for name in files:
            p = os.path.join(dirpath, name)
            state[p] = os.stat(p).st_mtime_ns
    return state


def readelf_dynamic(path):
    return run(["readelf", "-d", path]).stdout


def installed_files(root):
    out = []
    for dirpath, _, files in os.walk(root):
        out += [os.path.relpath(os.path.join(dirpath, f), root) for f in files]
    return sorted(out)


EXPECTED = sorted([
    "bin/ballastd", "bin/ballast",
    "lib/libballast.a", "lib/libballast.so.%s" % version_h(), "lib/libballast.so.0",
    "lib/libballast.so", "lib/pkgconfig/ballast.pc",
    "include/ballast.h",
    "share/man/man8/ballastd.8", "share/man/man1/ballast.1",
])


@test
def install_into_prefix():
    make("install", "PREFIX=" + tmp)
    before = build_state()
    r = make("install", "PREFIX=" + tmp)  # again, over the installed tree
    eq(r.stdout, "", "make -s install prints nothing")
    changed = sorted(p for p, t in build_state().items() if before.get(p) != t)
    eq(changed, [], "files rebuilt by a second make install")
    eq(installed_files(tmp), EXPECTED, "installed files")


@test
def tree_modes_links_and_soname():
    v = version_h()
    lib = os.path.join(tmp, "lib")
    for rel, mode in [("bin/ballastd", 0o755), ("bin/ballast", 0o755),
                      ("lib/libballast.so." + v, 0o755), ("lib/libballast.a", 0o644),
                      ("include/ballast.h", 0o644), ("lib/pkgconfig/ballast.pc", 0o644),
                      ("share/man/man8/ballastd.8", 0o644), ("share/man/man1/ballast.1", 0o644)]:
        st = os.lstat(os.path.join(tmp, rel))
        check(not os.path.islink(os.path.join(tmp, rel)), rel + " is a symlink")
        eq(st.st_mode & 0o777, mode, rel + " mode")
    for link in ("libballast.so.0", "libballast.so"):
        p = os.path.join(lib, link)
        check(os.path.islink(p), link + " is not a symlink")
        check(not os.path.isabs(os.readlink(p)), link + " points at an absolute path")
        eq(os.path.realpath(p), os.path.realpath(os.path.join(lib, "libballast.so." + v)), link)
    dyn = readelf_dynamic(os.path.join(lib, "libballast.so." + v))
    eq(re.findall(r"Library soname: \[([^\]]+)\]", dyn), ["libballast.so.0"], "soname")
    needed = set(re.findall(r"Shared library: \[([^\]]+)\]", dyn))
    allowed = {"libmvec.so.1", "libm.so.6", "libc.so.6"}
    if SANITIZE:
        allowed |= {n for n in needed if n.startswith(("libasan", "libubsan"))}
    check(needed <= allowed,
          "the core needs only glibc's libmvec, libm and libc: %s" % needed)
    # The core only: every exported symbol is bl_*, the same as in the archive.
    syms = run(["nm", "-D", "--defined-only", os.path.join(lib, "libballast.so." + v)]).stdout
    exported = {l.split()[-1] for l in syms.splitlines() if re.search(r" [TDBR] ", l)}
    if SANITIZE:  # ASan's one-definition-rule markers of global arrays (bl_*_names)
        exported = {s for s in exported if not s.startswith("__odr_asan.bl_")}
    check(exported and all(s.startswith("bl_") for s in exported),
          "exported: %s" % sorted(s for s in exported if not s.startswith("bl_")))
    members = run(["ar", "t", os.path.join(lib, "libballast.a")]).stdout.split()
    core = sorted(os.path.basename(p)[:-2] + ".o" for p in glob.glob(os.path.join(ROOT, "lib", "*.c")))
    eq(sorted(members), core, "members of libballast.a")
    with open(os.path.join(tmp, "include", "ballast.h")) as f, \
            open(os.path.join(ROOT, "lib", "ballast.h")) as g:
        eq(f.read(), g.read(), "installed header")


@test
def installed_programs_run():
    v = version_h()
    for prog in ("ballastd", "ballast"):
        r = run([os.path.join(tmp, "bin", prog), "--version"])
        eq(r.stdout, "%s %s\n" % (prog, v), prog + " --version")
    r = subprocess.run([os.path.join(tmp, "bin", "ballast"), "weights"],
                       input='{"counts": [100000, 100, 10]}', capture_output=True, text=True,
                       timeout=30)
    eq(r.returncode, 0, "ballast weights")
    check(r.stdout.startswith('{"weights":[1.0,1000.0,10000.0]'), r.stdout)


def pkg_config(*args):
    env = {"PKG_CONFIG_PATH": os.path.join(tmp, "lib", "pkgconfig")}
    return run(["pkg-config", *args, "ballast"], env=env).stdout.split()


@test
def pkg_config_file():
    eq(pkg_config("--modversion"), [version_h()], "--modversion")
    eq(pkg_config("--cflags"), ["-I%s/include" % tmp], "--cflags")
    eq(pkg_config("--libs"), ["-L%s/lib" % tmp, "-lballast"], "--libs")
    eq(pkg_config("--static", "--libs"), ["-L%s/lib" % tmp, "-lballast", "-lmvec", "-lm"], "--static --libs")
    with open(os.path.join(tmp, "lib", "pkgconfig", "ballast.pc")) as f:
        pc = f.read()
    for line in ("prefix=%s" % tmp, "Name: ballast", "Version: %s" % version_h(),
                 "Libs: -L${libdir} -lballast", "Libs.private: -lmvec -lm", "Cflags: -I${includedir}"):
        check(line in pc.splitlines(), "ballast.pc lacks %r:\n%s" % (line, pc))


def compile_program(out, static):
    src = os.path.join(tmp, "weights.c")
    with open(src, "w") as f:
        f.write(PROGRAM)
    flags = pkg_config("--cflags", "--libs", *(["--static"] if static else []))
    cmd = [CC, "-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", *SANITIZE_FLAGS,
           '-DEXPECTED_VERSION="%s"' % version_h(), src, "-o", out, *flags]
    if static and SANITIZE:
        # The sanitizer runtimes cannot be linked into a fully static program.
        flags = [f if f != "-lballast" else "-l:libballast.a" for f in flags]
        run(cmd[:-len(flags)] + flags)
        return "libballast.a, dynamic libc (sanitized build)"
    if static:
        r = run(cmd + ["-static"], ok=False)
        if r.returncode == 0:
            return "fully static"
        # No static libc here: link only libballast statically.
        flags = [f if f != "-lballast" else "-l:libballast.a" for f in flags]
        cmd = cmd[:-len(flags)] + flags
        run(cmd)
        return "libballast.a, dynamic libc"
    run(cmd)
    return "dynamic"


@test
def program_against_the_shared_library():
    prog = os.path.join(tmp, "weights_dynamic")
    compile_program(prog, static=False)
    lib = os.path.join(tmp, "lib")
    env = {"LD_LIBRARY_PATH": lib}
    eq(run([prog], env=env).stdout, "1 1000 10000\n", "output")
    needed = re.findall(r"Shared library: \[([^\]]+)\]", readelf_dynamic(prog))
    check("libballast.so.0" in needed, "NEEDED %s lacks the soname" % needed)
    ldd = run(["ldd", prog], env=env).stdout
    m = re.search(r"^\s*libballast\.so\.0 => (\S+)", ldd, re.M)
    check(m, "ldd does not list libballast.so.0:\n" + ldd)
    eq(os.path.realpath(m.group(1)), os.path.realpath(os.path.join(lib, "libballast.so.0")),
       "the library ldd resolves")


@test
def program_against_the_static_library():
    prog = os.path.join(tmp, "weights_static")
    how = compile_program(prog, static=True)
    eq(run([prog], env={"LD_LIBRARY_PATH": ""}).stdout, "1 1000 10000\n", "output")
    needed = re.findall(r"Shared library: \[([^\]]+)\]", readelf_dynamic(prog))
    check(not any(n.startswith("libballast") for n in needed), "NEEDED %s" % needed)
    print("static link: " + how)


def render(page):
    """Warnings of man -l and groff -ww, and man's rendering."""
    env = {"MANWIDTH": "80", "MANPAGER": "cat", "PAGER": "cat", "LC_ALL": "C.UTF-8"}
    warnings = []
    if shutil.which("groff"):
        r = run(["groff", "-man", "-Tutf8", "-ww", "-z", page], env=env, ok=False)
        warnings += [r.stderr] if r.stderr or r.returncode else []
    text = None
    if shutil.which("man"):
        r = run(["man", "--warnings", "-l", page], env=env, ok=False)
        warnings += [r.stderr] if r.stderr or r.returncode else []
        text = r.stdout
    return "".join(warnings), text


@test
def man_pages_render_and_document_every_option():
    v = version_h()
    pages = {"ballastd.8": os.path.join(tmp, "share", "man", "man8", "ballastd.8"),
             "ballast.1": os.path.join(tmp, "share", "man", "man1", "ballast.1")}
    helps = {"ballastd.8": run([BALLASTD_ABS, "--help"]).stdout,
             "ballast.1": run([os.path.join(BUILD_ABS, "ballast"), "--help"]).stdout}
    for name, page in pages.items():
        with open(page) as f:
            src = f.read()
        check(src.isascii(), name + " is not ASCII")
        first = [l for l in src.splitlines() if not l.startswith('.\\"')][0]
        check(first.startswith(".TH %s %s " % (name.split(".")[0].upper(), name.split(".")[1])),
              name + ": first request " + first)
        check("@VERSION@" not in src and ("ballast %s" % v) in first, name + ": version " + first)
        warnings, text = render(page)
        eq(warnings, "", name + ": rendering warnings")
        if text is not None:
            check(text.startswith(name.split(".")[0].upper() + "("), text[:80])
        # Every option of --help, written \-\-name in roff.
        options = set(re.findall(r"^\s+(?:-\w, )?(--[a-z][a-z-]*)", helps[name], re.M))
        check(len(options) >= (10 if name == "ballastd.8" else 2),
              "%s: options in --help: %s" % (name, options))
        for opt in sorted(options):
            check(opt.replace("-", "\\-") in src, "%s does not document %s" % (name, opt))
        if name == "ballastd.8":
            for opt in options - {"--help", "--version"}:
                var = "BALLAST_" + opt[2:].upper().replace("-", "_")
                check(var in src, "%s does not name %s" % (name, var))
            for sect in ("ENVIRONMENT", "SIGNALS", "ENDPOINTS", "EXIT STATUS"):
                check(".SH %s" % sect in src, "%s lacks %s" % (name, sect))
            for ep in ("/weights", "/sample", "/loss", "/healthz", "/readyz", "/metrics",
                       "/openapi.yaml", "/version", "SIGTERM"):
                check(ep in src, "%s does not mention %s" % (name, ep))
        else:
            for word in ("weights", "sample", "loss", ".B \\-\\-\n", ".SH EXIT STATUS"):
                check(word in src, "%s lacks %s" % (name, word))


@test
def destdir_stages_under_the_prefix():
    stage = os.path.join(tmp, "stage")
    make("install", "DESTDIR=" + stage, "PREFIX=/usr")
    eq(installed_files(os.path.join(stage, "usr")), EXPECTED, "staged files")
    eq(os.listdir(stage), ["usr"], "nothing outside DESTDIR/PREFIX")
    with open(os.path.join(stage, "usr", "lib", "pkgconfig", "ballast.pc")) as f:
        check("prefix=/usr\n" in f.read(), "ballast.pc names the final prefix, not DESTDIR")
    make("uninstall", "DESTDIR=" + stage, "PREFIX=/usr")
    eq(installed_files(stage), [], "files left by uninstall")
    shutil.rmtree(stage)


@test
def uninstall_removes_every_file():
    make("uninstall", "PREFIX=" + tmp)
    left = [f for f in installed_files(tmp) if not f.startswith("weights")]
    eq(left, [], "files left by uninstall")


BALLASTD_ABS = os.path.abspath(BALLASTD)

if __name__ == "__main__":
    for tool in ("make", "pkg-config", "readelf", "nm", "ar", "ldd", CC):
        if not shutil.which(tool):
            print("install: %s is missing" % tool)
            print("install: 0 passed, 1 failed")
            sys.exit(1)
    tmp = tempfile.mkdtemp(prefix="ballast-install-")
    try:
        main("install")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
