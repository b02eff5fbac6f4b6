#!/usr/bin/env python3
"""bench/overload.py [--build BUILD] [--seconds N] [--out FILE]: the long overload run.

The mix of tests/http/overload.py (heavy /loss and light /weights clients at about twice what
the machine computes, clients that read their answers slowly, slowloris sockets from
127.0.0.2, a /readyz prober every 50 ms) against one ballastd with a small memory budget, for
N seconds (default 120); writes bench/OVERLOAD.md with the figures: requests by status,
dropped requests, peak RSS against budget + margin, and /readyz latency percentiles.
`make bench-overload` runs it."""
import argparse
import datetime
import os
import platform
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "http"))

MiB = 1 << 20


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--seconds", type=int, default=120)
    ap.add_argument("--budget-mib", type=int, default=192)
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "OVERLOAD.md"))
    args = ap.parse_args()
    os.environ["BALLASTD"] = os.path.join(ROOT, args.build, "ballastd")
    import harness
    import overload
    harness.BALLASTD = os.environ["BALLASTD"]
    budget = args.budget_mib * MiB
    max_conn = 256
    margin = 32 * 1024 * (max_conn + 64) + 64 * MiB
    argv = ["--log-format", "none", "--memory-budget", str(budget), "--workers", "2",
            "--queue", "8", "--max-connections", str(max_conn)]
    started = datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M:%S UTC")
    load0 = os.getloadavg()
    with harness.Server(*argv) as srv:
        o = overload.Overload(srv.port, seconds=args.seconds, heavy_clients=6, light_clients=4,
                              slow_readers=8, slowloris=200).run(srv.proc.pid)
        status, _, metrics = srv.request("GET", "/metrics")
        rc = srv.stop()
    wanted = ("ballast_overloaded_total", "ballast_memory_used_peak_bytes",
              "ballast_allocations_refused_total", "ballast_header_timeouts_total",
              "ballast_slow_clients_total", "ballast_connections_refused_total")
    lines = [l for l in metrics.decode().splitlines() if l.split(" ")[0] in wanted]
    p = overload.percentile
    ok = (not o.dropped and set(o.statuses) <= overload.DOCUMENTED and not o.probe_failures
          and o.peak_rss_kb * 1024 < budget + margin and p(o.probe_ms, 99) < 100 and rc == 0)
    out = []
    a = out.append
    a("# Overload run\n")
    a("Written by `make bench-overload` (bench/overload.py) on %s; %d s; ballastd %s.\n"
      % (started, args.seconds, " ".join(argv)))
    a("| figure | measured | target |")
    a("| --- | --- | --- |")
    a("| requests | %d (%s) | every one answered 200 or a documented 4xx/503 |"
      % (o.requests, ", ".join("%s: %d" % kv for kv in sorted(o.statuses.items()))))
    a("| dropped (reset or closed unanswered) | %d | 0 |" % len(o.dropped))
    a("| peak RSS | %.1f MiB | < budget %d MiB + margin %.0f MiB = %.0f MiB |"
      % (o.peak_rss_kb / 1024, args.budget_mib, margin / MiB, (budget + margin) / MiB))
    a("| /readyz latency | p50 %.1f ms, p99 %.1f ms, max %.1f ms over %d probes, %d failed | "
      "p99 < 100 ms |" % (p(o.probe_ms, 50), p(o.probe_ms, 99), max(o.probe_ms or [0]),
                          len(o.probe_ms), len(o.probe_failures)))
    a("| exit status after SIGTERM | %d | 0 |" % rc)
    a("| verdict | %s | |" % ("**holds**" if ok else "**does not hold**"))
    a("")
    a("The mix: 6 clients looping /loss (20000 x 10 logits with grad, 2.3 MB JSON), 4 looping "
      "/weights (3 counts), 8 slow readers (/sample of 500000 indices, read 4 KiB every 0.2 s), "
      "200 slowloris sockets from 127.0.0.2 sending a header line a second, and a /readyz probe "
      "every 50 ms on a new connection.\n")
    a("Counters at the end:\n\n```\n%s\n```\n" % "\n".join(lines))
    a("Machine: %s, %d cores, load %.2f %.2f %.2f at the start, %.2f %.2f %.2f at the end.\n"
      % (platform.platform(), os.cpu_count(), *load0, *os.getloadavg()))
    with open(args.out, "w") as f:
        f.write("\n".join(out))
    print("\n".join(out))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
