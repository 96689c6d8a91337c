#!/usr/bin/env bash
# Times `goscope objdump` against `go tool objdump`, side by side in one run, on a large Go
# binary: cmd/compile built from the Go tree of $GO (default `go`; use the newest release, whose
# objdump is the oracle: GO=$(go env GOMODCACHE)/golang.org/toolchain@v0.0.1-go1.27.3.linux-amd64/bin/go).
# Both write the same output format (the default listing) to files; the lines that differ are
# counted (goscope prints the instruction where Go's decoder prints `?` or misreads it; the
# objdump tests check each such line). Each measurement is the best of $RUNS runs (wall clock)
# with the peak memory (max RSS) of that run.
#
#   benches/objdump.sh            # whole binary, and -s for one function
#   RUNS=5 GO=... benches/objdump.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
FUNC=${FUNC:-'^cmd/compile/internal/ssagen\.buildssa$'}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

bench_dir=target/bench
mkdir -p "$bench_dir"
GO=${GO:-go}
export GOTOOLCHAIN=local
compile="$bench_dir/compile-$("$GO" env GOVERSION)"
if [ ! -x "$compile" ]; then
  echo "building cmd/compile with $("$GO" env GOVERSION) ..." >&2
  "$GO" build -o "$compile" cmd/compile
fi
cargo build --release -q -p goscope
goscope=target/release/goscope

# best_of NAME CMD... : prints "seconds maxrss_kb" of the fastest of $RUNS runs.
best_of() {
  local name=$1; shift
  local best_t="" best_m=""
  for _ in $(seq "$RUNS"); do
    local t0=$EPOCHREALTIME
    /usr/bin/time -f "%M" -o "$out/time" "$@" > "$out/$name.txt"
    local t1=$EPOCHREALTIME
    local t m
    t=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
    read -r m < "$out/time"
    if [ -z "$best_t" ] || awk "BEGIN{exit !($t < $best_t)}"; then best_t=$t; best_m=$m; fi
  done
  echo "$best_t $best_m"
}

report() {
  local what=$1 go_t=$2 go_m=$3 gs_t=$4 gs_m=$5
  awk -v w="$what" -v gt="$go_t" -v gm="$go_m" -v st="$gs_t" -v sm="$gs_m" 'BEGIN {
    printf "%-34s go tool objdump %7.3fs %7.1f MB | goscope %6.3fs %7.1f MB | %5.1fx faster, memory %.2fx\n",
      w, gt, gm/1024, st, sm/1024, gt/st, sm/gm }'
}

echo "binary: $compile ($(du -h "$compile" | cut -f1)), $(nproc) cores, runs: $RUNS"

read -r go_t go_m < <(best_of go-all "$GO" tool objdump "$compile")
read -r gs_t gs_m < <(best_of gs-all "$goscope" objdump "$compile")
echo "lines that differ: $(diff "$out/go-all.txt" "$out/gs-all.txt" | grep -c '^>' || true)"
report "whole binary ($(wc -l < "$out/gs-all.txt") lines)" "$go_t" "$go_m" "$gs_t" "$gs_m"

read -r go_t go_m < <(best_of go-one "$GO" tool objdump -s "$FUNC" "$compile")
read -r gs_t gs_m < <(best_of gs-one "$goscope" objdump -s "$FUNC" "$compile")
cmp -s "$out/go-one.txt" "$out/gs-one.txt" || { echo "-s outputs differ" >&2; exit 1; }
report "-s one function ($(wc -l < "$out/gs-one.txt") lines)" "$go_t" "$go_m" "$gs_t" "$gs_m"
