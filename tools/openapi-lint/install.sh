#!/bin/sh
# Installs the OpenAPI linter of `make test` (@redocly/cli, pinned by
# package-lock.json beside this script) into DIR:
#   tools/openapi-lint/install.sh DIR        (mk/openapi-lint.mk: $(BUILD)/tools/openapi-lint)
# with `npm ci`, from npm's cache when it has the package (--prefer-offline), so
# that a reinstall after `make clean` needs no network. Installs into a
# temporary directory first: DIR appears only once the linter runs.
# Fails with a message saying what is missing; tests/http/test_openapi_lint.py
# then fails too (the lint never skips silently).
set -u
dir=${1:?usage: tools/openapi-lint/install.sh DIR}
here=$(cd "$(dirname "$0")" && pwd)
fail() {
    echo "ballast: cannot install the OpenAPI linter (@redocly/cli) into $dir: $*" >&2
    echo "ballast: the openapi-lint suite of make test will fail until it is installed" >&2
    exit 1
}
command -v node >/dev/null 2>&1 || fail "node is not installed (Node.js >= 20.19 is needed)"
command -v npm >/dev/null 2>&1 || fail "npm is not installed (Debian: apt-get install npm)"
# @redocly/cli 2 needs Node.js >= 20.19 (20.x) or >= 22.12.
node -e '
const [a, b] = process.versions.node.split(".").map(Number);
process.exit((a === 20 && b >= 19) || (a === 22 && b >= 12) || a > 22 ? 0 : 1);' ||
    fail "Node.js $(node --version) is too old: @redocly/cli needs >= 20.19 (or >= 22.12)"
tmp="$dir.tmp.$$"
trap 'rm -rf "$tmp"' EXIT
rm -rf "$tmp" && mkdir -p "$tmp" || fail "cannot create $tmp"
cp "$here/package.json" "$here/package-lock.json" "$tmp/"
echo "ballast: installing the OpenAPI linter: npm ci in $dir" >&2
(cd "$tmp" && npm ci --prefer-offline --no-audit --no-fund --ignore-scripts --loglevel=error \
    --fetch-retries=2 --fetch-timeout=60000) ||
    fail "npm ci failed (is the npm registry reachable? npm config get registry: $(npm config get registry 2>/dev/null))"
REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true \
    "$tmp/node_modules/.bin/redocly" --version >/dev/null 2>&1 || fail "the installed redocly does not run"
rm -rf "$dir" && mv "$tmp" "$dir" || fail "cannot move $tmp to $dir"
touch "$dir/node_modules/.bin/redocly"
