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
# The servers the suites start (tests/http/harness.py appends their pids).
BALLAST_TEST_PIDS=$(mktemp)
export BALLAST_TEST_PIDS
trap 'rm -f "$log" "$BALLAST_TEST_PIDS"' EXIT

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

# Every server the suites started must be gone — those only: a `make run`
# server in another terminal is not ours. A pid still running this build's
# ballastd is one of ours that outlived its suite.
ours=$(readlink -f "$build/ballastd" 2>/dev/null)
for pid in $(sort -u "$BALLAST_TEST_PIDS"); do
    if [ -n "$ours" ] && [ "$(readlink -f /proc/"$pid"/exe 2>/dev/null)" = "$ours" ]; then
        echo "FAILED: ballastd (pid $pid) outlived the tests"
        status=1
        failed=$((failed + 1))
    fi
done
echo "total: $passed passed, $failed failed"
exit $status
