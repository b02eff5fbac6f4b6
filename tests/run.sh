#!/bin/sh
# Runs every test suite: the Check programs for lib/ and api/, then the HTTP
# integration and conformance tests against real ballastd processes. Prints
# each suite's own summary, then one total line; exits non-zero on any
# failure. Usage: tests/run.sh BUILD_DIR
set -u
build=${1:-build}
passed=0
failed=0
status=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

for t in "$build"/tests/test_*; do
    [ -x "$t" ] || continue
    echo "== $(basename "$t")"
    "$t" >"$log" 2>&1
    rc=$?
    cat "$log"
    # Check's summary: "100%: Checks: 12, Failures: 0, Errors: 0"
    line=$(grep -E '^[0-9]+%: Checks: [0-9]+' "$log" | tail -n 1)
    if [ -n "$line" ]; then
        n=$(echo "$line" | sed -E 's/.*Checks: ([0-9]+).*/\1/')
        f=$(echo "$line" | sed -E 's/.*Failures: ([0-9]+).*/\1/')
        e=$(echo "$line" | sed -E 's/.*Errors: ([0-9]+).*/\1/')
        passed=$((passed + n - f - e))
        failed=$((failed + f + e))
    fi
    if [ $rc -ne 0 ]; then
        status=1
        [ -n "$line" ] || failed=$((failed + 1))
        echo "FAILED: $t (exit $rc)"
    fi
done

for t in tests/http/test_*.py; do
    [ -f "$t" ] || continue
    echo "== $(basename "$t")"
    BALLASTD="$build/ballastd" "${PYTHON:-python3}" "$t" >"$log" 2>&1
    rc=$?
    cat "$log"
    # Our runner's summary: "http: 40 passed, 0 failed"
    line=$(grep -E '^[a-z_-]+: [0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
    if [ -n "$line" ]; then
        n=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/')
        f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
        passed=$((passed + n))
        failed=$((failed + f))
    fi
    if [ $rc -ne 0 ]; then
        status=1
        [ -n "$line" ] || failed=$((failed + 1))
        echo "FAILED: $t (exit $rc)"
    fi
done

# Every server the suites started must be gone: any process still running
# this build's ballastd binary (others, e.g. a chroot's, are not ours).
ours=$(readlink -f "$build/ballastd" 2>/dev/null)
for pid in $(pgrep -x ballastd 2>/dev/null); do
    if [ -n "$ours" ] && [ "$(readlink -f /proc/"$pid"/exe 2>/dev/null)" = "$ours" ]; then
        echo "FAILED: ballastd (pid $pid) outlived the tests"
        status=1
        failed=$((failed + 1))
    fi
done
echo "total: $passed passed, $failed failed"
exit $status
