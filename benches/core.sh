#!/usr/bin/env bash
# goscope core against Delve (dlv core), side by side, on a core with 100,000 goroutines:
# listing goroutines (`goroutines`) and every stack (`goroutines -t` / `--stacks`), wall time
# and peak memory. Usage: benches/core.sh   (GOSCOPE_BENCH_RUNS=N to change repetitions)
source "$(dirname "$0")/lib.sh"
build_goscope
DLV=$(command -v dlv || echo "$(go env GOPATH)/bin/dlv")
[ -x "$DLV" ] || { echo "dlv not found: go install github.com/go-delve/delve/cmd/dlv@latest" >&2; exit 1; }
# The crash fixture's `many` scenario (100,000 parked goroutines), built and crashed once.
IFS=$'\t' read -r BIN CORE < <(cd "$ROOT" && cargo xtask crash-core crash many)
printf 'goroutines\nexit\n' > "$WORK/dlv-goroutines"
printf 'goroutines -t\nexit\n' > "$WORK/dlv-goroutines-t"
# Both tools read the same cached file: warm the page cache first.
cat "$CORE" "$BIN" > /dev/null
DLVRUNS=${GOSCOPE_BENCH_DLV_RUNS:-3}

row() { # TITLE DLV_LINE GOSCOPE_LINE TARGET
  awk -v t="$1" -v d="$2" -v g="$3" -v want="$4" 'BEGIN {
    split(d, a, "\t"); split(g, b, "\t");
    printf "%-28s dlv %8.3fs %7.1f MB | goscope %7.3fs %6.1f MB | %5.1fx faster (target %sx), memory %.2fx of dlv (target 0.5x)\n",
      t, a[2], a[3] / 1024, b[2], b[3] / 1024, a[2] / b[2], want, b[3] / a[3] }'
}
echo "core: $(du -h "$CORE" | cut -f1), $(grep -c '^goroutine ' "$(dirname "$CORE")/stderr") goroutines; median of $RUNS (goscope) / $DLVRUNS (dlv) runs, peak RSS"
D=$(RUNS=$DLVRUNS measure dlv /dev/null "$DLV" core "$BIN" "$CORE" --init "$WORK/dlv-goroutines" --allow-non-terminal-interactive=true)
G=$(measure goscope /dev/null "$GOSCOPE" core "$BIN" "$CORE" goroutines)
row "goroutines" "$D" "$G" 10
D=$(RUNS=$DLVRUNS measure dlv /dev/null "$DLV" core "$BIN" "$CORE" --init "$WORK/dlv-goroutines-t" --allow-non-terminal-interactive=true)
G=$(measure goscope /dev/null "$GOSCOPE" core "$BIN" "$CORE" goroutines --stacks)
row "goroutines, full stacks" "$D" "$G" 10
G=$(measure goscope /dev/null "$GOSCOPE" core "$BIN" "$CORE")
printf '%-28s goscope %7.3fs %6.1f MB (dlv has no equivalent)\n' "summary" "$(cut -f2 <<<"$G")" "$(awk -v m="$(cut -f3 <<<"$G")" 'BEGIN{print m/1024}')"
G=$(measure goscope /dev/null "$GOSCOPE" core "$BIN" "$CORE" goroutines --stacks --group)
printf '%-28s goscope %7.3fs %6.1f MB\n' "goroutines --stacks --group" "$(cut -f2 <<<"$G")" "$(awk -v m="$(cut -f3 <<<"$G")" 'BEGIN{print m/1024}')"
