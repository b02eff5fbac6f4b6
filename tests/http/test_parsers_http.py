#!/usr/bin/env python3
"""The request path's header parsers through a real ballastd: multipart
parameters (Content-Type's boundary, Content-Disposition's name) and the
.npy header dict. Each case is a trick that a substring search falls for:
a parameter's value holding "name=..." or "boundary=...", a .npy key's
text inside another value, a zero dimension hiding a huge one. The unit
cases are in tests/unit/test_parsers.c. Standard library only."""
import json
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, eq, main, server, test  # noqa: E402
from npy_parts import npy  # noqa: E402

srv = None
BOUNDARY = "ballast-parsers-7e3a"


def npy_with_header(header, data):
    """A version 1.0 .npy of the header text as given, padded as numpy pads."""
    pad = (64 - (10 + len(header) + 1) % 64) % 64
    h = (header + " " * pad + "\n").encode("latin-1")
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h + data


def body_of(parts, boundary=BOUNDARY):
    """A multipart body of (Content-Disposition value, content) pairs."""
    out = b""
    for disposition, data in parts:
        out += ("--%s\r\nContent-Disposition: %s\r\n\r\n" % (boundary, disposition)).encode()
        out += data + b"\r\n"
    return out + ("--%s--\r\n" % boundary).encode()


def post(path, parts, ctype="multipart/form-data; boundary=" + BOUNDARY, boundary=BOUNDARY):
    status, h, data = srv.request("POST", path, body_of(parts, boundary),
                                  headers={"Content-Type": ctype})
    return status, json.loads(data)


def error_of(status, doc, code="invalid_argument"):
    eq(status, 400, "status (%s)" % doc)
    eq(doc["error"]["code"], code, "code")
    return doc["error"]


COUNTS = npy([1, 2, 4], [3], "<i8")


@test
def filename_holding_name_is_not_the_name():
    # A substring search read this part's name from inside its filename
    # ('labels"'). It is "counts".
    status, doc = post("/weights", [('form-data; filename="x name=labels"; name="counts"', COUNTS)])
    eq(status, 200, doc)
    eq(doc["weights"], [4.0, 2.0, 1.0], "weights")
    status, doc = post("/weights", [('form-data; name="counts"; filename="x name=labels"', COUNTS)])
    eq((status, doc.get("counts")), (200, [1, 2, 4]), "name first")
    status, doc = post("/weights", [('form-data; filename="x; name=labels"; NAME=counts', COUNTS)])
    eq((status, doc.get("counts")), (200, [1, 2, 4]), "filename first, NAME in capitals")
    status, doc = post("/weights", [('form-data; name="co\\unts"', COUNTS)])
    eq((status, doc.get("counts")), (200, [1, 2, 4]), "a quoted-pair in the name")


@test
def ambiguous_dispositions_refused():
    for disposition in ('form-data; name="counts"; name="labels"',
                        'attachment; name="counts"',
                        'form-data; name="counts',
                        'form-data; name=counts junk'):
        status, doc = post("/weights", [(disposition, COUNTS)])
        error_of(status, doc)
    # The part's content still has to be its own: nothing was taken from it.
    status, doc = post("/weights", [('form-data; filename="name=counts"', COUNTS)])
    error_of(status, doc)


@test
def boundary_only_as_a_parameter():
    ok = "multipart/form-data; foo=\"x; boundary=evil\"; boundary=" + BOUNDARY
    status, doc = post("/weights", [('form-data; name="counts"', COUNTS)], ctype=ok)
    eq((status, doc.get("counts")), (200, [1, 2, 4]), "boundary after a parameter that quotes one")
    for ctype in ('multipart/form-data; foo="boundary=%s"' % BOUNDARY,
                  "multipart/form-data; xboundary=%s" % BOUNDARY,
                  "multipart/form-data; boundary=%s; boundary=%s" % (BOUNDARY, BOUNDARY)):
        status, doc = post("/weights", [('form-data; name="counts"', COUNTS)], ctype=ctype)
        check("boundary" in error_of(status, doc)["message"], doc)


@test
def npy_key_inside_a_value():
    # A substring search found 'shape': (1,) inside descr, read descr as
    # '<f8' and took one float64; numpy reads descr as the whole string.
    header = "{'descr': \"<f8', 'shape': (1,), '\", 'fortran_order': False, 'shape': (2,), }"
    part = npy_with_header(header, struct.pack("<d", 1.0))
    status, doc = post("/sample", [('form-data; name="weights"', part)])
    err = error_of(status, doc)
    eq(err.get("field"), "weights", "field")
    check("is not supported" in err["message"], err)
    # Unknown and duplicate keys name the key.
    for header, fragment in (
            ("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), 'shape': (1,)}", "twice"),
            ("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), 'x': 1}", "unknown key 'x'"),
            ("{'descr': '<f8', 'fortran_order': False}", "no 'shape'")):
        status, doc = post("/sample", [('form-data; name="weights"', npy_with_header(header, struct.pack("<d", 1.0)))])
        check(fragment in error_of(status, doc)["message"], doc)


@test
def npy_empty_rows_bounded():
    # 2**60 - 1 rows of nothing: no element, so no element limit saw it;
    # the per-element loss would be written as 2**60 - 1 empty arrays.
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (1152921504606846975, 0), }"
    empty = npy_with_header(header, b"")
    parts = [('form-data; name="logits"', empty), ('form-data; name="targets"', empty),
             ('form-data; name="request"', b'{"loss": "bce_with_logits", "reduction": "none"}')]
    status, doc = post("/loss", parts)
    err = error_of(status, doc, "limit_exceeded")
    eq(err.get("field"), "logits", "field")
    status, h, b = srv.request("GET", "/healthz")
    eq(status, 200, "healthz after")


if __name__ == "__main__":
    srv = server()
    main("parsers-http")
