#!/usr/bin/env bash
# Output guard: do two tollgate binaries report the same thing on the same tree?
#
#   bench/report-diff.sh OLD_BIN NEW_BIN [DIR]
#
# Runs `tollgate scan . --format json --fail-on never` with each binary from inside DIR
# (default fixtures/demo; for the corpus guard, a corpus repository such as one under
# ../shared/bench/corpus), so that paths in the reports are relative and comparable, and diffs
# the two reports. The tool version line is left out, so that a release build of the previous
# commit can be compared with the current one. Extra scan arguments go in SCAN_ARGS (for
# example SCAN_ARGS="--jobs 1").
#
# Exit status: 0 when the reports are identical, 1 when they differ (the diff is printed),
# 2 when a binary failed to run.
set -euo pipefail
if [ $# -lt 2 ] || [ $# -gt 3 ]; then
    echo "usage: $0 OLD_BIN NEW_BIN [DIR]" >&2
    exit 2
fi
old=$(realpath "$1")
new=$(realpath "$2")
dir=${3:-$(dirname "$0")/../fixtures/demo}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

report() {
    local bin=$1 out=$2 status=0
    # shellcheck disable=SC2086 # SCAN_ARGS is a list of words on purpose
    (cd "$dir" && "$bin" scan . --format json --fail-on never ${SCAN_ARGS:-}) \
        >"$out.raw" 2>"$out.err" || status=$?
    if [ "$status" -ne 0 ] && [ "$status" -ne 2 ]; then
        echo "$bin exited with $status:" >&2
        cat "$out.err" >&2
        exit 2
    fi
    # Exit code 2 (errors in the run) still writes a report; the errors are in it.
    grep -v '^    "version": "[^"]*"$' "$out.raw" >"$out"
}

report "$old" "$work/old.json"
report "$new" "$work/new.json"
if diff -u --label "old: $1" --label "new: $2" "$work/old.json" "$work/new.json"; then
    echo "identical reports of $dir" >&2
else
    exit 1
fi
