# Shared helpers for the side-by-side benchmarks. Source it from a bench script.
# Each measurement runs a command several times and reports the median wall time and the
# largest peak RSS, from /usr/bin/time.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=${GOSCOPE_BENCH_DIR:-$ROOT/target/bench}
RUNS=${GOSCOPE_BENCH_RUNS:-5}
mkdir -p "$WORK"

GOSCOPE=$ROOT/target/release/goscope
build_goscope() { (cd "$ROOT" && cargo build --release -q -p goscope); }

# The large binary every bench uses: cmd/compile built from the installed Go tree.
large_binary() {
  local out=$WORK/compile
  if [ ! -x "$out" ]; then
    echo "building cmd/compile from $(go env GOROOT) (once)..." >&2
    GOTOOLCHAIN=local go build -o "$out" cmd/compile
  fi
  echo "$out"
}

# The Go tool's own binary, so that `go`'s start-up is not counted against it.
go_tool_bin() { GOTOOLCHAIN=local go tool -n "$1"; }

# measure NAME STDIN CMD... : prints "NAME<TAB>median_seconds<TAB>max_rss_kb". Wall time is
# taken with a monotonic clock around each run (median of $RUNS); peak RSS from /usr/bin/time.
measure() {
  local name=$1 input=$2; shift 2
  local med rss
  med=$(python3 - "$RUNS" "$input" "$@" <<'PY'
import subprocess, sys, time, statistics
runs, inp, cmd = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
ts = []
for _ in range(runs):
    with open(inp, "rb") as f:
        t = time.perf_counter()
        subprocess.run(cmd, stdin=f, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ts.append(time.perf_counter() - t)
print(f"{statistics.median(ts):.4f}")
PY
)
  /usr/bin/time -f "%M" -o "$WORK/time.out" "$@" < "$input" > /dev/null 2>&1 || true
  rss=$(tail -1 "$WORK/time.out")
  printf '%s\t%s\t%s\n' "$name" "$med" "$rss"
}

# compare TITLE GO_LINE GOSCOPE_LINE TARGET_RATIO : prints a side-by-side row
compare() {
  local title=$1 go=$2 gs=$3 want=$4
  local gt gm st sm
  gt=$(cut -f2 <<<"$go"); gm=$(cut -f3 <<<"$go")
  st=$(cut -f2 <<<"$gs"); sm=$(cut -f3 <<<"$gs")
  awk -v t="$title" -v gt="$gt" -v gm="$gm" -v st="$st" -v sm="$sm" -v want="$want" 'BEGIN {
    s = gt / st;
    printf "%-34s go %8.4fs %7.1f MB | goscope %8.4fs %7.1f MB | %6.1fx faster (target %sx), memory %.2fx\n",
      t, gt, gm / 1024, st, sm / 1024, s, want, sm / gm }'
}
