#!/bin/sh
# Installs the Debian packages that ballast builds and tests with, when
# pkg-config cannot find them. Needs root (or sudo) and Debian's archive.
set -e
pkgs="build-essential libmicrohttpd-dev libjansson-dev check pkg-config python3 curl"
# --test: also what the test suites use (Debian's Python modules, Node.js).
[ "${1:-}" = --test ] && pkgs="$pkgs python3-numpy python3-requests python3-yaml python3-jsonschema nodejs"
# The client packages' suites (tests/http/test_client_*.py): PyTorch for ballast.torch, pip and
# venv for the offline install of clients/python (its build backend is in the package: no
# setuptools), Go for clients/go, imbalanced-learn (the Python client's balanced lists are
# checked against its class counts).
[ "${1:-}" = --test ] && pkgs="$pkgs python3-torch python3-pip python3-venv golang-go python3-imblearn"
# shellcheck disable=SC2086
exec "$(dirname "$0")/apt-install.sh" "build and test dependencies" $pkgs
