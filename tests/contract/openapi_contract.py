"""Checks HTTP responses against api/openapi.yaml.

For one response (method, path, status, Content-Type, body, headers) it finds
the operation by path and method, the response object by status (or
`default`), the media type by Content-Type (parameters stripped), and then:

- application/json: validates the body against the media type's schema with
  jsonschema (OpenAPI 3.0's schema dialect turned into JSON Schema draft 4:
  `nullable: true` adds "null" to `type`; `#/components/...` $refs resolve
  against the whole document);
- application/x-npy: every Ballast-* header must be documented for that
  response, and its value must fit the header's schema;
- multipart/form-data (when the raw body is at hand): the `response` part is
  validated like JSON against the `response` property of the schema, the
  other parts must be documented properties, `.npy` files named
  <field>.npy with Content-Type application/x-npy;
- any other media type (text/plain, application/yaml): it must be documented.

A path that is not in the document must be 404 (components.responses.DefaultError,
the `default` of every operation); a method that the path does not take must be
405 (the path's own 405). A status that an operation does not list matches its
`default` only for the error codes that DefaultError's description names.

Needs PyYAML and jsonschema (Debian: python3-yaml, python3-jsonschema); works
with jsonschema 4.10 (Debian bookworm) and later. Also a command:
    python3 tests/contract/openapi_contract.py LOG...
validates the JSON lines that tests/http/harness.py writes under
BALLAST_CONTRACT_LOG=<file>."""
import copy
import json
import os
import re
import sys

import jsonschema
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOC = os.path.join(ROOT, "api", "openapi.yaml")
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# Request media types that ballastd reads as JSON text, documented in prose
# (requestBody descriptions) rather than as `content`: "" is no Content-Type.
JSON_TEXT_ALIASES = ("", "application/x-www-form-urlencoded")
# OpenAPI keywords that JSON Schema draft 4 does not have (and that do not
# constrain a value).
DROP = {"nullable", "example", "examples", "discriminator", "readOnly", "writeOnly", "xml",
        "externalDocs", "deprecated"}


def media(ctype):
    """'Application/JSON; charset=utf-8' -> 'application/json'."""
    return (ctype or "").split(";")[0].strip().lower()


def to_json_schema(s):
    """An OpenAPI 3.0 Schema Object as JSON Schema draft 4 (a new object)."""
    if isinstance(s, list):
        return [to_json_schema(x) for x in s]
    if not isinstance(s, dict):
        return s
    out = {}
    for k, v in s.items():
        if k in DROP:
            continue
        if k in ("properties", "patternProperties", "definitions"):
            out[k] = {name: to_json_schema(sub) for name, sub in v.items()}
        elif k in ("enum", "default", "required"):
            out[k] = copy.deepcopy(v)
        else:
            out[k] = to_json_schema(v)
    if s.get("nullable") is True:
        if "type" in out:
            types = out["type"] if isinstance(out["type"], list) else [out["type"]]
            out["type"] = types + ["null"]
        if "enum" in out and None not in out["enum"]:
            out["enum"] = out["enum"] + [None]
    return out


class Contract:
    def __init__(self, path=DOC, doc=None):
        self.path = path
        if doc is None:
            with open(path) as f:
                doc = yaml.safe_load(f)
        self.doc = doc
        # $refs to #/components/schemas/... resolve inside this root.
        self.components = {"schemas": to_json_schema(doc.get("components", {}).get("schemas", {}))}
        # Every converted schema must be a valid draft 4 schema.
        jsonschema.Draft4Validator.check_schema({"definitions": self.components["schemas"]})
        self._validators = {}
        self.count = 0          # responses checked
        self.by_status = {}     # status -> count
        self.requests = 0       # request bodies checked

    # ---- the document ----

    def deref(self, obj):
        """Follows local $refs (#/components/...) of the raw document."""
        seen = 0
        while isinstance(obj, dict) and "$ref" in obj:
            ref = obj["$ref"]
            if not ref.startswith("#/"):
                raise ValueError("only local $refs are supported: %s" % ref)
            obj = self.doc
            for part in ref[2:].split("/"):
                part = part.replace("~1", "/").replace("~0", "~")
                obj = obj[int(part)] if isinstance(obj, list) else obj[part]
            seen += 1
            if seen > 50:
                raise ValueError("$ref loop at %s" % ref)
        return obj

    def validator(self, schema):
        key = json.dumps(schema, sort_keys=True)
        v = self._validators.get(key)
        if v is None:
            root = {"allOf": [to_json_schema(schema)], "components": self.components}
            v = jsonschema.Draft4Validator(root)
            self._validators[key] = v
        return v

    def schema_problems(self, schema, value, what):
        errs = sorted(self.validator(schema).iter_errors(value), key=lambda e: list(e.path))
        out = []
        for e in errs[:3]:
            where = "".join("[%r]" % p for p in e.absolute_path) or "(root)"
            out.append("%s: %s at %s: %s" % (what, "schema violation", where, e.message[:300]))
        return out

    def operation(self, method, path):
        """(path item, operation or None, how): how is 'op', 'no-path' or 'no-method'."""
        path = path.split("?")[0]
        item = self.doc["paths"].get(path)
        if item is None:
            return None, None, "no-path"
        item = self.deref(item)
        op = item.get(method.lower())
        return item, op, "op" if op is not None else "no-method"

    def response(self, method, path, status):
        """(response object, description) or (None, problem)."""
        item, op, how = self.operation(method, path)
        what = "%s %s %s" % (method, path, status)
        if how == "no-path":
            if status != 404:
                return None, "%s: path not in the document, so the answer must be 404" % what
            return self.deref(self.doc["components"]["responses"]["DefaultError"]), what
        if how == "no-method":
            if status != 405:
                return None, "%s: the path has no %s operation, so the answer must be 405" % (
                    what, method)
            for m in METHODS:
                if m in item and "405" in item[m].get("responses", {}):
                    return self.deref(item[m]["responses"]["405"]), what
            return None, "%s: 405 is not documented for any operation of %s" % (what, path)
        responses = op.get("responses", {})
        resp = responses.get(str(status)) or responses.get("%dXX" % (status // 100))
        if resp is None and "default" in responses:
            return self.deref(responses["default"]), what + " (default)"
        if resp is None:
            return None, "%s: status %s is not documented (documented: %s)" % (
                what, status, ", ".join(sorted(responses)))
        return self.deref(resp), what

    def default_codes(self, resp):
        """The error codes that a `default` response names in its description
        (`invalid_request`, ...): the only ones it may stand for."""
        enum = self.doc["components"]["schemas"]["Error"]["properties"]["error"]["properties"][
            "code"]["enum"]
        return {c for c in re.findall(r"`([a-z_]+)`", resp.get("description", "")) if c in enum}

    # ---- responses ----

    def check(self, method, path, status, content_type, body=None, headers=None, raw=None,
              has_json=None, skip_body=False):
        """Problems (a list of strings, empty when the response agrees with the
        document). body: the parsed JSON body (for JSON media); raw: the body
        bytes when at hand (multipart); headers: lower-case names; skip_body:
        the body is not at hand (status, media type and headers only)."""
        self.count += 1
        self.by_status[status] = self.by_status.get(status, 0) + 1
        headers = headers or {}
        resp, what = self.response(method, path, status)
        if resp is None:
            return [what]
        problems = []
        if what.endswith(" (default)") and isinstance(body, dict) and \
                isinstance(body.get("error"), dict):
            code = body["error"].get("code")
            if code not in self.default_codes(resp):
                return ["%s: status %s (%s) is not documented for this operation, and `default` "
                        "stands only for %s" % (what, status, code,
                                                ", ".join(sorted(self.default_codes(resp))))]
        what = "%s [%s]" % (what, content_type)
        ballast = {k: v for k, v in headers.items() if k.lower().startswith("ballast-")}
        if method.upper() == "HEAD":
            return problems  # no body: the status is all there is to check
        content = resp.get("content") or {}
        if not content:
            if content_type:
                problems.append("%s: the response documents no body" % what)
            return problems
        mt = None
        for key, value in content.items():
            if media(key) == media(content_type):
                mt = value
        if mt is None:
            return ["%s: media type %s is not documented for this status (documented: %s)" % (
                what, media(content_type), ", ".join(content))]
        schema = mt.get("schema")
        kind = media(content_type)
        if kind == "application/json" and not skip_body:
            if has_json is False:
                problems.append("%s: the body is not JSON" % what)
            elif schema is not None:
                problems += self.schema_problems(schema, body, what)
        if ballast and kind != "application/x-npy":
            problems.append("%s: Ballast-* headers (%s) outside application/x-npy" % (
                what, ", ".join(sorted(ballast))))
        if kind == "application/x-npy":
            documented = {k.lower(): self.deref(v) for k, v in (resp.get("headers") or {}).items()}
            for name, value in sorted(ballast.items()):
                h = documented.get(name.lower())
                if h is None:
                    problems.append("%s: header %s is not documented" % (what, name))
                    continue
                hs = h.get("schema", {})
                if hs.get("type") == "integer" and not re.fullmatch(r"-?[0-9]+", value):
                    problems.append("%s: header %s = %r is not an integer" % (what, name, value))
                problems += self.schema_problems(
                    hs, int(value) if hs.get("type") == "integer" and
                    re.fullmatch(r"-?[0-9]+", value) else value, "%s header %s" % (what, name))
            if raw is not None and not raw.startswith(b"\x93NUMPY"):
                problems.append("%s: the body is not a .npy file" % what)
        if kind == "multipart/form-data" and raw is not None:
            problems += self.check_multipart(schema, content_type, raw, what)
        return problems

    def check_multipart(self, schema, content_type, raw, what):
        problems = []
        schema = self.deref(schema or {})
        props = schema.get("properties", {})
        m = re.search(r"boundary=\"?([^\";]+)\"?", content_type)
        if not m:
            return ["%s: no boundary parameter" % what]
        parts = split_multipart(raw, m.group(1).encode())
        if parts is None:
            return ["%s: malformed multipart body" % what]
        names = [p[0] for p in parts]
        for req in schema.get("required", []):
            if req not in names:
                problems.append("%s: part %r is missing" % (what, req))
        if len(set(names)) != len(names):
            problems.append("%s: a part is repeated: %s" % (what, names))
        for name, filename, ctype, data in parts:
            if name not in props:
                problems.append("%s: part %r is not documented" % (what, name))
                continue
            ps = self.deref(props[name])
            if ps.get("type") == "object":
                if media(ctype) != "application/json":
                    problems.append("%s: part %r has Content-Type %r" % (what, name, ctype))
                try:
                    doc = json.loads(data)
                except ValueError:
                    problems.append("%s: part %r is not JSON" % (what, name))
                    continue
                problems += self.schema_problems(props[name], doc, "%s part %r" % (what, name))
            else:
                if media(ctype) != "application/x-npy" or filename != name + ".npy":
                    problems.append("%s: part %r: Content-Type %r, filename %r" % (
                        what, name, ctype, filename))
                if not data.startswith(b"\x93NUMPY"):
                    problems.append("%s: part %r is not a .npy file" % (what, name))
        return problems

    # ---- requests ----

    def check_request(self, method, path, content_type, body):
        """Problems of a JSON request body that the server accepted (2xx):
        the documented request schema must accept it too."""
        self.requests += 1
        item, op, how = self.operation(method, path)
        if how != "op" or "requestBody" not in op:
            return ["%s %s: no request body is documented" % (method, path)]
        rb = self.deref(op["requestBody"])
        content = rb.get("content", {})
        key = media(content_type)
        if key in JSON_TEXT_ALIASES and key not in [media(k) for k in content]:
            # JSON text sent without a Content-Type or as a form (curl -d):
            # accepted as application/json, which the requestBody's
            # description must say (a form type in `content` would mean
            # key=value fields).
            if (key or "application/x-www-form-urlencoded") not in rb.get("description", "") or \
                    "no Content-Type" not in rb.get("description", ""):
                return ["%s %s: the server takes JSON text as %s, but the requestBody's description "
                        "does not say so" % (method, path, key or "no Content-Type")]
            key = "application/json"
        for k, mt in content.items():
            if media(k) == key:
                return self.schema_problems(mt.get("schema", {}), body,
                                            "request %s %s (accepted by the server)" % (method, path))
        return ["%s %s: request media type %s is not documented" % (method, path, key)]

    def check_line(self, line):
        """A JSON line written by tests/http/harness.py (BALLAST_CONTRACT_LOG)."""
        rec = json.loads(line)
        return self.check(rec["method"], rec["path"], rec["status"], rec.get("content_type", ""),
                          rec.get("body"), rec.get("headers"), has_json="not_json" not in rec,
                          skip_body="body_bytes" in rec)


def split_multipart(raw, boundary):
    """[(name, filename, content type, data)], or None when malformed."""
    delim = b"--" + boundary
    chunks = raw.split(delim)
    if len(chunks) < 3 or chunks[0] not in (b"",) or not chunks[-1].startswith(b"--"):
        return None
    out = []
    for chunk in chunks[1:-1]:
        if not chunk.startswith(b"\r\n") or not chunk.endswith(b"\r\n"):
            return None
        head, sep, data = chunk[2:-2].partition(b"\r\n\r\n")
        if not sep:
            return None
        name = filename = ctype = None
        for line in head.decode("latin-1").split("\r\n"):
            k, _, v = line.partition(":")
            if k.strip().lower() == "content-disposition":
                m = re.search(r'\bname="([^"]*)"', v)
                name = m.group(1) if m else None
                m = re.search(r'\bfilename="([^"]*)"', v)
                filename = m.group(1) if m else None
            elif k.strip().lower() == "content-type":
                ctype = v.strip()
        if name is None:
            return None
        out.append((name, filename, ctype, data))
    return out


def main(argv):
    c = Contract()
    problems = []
    for path in argv:
        with open(path) as f:
            for n, line in enumerate(f, 1):
                if line.strip():
                    problems += ["%s:%d: %s" % (path, n, p) for p in c.check_line(line)]
    for p in problems[:50]:
        print(p)
    print("contract: %d responses validated against api/openapi.yaml, %d problems"
          % (c.count, len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
