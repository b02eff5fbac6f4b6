#!/bin/sh
# tools/longest-functions.sh — the longest functions and the largest .c files
# of lib/, api/ and server/ (or of the directories given), for issue #12's
# "no function over ~80 lines" and the split-by-concern notes.
#   tools/longest-functions.sh [-n N] [dir ...]
# A function is counted from the first line of its signature (a line that
# starts in column 0) to its closing "}" in column 0, both included; the
# tree's style puts a definition's "{" alone on its line, so one-line
# functions are not counted (they are short anyway).
set -eu
n=10
if [ "${1:-}" = "-n" ]; then n=$2; shift 2; fi
[ $# -gt 0 ] || set -- lib api server
cd "$(dirname "$0")/.."

files=$(for d in "$@"; do ls "$d"/*.c; done)

echo "== $n longest functions (lines)"
for f in $files; do
    awk -v file="$f" '
        /^[A-Za-z_]/ && /\(/ && !/;[ \t]*$/ { sig = NR; line = $0 }
        /^\{[ \t]*$/ && sig { start = sig; name = line
            sub(/\(.*/, "", name); sub(/.*[ *]/, "", name) }
        /^\}/ && start { print NR - start + 1, file ":" start, name; start = 0; sig = 0 }
    ' "$f"
done | sort -k1,1nr | head -n "$n" | awk '{ printf "%5d  %-28s %s\n", $1, $3, $2 }'

echo "== $n largest .c files (lines)"
wc -l $files | grep -v ' total$' | sort -k1,1nr | head -n "$n" | awk '{ printf "%5d  %s\n", $1, $2 }'
