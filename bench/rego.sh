#!/usr/bin/env bash
# Rego benchmark: the shipped policies and 20 conftest-style policies (bench/conftest/) over
# the shared corpus and generated fleets, with 1 and 2 worker threads.
#
#   bench/rego.sh [SHARED_BENCH_DIR] [WORK_DIR]
#
# SHARED_BENCH_DIR holds corpus/ and gen_fleet.py (default ../shared/bench); fleets of 10k and
# 100k objects are generated into WORK_DIR (default target/bench-rego) once. For each input it
# prints the wall time and peak memory of a built-in-only scan, a scan with the shipped
# policies, and one with the 20 conftest policies, and the Rego evaluations per second per
# core they imply: (objects x policies) / (extra wall time x threads) -- policies that declare
# `kinds` skip most objects, so for the shipped ones this counts object-policy pairs covered.
#
# Measured on the 2-core development machine while other builds ran (noisy; re-measure):
#   fleet 100k, 1 thread : built-in only 4.3-4.8 s, + shipped policies 11.1-13.0 s,
#                          + 20 conftest policies 38 s
#   fleet 100k, 2 threads: built-in only 2.9-3.0 s, + shipped policies 6.9-7.4 s
#   Rego time added by the shipped policies: 1.6-1.7x the built-in scan; it scales 1.7-1.8x
#   from 1 to 2 threads. Peak memory 1.24 GiB (built-in only 0.91 GiB: data.inventory).
#   20 conftest policies: ~62,000 rule evaluations per second per core.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${1:-../shared/bench}
WORK=${2:-target/bench-rego}
BIN=target/release/tollgate
[ -x "$BIN" ] || cargo build --release --quiet
mkdir -p "$WORK"
for n in 10000 100000; do
    [ -d "$WORK/fleet$n" ] || python3 "$SHARED/gen_fleet.py" "$WORK/fleet$n" --objects "$n" >/dev/null
done

# wall seconds, peak KiB and object count of one scan
measure() {
    /usr/bin/time -o "$WORK/time" -f "%e %M" "$BIN" scan "$@" --format json \
        --output "$WORK/out.json" --fail-on never >/dev/null 2>"$WORK/stderr" || true
    local objects
    objects=$(python3 -c "import json;print(json.load(open('$WORK/out.json'))['summary']['objects'])")
    echo "$(tail -1 "$WORK/time") $objects"
}

printf '%-10s %-5s %-22s %9s %9s %9s %14s\n' input jobs policies wall_s peak_MiB objects evals/s/core
INPUTS=${INPUTS:-"$SHARED/corpus $WORK/fleet10000 $WORK/fleet100000"}
for input in $INPUTS; do
    for jobs in 1 2; do
        read -r base_wall base_mem objects < <(measure "$input" --jobs "$jobs" --no-default-policies)
        printf '%-10s %-5s %-22s %9s %9s %9s %14s\n' "$(basename "$input")" "$jobs" builtin-only \
            "$base_wall" "$((base_mem / 1024))" "$objects" -
        for config in "shipped:5" "conftest:20"; do
            name=${config%%:*}; count=${config##*:}
            if [ "$name" = shipped ]; then
                read -r wall mem _ < <(measure "$input" --jobs "$jobs")
            else
                read -r wall mem _ < <(measure "$input" --jobs "$jobs" --no-default-policies --policy bench/conftest)
            fi
            rate=$(python3 -c "
extra = $wall - $base_wall
print(int($objects * $count / (extra * $jobs)) if extra > 0 else 'n/a')")
            printf '%-10s %-5s %-22s %9s %9s %9s %14s\n' "$(basename "$input")" "$jobs" "$name ($count)" \
                "$wall" "$((mem / 1024))" "$objects" "$rate"
        done
    done
done
