#!/usr/bin/env bash
# What `goscope record` costs the program it samples: testdata/tracefix `work` (fixed CPU work
# on two goroutines) alone and under `goscope record` at 99 Hz (and 999 Hz), median of $RUNS
# runs each; the overhead in percent (target at 99 Hz: under 2%).
# Usage: benches/record.sh
source "$(dirname "$0")/lib.sh"
build_goscope
FIXTURE=$(cd "$ROOT" && cargo xtask fixture tracefix)
DIR=$(mktemp -d "$WORK/record.XXXX")
trap 'rm -rf "$DIR"' EXIT
ROUNDS=${GOSCOPE_BENCH_ROUNDS:-1500}
secs() { python3 - "$@" <<'PY'
import subprocess, sys, time
t = time.perf_counter()
subprocess.run(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
print(f"{time.perf_counter() - t:.4f}")
PY
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
alone=$(for i in $(seq "$RUNS"); do secs "$FIXTURE" work "$ROUNDS"; done | median)
for hz in 99 999; do
  under=$(for i in $(seq "$RUNS"); do secs "$GOSCOPE" record --hz "$hz" -o "$DIR/p.pb.gz" -- "$FIXTURE" work "$ROUNDS"; done | median)
  awk -v a="$alone" -v u="$under" -v hz="$hz" 'BEGIN {
    printf "%-40s alone %7.3fs | under goscope record %7.3fs | overhead %5.2f%% (target at 99 Hz: under 2%%)\n",
      "record at " hz " Hz, fixed work", a, u, (u - a) / a * 100 }'
done
