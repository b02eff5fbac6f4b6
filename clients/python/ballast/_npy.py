"""NumPy .npy files and multipart/form-data bodies, standard library only.

ballastd reads .npy format 1.0-3.0, little-endian, C order, in five dtypes
(<f8, <f4, <i8, <i4, |u1) and writes format 1.0 with the data aligned to 64
bytes. These helpers write and read exactly that; NumPy, when present, is
used only to view the data without copying it element by element."""
import array
import ast
import os
import struct
import sys

MAGIC = b"\x93NUMPY"
# descr -> (array typecode, item size)
DTYPES = {"<f8": ("d", 8), "<f4": ("f", 4), "<i8": ("q", 8), "<i4": ("i", 4), "|u1": ("B", 1)}


def header(descr, shape):
    """The .npy 1.0 header for a C-order array, padded so that the data
    starts at a multiple of 64 bytes."""
    if descr not in DTYPES:
        raise ValueError("unsupported .npy dtype %r" % descr)
    shp = "(%s)" % ("%d," % shape[0] if len(shape) == 1 else ", ".join(str(int(d)) for d in shape))
    text = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shp)
    pad = (64 - (10 + len(text) + 1) % 64) % 64
    text = text + " " * pad + "\n"
    return MAGIC + b"\x01\x00" + struct.pack("<H", len(text)) + text.encode("latin-1")


def encode(descr, shape, data):
    """A .npy file from raw little-endian bytes (or a buffer) of that shape."""
    data = bytes(data)
    n = 1
    for d in shape:
        n *= int(d)
    if n * DTYPES[descr][1] != len(data):
        raise ValueError(".npy: %d bytes do not hold shape %r of %s" % (len(data), tuple(shape), descr))
    return header(descr, shape) + data


def encode_values(values, descr, shape=None):
    """A .npy file from a flat sequence of Python numbers."""
    code, _ = DTYPES[descr]
    a = array.array(code, values)
    if sys.byteorder == "big" and a.itemsize > 1:
        a.byteswap()
    return encode(descr, shape if shape is not None else (len(a),), a.tobytes())


def parse(buf):
    """(descr, shape, data offset) of a .npy file; raises ValueError."""
    mv = memoryview(buf)
    if len(mv) < 10 or bytes(mv[:6]) != MAGIC:
        raise ValueError("not a .npy file")
    major = mv[6]
    if major == 1:
        hlen, start = struct.unpack("<H", mv[8:10])[0], 10
    elif major in (2, 3):
        if len(mv) < 12:
            raise ValueError(".npy: truncated header")
        hlen, start = struct.unpack("<I", mv[8:12])[0], 12
    else:
        raise ValueError(".npy: format version %d" % major)
    if start + hlen > len(mv):
        raise ValueError(".npy: truncated header")
    try:
        head = ast.literal_eval(bytes(mv[start:start + hlen]).decode("utf-8" if major == 3 else "latin-1"))
    except (ValueError, SyntaxError) as e:
        raise ValueError(".npy: bad header (%s)" % e) from None
    if not isinstance(head, dict) or head.get("fortran_order") not in (False,):
        raise ValueError(".npy: only C-order arrays are read")
    descr = head.get("descr")
    if descr not in DTYPES:
        raise ValueError(".npy: dtype %r not supported" % (descr,))
    shape = tuple(int(d) for d in head.get("shape", ()))
    n = 1
    for d in shape:
        n *= d
    if start + hlen + n * DTYPES[descr][1] != len(mv):
        raise ValueError(".npy: %d data bytes for shape %r of %s" % (len(mv) - start - hlen, shape, descr))
    return descr, shape, start + hlen


def to_numpy(buf):
    """A .npy file as a (writable) NumPy array."""
    import numpy as np
    descr, shape, off = parse(buf)
    n = 1
    for d in shape:
        n *= d
    return np.frombuffer(buf, dtype=np.dtype(descr), count=n, offset=off).reshape(shape).copy()


def to_list(buf):
    """A .npy file as nested Python lists (a number for a 0-d array)."""
    descr, shape, off = parse(buf)
    code, size = DTYPES[descr]
    a = array.array(code)
    a.frombytes(bytes(memoryview(buf)[off:]))
    if sys.byteorder == "big" and size > 1:
        a.byteswap()
    flat = a.tolist()
    if not shape:
        return flat[0]

    def nest(lo, dims):
        if len(dims) == 1:
            return flat[lo:lo + dims[0]]
        step = 1
        for d in dims[1:]:
            step *= d
        return [nest(lo + i * step, dims[1:]) for i in range(dims[0])]
    return nest(0, shape)


# ---- multipart/form-data ----------------------------------------------------------

def encode_multipart(parts):
    """parts: (name, bytes, filename or None, content type or None).
    Returns (body, Content-Type header value)."""
    while True:
        boundary = "ballast-" + os.urandom(12).hex()
        b = boundary.encode()
        if not any(b in data for _, data, _, _ in parts):
            break
    chunks = []
    for name, data, filename, ctype in parts:
        disp = 'form-data; name="%s"' % name
        if filename:
            disp += '; filename="%s"' % filename
        head = "--%s\r\nContent-Disposition: %s\r\n" % (boundary, disp)
        if ctype:
            head += "Content-Type: %s\r\n" % ctype
        chunks += [head.encode(), b"\r\n", data, b"\r\n"]
    chunks.append(("--%s--\r\n" % boundary).encode())
    return b"".join(chunks), "multipart/form-data; boundary=" + boundary


def _param(value, key):
    for item in value.split(";")[1:]:
        k, _, v = item.strip().partition("=")
        if k.strip().lower() == key:
            v = v.strip()
            if len(v) >= 2 and v[0] == v[-1] == '"':
                v = v[1:-1]
            return v
    return None


def decode_multipart(body, content_type):
    """{part name: bytes} of a multipart/form-data body."""
    boundary = _param(content_type, "boundary")
    if not boundary:
        raise ValueError("multipart answer without a boundary")
    delim = b"--" + boundary.encode()
    mv = bytes(body)
    pos = mv.find(delim)
    if pos < 0:
        raise ValueError("multipart answer without its boundary")
    parts = {}
    while True:
        pos += len(delim)
        if mv.startswith(b"--", pos):
            return parts
        if not mv.startswith(b"\r\n", pos):
            raise ValueError("malformed multipart answer")
        end_head = mv.find(b"\r\n\r\n", pos + 2)
        if end_head < 0:
            raise ValueError("malformed multipart answer: part headers")
        name = None
        for line in mv[pos + 2:end_head].split(b"\r\n"):
            k, _, v = line.decode("latin-1").partition(":")
            if k.strip().lower() == "content-disposition":
                name = _param(v, "name")
        nxt = mv.find(b"\r\n" + delim, end_head + 4)
        if nxt < 0:
            raise ValueError("malformed multipart answer: unterminated part")
        if name is None:
            raise ValueError("multipart part without a name")
        parts[name] = mv[end_head + 4:nxt]
        pos = nxt + 2
