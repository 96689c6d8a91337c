#!/usr/bin/env bash
# goscope debug against Delve on a conditional breakpoint whose condition is false 100,000 times
# (testdata/debugfix hot: tick(i) called 100,000 times; `break main.tick` + `cond 1 i == -1`):
# the program's run time alone, under goscope, under dlv; the overhead per hit and the ratio.
# Usage: benches/debug.sh   (GOSCOPE_BENCH_HITS=N to change the number of calls)
source "$(dirname "$0")/lib.sh"
build_goscope
DLV=$(command -v dlv || echo "$(go env GOPATH)/bin/dlv")
[ -x "$DLV" ] || { echo "dlv not found: go install github.com/go-delve/delve/cmd/dlv@latest" >&2; exit 1; }
FIXTURE=$(cd "$ROOT" && cargo xtask fixture debugfix)
N=${GOSCOPE_BENCH_HITS:-100000}
DIR=$(mktemp -d "$WORK/debug.XXXX")
trap 'rm -rf "$DIR"' EXIT
printf 'break main.tick\ncond 1 i == -1\ncontinue\nexit\n' > "$DIR/dlv-init"

# secs CMD...: wall seconds of one run.
secs() { python3 - "$@" <<'PY'
import subprocess, sys, time
t = time.perf_counter()
subprocess.run(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(f"{time.perf_counter() - t:.3f}")
PY
}
check() { grep -q "^done $N " "$DIR/result" || { echo "the program did not complete its $N calls under $1" >&2; exit 1; }; rm -f "$DIR/result"; }

base=$(secs "$FIXTURE" -dir "$DIR" -n "$N" hot); check "no debugger"
gs=$(secs "$GOSCOPE" debug exec "$FIXTURE" -c 'break main.tick' -c 'cond 1 i == -1' -c continue -c exit -- -dir "$DIR" -n "$N" hot); check goscope
echo "conditional breakpoint false $N times; alone ${base}s, under goscope ${gs}s; dlv running (slow)..." >&2
dl=$(secs "$DLV" exec "$FIXTURE" --init "$DIR/dlv-init" --allow-non-terminal-interactive=true -- -dir "$DIR" -n "$N" hot); check dlv
awk -v n="$N" -v b="$base" -v g="$gs" -v d="$dl" 'BEGIN {
  go = (g - b) / n * 1e6; dov = (d - b) / n * 1e6;
  printf "%-38s dlv %8.2fs (%7.1f us/hit) | goscope %7.2fs (%6.1f us/hit) | overhead %5.1fx less (target 50x)\n",
    "cond breakpoint false " n " times", d, dov, g, go, dov / go }'
