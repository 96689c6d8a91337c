#!/usr/bin/env bash
# goscope trace against `dlv trace` on the same program: testdata/tracefix calls makes 10,000
# calls of main.settle across 4 goroutines (plus 10,000 of main.twice, inlined). Measures the
# program's run time alone, traced by goscope (uprobes), and traced by dlv (ptrace breakpoints);
# the cost per traced call and the events per second each delivers.
# Usage: benches/trace.sh
source "$(dirname "$0")/lib.sh"
build_goscope
DLV=$(command -v dlv || echo "$(go env GOPATH)/bin/dlv")
[ -x "$DLV" ] || { echo "dlv not found: go install github.com/go-delve/delve/cmd/dlv@latest" >&2; exit 1; }
FIXTURE=$(cd "$ROOT" && cargo xtask fixture tracefix)
DIR=$(mktemp -d "$WORK/trace.XXXX")
trap 'rm -rf "$DIR"' EXIT
N=10000
# The fixture sleeps 0.5 s of its own (before and after its work): measured, then subtracted.
secs() { python3 - "$@" <<'PY'
import subprocess, sys, time
t = time.perf_counter()
subprocess.run(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(f"{time.perf_counter() - t:.3f}")
PY
}
check() { grep -q '"settle_calls":4000' "$DIR/report.json" || { echo "the program did not complete under $1" >&2; exit 1; }; rm -f "$DIR/report.json"; }
base=$(secs "$FIXTURE" calls "$DIR/report.json"); check "no tracer"
gs=$(secs "$GOSCOPE" trace --json 'main\.settle$' -- "$FIXTURE" calls "$DIR/report.json"); check goscope
echo "alone ${base}s, under goscope trace ${gs}s; dlv trace running (slow)..." >&2
dl=$(secs "$DLV" trace --check-go-version=false --exec "$FIXTURE" 'main\.settle$' -- calls "$DIR/report.json"); check dlv
awk -v n="$N" -v b="$base" -v g="$gs" -v d="$dl" 'BEGIN {
  go = (g - b) / n * 1e6; dov = (d - b) / n * 1e6; if (go < 0.01) go = 0.01;
  printf "%-32s dlv trace %7.2fs (%8.1f us/call, %7.0f calls/s) | goscope %6.2fs (%6.1f us/call, %7.0f calls/s) | %5.0fx cheaper (target 100x)\n",
    "trace " n " calls", d, dov, n / (d - b + 0.5), g, go, n / (g - b + 0.5), dov / go }'
