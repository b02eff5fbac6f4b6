#!/bin/sh
# bench/run.sh [BUILD] — what `make bench` runs (after building): bench/run.py under Debian's
# python3 (torch, numpy), with a time limit (BENCH_TIMEOUT s, default 900), OPENBLAS_CORETYPE and
# OPENBLAS_L2_SIZE unset for this command alone (see the machine notes on OpenBLAS), and a trap
# that stops every server the run started (ballastd, nginx, bench_core: the process groups
# run.py records) however the run ends: finished, failed, timed out, Ctrl-C or SIGTERM.
set -eu
cd "$(dirname "$0")/.."
BUILD=${1:-build}
PY=${BENCH_PYTHON:-/usr/bin/python3}
work=$(mktemp -d "${TMPDIR:-/tmp}/ballast-bench.XXXXXX")
pid=
cleanup() {
    if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; fi
    if [ -s "$work/pgids" ]; then
        while read -r g; do kill -TERM -- "-$g" 2>/dev/null || true; done <"$work/pgids"
        sleep 1
        while read -r g; do kill -KILL -- "-$g" 2>/dev/null || true; done <"$work/pgids"
    fi
    rm -rf "$work"
}
trap cleanup EXIT
# A signal is passed on to run.py, which stops its servers and exits; then this script exits.
trap 'kill -TERM "$pid" 2>/dev/null || true' INT TERM HUP
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
    timeout --foreground -k 15 "${BENCH_TIMEOUT:-900}" \
    "$PY" bench/run.py --build "$BUILD" --workdir "$work" &
pid=$!
rc=0
wait "$pid" || rc=$?
while kill -0 "$pid" 2>/dev/null; do wait "$pid" || rc=$?; done
pid=
exit "$rc"
