#!/usr/bin/env bash
# goscope stacks against Delve on a live process, side by side: `dlv attach PID` +
# `goroutines -t` + detach (`exit -d`) against `goscope stacks PID`, on the live fixture with
# 100,000 extra parked goroutines — wall time, how long the process was paused (Delve stops it for
# its whole session; goscope reports its pause), peak memory. Then goscope's pause for 1k, 10k
# and 100k goroutines. Usage: benches/live.sh   (GOSCOPE_BENCH_RUNS=N to change repetitions)
source "$(dirname "$0")/lib.sh"
build_goscope
DLV=$(command -v dlv || echo "$(go env GOPATH)/bin/dlv")
[ -x "$DLV" ] || { echo "dlv not found: go install github.com/go-delve/delve/cmd/dlv@latest" >&2; exit 1; }
# Delve needs DWARF: the unstripped build.
FIXTURE=$(cd "$ROOT" && cargo xtask fixture live)
printf 'goroutines -t\nexit -d\n' > "$WORK/dlv-attach"
DLVRUNS=${GOSCOPE_BENCH_DLV_RUNS:-3}

# start N: runs the fixture with N extra parked goroutines; sets PID and FIXDIR.
start() {
  FIXDIR=$(mktemp -d "$WORK/live.XXXX")
  "$FIXTURE" -dir "$FIXDIR" -n "$1" > /dev/null 2>&1 &
  PID=$!
  for _ in $(seq 1 600); do [ -f "$FIXDIR/ready" ] && break; sleep 0.1; done
  [ -f "$FIXDIR/ready" ] || { echo "the fixture did not start" >&2; exit 1; }
}
stop() { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; rm -rf "$FIXDIR"; }
trap stop EXIT

# pauses N: goscope's pause (paused_us) over $RUNS runs: "median max" in ms.
pauses() {
  for _ in $(seq 1 "$RUNS"); do
    "$GOSCOPE" stacks --json "$PID" | python3 -c 'import json,sys; print(json.load(sys.stdin)["paused_us"])'
  done | sort -n | awk '{a[NR]=$1} END {printf "%.2f %.2f", a[int((NR+1)/2)]/1000, a[NR]/1000}'
}

start 100000
n=$("$GOSCOPE" stacks --json "$PID" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total_goroutines"])')
echo "live fixture with $n goroutines; median of $RUNS (goscope) / $DLVRUNS (dlv) runs, peak RSS"
D=$(RUNS=$DLVRUNS measure dlv /dev/null "$DLV" attach "$PID" --init "$WORK/dlv-attach" --allow-non-terminal-interactive=true)
G=$(measure goscope /dev/null "$GOSCOPE" stacks "$PID")
read -r gmed gmax <<<"$(pauses)"
awk -v d="$D" -v g="$G" -v pmed="$gmed" -v pmax="$gmax" 'BEGIN {
  split(d, a, "\t"); split(g, b, "\t");
  printf "%-30s dlv %8.3fs %7.1f MB | goscope %7.3fs %6.1f MB | %5.1fx faster (target 10x), memory %.2fx of dlv (target 0.5x)\n",
    "stacks of every goroutine", a[2], a[3] / 1024, b[2], b[3] / 1024, a[2] / b[2], b[3] / a[3];
  printf "%-30s dlv %8.0f ms (its whole session) | goscope %7.1f ms median, %.1f ms max | %.4f of dlv (target 0.1)\n",
    "process paused", a[2] * 1000, pmed, pmax, pmed / (a[2] * 1000) }'
stop
for n in 1000 10000 100000; do
  start "$n"
  read -r gmed gmax <<<"$(pauses)"
  printf '%-30s goscope paused %6.2f ms median, %6.2f ms max (target under 10 ms at 10k)\n' "pause, $n goroutines" "$gmed" "$gmax"
  stop
done
