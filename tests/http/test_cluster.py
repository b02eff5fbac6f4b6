#!/usr/bin/env python3
"""Three ballastd replicas behind nginx (the repo's docker/nginx.conf), all on loopback.

1000 mixed requests (weights, sample, loss, and some bad ones whose 4xx must pass through
unchanged) go through nginx from several client threads while one replica is killed with
SIGKILL and another drained with SIGTERM. Every answer is compared with the one a replica gave
directly before the run; a connection error, a 5xx or a different answer is a failure, and
there must be none. Needs nginx (`make deploy-deps`). Everything is stopped on the way out."""
import http.client
import json
import os
import random
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, check, eq, main, test  # noqa: E402
import nginx_harness  # noqa: E402

REQUESTS = 1000
CLIENTS = 8
KILL_AT, DRAIN_AT = 250, 500  # after this many answers
DEADLINE = 45  # seconds for the whole run

replicas = []  # harness.Server, started in __main__
proxy = None   # nginx_harness.Nginx


def cases():
    """Request templates (method, path, body, content type) — deterministic ones only (every
    /sample has a seed), so that each has one right answer on every replica."""
    rng = random.Random(20240607)
    out = []
    schemes = ["max_over_count", "inverse", "balanced", "inverse_sqrt", "median_frequency"]
    for i in range(12):
        counts = [rng.randint(1, 100000) for _ in range(rng.randint(2, 40))]
        out.append(("POST", "/weights", {"counts": counts, "scheme": schemes[i % len(schemes)]}))
    for i in range(12):
        w = [rng.random() for _ in range(rng.randint(10, 3000))]
        out.append(("POST", "/sample", {"weights": w, "seed": rng.randrange(2 ** 64),
                                        "num_samples": rng.randint(1, 500),
                                        "generator": ["fast", "torch"][i % 2],
                                        "replacement": i % 3 != 0}))
    for i in range(12):
        n, c = rng.randint(1, 300), rng.randint(2, 20)
        logits = [[rng.uniform(-5, 5) for _ in range(c)] for _ in range(n)]
        targets = [rng.randrange(c) for _ in range(n)]
        out.append(("POST", "/loss", {"logits": logits, "targets": targets,
                                      "reduction": ["mean", "sum", "none"][i % 3],
                                      "grad": i % 2 == 0}))
    # Wrong requests: ballastd's 4xx answers must reach the client as they are.
    out += [
        ("POST", "/weights", '{"counts": [1, 2'),                        # 400 invalid_json
        ("POST", "/weights", {"counts": [1, 2], "reducton": "sum"}),      # 400 unknown field
        ("POST", "/sample", {"weights": [1, 2], "seed": -1}),            # 400 invalid_argument
        ("POST", "/loss", {"logits": [[1, 2]], "targets": [7]}),         # 400 out of range
        ("POST", "/weights", {"counts": [1, 0]}),                         # 400 zero count
        ("GET", "/nope", None),                                           # 404
        ("GET", "/weights", None),                                        # 405
        ("POST", "/weights", ("text/plain", '{"counts": [1]}')),          # 415
    ]
    return out


def send(conn, case):
    """(status, body as JSON or text) for a request template on an HTTPConnection."""
    method, path, body = case
    headers = {}
    if isinstance(body, tuple):
        headers["Content-Type"], body = body
    elif body is not None:
        headers["Content-Type"] = "application/json"
        if not isinstance(body, str):
            body = json.dumps(body)
    conn.request(method, path, body=body, headers=headers)
    r = conn.getresponse()
    data = r.read()
    try:
        doc = json.loads(data)
    except ValueError:
        doc = data.decode("utf-8", "replace")
    return r.status, doc, r.getheader("Connection", "").lower() == "close"


@test
def replicas_agree():
    """The same seeded /sample (both generators), asked of each replica directly and of nginx,
    gets the same indices: replicas are interchangeable."""
    rng = random.Random(7)
    weights = [rng.random() for _ in range(1000)]
    for gen in ("fast", "torch"):
        req = ("POST", "/sample", {"weights": weights, "num_samples": 200, "seed": 1234567,
                                   "epoch": 3, "generator": gen})
        answers = []
        for srv in replicas + [proxy]:
            c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
            status, doc, _ = send(c, req)
            c.close()
            eq(status, 200, "status")
            answers.append(doc["indices"])
        check(all(a == answers[0] for a in answers), "replicas disagree on %s" % gen)
    print("     seeded /sample: identical from %d replicas and nginx" % len(replicas))


@test
def traffic_survives_kill_and_drain():
    templates = cases()
    # The right answers, from one replica directly, before anything happens.
    c = http.client.HTTPConnection("127.0.0.1", replicas[0].port, timeout=10)
    expected = []
    for t in templates:
        status, doc, closed = send(c, t)
        expected.append((status, doc))
        if closed:
            c.close()
            c = http.client.HTTPConnection("127.0.0.1", replicas[0].port, timeout=10)
    c.close()
    check(any(s >= 400 for s, _ in expected), "no error cases")
    check(all(s < 500 for s, _ in expected), "a template gets a 5xx: %r" % expected)

    order = list(range(REQUESTS))
    random.Random(1).shuffle(order)
    lock = threading.Lock()
    state = {"next": 0, "done": 0, "4xx": 0}
    failures = []
    at_kill, at_drain, finished = threading.Event(), threading.Event(), threading.Event()
    chaos = {}

    def client():
        conn = None
        while True:
            with lock:
                i = state["next"]
                if i >= REQUESTS or time.time() > t0 + DEADLINE:
                    break
                state["next"] += 1
            k = order[i] % len(templates)
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=15)
                status, doc, closed = send(conn, templates[k])
                if closed:
                    conn.close()
                    conn = None
            except Exception as e:  # a connection error reached the client
                if conn:
                    conn.close()
                conn = None
                with lock:
                    failures.append("request %d (%s %s): %r" % (i, templates[k][0],
                                                                 templates[k][1], e))
                continue
            with lock:
                if status >= 500:
                    failures.append("request %d (%s): %d %r" % (i, templates[k][1], status, doc))
                elif (status, doc) != expected[k]:
                    failures.append("request %d (%s): wrong answer %d %.200r"
                                    % (i, templates[k][1], status, doc))
                elif status >= 400:
                    state["4xx"] += 1
                state["done"] += 1
                if state["done"] == KILL_AT:
                    at_kill.set()
                if state["done"] == DRAIN_AT:
                    at_drain.set()
        if conn:
            conn.close()

    def chaos_monkey():
        if at_kill.wait(DEADLINE) and not finished.is_set():
            replicas[1].proc.send_signal(signal.SIGKILL)
            chaos["killed"] = replicas[1].port
        if at_drain.wait(DEADLINE) and not finished.is_set():
            replicas[2].proc.send_signal(signal.SIGTERM)
            chaos["drained"] = replicas[2].port
            chaos["drain_t0"] = time.time()
            chaos["drain_rc"] = replicas[2].proc.wait(40)
            chaos["drain_s"] = time.time() - chaos["drain_t0"]

    t0 = time.time()
    monkey = threading.Thread(target=chaos_monkey, daemon=True)
    monkey.start()
    threads = [threading.Thread(target=client, daemon=True) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(1, t0 + DEADLINE + 20 - time.time()))
    duration = time.time() - t0
    finished.set()
    at_kill.set()
    at_drain.set()
    monkey.join(45)
    check(not any(t.is_alive() for t in threads), "clients still running after %ds" % DEADLINE)

    # What nginx did: requests that needed more than one replica (upstream_addr "a, b").
    log = [l for l in proxy.access_log() if " /weights " in l or " /sample " in l
           or " /loss " in l or " /nope " in l]
    retried = sum(1 for l in log if ", " in l.split('"')[1])
    print("     requests: %d in %.2f s (%.0f/s) from %d clients through nginx"
          % (state["done"] + len(failures), duration, REQUESTS / duration, CLIENTS))
    print("     failures: %d; 4xx passed through as ballastd sent them: %d"
          % (len(failures), state["4xx"]))
    print("     replicas: 3; killed (SIGKILL) after %d answers: %s; drained (SIGTERM) after %d: "
          "%s, exit %s in %.2f s" % (KILL_AT, "yes" if "killed" in chaos else "no", DRAIN_AT,
                                     "yes" if "drained" in chaos else "no",
                                     chaos.get("drain_rc"), chaos.get("drain_s", 0)))
    print("     nginx retried %d requests on another replica" % retried)
    for f in failures[:10]:
        print("     FAILED " + f)
    eq(state["done"] + len(failures), REQUESTS, "requests answered")
    eq(failures, [], "failed client requests")
    check("killed" in chaos and "drained" in chaos, "the chaos did not happen: %r" % chaos)
    eq(replicas[1].proc.poll(), -signal.SIGKILL, "killed replica")
    eq(chaos["drain_rc"], 0, "drained replica's exit code")
    eq(replicas[0].proc.poll(), None, "the surviving replica")
    # the one replica left serves alone
    c = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
    eq(send(c, templates[0])[:2], expected[0], "after the run")
    c.close()


@test
def everything_stops():
    stop_all()
    for i, srv in enumerate(replicas):
        check(srv.proc.poll() is not None, "replica %d still running" % i)
    check(proxy.proc.poll() is not None, "nginx still running")


def stop_all():
    if proxy:
        proxy.stop()
    for srv in replicas:
        if srv.proc.poll() is None:
            srv.proc.terminate()
            try:
                srv.proc.wait(10)
            except Exception:
                srv.proc.kill()
                srv.proc.wait()


if __name__ == "__main__":
    try:
        if not nginx_harness.find_nginx():
            print("nginx is not installed: `make deploy-deps` installs nginx-light")
            print("cluster: 0 passed, 1 failed")
            sys.exit(1)
        for _ in range(3):
            replicas.append(Server("--threads", "2", "--drain-timeout", "10",
                                   "--log-format", "none"))
        proxy = nginx_harness.Nginx(["127.0.0.1:%d" % s.port for s in replicas]).start()
        main("cluster")
    finally:
        stop_all()
        for srv in replicas:
            srv.__exit__(None, None, None)
        if proxy:
            proxy.cleanup()
