#!/bin/sh
# Installs what the deployment suites of `make test` need (tests/http/test_deploy.py,
# test_cluster.py) when missing: nginx (nginx-light) and PyYAML (python3-yaml).
set -e
pkgs=
{ command -v nginx || test -x /usr/sbin/nginx; } >/dev/null 2>&1 || pkgs="nginx-light"
"${PYTHON:-python3}" -c 'import yaml' 2>/dev/null || pkgs="$pkgs python3-yaml"
# shellcheck disable=SC2086
exec "$(dirname "$0")/apt-install.sh" "deployment test dependencies" $pkgs
