#!/bin/sh
# Installs Debian packages for ballast's build, tests or benchmarks:
#   tools/apt-install.sh WHAT PKG...
# WHAT names the purpose in the message. Needs root (or sudo). A package such
# as nginx would start a system service on port 80; ballast runs its own on
# loopback, so a policy-rc.d refuses service starts during the install
# (unless the machine has one already, as Debian's container images do).
# nginx-light, gone from newer Debian releases, falls back to nginx.
set -e
what=$1
shift
[ $# -gt 0 ] || exit 0
echo "ballast: installing missing $what: $*" >&2
SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
    trap '$SUDO rm -f "$policy"' EXIT
    printf '#!/bin/sh\n# ballast: no service starts while tools/apt-install.sh runs\nexit 101\n' |
        $SUDO tee "$policy" >/dev/null
    $SUDO chmod 755 "$policy"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq || true
if ! $SUDO apt-get install -y -qq --no-install-recommends "$@"; then
    # shellcheck disable=SC2046
    $SUDO apt-get install -y -qq --no-install-recommends $(printf '%s\n' "$@" | sed 's/^nginx-light$/nginx/')
fi
