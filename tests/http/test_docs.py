"""GET /docs (Swagger UI compiled into ballastd), GET / and CORS (--cors-origin); the page
itself in headless Chromium (tests/browser/docs_page.mjs), which this suite installs
(Debian's chromium, playwright-core from npm) when missing, and skips, saying so, only when
they cannot be installed."""
import hashlib
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BALLASTD, ROOT, Server, check, eq, main, server, test  # noqa: E402

VENDOR = os.path.join(ROOT, "server", "docs", "swagger-ui")
BUILD = os.path.dirname(os.path.abspath(BALLASTD))
NPM_PREFIX = os.path.join(BUILD, "npm")
srv = None


@test
def docs_page_and_assets_are_served_from_the_binary():
    status, h, body = srv.request("GET", "/docs")
    eq(status, 200, "/docs")
    check(h["content-type"].startswith("text/html"), h["content-type"])
    check(b"/docs/swagger-ui-bundle.js" in body and b"/docs/init.js" in body, body[:300])
    check("default-src 'self'" in h.get("content-security-policy", ""), "CSP: nothing else loads")
    for name, path in (("swagger-ui-bundle.js", "/docs/swagger-ui-bundle.js"),
                       ("swagger-ui.css", "/docs/swagger-ui.css"), ("LICENSE", "/docs/LICENSE")):
        status, h, body = srv.request("GET", path)
        eq(status, 200, path)
        with open(os.path.join(VENDOR, name), "rb") as f:
            eq(body, f.read(), path + " is the vendored file")
    eq(srv.request("GET", "/docs/nope.js")[0], 404, "an unknown asset")
    status, h, body = srv.request("GET", "/")
    eq((status, h.get("location")), (302, "/docs"), "GET / points to /docs")


@test
def vendored_swagger_ui_matches_its_checksums():
    with open(os.path.join(VENDOR, "SHA256SUMS")) as f:
        sums = [line.split() for line in f if line.strip()]
    check(len(sums) >= 4, "SHA256SUMS lists the files")
    for digest, name in sums:
        with open(os.path.join(VENDOR, name), "rb") as f:
            eq(hashlib.sha256(f.read()).hexdigest(), digest, name)
    with open(os.path.join(VENDOR, "VERSION")) as f:
        check(f.read().strip().count(".") == 2, "VERSION")


@test
def cors_origin_allows_one_origin():
    with Server("--cors-origin", "http://app.example", "--log-format", "none") as s:
        status, h, _ = s.request("OPTIONS", "/weights", headers={
            "Origin": "http://app.example", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type"})
        eq(status, 204, "preflight")
        eq(h.get("access-control-allow-origin"), "http://app.example", "allowed origin")
        check("POST" in h.get("access-control-allow-methods", ""), h)
        check("content-type" in h.get("access-control-allow-headers", "").lower(), h)
        status, h, _ = s.request("POST", "/weights", {"counts": [1, 2]},
                                 headers={"Origin": "http://app.example"})
        eq((status, h.get("access-control-allow-origin")), (200, "http://app.example"), "POST")
        status, h, _ = s.request("POST", "/weights", {"counts": [1, 2]},
                                 headers={"Origin": "http://evil.example"})
        eq((status, h.get("access-control-allow-origin")), (200, None), "another origin")
        eq(s.stop(), 0, "exit status")
    # Without --cors-origin, OPTIONS is a method like any other: 405.
    eq(srv.request("OPTIONS", "/weights")[0], 405, "OPTIONS without --cors-origin")


def have_chromium():
    if shutil.which("chromium"):
        return True, ""
    r = subprocess.run([os.path.join(ROOT, "tools", "apt-install.sh"), "the /docs browser test",
                        "chromium"], capture_output=True, text=True)
    return shutil.which("chromium") is not None, (r.stdout + r.stderr)[-300:]


def have_playwright():
    if os.path.isdir(os.path.join(NPM_PREFIX, "node_modules", "playwright-core")):
        return True, ""
    os.makedirs(NPM_PREFIX, exist_ok=True)
    r = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", NPM_PREFIX,
                        "playwright-core@1"], capture_output=True, text=True, timeout=300)
    return r.returncode == 0, (r.stdout + r.stderr)[-300:]


@test
def docs_page_in_headless_chromium():
    ok, why = have_chromium()
    if ok:
        ok, why = have_playwright()
    if not ok:
        print("SKIPPED docs_page_in_headless_chromium: Chromium or playwright-core could not be "
              "installed here: " + why)
        return
    shot = os.path.join(BUILD, "docs-swagger-ui.png")
    base = "http://127.0.0.1:%d" % srv.port
    r = subprocess.run(["node", os.path.join(ROOT, "tests", "browser", "docs_page.mjs"), base, shot],
                       capture_output=True, text=True, timeout=180,
                       env=dict(os.environ, NPM_PREFIX=NPM_PREFIX))
    eq(r.returncode, 0, "docs_page.mjs: " + r.stderr[-800:])
    got = json.loads(r.stdout.strip().splitlines()[-1])
    for op in ("/weights", "/sample", "/loss"):
        check(op in got["operations"], "the page lists %s: %s" % (op, got["operations"]))
    eq(got["status"], "200", "Try it out on /weights")
    eq(json.loads(got["body"])["weights"], [1, 1000, 10000], "the answer shown")
    strangers = [u for u in got["requests"] if not u.startswith(base + "/")]
    eq(strangers, [], "requests that left the server")
    check(os.path.getsize(shot) > 10000, "a screenshot")
    print("docs page: %d operations, Try it out 200, %d requests all to the server; screenshot %s"
          % (len(got["operations"]), len(got["requests"]), shot))


if __name__ == "__main__":
    srv = server()
    main("docs")
