#!/bin/sh
# Installs what the deployment suites of `make test` need (tests/http/test_deploy.py,
# test_cluster.py): nginx (nginx-light) and PyYAML (python3-yaml), from Debian's archive.
# Needs root (or sudo). nginx's package would start the system's nginx on port 80; the tests
# run their own on loopback, so a policy-rc.d refuses service starts during the install
# (unless the machine already has one, as Debian's container images do).
set -e
pkgs=
{ command -v nginx || test -x /usr/sbin/nginx; } >/dev/null 2>&1 || pkgs="nginx-light"
"${PYTHON:-python3}" -c 'import yaml' 2>/dev/null || pkgs="$pkgs python3-yaml"
[ -n "$pkgs" ] || exit 0
echo "ballast: installing missing deployment test dependencies:$pkgs" >&2
SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
    trap '$SUDO rm -f "$policy"' EXIT
    printf '#!/bin/sh\n# ballast: no service starts while tools/install-deploy-deps.sh runs\nexit 101\n' |
        $SUDO tee "$policy" >/dev/null
    $SUDO chmod 755 "$policy"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq || true
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $pkgs
