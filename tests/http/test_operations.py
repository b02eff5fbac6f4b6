"""Operations: configuration errors that teach, --bind by name, /metrics open to a scraper
when the rest needs a token, JSON log lines (tests/http/test_http.py covers the access
lines)."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BALLASTD, Server, check, eq, main, test  # noqa: E402


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("BALLAST_")}
    env.update(extra)
    return env


@test
def unknown_variable_names_the_nearest_option():
    p = subprocess.run([BALLASTD, "--port", "0"], capture_output=True, text=True, timeout=10,
                       env=clean_env(BALLAST_MAX_BODDY="1M"))
    eq(p.returncode, 2, "exit status of a usage error")
    check("BALLAST_MAX_BODDY" in p.stderr and "did you mean BALLAST_MAX_BODY" in p.stderr,
          p.stderr)
    # The clients' and test suites' own variables are not options, and no error.
    with Server("--log-format", "none", env={"BALLAST_URL": "http://x", "BALLAST_TOKEN": "t"}) as s:
        eq(s.request("GET", "/healthz")[0], 200, "BALLAST_URL and BALLAST_TOKEN are left alone")
        eq(s.stop(), 0, "exit status")


@test
def usage_errors_are_json_lines_under_log_format_json():
    import json
    for argv in (["--log-format", "json", "--port", "99999"], ["--port", "x", "--log-format=json"],
                 ["--log-format", "json", "--bogus"]):
        p = subprocess.run([BALLASTD] + argv, capture_output=True, text=True, timeout=10,
                           env=clean_env())
        eq(p.returncode, 2, " ".join(argv))
        for line in p.stderr.splitlines():
            check(json.loads(line)["level"] == "error", line)


@test
def a_raw_npy_body_is_told_to_use_multipart():
    with Server("--log-format", "none") as s:
        for ctype in ("application/x-npy", "application/octet-stream"):
            status, h, body = s.request("POST", "/loss", b"\x93NUMPY\x01\x00",
                                        headers={"Content-Type": ctype})
            eq(status, 415, ctype)
            check(b"multipart/form-data" in body, body)
        eq(s.stop(), 0, "exit status")


@test
def bind_takes_a_name():
    with Server("--bind", "localhost", "--log-format", "none") as s:
        eq(s.request("GET", "/healthz")[0], 200, "--bind localhost")
        out = subprocess.run([BALLASTD, "--healthcheck", "--bind", "localhost", "--port",
                              str(s.port)], capture_output=True, timeout=10, env=clean_env())
        eq(out.returncode, 0, "--healthcheck --bind localhost")
        eq(s.stop(), 0, "exit status")
    p = subprocess.run([BALLASTD, "--bind", "no-such-host.invalid", "--port", "0"],
                       capture_output=True, text=True, timeout=30, env=clean_env())
    eq(p.returncode, 1, "an unresolvable --bind")
    check("--bind no-such-host.invalid" in p.stderr, p.stderr)


@test
def metrics_open_leaves_the_rest_closed():
    with Server("--auth-token", "s3cret", "--metrics-open", "--log-format", "none") as s:
        eq(s.request("GET", "/metrics")[0], 200, "/metrics without the token")
        eq(s.request("POST", "/weights", {"counts": [1, 2]})[0], 401, "/weights without it")
        eq(s.request("GET", "/version")[0], 401, "/version without it")
        eq(s.stop(), 0, "exit status")
    with Server("--auth-token", "s3cret", "--log-format", "none") as s:
        eq(s.request("GET", "/metrics")[0], 401, "/metrics needs the token by default")
        eq(s.stop(), 0, "exit status")


@test
def every_log_line_is_json():
    with Server("--log-format", "json", "--drain-timeout", "1") as s:
        s.request("GET", "/healthz")
        s.proc.send_signal(1)  # SIGHUP: logged and ignored
        eq(s.request("GET", "/healthz")[0], 200, "alive after SIGHUP")
        eq(s.stop(), 0, "exit status")
    import json
    for line in s.lines:
        try:
            json.loads(line)
        except ValueError:
            raise AssertionError("not JSON: %r" % line)
    check(any("ignored" in json.loads(l).get("message", "") for l in s.lines), s.lines)


@test
def man_pages_show_the_version():
    import re
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(root, "lib", "ballast.h")) as f:
        version = re.search(r'#define BL_VERSION "([^"]+)"', f.read()).group(1)
    for page in ("ballastd.8", "ballast.1"):
        with open(os.path.join(root, "man", page)) as f:
            th = next(l for l in f if l.startswith(".TH "))
        check('"ballast %s"' % version in th, "%s: %s" % (page, th))


@test
def make_help_lists_the_two_commands():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    p = subprocess.run(["make", "-s", "-C", root, "help"], capture_output=True, text=True,
                       timeout=60)
    eq(p.returncode, 0, "make help")
    check("make run" in p.stdout and "make test" in p.stdout, p.stdout)


if __name__ == "__main__":
    main("operations")
