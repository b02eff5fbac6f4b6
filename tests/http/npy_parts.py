"""NumPy .npy files and multipart/form-data bodies, standard library only:
what the binary-transport suites (test_bulk, test_contract) send and read."""
import ast
import json
import struct

_PACK = {"<f8": "<%dd", "<f4": "<%df", "<i8": "<%dq", "<i4": "<%di", "|u1": "<%dB",
         ">f8": ">%dd", "<f2": "<%de"}


def npy(values, shape, descr="<f8", version=(1, 0), fortran=False):
    """A .npy file of the flat list values with the given shape (any dtype
    code of _PACK, also ones the server must refuse)."""
    data = struct.pack(_PACK[descr] % len(values), *values)
    shp = "(%s)" % (", ".join(map(str, shape)) + ("," if len(shape) == 1 else ""))
    header = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, shp)
    lenbytes = 2 if version[0] == 1 else 4
    pad = (64 - (6 + 2 + lenbytes + len(header) + 1) % 64) % 64
    header = header + " " * pad + "\n"
    size = struct.pack("<H" if lenbytes == 2 else "<I", len(header))
    return b"\x93NUMPY" + bytes(version) + size + header.encode() + data


def parse_npy(b):
    """(header dict, flat list of values) of a version 1.0 <f8 or <i8 .npy."""
    if b[:6] != b"\x93NUMPY":
        raise AssertionError("not a .npy file: %r" % b[:20])
    hl = struct.unpack("<H", b[8:10])[0]
    d = ast.literal_eval(b[10:10 + hl].decode("latin-1"))
    n = 1
    for s in d["shape"]:
        n *= s
    code = {"<f8": "d", "<i8": "q"}[d["descr"]]
    return d, list(struct.unpack("<%d%s" % (n, code), b[10 + hl:10 + hl + 8 * n]))


def flat(x):
    return [z for y in x for z in flat(y)] if isinstance(x, list) else [x]


def shape_of(x):
    s = []
    while isinstance(x, list):
        s.append(len(x))
        x = x[0] if x else None
    return s


def multipart(parts, boundary):
    """A multipart/form-data body of parts: (name, bytes, is_file)."""
    body = b""
    for name, data, is_file in parts:
        body += ("--%s\r\n" % boundary).encode()
        if is_file:
            body += ('Content-Disposition: form-data; name="%s"; filename="%s.npy"\r\n'
                     "Content-Type: application/octet-stream\r\n\r\n" % (name, name)).encode()
        else:
            body += ('Content-Disposition: form-data; name="%s"\r\n\r\n' % name).encode()
        body += data + b"\r\n"
    return body + ("--%s--\r\n" % boundary).encode()


def post_parts(server, path, parts, boundary, accept=None):
    h = {"Content-Type": "multipart/form-data; boundary=" + boundary}
    if accept:
        h["Accept"] = accept
    return server.request("POST", path, multipart(parts, boundary), headers=h)


def as_parts(request, arrays, int_fields=("targets", "labels")):
    """Moves the named array fields of a JSON request into .npy parts
    (int64 for int_fields of integers, float64 otherwise) and the rest into
    the "request" part."""
    rest = dict(request)
    parts = []
    for name in arrays:
        if not isinstance(rest.get(name), list):
            continue
        v = rest.pop(name)
        vals = flat(v)
        is_int = name in int_fields and all(isinstance(x, int) and not isinstance(x, bool) for x in vals)
        parts.append((name, npy(vals, shape_of(v), "<i8" if is_int else "<f8"), True))
    parts.append(("request", json.dumps(rest).encode(), False))
    return parts
