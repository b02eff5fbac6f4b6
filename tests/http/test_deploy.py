#!/usr/bin/env python3
"""The deployment files against the real ballastd.

Dockerfile, docker/compose.yaml, docker/nginx.conf and docker/k8s/*.yaml are parsed, and every
port, path, probe, variable and timeout they name is checked against what ballastd really does:
the probes are requested from a running ballastd started with the manifests' own environment,
the variables against `ballastd --help`, the ports against ballastd's default, the grace
periods against the drain timeout, nginx's body limit against ballastd's, and nginx.conf with
`nginx -t`. Needs PyYAML and nginx (`make deploy-deps`)."""
import glob
import os
import re
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BALLASTD, ROOT, Server, check, eq, main, test  # noqa: E402
import nginx_harness  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "tools"))
import dockerfile  # noqa: E402  (the parser tools/docker-check.sh uses)

try:
    import yaml
except ImportError:  # a python3 other than Debian's: use Debian's python3-yaml if present
    sys.path.append("/usr/lib/python3/dist-packages")
    try:
        import yaml
    except ImportError:
        sys.stdout.write("PyYAML is missing: `make deploy-deps` installs python3-yaml\n"
                         "deploy: 0 passed, 1 failed\n")
        sys.exit(1)

DOCKER = os.path.join(ROOT, "docker")
K8S = os.path.join(DOCKER, "k8s")


def load_yaml(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def manifests():
    """kind → document, for every document of docker/k8s/*.yaml."""
    docs = {}
    for path in sorted(glob.glob(os.path.join(K8S, "*.yaml"))):
        for d in load_yaml(path):
            check(isinstance(d, dict) and "kind" in d, "%s: a document without kind" % path)
            check(d["kind"] not in docs, "two %s documents" % d["kind"])
            docs[d["kind"]] = d
    return docs


def image():
    """The final stage of the Dockerfile, as tools/dockerfile.py reads it."""
    return dockerfile.load(os.path.join(ROOT, "Dockerfile"))[-1]


def container(docs=None):
    spec = (docs or manifests())["Deployment"]["spec"]["template"]["spec"]
    eq(len(spec["containers"]), 1, "containers in the pod")
    return spec, spec["containers"][0]


def compose():
    return load_yaml(os.path.join(DOCKER, "compose.yaml"))[0]


def replicas_of(c):
    """compose services that run the image (those with BALLAST_* environment or the image)."""
    return {n: s for n, s in c["services"].items() if s.get("image", "").startswith("ballast")}


def env_list(env):
    """A compose or Kubernetes environment as a dict."""
    if isinstance(env, dict):
        return {k: str(v) for k, v in env.items()}
    out = {}
    for e in env or []:
        if isinstance(e, dict):
            check("value" in e, "env %s: only literal values are checked" % e.get("name"))
            out[e["name"]] = str(e["value"])
        else:
            k, _, v = e.partition("=")
            out[k] = v
    return out


def ballastd_options():
    """The option names of `ballastd --help` (without --help and --version)."""
    r = subprocess.run([BALLASTD, "--help"], capture_output=True, text=True, timeout=10)
    eq(r.returncode, 0, "ballastd --help exit code")
    names = set(re.findall(r"^\s+--([a-z][a-z-]*)\s", r.stdout, re.M)) - {"help", "version"}
    check({"port", "bind", "drain-timeout"} <= names, "--help lists the options: " + r.stdout)
    return names


def bl_version():
    with open(os.path.join(ROOT, "lib", "ballast.h")) as f:
        return re.search(r'#define BL_VERSION "([^"]+)"', f.read()).group(1)


def env_name(option):
    return "BALLAST_" + option.upper().replace("-", "_")


def default_of(option):
    """An option's default from the README's option table (`| `--port` | 8080 | ...`)."""
    with open(os.path.join(ROOT, "README.md")) as f:
        m = re.search(r"^\|\s*`--%s`\s*\|\s*([^|]*?)\s*\|" % re.escape(option), f.read(), re.M)
    check(m, "README has no row for --%s" % option)
    return m.group(1)


def default_port():
    """ballastd's default port. `ballastd --healthcheck` with no options names the address it
    tries; in a network namespace of its own (where unshare allows one) nothing answers it,
    so it always says. Otherwise, or if something answered, the README's table."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BALLAST_")}
    for prefix in (["unshare", "--net"], ["unshare", "--user", "--map-root-user", "--net"], []):
        try:
            r = subprocess.run(prefix + [BALLASTD, "--healthcheck"], capture_output=True,
                               text=True, timeout=10, env=env)
        except (OSError, subprocess.TimeoutExpired):
            continue
        m = re.search(r"cannot connect to \S+ port (\d+)", r.stderr)
        if m:
            return int(m.group(1))
    return int(default_of("port"))


def size(text):
    """nginx or ballastd sizes: 64m, 64M → bytes."""
    m = re.match(r"^(\d+)([kKmMgG]?)$", str(text).strip())
    check(m, "not a size: %r" % text)
    return int(m.group(1)) * {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[m.group(2).lower()]


def seconds(text):
    """Compose durations (40s, 1m30s) → seconds."""
    total, rest = 0, str(text)
    for n, unit in re.findall(r"(\d+)(ms|s|m|h)", rest):
        total += int(n) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]
    check(total > 0, "not a duration: %r" % text)
    return total


def server_with(env):
    """A ballastd on loopback with a deployment's environment (its bind and port replaced:
    the test listens on 127.0.0.1 and a free port; flags win over BALLAST_*)."""
    return Server("--bind", "127.0.0.1", env=env)


def probe(srv, path):
    status, _, body = srv.request("GET", path)
    return status, body


# ---- the image ----------------------------------------------------------------------------

@test
def dockerfile_image():
    img = image()
    port = default_port()
    eq(port, 8080, "ballastd's default port")
    eq(img["expose"], ["%d/tcp" % port], "EXPOSE (ballastd's default port)")
    eq(img["entrypoint"], ["/usr/local/bin/ballastd"], "ENTRYPOINT (exec form)")
    eq(img["stopsignal"], "SIGTERM", "STOPSIGNAL (ballastd drains on SIGTERM)")
    eq(img["env"].get("BALLAST_BIND"), "0.0.0.0", "ENV BALLAST_BIND")
    check(img["healthcheck"], "no HEALTHCHECK")
    eq(img["healthcheck"]["cmd"], img["entrypoint"] + ["--healthcheck"], "HEALTHCHECK CMD")
    stages = dockerfile.load(os.path.join(ROOT, "Dockerfile"))
    eq([s["base"] for s in stages], ["debian:bookworm", "debian:bookworm-slim"], "base images")
    runs = " ".join(" ".join(st[1:]) for st in stages[0]["steps"] if st[0] == "run")
    check("make test" in runs, "the build stage runs make test")
    copies = [st for st in img["steps"] if st[0] == "copy"]
    eq([c[1:] for c in copies], [("0", "", "", "/src/build/ballastd", "/usr/local/bin/ballastd"),
                                 ("0", "", "", "/src/build/ballast", "/usr/local/bin/ballast")],
       "the runtime stage copies only the daemon and the CLI")
    labels = img["labels"]
    eq(labels.get("org.opencontainers.image.version"), bl_version(), "OCI version label")
    for k in ("title", "description", "documentation"):
        check(labels.get("org.opencontainers.image." + k), "OCI label " + k)
    # Every package the build installs is one tools/install-deps.sh would (or a test's).
    with open(os.path.join(ROOT, "tools", "install-deps.sh")) as f:
        m = re.search(r'^pkgs="([^"]*)"', f.read(), re.M)
    for p in m.group(1).split():
        check(re.search(r"\b%s\b" % re.escape(p), runs), "the build stage lacks %s" % p)


@test
def dockerfile_user_is_not_root():
    img = image()
    m = re.match(r"^(\d+):(\d+)$", img["user"])
    check(m, "USER should be numeric uid:gid (for runAsNonRoot), is %r" % img["user"])
    check(int(m.group(1)) != 0, "USER is root")
    runs = " ".join(" ".join(st[1:]) for st in img["steps"] if st[0] == "run")
    check(re.search(r"useradd\b.*--uid %s\b" % m.group(1), runs), "useradd --uid %s" % m.group(1))
    check(re.search(r"groupadd\b.*--gid %s\b" % m.group(2), runs), "groupadd --gid %s" % m.group(2))


@test
def healthcheck_command_works():
    """The image's HEALTHCHECK, run against a real server with the image's environment."""
    img = image()
    env = {k: v for k, v in img["env"].items() if k.startswith("BALLAST_")}
    with server_with(env) as srv:
        cmd = [BALLASTD] + img["healthcheck"]["cmd"][1:]
        e = {k: v for k, v in os.environ.items() if not k.startswith("BALLAST_")}
        e.update(env, BALLAST_PORT=str(srv.port))  # 0.0.0.0 is asked on 127.0.0.1
        r = subprocess.run(cmd, env=e, capture_output=True, text=True, timeout=10)
        eq(r.returncode, 0, "HEALTHCHECK exit code (%s)" % r.stderr.strip())
        srv.stop()
        r = subprocess.run(cmd, env=e, capture_output=True, text=True, timeout=10)
        check(r.returncode != 0, "HEALTHCHECK passes with the server stopped")


@test
def build_context_has_the_sources():
    files = set(dockerfile.context_files(ROOT))
    for f in ("Makefile", "Dockerfile", "tests/run.sh", "api/openapi.yaml", "lib/ballast.h",
              "server/main.c", "docker/nginx.conf"):
        check(f in files, "%s is not in the build context (.dockerignore?)" % f)
    check(not any(f.startswith(("build/", ".git/")) for f in files), "build/ or .git in context")


# ---- variables ----------------------------------------------------------------------------

@test
def every_variable_is_an_option():
    names = {env_name(o) for o in ballastd_options()}
    docs = manifests()
    _, ctr = container(docs)
    sets = {"Dockerfile": image()["env"], "deployment.yaml": env_list(ctr.get("env"))}
    for n, svc in replicas_of(compose()).items():
        sets["compose.yaml " + n] = env_list(svc.get("environment"))
    for where, env in sets.items():
        for k in env:
            if k.startswith("BALLAST"):
                check(k in names, "%s sets %s, which is not a ballastd option (%s)"
                      % (where, k, ", ".join(sorted(names))))
    # and ballastd accepts their values: it starts with each environment
    for where, env in sets.items():
        env = {k: v for k, v in env.items() if k.startswith("BALLAST_")}
        with server_with(env) as srv:
            eq(probe(srv, "/readyz")[0], 200, "/readyz with the environment of " + where)


# ---- Kubernetes ---------------------------------------------------------------------------

@test
def k8s_probes_answer():
    docs = manifests()
    spec, ctr = container(docs)
    ports = {p["name"]: p["containerPort"] for p in ctr["ports"]}
    eq(list(ports.values()), [default_port()], "containerPort (ballastd's default)")
    eq(image()["expose"], ["%d/tcp" % ctr["ports"][0]["containerPort"]], "EXPOSE = containerPort")
    env = {k: v for k, v in env_list(ctr.get("env")).items() if k.startswith("BALLAST_")}
    check("BALLAST_PORT" not in env and "BALLAST_BIND" not in env,
          "the Deployment relies on the image's bind and ballastd's default port")
    want = {"readinessProbe": "/readyz", "livenessProbe": "/healthz"}
    with server_with(env) as srv:
        for name, path in want.items():
            p = ctr.get(name)
            check(p and "httpGet" in p, "%s is not an httpGet probe" % name)
            g = p["httpGet"]
            eq(g["path"], path, name + " path")
            port = ports.get(g["port"], g["port"])
            eq(port, default_port(), name + " port")
            eq(probe(srv, g["path"])[0], 200, "%s GET %s" % (name, g["path"]))
        # Prometheus' scrape annotations name a path and port ballastd serves.
        a = docs["Deployment"]["spec"]["template"]["metadata"].get("annotations", {})
        if "prometheus.io/path" in a:
            eq(probe(srv, a["prometheus.io/path"])[0], 200, "prometheus.io/path")
            eq(int(a["prometheus.io/port"]), default_port(), "prometheus.io/port")


@test
def k8s_probes_during_the_drain():
    """What the preStop + drain sequence relies on. While a request is in flight after
    SIGTERM, the readiness probe answers 503 (the pod leaves the endpoints) but the liveness
    probe still 200 (the kubelet does not kill a draining pod); the request completes, and
    ballastd exits 0. The request is held in flight by sending its body in two parts."""
    _, ctr = container()
    ready = ctr["readinessProbe"]["httpGet"]["path"]
    live = ctr["livenessProbe"]["httpGet"]["path"]
    with server_with({}) as srv:
        probes = srv.conn()  # open before the drain: the listening socket closes on SIGTERM
        eq(srv.request("GET", ready, conn=probes)[0], 200, "ready before SIGTERM")
        def in_flight():  # the gauge, as /metrics reports it (which may count itself)
            m = srv.request("GET", "/metrics", conn=probes)[2]
            return int(re.search(rb"^ballast_requests_in_flight (\d+)", m, re.M).group(1))
        idle = in_flight()
        body = b'{"counts": [100000, 100, 10]}'
        held = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        held.sendall(b"POST /weights HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body) + body[:5])
        for _ in range(200):  # until ballastd counts it
            if in_flight() > idle:
                break
            time.sleep(0.01)
        else:
            raise AssertionError("the held request is not in flight")
        srv.proc.send_signal(signal.SIGTERM)
        status = 200
        for _ in range(200):
            status = srv.request("GET", ready, conn=probes)[0]
            if status != 200:
                break
            time.sleep(0.01)
        eq(status, 503, "readinessProbe %s while draining" % ready)
        eq(srv.request("GET", live, conn=probes)[0], 200, "livenessProbe %s while draining" % live)
        probes.close()
        held.sendall(body[5:])
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = held.recv(65536)
            if not chunk:
                break
            answer += chunk
        held.close()
        check(answer.startswith(b"HTTP/1.1 200"), "the request in flight: %r" % answer[:60])
        eq(srv.stop(), 0, "exit code after the drain")


@test
def k8s_grace_period_covers_the_drain():
    spec, ctr = container()
    env = env_list(ctr.get("env"))
    check("BALLAST_DRAIN_TIMEOUT" in env, "set BALLAST_DRAIN_TIMEOUT explicitly")
    drain = int(env["BALLAST_DRAIN_TIMEOUT"])
    pre = ctr["lifecycle"]["preStop"]
    if "sleep" in pre:
        sleep = int(pre["sleep"]["seconds"])
    else:
        cmd = pre["exec"]["command"]
        eq(cmd[0], "/bin/sleep", "preStop command")
        sleep = int(cmd[1])
    check(sleep >= 2, "preStop sleep of %ss is too short to leave the endpoints" % sleep)
    grace = spec["terminationGracePeriodSeconds"]
    check(grace > sleep + drain, "terminationGracePeriodSeconds %s <= preStop %s + drain %s"
          % (grace, sleep, drain))


@test
def k8s_security_context():
    spec, ctr = container()
    uid, gid = (int(x) for x in image()["user"].split(":"))
    sc = ctr["securityContext"]
    eq(sc.get("runAsNonRoot"), True, "runAsNonRoot")
    eq(sc.get("runAsUser"), uid, "runAsUser (the Dockerfile's USER)")
    eq(sc.get("runAsGroup", gid), gid, "runAsGroup")
    eq(spec["securityContext"].get("runAsUser", uid), uid, "pod runAsUser")
    eq(sc.get("readOnlyRootFilesystem"), True, "readOnlyRootFilesystem")
    eq(sc.get("allowPrivilegeEscalation"), False, "allowPrivilegeEscalation")
    eq(sc.get("capabilities", {}).get("drop"), ["ALL"], "capabilities drop")
    eq(ctr["image"].split(":")[0], "ballast", "image")


@test
def k8s_objects_fit_together():
    docs = manifests()
    eq(sorted(docs), ["Deployment", "HorizontalPodAutoscaler", "Kustomization",
                      "PodDisruptionBudget", "Service"], "kinds")
    dep = docs["Deployment"]
    name = dep["metadata"]["name"]
    labels = dep["spec"]["template"]["metadata"]["labels"]
    sel = dep["spec"]["selector"]["matchLabels"]
    check(sel.items() <= labels.items(), "the Deployment's selector matches its pods")
    eq(dep["spec"]["replicas"], 3, "replicas")
    _, ctr = container(docs)
    ports = {p["name"]: p["containerPort"] for p in ctr["ports"]}

    svc = docs["Service"]["spec"]
    check(svc["selector"].items() <= labels.items(), "the Service selects the pods")
    for p in svc["ports"]:
        eq(ports.get(p["targetPort"], p["targetPort"]), default_port(), "Service targetPort")

    hpa = docs["HorizontalPodAutoscaler"]
    eq(hpa["apiVersion"], "autoscaling/v2", "HPA apiVersion")
    eq((hpa["spec"]["scaleTargetRef"]["kind"], hpa["spec"]["scaleTargetRef"]["name"]),
       ("Deployment", name), "HPA target")
    metric = hpa["spec"]["metrics"][0]
    eq((metric["type"], metric["resource"]["name"]), ("Resource", "cpu"), "HPA metric")
    check("cpu" in ctr["resources"]["requests"], "CPU utilisation needs a CPU request")
    check(hpa["spec"]["minReplicas"] >= 2, "HPA minReplicas")

    pdb = docs["PodDisruptionBudget"]["spec"]
    check(pdb["selector"]["matchLabels"].items() <= labels.items(), "the PDB selects the pods")
    if "minAvailable" in pdb:
        check(pdb["minAvailable"] < hpa["spec"]["minReplicas"], "PDB would block every eviction")
    else:
        eq(pdb.get("maxUnavailable"), 1, "PDB maxUnavailable")
    for kind in ("requests", "limits"):
        check({"cpu", "memory"} <= set(ctr["resources"][kind]), "resources." + kind)

    # The image tag is the version, and so are the recommended labels.
    eq(ctr["image"], "ballast:" + bl_version(), "image tag = version")
    for meta in (dep["metadata"], dep["spec"]["template"]["metadata"]):
        for k in ("name", "instance", "version", "component", "part-of"):
            check("app.kubernetes.io/" + k in meta["labels"], "recommended label " + k)
        eq(meta["labels"]["app.kubernetes.io/version"], bl_version(), "version label")
    spread = dep["spec"]["template"]["spec"]["topologySpreadConstraints"]
    eq(sorted(c["topologyKey"] for c in spread),
       ["kubernetes.io/hostname", "topology.kubernetes.io/zone"], "topology spread keys")
    for c in spread:
        check(c["labelSelector"]["matchLabels"].items() <= labels.items(), "spread selects the pods")

    kust = docs["Kustomization"]
    files = sorted(os.path.basename(p) for p in glob.glob(os.path.join(K8S, "*.yaml")))
    eq(sorted(kust["resources"] + ["kustomization.yaml"]), files, "kustomization resources")
    eq([str(i.get("newTag")) for i in kust.get("images", [])], [bl_version()], "kustomize image tag")


def memory_fits(env, limit_bytes, what):
    """--memory-budget plus its documented margin (README, "Memory budget") stays under the
    container's memory limit, so that legal requests cannot get it OOM-killed."""
    budget = size(env.get("BALLAST_MEMORY_BUDGET", "0"))
    check(budget > 0, "%s sets BALLAST_MEMORY_BUDGET" % what)
    conns = int(env.get("BALLAST_MAX_CONNECTIONS", default_of("max-connections")))
    margin = 32 * 1024 * (conns + 64) + (64 << 20)
    check(budget + margin <= limit_bytes,
          "%s: budget %d + margin %d > memory limit %d" % (what, budget, margin, limit_bytes))
    srv = server_with(env)
    status, _, body = srv.request("GET", "/metrics")
    check(("ballast_memory_budget_bytes %d" % budget) in body.decode(), "the budget is applied")
    srv.stop()


@test
def k8s_memory_budget_fits_the_limit():
    _, ctr = container()
    limit = ctr["resources"]["limits"]["memory"]
    m = re.match(r"^(\d+)(Mi|Gi)$", limit)
    check(m, "memory limit %r" % limit)
    memory_fits(env_list(ctr["env"]), int(m.group(1)) << (20 if m.group(2) == "Mi" else 30),
                "the Deployment")


@test
def compose_memory_budget_fits_the_limit():
    for n, s in replicas_of(compose()).items():
        memory_fits(env_list(s.get("environment")), size(s["mem_limit"]), n)


# ---- compose and nginx --------------------------------------------------------------------

@test
def compose_matches_ballastd():
    c = compose()
    reps = replicas_of(c)
    eq(sorted(reps), ["ballast-1", "ballast-2", "ballast-3"], "replicas")
    for n, s in reps.items():
        eq(os.path.normpath(os.path.join(DOCKER, s["build"]["context"])), ROOT, n + " build context")
        check(os.path.exists(os.path.join(ROOT, s["build"].get("dockerfile", "Dockerfile"))),
              n + " Dockerfile")
        eq([int(p) for p in s.get("expose", [])], [default_port()], n + " expose")
        env = env_list(s.get("environment"))
        drain = int(env.get("BALLAST_DRAIN_TIMEOUT", default_of("drain-timeout")))
        check(seconds(s["stop_grace_period"]) > drain,
              "%s stop_grace_period %s <= drain timeout %s" % (n, s["stop_grace_period"], drain))
    nginx = c["services"]["nginx"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in nginx["volumes"]}
    eq(mounts.get("/etc/nginx/conf.d/default.conf"), "./nginx.conf", "nginx.conf mount")
    eq(sorted(nginx_harness.upstream_servers()),
       ["%s:%d" % (n, default_port()) for n in sorted(reps)], "nginx upstream = compose replicas")
    listen = re.search(r"^\s*listen\s+(\d+)\s*;", open(nginx_harness.NGINX_CONF).read(), re.M)
    for p in nginx["ports"]:
        eq(int(str(p).split(":")[-1]), int(listen.group(1)), "nginx published port = listen")


@test
def nginx_body_limit_is_ballastds():
    with open(nginx_harness.NGINX_CONF) as f:
        m = re.search(r"^\s*client_max_body_size\s+(\S+);", f.read(), re.M)
    check(m, "no client_max_body_size")
    with Server() as srv:  # ballastd's own limit, from its 413 answer to a Content-Length
        out = srv.raw(b"POST /weights HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 1099511627776\r\n\r\n").decode()
    check(out.startswith("HTTP/1.1 413"), out[:80])
    limit = int(re.search(r"limit of (\d+) bytes", out).group(1))
    eq(size(m.group(1)), limit, "client_max_body_size = ballastd's --max-body")
    eq(size(default_of("max-body")), limit, "README's --max-body default")


@test
def nginx_conf_is_valid():
    check(nginx_harness.find_nginx(), "nginx is not installed: make deploy-deps")
    with open(nginx_harness.NGINX_CONF) as f:
        text = f.read()
    for want in (r"proxy_http_version\s+1\.1;", r'proxy_set_header\s+Connection\s+"";',
                 r"\bkeepalive\s+\d+;",
                 r"proxy_next_upstream\s+error timeout http_502 http_503 non_idempotent;"):
        check(re.search(want, text), "docker/nginx.conf lacks %s" % want)
    with nginx_harness.Nginx(["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"]) as n:
        rc, out = n.test_config()
        eq(rc, 0, "nginx -t: " + out)


if __name__ == "__main__":
    main("deploy")
