#!/usr/bin/env python3
"""The Dockerfile, read as Docker reads it, for checks that run without Docker.

Used by tools/docker-check.sh (which replays the build in chroots) and by
tests/http/test_deploy.py (which compares the image with ballastd and the
manifests), so that neither can drift from the Dockerfile itself.

    dockerfile.py steps [Dockerfile]   the build as shell function calls (df_*), one a line
    dockerfile.py context [DIR]        the build context's files, NUL-separated (.dockerignore)
    dockerfile.py apt-sources SUITE    the machine's Debian mirror and sources for SUITE

Only the instructions ballast's Dockerfile uses are understood: FROM, ARG, ENV, WORKDIR, RUN,
COPY, USER, EXPOSE, STOPSIGNAL, HEALTHCHECK, ENTRYPOINT, CMD and LABEL. Anything else (ADD,
VOLUME, SHELL, ONBUILD, heredocs, RUN --mount) is an error, so that a check never passes by
skipping a step it does not understand.
"""
import glob
import json
import os
import re
import shlex
import subprocess
import sys

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
KNOWN = {"FROM", "ARG", "ENV", "WORKDIR", "RUN", "COPY", "USER", "EXPOSE", "STOPSIGNAL",
         "HEALTHCHECK", "ENTRYPOINT", "CMD", "LABEL"}


class DockerfileError(Exception):
    pass


def logical_lines(text):
    """(line number, instruction text): comments dropped, continuations joined."""
    out, buf, start = [], [], 0
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        if not line.strip() or line.lstrip().startswith("#"):
            continue  # comments and blank lines, also inside a continuation
        if not buf:
            start = n
        if line.endswith("\\"):
            buf.append(line[:-1])
            continue
        buf.append(line)
        out.append((start, " ".join(s.strip() for s in buf)))
        buf = []
    if buf:
        out.append((start, " ".join(s.strip() for s in buf)))
    return out


def substitute(s, env):
    """$VAR, ${VAR}, ${VAR:-default} and ${VAR:+alt} from env, as Docker does."""
    def repl(m):
        name = m.group(1) or m.group(2)
        mod = m.group(3)
        val = env.get(name)
        if mod is None:
            return val or ""
        if mod.startswith(":-"):
            return val if val else mod[2:]
        if mod.startswith(":+"):
            return mod[2:] if val else ""
        raise DockerfileError("unsupported substitution ${%s%s}" % (name, mod))
    return re.sub(r"\$(?:([A-Za-z_][A-Za-z0-9_]*)|\{([A-Za-z_][A-Za-z0-9_]*)(:[-+][^}]*)?\})",
                  repl, s)


def exec_or_shell(rest):
    """An instruction's argument in exec form (a JSON array) or shell form.
    Returns (argv, is_exec)."""
    rest = rest.strip()
    if rest.startswith("["):
        try:
            argv = json.loads(rest)
        except ValueError:
            argv = None
        if isinstance(argv, list) and all(isinstance(a, str) for a in argv):
            return argv, True
    return ["/bin/sh", "-c", rest], False


def flags(rest, allowed):
    """Leading --name=value options of an instruction: (dict, remaining text)."""
    found = {}
    while True:
        m = re.match(r"--([a-z-]+)=(\S+)\s+", rest)
        if not m:
            break
        if m.group(1) not in allowed:
            raise DockerfileError("unsupported option --%s" % m.group(1))
        found[m.group(1)] = m.group(2)
        rest = rest[m.end():]
    if rest.startswith("--"):
        raise DockerfileError("unsupported option %s" % rest.split()[0])
    return found, rest


def env_pairs(rest, env):
    """ENV/LABEL/ARG key=value pairs (shell-quoted), or the legacy `ENV key value`."""
    words = shlex.split(rest, posix=True)
    if words and "=" not in words[0]:
        return [(words[0], substitute(rest.split(None, 1)[1].strip() if len(words) > 1 else "", env))]
    pairs = []
    for w in words:
        if "=" not in w:
            raise DockerfileError("expected key=value, got %r" % w)
        k, v = w.split("=", 1)
        pairs.append((k, substitute(v, env)))
    return pairs


def parse(text):
    """The Dockerfile as a list of stages; each a dict with the stage's base image, name,
    steps (in order) and the image configuration at its end (env, user, workdir, expose,
    entrypoint, cmd, healthcheck, stopsignal)."""
    stages, stage, global_args = [], None, {}
    for lineno, line in logical_lines(text):
        word, _, rest = line.partition(" ")
        inst = word.upper()
        rest = rest.strip()
        try:
            if inst not in KNOWN:
                raise DockerfileError("instruction %s is not supported by this checker" % word)
            if inst == "ARG" and stage is None:
                for k, v in env_pairs(rest, global_args) if "=" in rest else [(rest, "")]:
                    global_args[k] = v
                continue
            if inst == "FROM":
                _, rest = flags(rest, {"platform"})
                m = re.match(r"^(\S+)(?:\s+[Aa][Ss]\s+(\S+))?$", rest)
                if not m:
                    raise DockerfileError("cannot read FROM %r" % rest)
                base = substitute(m.group(1), global_args)
                names = {s["name"]: s for s in stages if s["name"]}
                parent = names.get(base)
                stage = {
                    "index": len(stages), "name": m.group(2), "base": base,
                    "parent": parent["index"] if parent else None, "steps": [],
                    "env": dict(parent["env"]) if parent else {"PATH": DEFAULT_PATH},
                    "args": {}, "user": parent["user"] if parent else "",
                    "workdir": parent["workdir"] if parent else "/",
                    "expose": list(parent["expose"]) if parent else [],
                    "entrypoint": parent["entrypoint"] if parent else None,
                    "cmd": parent["cmd"] if parent else None,
                    "healthcheck": parent["healthcheck"] if parent else None,
                    "stopsignal": parent["stopsignal"] if parent else None,
                    "labels": {}, "line": lineno,
                }
                stages.append(stage)
                continue
            if stage is None:
                raise DockerfileError("%s before FROM" % inst)
            scope = dict(stage["args"], **stage["env"])
            if inst == "ARG":
                k, _, v = rest.partition("=")
                stage["args"][k] = substitute(v, scope) if v else global_args.get(k, "")
                stage["steps"].append(("env", k, stage["args"][k]))
            elif inst == "ENV":
                for k, v in env_pairs(rest, scope):
                    stage["env"][k] = v
                    stage["steps"].append(("env", k, v))
            elif inst == "LABEL":
                stage["labels"].update(env_pairs(rest, scope))
            elif inst == "WORKDIR":
                path = substitute(rest, scope)
                stage["workdir"] = os.path.normpath(os.path.join(stage["workdir"], path))
                stage["steps"].append(("workdir", stage["workdir"]))
            elif inst == "USER":
                stage["user"] = substitute(rest, scope)
                stage["steps"].append(("user", stage["user"]))
            elif inst == "RUN":
                opts, rest = flags(rest, set())
                if rest.startswith("<<"):
                    raise DockerfileError("heredocs are not supported by this checker")
                argv, _ = exec_or_shell(rest)
                stage["steps"].append(("run",) + tuple(argv))
            elif inst == "COPY":
                opts, rest = flags(rest, {"from", "chown", "chmod", "link"})
                if rest.startswith("<<"):
                    raise DockerfileError("heredocs are not supported by this checker")
                words, is_exec = exec_or_shell(rest)
                if not is_exec:
                    words = [substitute(w, scope) for w in rest.split()]
                if len(words) < 2:
                    raise DockerfileError("COPY needs a source and a destination")
                src_stage = ""
                if "from" in opts:
                    names = {s["name"]: s["index"] for s in stages if s["name"]}
                    f = opts["from"]
                    if f in names:
                        src_stage = str(names[f])
                    elif f.isdigit() and int(f) < len(stages) - 1:
                        src_stage = f
                    else:
                        raise DockerfileError("COPY --from=%s: only earlier stages are supported" % f)
                dest = words[-1]
                as_dir = dest.endswith("/") or dest in (".", "..") or dest.endswith("/.")
                dest = os.path.normpath(os.path.join(stage["workdir"], dest)) + ("/" if as_dir else "")
                stage["steps"].append(("copy", src_stage, opts.get("chown", ""), opts.get("chmod", ""))
                                      + tuple(words[:-1]) + (dest,))
            elif inst == "EXPOSE":
                for p in substitute(rest, scope).split():
                    stage["expose"].append(p if "/" in p else p + "/tcp")
            elif inst == "STOPSIGNAL":
                stage["stopsignal"] = substitute(rest, scope)
            elif inst in ("ENTRYPOINT", "CMD"):
                stage[inst.lower()] = exec_or_shell(rest)[0]
            elif inst == "HEALTHCHECK":
                opts, rest = flags(rest, {"interval", "timeout", "start-period", "start-interval",
                                          "retries"})
                kind, _, cmd = rest.partition(" ")
                if kind.upper() == "NONE":
                    stage["healthcheck"] = None
                elif kind.upper() == "CMD":
                    stage["healthcheck"] = {"cmd": exec_or_shell(cmd)[0], "options": opts}
                else:
                    raise DockerfileError("HEALTHCHECK needs CMD or NONE")
        except DockerfileError as e:
            raise DockerfileError("Dockerfile line %d: %s: %s" % (lineno, inst, e)) from None
    if not stages:
        raise DockerfileError("no FROM")
    return stages


def load(path):
    with open(path) as f:
        return parse(f.read())


def user_ids(user, passwd_text, group_text):
    """(uid, gid) of a USER value ("name", "uid", "name:group", "uid:gid") against a root's
    /etc/passwd and /etc/group, as Docker resolves it (gid: the user's primary group)."""
    def table(text):
        rows = [l.split(":") for l in text.splitlines() if l and not l.startswith("#")]
        return {r[0]: r for r in rows if len(r) >= 3}
    users, groups = table(passwd_text), table(group_text)
    name, _, group = (user or "root").partition(":")
    if name.isdigit():
        uid = int(name)
        row = next((r for r in users.values() if r[2] == name), None)
    elif name in users:
        row = users[name]
        uid = int(row[2])
    else:
        raise DockerfileError("USER %s: no such user in the image" % name)
    if not group:
        gid = int(row[3]) if row and len(row) > 3 else 0
    elif group.isdigit():
        gid = int(group)
    elif group in groups:
        gid = int(groups[group][2])
    else:
        raise DockerfileError("USER %s: no such group in the image" % user)
    return uid, gid


# ---- the build context ------------------------------------------------------------------

def ignore_patterns(root):
    """.dockerignore as (regex, exclude?) pairs; a later pattern wins, `!` re-includes."""
    pats = []
    path = os.path.join(root, ".dockerignore")
    if not os.path.exists(path):
        return pats
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            neg = line.startswith("!")
            p = os.path.normpath(line[1:] if neg else line).lstrip("/")
            rx, i = "", 0
            while i < len(p):
                if p.startswith("**/", i):
                    rx += "(?:.*/)?"
                    i += 3
                elif p.startswith("**", i):
                    rx += ".*"
                    i += 2
                elif p[i] == "*":
                    rx += "[^/]*"
                    i += 1
                elif p[i] == "?":
                    rx += "[^/]"
                    i += 1
                else:
                    rx += re.escape(p[i])
                    i += 1
            pats.append((re.compile("^" + rx + "$"), not neg))
    return pats


def ignored(rel, pats):
    """True when rel, or a folder above it, is excluded by the patterns."""
    parts = rel.split("/")
    out = False
    for rx, exclude in pats:
        for k in range(1, len(parts) + 1):
            if rx.match("/".join(parts[:k])):
                out = exclude
                break
    return out


def context_files(root):
    """The files `docker build root` would send: the working tree (tracked files and new ones
    git does not ignore, or every file outside git) less .dockerignore."""
    try:
        raw = subprocess.run(["git", "-C", root, "ls-files", "-z", "--cached", "--others",
                              "--exclude-standard"], check=True, capture_output=True).stdout
        files = [f for f in raw.decode().split("\0") if f]
    except (OSError, subprocess.CalledProcessError):
        files = []
        for d, dirs, names in os.walk(root):
            for n in names:
                files.append(os.path.relpath(os.path.join(d, n), root))
    pats = ignore_patterns(root)
    keep = []
    for f in sorted(set(files)):
        full = os.path.join(root, f)
        if (os.path.isfile(full) or os.path.islink(full)) and not ignored(f, pats):
            keep.append(f)
    return keep


# ---- the machine's Debian archive -------------------------------------------------------

def apt_entries():
    """Every enabled `deb` entry of the machine's apt configuration, as dicts with uris,
    suites, components and signed_by (both the one-line and the deb822 format)."""
    entries = []
    one_line = ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list"))
    for path in one_line:
        if not os.path.exists(path):
            continue
        with open(path) as f:
            for line in f:
                line = line.split("#", 1)[0].strip()
                m = re.match(r"^deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)\s*(.*)$", line)
                if m:
                    opts = dict(o.split("=", 1) for o in (m.group(1) or "").split() if "=" in o)
                    entries.append({"uris": [m.group(2)], "suites": [m.group(3)],
                                    "components": m.group(4).split(),
                                    "signed_by": opts.get("signed-by", "")})
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        with open(path) as f:
            text = f.read()
        for para in re.split(r"\n\s*\n", text):
            fields, key = {}, None
            for line in para.splitlines():
                if line.startswith("#") or not line.strip():
                    continue
                if line[0] in " \t" and key:
                    fields[key] += "\n" + line.strip()
                    continue
                key, _, val = line.partition(":")
                key = key.strip().lower()
                fields[key] = val.strip()
            if "deb" not in fields.get("types", "").split():
                continue
            if fields.get("enabled", "yes").lower() == "no":
                continue
            entries.append({"uris": fields.get("uris", "").split(),
                            "suites": fields.get("suites", "").split(),
                            "components": fields.get("components", "").split(),
                            "signed_by": fields.get("signed-by", "")})
    return entries


def apt_sources(suite):
    """(mirror for debootstrap, deb822 text for a chroot of that suite): the machine's own
    entries for SUITE, SUITE-updates and SUITE-security, with their addresses unchanged."""
    wanted = {suite, suite + "-updates", suite + "-security"}
    mirror, paras = None, []
    for e in apt_entries():
        suites = [s for s in e["suites"] if s in wanted]
        if not suites or not e["uris"]:
            continue
        if mirror is None and suite in suites:
            mirror = e["uris"][0]
        para = "Types: deb\nURIs: %s\nSuites: %s\nComponents: %s\n" % (
            " ".join(e["uris"]), " ".join(suites), " ".join(e["components"] or ["main"]))
        if e["signed_by"] and "\n" not in e["signed_by"]:
            para += "Signed-By: %s\n" % e["signed_by"]
        paras.append(para)
    if mirror is None:
        raise DockerfileError("the machine's apt configuration has no entry for suite %s" % suite)
    return mirror, "\n".join(paras)


# ---- command line -----------------------------------------------------------------------

def emit_steps(stages):
    """Shell function calls, one a line, for tools/docker-check.sh to source."""
    q = shlex.quote
    lines = []
    for s in stages:
        lines.append("df_from %d %s %s %s" % (s["index"], q(s["base"]), q(s["name"] or ""),
                                              q("" if s["parent"] is None else str(s["parent"]))))
        for step in s["steps"]:
            lines.append("df_%s %d %s" % (step[0], s["index"], " ".join(q(a) for a in step[1:])))
    last = stages[-1]
    lines.append("df_image_user %s" % q(last["user"]))
    for k, v in last["env"].items():
        lines.append("df_image_env %s %s" % (q(k), q(v)))
    lines.append("df_image_workdir %s" % q(last["workdir"]))
    for p in last["expose"]:
        lines.append("df_image_expose %s" % q(p))
    if last["entrypoint"]:
        lines.append("df_image_entrypoint %s" % " ".join(q(a) for a in last["entrypoint"]))
    if last["cmd"]:
        lines.append("df_image_cmd %s" % " ".join(q(a) for a in last["cmd"]))
    if last["healthcheck"]:
        lines.append("df_image_healthcheck %s" % " ".join(q(a) for a in last["healthcheck"]["cmd"]))
    lines.append("df_image_stopsignal %s" % q(last["stopsignal"] or "SIGTERM"))
    return "\n".join(lines) + "\n"


def main(argv):
    if len(argv) < 2 or argv[1] not in ("steps", "context", "apt-sources", "user-ids"):
        sys.stderr.write(__doc__)
        return 2
    try:
        if argv[1] == "steps":
            sys.stdout.write(emit_steps(load(argv[2] if len(argv) > 2 else "Dockerfile")))
        elif argv[1] == "context":
            for f in context_files(argv[2] if len(argv) > 2 else "."):
                sys.stdout.write(f + "\0")
        elif argv[1] == "apt-sources":
            mirror, text = apt_sources(argv[2])
            if len(argv) > 3 and argv[3] == "--mirror":
                print(mirror)
            else:
                sys.stdout.write(text)
        elif argv[1] == "user-ids":  # user-ids USER ROOT: "uid gid" inside that root
            root = argv[3]
            with open(os.path.join(root, "etc/passwd")) as p, open(os.path.join(root, "etc/group")) as g:
                print("%d %d" % user_ids(argv[2], p.read(), g.read()))
    except (DockerfileError, OSError) as e:
        sys.stderr.write("dockerfile.py: %s\n" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
