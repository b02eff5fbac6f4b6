#!/usr/bin/env python3
"""Every example of api/openapi.yaml, replayed against a live ballastd.

Request examples are paired with response examples BY NAME: a request example
`N` of an operation (under application/json or multipart/form-data) is sent to
the server, and the answer must equal the one response example named `N` of
that operation, under whichever status it is documented (200 or 400): same
status, same JSON body. Numbers are compared as the floats (or, both being
integers, the integers) that JSON parsing gives, never as text, so the
document may spell 1e-320 as `1.0e-320` (YAML 1.1 needs the point) while the
server prints `1e-320`. Object keys are compared in order (the server keeps
`counts`' keys in the request's order, and the examples show its field order).

In multipart/form-data request examples, a `.npy` part is written as the
NumPy expression that `np.save` would turn into it, e.g.
`np.array([[1.0, 2.0]], dtype='<f8')`; the `request` part is its JSON text.

Response examples that no request example can produce (the request is not a
valid document: an unknown field, invalid JSON, a real where an integer
belongs, a seed beyond 2^64; or the answer needs a server option such as
--max-items) are sent from UNPAIRED below; every other response example
must have its request example, so no example goes unreplayed. The
single `example` of the shared error responses (components.responses) and
of the GET routes are replayed too, as are the X-Request-Id examples.

Needs PyYAML: when the python3 running it lacks it, it re-runs itself under
/usr/bin/python3 (Debian's python3-yaml); when neither has it, it fails."""
import os
import subprocess
import sys

SYSTEM_PYTHON = "/usr/bin/python3"
try:
    import yaml  # noqa: F401
except ImportError as exc:
    if (not os.environ.get("BALLAST_REPLAY_REEXEC") and os.path.exists(SYSTEM_PYTHON)
            and os.path.realpath(sys.executable or "") != os.path.realpath(SYSTEM_PYTHON)
            and subprocess.run([SYSTEM_PYTHON, "-c", "import yaml"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL).returncode == 0):
        os.environ["BALLAST_REPLAY_REEXEC"] = "1"
        sys.stdout.flush()
        os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON, os.path.abspath(__file__)] + sys.argv[1:])
    print("FAIL replay_prerequisites")
    print("replaying the examples needs PyYAML (%s): install Debian's python3-yaml" % exc)
    print("examples-replay: 0 passed, 1 failed")
    sys.exit(1)

import ast  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import time  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from harness import ROOT, Server, check, eq, main, test
from harness import server as shared_server  # noqa: E402
from npy_parts import multipart, npy  # noqa: E402

DOC_PATH = os.path.join(ROOT, "api", "openapi.yaml")
with open(DOC_PATH) as _f:
    DOC = yaml.safe_load(_f)
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
BOUNDARY = "----ballast-replay-41c9"
srv = None
servers = {}    # extra servers by their options, started on demand


def server(*args):
    if not args:
        return srv
    if args not in servers:
        servers[args] = shared_server("--log-format", "none", *args)
    return servers[args]


def deref(obj):
    seen = 0
    while isinstance(obj, dict) and "$ref" in obj:
        ref = obj["$ref"]
        check(ref.startswith("#/"), "only local $refs: %s" % ref)
        obj = DOC
        for part in ref[2:].split("/"):
            obj = obj[part.replace("~1", "/").replace("~0", "~")]
        seen += 1
        check(seen < 50, "$ref loop at %s" % ref)
    return obj


# ---- comparing an answer with an example ----

def is_num(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def differences(want, got, path="$"):
    """Where got differs from want: numbers as floats (integers exactly when
    both are integers), objects with their keys in order."""
    if is_num(want) and is_num(got):
        if isinstance(want, int) and isinstance(got, int):
            return [] if want == got else ["%s: %r, the document says %r" % (path, got, want)]
        return [] if float(want) == float(got) else [
            "%s: %r, the document says %r" % (path, got, want)]
    if isinstance(want, list) and isinstance(got, list):
        if len(want) != len(got):
            return ["%s: %s, the document says %s" % (path, json.dumps(got), json.dumps(want))]
        out = []
        for i, (w, g) in enumerate(zip(want, got)):
            out += differences(w, g, "%s[%d]" % (path, i))
        if out and all(is_num(x) for x in want):
            return ["%s: %s, the document says %s" % (path, json.dumps(got), json.dumps(want))]
        return out
    if isinstance(want, dict) and isinstance(got, dict):
        if list(want) != list(got):
            return ["%s: keys %s, the document says %s" % (path, list(got), list(want))]
        out = []
        for k in want:
            out += differences(want[k], got[k], "%s.%s" % (path, k))
        return out
    if type(want) is type(got) and want == got:
        return []
    return ["%s: %s, the document says %s" % (path, json.dumps(got), json.dumps(want))]


def answer_matches(status, headers, data, want_status, want_body, what):
    ctype = headers.get("content-type", "")
    check(ctype.split(";")[0] == "application/json", "%s: Content-Type %r" % (what, ctype))
    got = json.loads(data)
    problems = differences(want_body, got)
    if status != want_status:
        problems.insert(0, "status %d, the document says %d" % (status, want_status))
    check(not problems, "%s is stale:\n  %s\n  the server answers: %s"
          % (what, "\n  ".join(problems[:10]), data.decode()[:2000]))


# ---- multipart request examples ----

NPY = re.compile(r"np\.array\((.*), dtype='(<f8|<f4|<i8|<i4|\|u1)'\)", re.S)


def shape_and_flat(v):
    if not isinstance(v, list):
        return [], [v]
    shape, flat = None, []
    for x in v:
        s, f = shape_and_flat(x)
        check(shape is None or s == shape, "ragged array in an example: %r" % (v,))
        shape = s
        flat += f
    return [len(v)] + (shape or []), flat


def npy_part(name, text):
    m = NPY.fullmatch(text.strip())
    check(m, "part %r: %r is not np.array(<values>, dtype='<f8|<f4|<i8|<i4||u1')" % (name, text))
    values = ast.literal_eval(m.group(1))
    shape, flat = shape_and_flat(values)
    return (name, npy(flat, shape, m.group(2)), True)


def multipart_parts(value):
    parts = []
    for name, v in value.items():
        check(isinstance(v, str), "part %r of a multipart example must be a string" % name)
        if name == "request":
            json.loads(v)  # the request part is JSON text
            parts.append((name, v.encode(), False))
        else:
            parts.append(npy_part(name, v))
    return parts


# ---- the document's examples ----

def operations():
    for path, item in DOC["paths"].items():
        item = deref(item)
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def request_examples(op):
    """{name: (media type, value)} of an operation's request body."""
    out = {}
    body = deref(op.get("requestBody") or {})
    for mtype, mt in (body.get("content") or {}).items():
        for name, ex in (mt.get("examples") or {}).items():
            check(name not in out, "request example %r is defined twice" % name)
            out[name] = (mtype, deref(ex)["value"])
        check("example" not in mt, "%s: a single request `example` has no name to pair it by" % mtype)
    return out


def response_examples(op):
    """{name: (status, value)} of an operation's named JSON response examples."""
    out = {}
    for status, resp in (op.get("responses") or {}).items():
        resp = deref(resp)
        for mtype, mt in (resp.get("content") or {}).items():
            for name, ex in (mt.get("examples") or {}).items():
                check(mtype == "application/json", "a named example under %s" % mtype)
                check(name not in out, "response example %r is defined twice" % name)
                out[name] = (int(status), deref(ex)["value"])
    return out


# Response examples that no request example can produce, with what produces
# them: (server options, Content-Type, raw body).
UNPAIRED = {
    ("/weights", "unknown_field"): ((), "application/json", b'{"counts": [1, 2], "reducton": "sum"}'),
    ("/weights", "too_many_classes"): (("--max-items", "3"), "application/json",
                                       b'{"counts": [1, 2, 3, 4]}'),
    ("/weights", "invalid_json"): ((), "application/json", b'{"counts": [1], }'),
    ("/sample", "seed_out_of_range"): ((), "application/json",
                                       b'{"weights": [1, 2], "seed": 18446744073709551616}'),
    ("/sample", "not_an_integer"): ((), "application/json", b'{"weights": [1, 2], "num_samples": 5.0}'),
}

REQUEST_ID = deref(DOC["components"]["parameters"]["XRequestId"])["example"]


def send_example(path, method, mtype, value):
    hdr = {"X-Request-Id": REQUEST_ID}
    if mtype == "multipart/form-data":
        h = {"Content-Type": "multipart/form-data; boundary=" + BOUNDARY}
        h.update(hdr)
        return srv.request(method.upper(), path, multipart(multipart_parts(value), BOUNDARY), headers=h)
    eq(mtype, "application/json", "request media type of an example")
    return srv.request(method.upper(), path, json.dumps(value).encode(), headers=hdr)


def make_pair_test(path, method, name, mtype, value, status, want):
    def fn():
        st, h, data = send_example(path, method, mtype, value)
        answer_matches(st, h, data, status, want,
                       "%s %s example %r (%s)" % (method.upper(), path, name, mtype))
        eq(h.get("x-request-id"), REQUEST_ID, "the X-Request-Id parameter's example is echoed")
    fn.__name__ = "%s%s:%s" % (method, path.replace("/", "_"), name)
    return fn


def make_unpaired_test(path, method, name, status, want):
    args, ctype, body = UNPAIRED[(path, name)]

    def fn():
        st, h, data = server(*args).request(method.upper(), path, body, headers={"Content-Type": ctype})
        answer_matches(st, h, data, status, want, "%s %s response example %r" % (method.upper(), path, name))
    fn.__name__ = "%s%s:%s" % (method, path.replace("/", "_"), name)
    return fn


PAIRS = []
for _path, _method, _op in operations():
    _req = request_examples(_op)
    _resp = response_examples(_op)
    for _name, (_mtype, _value) in _req.items():
        if _name in _resp:
            PAIRS.append((_path, _method, _name))
            test(make_pair_test(_path, _method, _name, _mtype, _value, *_resp[_name]))
    for _name, (_status, _value) in _resp.items():
        if _name not in _req and (_path, _name) in UNPAIRED:
            test(make_unpaired_test(_path, _method, _name, _status, _value))


@test
def every_example_is_paired():
    """Each request example has exactly one response example of its name,
    and each response example a request example (or an UNPAIRED entry)."""
    problems = []
    for path, method, op in operations():
        req = request_examples(op)
        resp = response_examples(op)
        for name in req:
            if name not in resp:
                problems.append("%s %s: request example %r has no response example of that name"
                                % (method.upper(), path, name))
        for name in resp:
            if name not in req and (path, name) not in UNPAIRED:
                problems.append("%s %s: response example %r has no request example of that name"
                                % (method.upper(), path, name))
            if name in req and (path, name) in UNPAIRED:
                problems.append("%s %s: %r is both paired and in UNPAIRED" % (method.upper(), path, name))
    for path, name in UNPAIRED:
        op = deref(DOC["paths"][path])["post"]
        if name not in response_examples(op):
            problems.append("UNPAIRED names %s %r, which the document no longer has" % (path, name))
    check(not problems, "\n".join(problems))
    kinds = {}
    for path, method, op in operations():
        for name, (mtype, _) in request_examples(op).items():
            kinds[mtype] = kinds.get(mtype, 0) + 1
    check(kinds.get("multipart/form-data"), "no multipart/form-data request example")
    print("%d request examples paired by name (%s), %d response examples sent from UNPAIRED"
          % (len(PAIRS), ", ".join("%d %s" % (v, k) for k, v in sorted(kinds.items())), len(UNPAIRED)))


# ---- the shared responses and the GET routes ----

def component_example(name):
    resp = deref(DOC["components"]["responses"][name])
    return resp["content"]["application/json"]["example"]


def route_example(path, status="200"):
    op = deref(DOC["paths"][path])["get"]
    return deref(op["responses"][status])["content"]["application/json"]["example"]


def raw_answer(s, data):
    """(status, headers, body) of a raw HTTP exchange."""
    out = s.raw(data)
    head, _, body = out.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    h = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        h[k.strip().lower()] = v.strip()
    return status, h, body


@test
def shared_error_responses():
    """The `example` of every components.responses entry with a JSON body."""
    seen = set()

    def expect(name, status, got):
        seen.add(name)
        answer_matches(got[0], got[1], got[2], status, component_example(name),
                       "components.responses.%s example" % name)

    expect("DefaultError", 404, srv.request("GET", "/nope"))
    expect("MethodNotAllowedPost", 405, srv.request("GET", "/weights"))
    expect("MethodNotAllowedGet", 405, srv.request("DELETE", "/healthz"))
    expect("UnsupportedMediaType", 415, srv.request(
        "POST", "/weights", b'{"counts": [1]}', headers={"Content-Type": "text/plain"}))
    expect("NotAcceptable", 406, srv.request(
        "POST", "/loss", {"logits": [[1, 2]], "targets": [0]}, headers={"Accept": "application/x-npy"}))
    expect("NotImplemented", 501, raw_answer(
        srv, b"POST /weights HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
             b"Transfer-Encoding: gzip\r\n\r\n"))
    small = server("--max-body", "100")
    body = b'{"counts": [1, 2]}'.ljust(134)  # the example's 134 bytes
    expect("PayloadTooLarge", 413, small.request("POST", "/weights", body))
    expect("Unauthorized", 401, server("--auth-token", "replay-s3cret").request(
        "POST", "/weights", {"counts": [1]}))
    # draining: a request in flight keeps the server up, a new POST gets 503
    s = Server("--log-format", "none", "--drain-timeout", "10")
    try:
        keep = s.conn()
        eq(s.request("GET", "/healthz", conn=keep)[0], 200, "healthz")
        slow = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        slow.sendall(b"POST /weights HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 30\r\n\r\n{\"counts\": ")
        time.sleep(0.2)
        s.proc.send_signal(signal.SIGTERM)
        deadline = time.time() + 5
        got = None
        while time.time() < deadline:
            got = s.request("GET", "/readyz", conn=keep)
            if got[0] == 503:
                break
            time.sleep(0.05)
        answer_matches(got[0], got[1], got[2], 503, route_example("/readyz", "503"),
                       "GET /readyz 503 example")
        expect("Unavailable", 503, s.request("POST", "/weights", {"counts": [1]}, conn=keep))
        keep.close()
        slow.sendall(b"[1, 2]}" + b" " * 12)
        slow.recv(65536)
        slow.close()
        eq(s.stop(), 0, "exit status")
    finally:
        s.__exit__()
    missing = []
    for name, resp in DOC["components"]["responses"].items():
        resp = deref(resp)
        if "example" in ((resp.get("content") or {}).get("application/json") or {}) and name not in seen:
            missing.append(name)
    check(not missing, "components.responses examples not replayed: %s" % missing)


@test
def get_route_examples():
    """/healthz, /readyz (200) and /version: the documented example."""
    for path in ("/healthz", "/readyz"):
        st, h, data = srv.request("GET", path)
        answer_matches(st, h, data, 200, route_example(path), "GET %s example" % path)
    st, h, data = srv.request("GET", "/version")
    want = route_example("/version")
    got = json.loads(data)
    eq(list(got), list(want), "/version fields")
    # the library versions are the machine's; ballast's is the document's own
    eq(got["version"], want["version"], "/version version")
    eq(want["version"], DOC["info"]["version"], "info.version")


@test
def request_id_examples():
    """The X-Request-Id examples: the parameter's is echoed; an id the server
    replaces gets the form of the header's example."""
    st, h, data = srv.request("GET", "/healthz", headers={"X-Request-Id": REQUEST_ID})
    eq(h.get("x-request-id"), REQUEST_ID, "echoed")
    header = deref(DOC["components"]["headers"]["X-Request-Id"])
    pattern = header["schema"].get("pattern")
    check(pattern and re.search(pattern, header["example"]), "the header example fits its pattern")
    generated = re.compile(r"[0-9a-f]{8}-[0-9a-f]{12}")
    check(generated.fullmatch(header["example"]), "the header example is a generated id")
    for bad in ("", "x" * 65, 'a"b', "a\\b", "a b", "caf\u00e9"):
        st, h, data = srv.request("GET", "/healthz", headers={"X-Request-Id": bad.encode("utf-8")})
        eq(st, 200, "a bad X-Request-Id is replaced, not refused: %r" % bad)
        check(generated.fullmatch(h.get("x-request-id", "")), "replaced: %r -> %r" % (bad, h.get("x-request-id")))
        check(re.search(pattern, h["x-request-id"]), "fits the header pattern")


if __name__ == "__main__":
    srv = shared_server()
    main("examples-replay")
