#!/bin/sh
# Installs the Debian packages that ballast builds and tests with, when
# pkg-config cannot find them. Needs root (or sudo) and Debian's archive.
set -e
pkgs="build-essential libmicrohttpd-dev libjansson-dev check pkg-config python3 curl"
# --test: also what the test suites use (Debian's Python modules).
[ "${1:-}" = --test ] && pkgs="$pkgs python3-numpy python3-requests python3-yaml python3-jsonschema nodejs"
echo "ballast: installing missing build dependencies: $pkgs" >&2
SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq || true
$SUDO apt-get install -y -qq --no-install-recommends $pkgs
