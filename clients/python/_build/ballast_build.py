"""The PEP 517 build backend of the ballast package, standard library only.

pip builds a package in an isolated environment into which it first installs
the backend named by pyproject.toml's [build-system] requires: with
setuptools that is a download from PyPI, which an offline machine cannot do.
This backend needs nothing (requires = []), so a plain

    pip install ./clients/python

works with Debian's pip and no network. It builds:

- a wheel (PEP 427): the files of the `ballast` package, and a .dist-info
  directory with METADATA (core metadata 2.1, from pyproject.toml's [project]
  table, PEP 621), WHEEL and RECORD (a sha256 and size per file);
- an sdist (PEP 517/625): ballast-VERSION.tar.gz with PKG-INFO, pyproject.toml,
  README.md, the package and this backend;
- an editable wheel (PEP 660): a .pth file that puts the source directory on
  sys.path, so the checkout's files are the ones imported.

Archives are reproducible: every entry has the same fixed timestamp (or
$SOURCE_DATE_EPOCH) and a fixed order, so two builds give the same bytes.
"""
import base64
import gzip
import hashlib
import io
import os
import re
import tarfile
import time
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = "ballast"
# Files of the package shipped in the wheel: its modules and the PEP 561 marker.
PACKAGE_FILES = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\.py$|^py\.typed$")
# Extra files of the sdist, besides the package and PKG-INFO.
SDIST_FILES = ("pyproject.toml", "README.md", "_build/ballast_build.py")
TAG = "py3-none-any"
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)   # the earliest time a zip entry can hold


# ---- pyproject.toml -------------------------------------------------------------

def _parse_toml(text):
    """The subset of TOML that pyproject.toml uses here: [tables] and
    [dotted.tables], key = "string" | 'string' | integer | true/false |
    [arrays of those, over several lines], # comments. For Pythons without
    tomllib (before 3.11); tomllib is used when present."""
    doc = {}
    table = doc
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = _strip_comment(lines[i]).strip()
        i += 1
        if not line:
            continue
        m = re.match(r"^\[([A-Za-z0-9_.\-\"]+)\]$", line)
        if m:
            table = doc
            for part in m.group(1).split("."):
                table = table.setdefault(part.strip('"'), {})
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ValueError("pyproject.toml line %d: expected key = value: %r" % (i, line))
        value = value.strip()
        if value.startswith("[") and not _balanced(value):
            while i < len(lines) and not _balanced(value):
                value += " " + _strip_comment(lines[i]).strip()
                i += 1
        table[key.strip().strip('"')] = _toml_value(value, i)
    return doc


def _outside_strings(text):
    """Each character of text, with whether it stands outside a quoted string
    (quotes themselves count as inside)."""
    quote = None
    for ch in text:
        if quote:
            if ch == quote:
                quote = None
            yield ch, False
        elif ch in "\"'":
            quote = ch
            yield ch, False
        else:
            yield ch, True


def _strip_comment(line):
    out = []
    for ch, bare in _outside_strings(line):
        if bare and ch == "#":
            break
        out.append(ch)
    return "".join(out)


def _balanced(value):
    depth = 0
    for ch, bare in _outside_strings(value):
        if bare:
            depth += (ch == "[") - (ch == "]")
    return depth == 0


def _toml_value(value, line):
    if value.startswith("["):
        inner = value[1:-1].strip()
        items, cur, quote = [], "", None
        for ch in inner:
            if quote:
                cur += ch
                if ch == quote:
                    quote = None
            elif ch in "\"'":
                quote = ch
                cur += ch
            elif ch == ",":
                if cur.strip():
                    items.append(_toml_value(cur.strip(), line))
                cur = ""
            else:
                cur += ch
        if cur.strip():
            items.append(_toml_value(cur.strip(), line))
        return items
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        s = value[1:-1]
        if value[0] == '"':
            s = s.replace('\\"', '"').replace("\\\\", "\\")
        return s
    if value in ("true", "false"):
        return value == "true"
    if re.match(r"^[+-]?[0-9]+$", value):
        return int(value)
    raise ValueError("pyproject.toml line %d: a value this backend cannot read: %r" % (line, value))


def load_pyproject(root=ROOT):
    path = os.path.join(root, "pyproject.toml")
    try:
        import tomllib
    except ImportError:
        with open(path, encoding="utf-8") as f:
            return _parse_toml(f.read())
    with open(path, "rb") as f:
        return tomllib.load(f)


# ---- metadata ---------------------------------------------------------------------

def _project(root=ROOT):
    project = load_pyproject(root).get("project")
    if not project:
        raise ValueError("pyproject.toml has no [project] table")
    for key in ("name", "version"):
        if not isinstance(project.get(key), str) or not project[key]:
            raise ValueError("pyproject.toml: [project] %s must be a non-empty string" % key)
    if project.get("dynamic"):
        raise ValueError("pyproject.toml: dynamic metadata is not supported by this backend")
    return project


def _dist_name(name):
    """The name as it appears in file names (PEP 427: runs of -_. become _)."""
    return re.sub(r"[-_.]+", "_", name)


def metadata_text(root=ROOT):
    """Core metadata 2.1 (the METADATA of the wheel, the PKG-INFO of the sdist)."""
    p = _project(root)
    lines = ["Metadata-Version: 2.1", "Name: " + p["name"], "Version: " + p["version"]]
    if p.get("description"):
        lines.append("Summary: " + p["description"])
    if p.get("requires-python"):
        lines.append("Requires-Python: " + p["requires-python"])
    for c in p.get("classifiers", []):
        lines.append("Classifier: " + c)
    for name, url in p.get("urls", {}).items():
        lines.append("Project-URL: %s, %s" % (name, url))
    for dep in p.get("dependencies", []):
        lines.append("Requires-Dist: " + dep)
    for extra, deps in p.get("optional-dependencies", {}).items():
        lines.append("Provides-Extra: " + extra)
        for dep in deps:
            marker = 'extra == "%s"' % extra
            lines.append("Requires-Dist: %s; %s" % (dep, marker) if ";" not in dep
                         else "Requires-Dist: %s and %s" % (dep, marker))
    body = ""
    readme = p.get("readme")
    if readme:
        if not isinstance(readme, str):
            raise ValueError("pyproject.toml: readme must be a file name")
        with open(os.path.join(root, readme), encoding="utf-8") as f:
            body = f.read()
        ctype = "text/markdown" if readme.endswith(".md") else "text/plain"
        lines.append("Description-Content-Type: " + ctype)
    text = "\n".join(lines) + "\n"
    if body:
        text += "\n" + body
    return text


def _wheel_text():
    return ("Wheel-Version: 1.0\nGenerator: ballast_build\nRoot-Is-Purelib: true\nTag: %s\n" % TAG)


# ---- archives -----------------------------------------------------------------------

def _epoch():
    sde = os.environ.get("SOURCE_DATE_EPOCH")
    return int(sde) if sde and sde.isdigit() else None


def _zip_time():
    sde = _epoch()
    if sde is None:
        return ZIP_EPOCH
    return max(ZIP_EPOCH, time.gmtime(sde)[:6])


def _package_files(root=ROOT):
    """(path in the archive, path on disk) of the package's files, sorted."""
    out = []
    top = os.path.join(root, PACKAGE)
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__" and not d.startswith("."))
        for name in sorted(filenames):
            if PACKAGE_FILES.match(name):
                full = os.path.join(dirpath, name)
                out.append((os.path.relpath(full, root).replace(os.sep, "/"), full))
    if not any(arc == PACKAGE + "/__init__.py" for arc, _ in out):
        raise ValueError("%s/__init__.py is missing" % PACKAGE)
    return sorted(out)


def _record_hash(data):
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _write_wheel(directory, entries):
    """Writes a wheel of entries [(archive path, bytes)] plus the dist-info's
    METADATA, WHEEL and RECORD; returns its file name."""
    p = _project()
    dist = "%s-%s" % (_dist_name(p["name"]), p["version"])
    info = dist + ".dist-info"
    entries = list(entries) + [(info + "/METADATA", metadata_text().encode("utf-8")),
                               (info + "/WHEEL", _wheel_text().encode("ascii"))]
    record = io.StringIO()
    for arc, data in entries:
        record.write("%s,%s,%d\n" % (arc, _record_hash(data), len(data)))
    record.write("%s/RECORD,,\n" % info)
    entries.append((info + "/RECORD", record.getvalue().encode("utf-8")))
    name = "%s-%s.whl" % (dist, TAG)
    when = _zip_time()
    with zipfile.ZipFile(os.path.join(directory, name), "w", zipfile.ZIP_DEFLATED) as z:
        for arc, data in entries:
            zi = zipfile.ZipInfo(arc, when)
            zi.external_attr = 0o644 << 16
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, data)
    return name


def _read(path):
    with open(path, "rb") as f:
        return f.read()


# ---- the PEP 517 / PEP 660 hooks --------------------------------------------------------

def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    p = _project()
    info = "%s-%s.dist-info" % (_dist_name(p["name"]), p["version"])
    path = os.path.join(metadata_directory, info)
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "METADATA"), "w", encoding="utf-8") as f:
        f.write(metadata_text())
    with open(os.path.join(path, "WHEEL"), "w", encoding="ascii") as f:
        f.write(_wheel_text())
    return info


prepare_metadata_for_build_editable = prepare_metadata_for_build_wheel


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    return _write_wheel(wheel_directory, [(arc, _read(full)) for arc, full in _package_files()])


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    _package_files()   # the package must be there
    pth = ("_%s_editable.pth" % _dist_name(_project()["name"]), (ROOT + "\n").encode("utf-8"))
    return _write_wheel(wheel_directory, [pth])


def build_sdist(sdist_directory, config_settings=None):
    p = _project()
    base = "%s-%s" % (_dist_name(p["name"]), p["version"])
    files = [("PKG-INFO", metadata_text().encode("utf-8"))]
    files += [(arc, _read(os.path.join(ROOT, arc))) for arc in SDIST_FILES]
    files += [(arc, _read(full)) for arc, full in _package_files()]
    name = base + ".tar.gz"
    mtime = _epoch() or 0
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for arc, data in sorted(files):
            ti = tarfile.TarInfo("%s/%s" % (base, arc))
            ti.size, ti.mtime, ti.mode = len(data), mtime, 0o644
            ti.uid = ti.gid = 0
            ti.uname = ti.gname = ""
            tar.addfile(ti, io.BytesIO(data))
    with open(os.path.join(sdist_directory, name), "wb") as f:
        with gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=mtime) as gz:
            gz.write(raw.getvalue())
    return name
