#!/bin/sh
# Installs what `make bench` needs when missing: wrk, nginx (nginx-light, else nginx) and Debian's
# python3-torch and python3-numpy. Needs root (or sudo). A policy-rc.d keeps the package from
# starting the system's nginx on port 80 (the benchmark runs its own on loopback).
set -e
PY=${BENCH_PYTHON:-/usr/bin/python3}
pkgs=
command -v wrk >/dev/null 2>&1 || pkgs="wrk"
{ command -v nginx || test -x /usr/sbin/nginx; } >/dev/null 2>&1 || pkgs="$pkgs nginx-light"
"$PY" -c 'import torch' 2>/dev/null || pkgs="$pkgs python3-torch"
"$PY" -c 'import numpy' 2>/dev/null || pkgs="$pkgs python3-numpy"
[ -n "$pkgs" ] || exit 0
echo "ballast: installing missing benchmark dependencies:$pkgs" >&2
SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
    trap '$SUDO rm -f "$policy"' EXIT
    printf '#!/bin/sh\n# ballast: no service starts while bench/install-deps.sh runs\nexit 101\n' |
        $SUDO tee "$policy" >/dev/null
    $SUDO chmod 755 "$policy"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq || true
# shellcheck disable=SC2086
if ! $SUDO apt-get install -y -qq --no-install-recommends $pkgs; then
    # nginx-light is gone from newer Debian releases: fall back to nginx.
    pkgs=$(echo "$pkgs" | sed 's/nginx-light/nginx/')
    # shellcheck disable=SC2086
    $SUDO apt-get install -y -qq --no-install-recommends $pkgs
fi
