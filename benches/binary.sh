#!/usr/bin/env bash
# goscope nm / addr2line against go tool nm / addr2line, side by side, on cmd/compile.
# Usage: benches/binary.sh   (GOSCOPE_BENCH_RUNS=N to change repetitions)
source "$(dirname "$0")/lib.sh"
build_goscope
BIN=$(large_binary)
PCS=$WORK/pcs-100k.txt
# 100,000 random pcs in the Go text, fixed seed.
"$GOSCOPE" info --json "$BIN" | python3 -c '
import json, random, sys
j = json.load(sys.stdin); md = j["moduledata"]
lo, hi = int(md["text"], 16), int(md["etext"], 16)
random.seed(20261122)
print("\n".join(hex(random.randrange(lo, hi)) for _ in range(100000)))' > "$PCS"

A2L=$(go_tool_bin addr2line)
NM=$(go_tool_bin nm)
echo "cmd/compile: $(du -h "$BIN" | cut -f1), $RUNS runs each, median time, peak RSS"
compare "addr2line, 100,000 random pcs" \
  "$(measure go "$PCS" "$A2L" "$BIN")" "$(measure goscope "$PCS" "$GOSCOPE" addr2line "$BIN")" 10
cmp -s <("$A2L" "$BIN" < "$PCS") <("$GOSCOPE" addr2line "$BIN" < "$PCS") \
  && echo "  (outputs identical)" || echo "  OUTPUTS DIFFER"
compare "nm" \
  "$(measure go /dev/null "$NM" "$BIN")" "$(measure goscope /dev/null "$GOSCOPE" nm "$BIN")" 5
compare "nm -n -size" \
  "$(measure go /dev/null "$NM" -n -size "$BIN")" "$(measure goscope /dev/null "$GOSCOPE" nm -n -size "$BIN")" 5
cmp -s <("$NM" "$BIN") <("$GOSCOPE" nm "$BIN") && echo "  (outputs identical)" || echo "  OUTPUTS DIFFER"
