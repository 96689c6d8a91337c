#!/usr/bin/env bash
# goscope profile against go tool pprof, on cmd/compile:
#   - a synthetic CPU profile of 100,000 samples (crates/profile/examples/synth.rs: 20,000
#     distinct stacks over 3,000 functions, every sample its own record): loading and `top`
#     (target under 0.5 s), and the flame graph (target under 1 s);
#   - a real profile, the compiler's own -cpuprofile while it compiles generated code:
#     `disasm` of its hottest function (target: within 2x of pprof -disasm).
# Usage: benches/profile.sh
source "$(dirname "$0")/lib.sh"
build_goscope
(cd "$ROOT" && cargo build --release -q -p goscope-profile --example synth)
BIN=$(large_binary)
PPROF=$(go_tool_bin pprof)
SYNTH=$WORK/synth-100k.pb.gz
[ -s "$SYNTH" ] || "$ROOT/target/release/examples/synth" "$BIN" 100000 "$SYNTH"

# The real profile: the compiler compiling 3,000 generated functions.
REAL=$WORK/compile-self.prof
if [ ! -s "$REAL" ]; then
  python3 - "$WORK/gen.go" <<'PY'
import sys
out = ["package main", "", "func main() {}"]
for i in range(3000):
    out.append(f"""func f{i}(a []int, m map[string]int, s string) int {{
	t := 0
	for j, v := range a {{
		switch {{
		case v%3 == {i % 3}:
			t += v * j
		case len(s) > {i % 7}:
			m[s[:1]] += v
		default:
			t -= v >> 1
		}}
	}}
	g := func(x int) int {{ return x*{i} + t }}
	return g(len(m)) + t
}}""")
open(sys.argv[1], "w").write("\n".join(out) + "\n")
PY
  "$BIN" -p main -o "$WORK/gen.o" -cpuprofile "$REAL" "$WORK/gen.go"
fi
HOT=$("$GOSCOPE" profile "$BIN" "$REAL" top -n 1 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["functions"][0]["function"])')
RE=$(python3 -c 'import re,sys; print(re.escape(sys.argv[1]))' "$HOT")
echo "synthetic: $(du -h "$SYNTH" | cut -f1) with 100,000 samples; real: the hottest function is $HOT" >&2

compare "top, 100,000 samples" \
  "$(measure pprof /dev/null "$PPROF" -top "$BIN" "$SYNTH")" \
  "$(measure goscope /dev/null "$GOSCOPE" profile "$BIN" "$SYNTH" top)" "1; goal: under 0.5 s"
compare "disasm of the hottest function" \
  "$(measure pprof /dev/null "$PPROF" -disasm "$RE" "$BIN" "$REAL")" \
  "$(measure goscope /dev/null "$GOSCOPE" profile "$BIN" "$REAL" disasm "^$RE\$")" "0.5"
fg=$(measure goscope /dev/null "$GOSCOPE" profile "$BIN" "$SYNTH" flamegraph -o "$WORK/synth.svg")
awk -v t="$(cut -f2 <<<"$fg")" -v m="$(cut -f3 <<<"$fg")" 'BEGIN {
  printf "%-34s goscope %8.4fs %7.1f MB (target under 1 s; pprof draws none without graphviz)\n",
    "flame graph, 100,000 samples", t, m / 1024 }'
