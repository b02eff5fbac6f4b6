#!/bin/sh
# Installs what `make bench` needs when missing: wrk, nginx (nginx-light, else nginx) and
# Debian's python3-torch and python3-numpy.
set -e
PY=${BENCH_PYTHON:-/usr/bin/python3}
pkgs=
command -v wrk >/dev/null 2>&1 || pkgs="wrk"
{ command -v nginx || test -x /usr/sbin/nginx; } >/dev/null 2>&1 || pkgs="$pkgs nginx-light"
"$PY" -c 'import torch' 2>/dev/null || pkgs="$pkgs python3-torch"
"$PY" -c 'import numpy' 2>/dev/null || pkgs="$pkgs python3-numpy"
# shellcheck disable=SC2086
exec "$(dirname "$0")/../tools/apt-install.sh" "benchmark dependencies" $pkgs
