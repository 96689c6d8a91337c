#!/usr/bin/env bash
# goscope check with ten rules over every function of cmd/compile, side by side with goscope
# objdump of the same binary (the issue's target: check takes no more than 2x objdump).
# Usage: benches/check.sh   (GOSCOPE_BENCH_RUNS=N to change repetitions)
source "$(dirname "$0")/lib.sh"
build_goscope
BIN=$(large_binary)
POLICY=$WORK/check-policy.toml
cat > "$POLICY" <<'TOML'
[module]
directives = false
[[check]]
functions = ["*"]
no_alloc = true
no_lock = true
lock_allow = ["sync", "sync/atomic"]
no_bounds_check = true
no_write_barrier = true
no_runtime_calls = ["map", "chan"]
max_frame_size = 4096
max_size = 65536
no_defer = true
no_interface_conversion = true
[[check]]
functions = ["cmd/compile/internal/ssa.(*Value).*", "cmd/compile/internal/ir.(*Name).*"]
must_inline = true
TOML
echo "cmd/compile: $(du -h "$BIN" | cut -f1), $RUNS runs each, median time, peak RSS"
obj=$(measure objdump /dev/null "$GOSCOPE" objdump "$BIN")
chk=$(measure check /dev/null "$GOSCOPE" check --policy "$POLICY" "$BIN")
awk -v o="$(cut -f2 <<<"$obj")" -v om="$(cut -f3 <<<"$obj")" \
    -v c="$(cut -f2 <<<"$chk")" -v cm="$(cut -f3 <<<"$chk")" 'BEGIN {
  printf "%-34s objdump %8.4fs %7.1f MB | check %8.4fs %7.1f MB | check/objdump %.2fx (target <= 2x)\n",
    "check, ten rules", o, om / 1024, c, cm / 1024, c / o }'
# (check exits 1 when it finds violations, as here: the summary line is what matters.)
{ "$GOSCOPE" check --policy "$POLICY" "$BIN" 2>/dev/null || true; } | tail -1
