#!/usr/bin/env bash
# Regenerates schemas/*.schema.json from real outputs of goscope on the fixtures (system Go,
# linux/amd64): run it when an output changes on purpose, review the diff, commit. The test
# crates/cli/tests/json_schemas.rs validates outputs of other builds (stripped, PIE, Go 1.19)
# against the checked-in schemas.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p goscope
G=target/release/goscope
one() { python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)))'; }
S=testdata/sample/sample
read -r CRASH CORE < <(cargo xtask crash-core crash customerr | tr '\t' ' ')
read -r MBIN MCORE < <(cargo xtask crash-core crash maps | tr '\t' ' ')
PROF=$(cargo xtask fixture proffix)
CHECKFIX=$(cargo xtask fixture checkfix)
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
"$PROF" "$W/a.pb.gz" 400 2>/dev/null; "$PROF" "$W/b.pb.gz" 400 2>/dev/null
schema() { python3 schemas/infer.py "$2" "$3" > "schemas/$1.schema.json"; }

{ $G info --json $S | one; $G info --json "$CRASH" | one; $G info --json "$PROF" | one; } |
  schema info "goscope info --json" "One object: what built the binary and what it holds."
$G nm --json $S | schema nm "goscope nm --json" "JSON Lines: one object per symbol."
printf '0x48a3ec\n0x48a3c0\n0x1\n' | $G addr2line --json $S |
  schema addr2line "goscope addr2line --json" "JSON Lines: one object per address read; frames innermost first."
$G objdump --json --annotate -s 'main\.' $S |
  schema objdump "goscope objdump --json" "JSON Lines: one object per instruction."
(cd testdata/checkfix && ../../$G check --format json "$CHECKFIX" | one || true) |
  schema check "goscope check --format json" "One object: the violations and what was checked."
# diff between two builds (Go 1.19's if the tests built one, else plain and stripped), opt on
# the checkfix module.
OLDP=$(find target/fixtures -maxdepth 2 -path '*go1.19*' -name 'proffix-linux-amd64-default-*' -type f | head -1)
$G diff --json "${OLDP:-$(cargo xtask fixture proffix stripped)}" "$PROF" | one |
  schema diff "goscope diff --json OLD NEW" "One object: per function, what changed between the builds."
GOTOOLCHAIN=local GOFLAGS=-mod=mod GOPROXY=off $G opt --json --go go -C testdata/checkfix | one |
  schema opt "goscope opt --json" "One object: the compiler's decisions, each tied to instructions."
# Every cached customerr core (other toolchains and variants: optional fields appear there).
OTHERS=()
for d in target/fixtures/cores/crash-linux-amd64-*--customerr; do
  b=$(find target/fixtures -maxdepth 2 -type f -name "$(basename "${d%--customerr}")" | head -1)
  [ -n "$b" ] && OTHERS+=("$b" "$d/core")
done
others() { local i; for ((i = 0; i < ${#OTHERS[@]}; i += 2)); do $G core --json "${OTHERS[i]}" "${OTHERS[i+1]}" "$@" | one; done; }
MAPS=()
for d in target/fixtures/cores/crash-linux-amd64-default-*--maps; do
  b=$(find target/fixtures -maxdepth 2 -type f -name "$(basename "${d%--maps}")" | head -1)
  [ -n "$b" ] && MAPS+=("$b" "$d/core")
done
maps() { local i; for ((i = 0; i < ${#MAPS[@]}; i += 2)); do $G core --json "${MAPS[i]}" "${MAPS[i+1]}" "$@" | one; done; }
{ $G core --json "$CRASH" "$CORE" | one; $G core --json "$MBIN" "$MCORE" | one; others; } |
  schema core "goscope core --json BIN CORE" "One object: the crash, counts by state, and every goroutine with its stack."
{ $G core --json "$CRASH" "$CORE" goroutines | one; $G core --json "$CRASH" "$CORE" goroutines --stacks | one; others goroutines --stacks; } |
  schema core-goroutines "goscope core --json BIN CORE goroutines" "An array: one object per goroutine (frames with --stacks)."
{ $G core --json "$CRASH" "$CORE" goroutines --group | one; others goroutines --group; } |
  schema core-goroutines-group "goscope core --json BIN CORE goroutines --group" "An array: one object per group of identical stacks."
{ $G core --json "$CRASH" "$CORE" goroutine 1 | one; $G core --json "$MBIN" "$MCORE" goroutine 1 | one; others goroutine 1; } |
  schema core-goroutine "goscope core --json BIN CORE goroutine ID" "One object: the goroutine, its frames and panics."
{ $G core --json "$CRASH" "$CORE" threads | one; others threads; } |
  schema core-threads "goscope core --json BIN CORE threads" "An array: one object per thread."
{ $G core --json "$CRASH" "$CORE" regs | one; others regs; } |
  schema core-regs "goscope core --json BIN CORE regs" "One object: a thread's registers."
{ $G core --json "$CRASH" "$CORE" disassemble | one; others disassemble --annotate; } |
  schema core-disassemble "goscope core --json BIN CORE disassemble" "One object: the instructions around a frame's pc."
{ $G core --json "$MBIN" "$MCORE" map main.bigMap | one; maps map main.bigMap; maps map main.smallMap; } |
  schema core-map "goscope core --json BIN CORE map" "One object: a map's header, type and entries."
{ $G core --json "$MBIN" "$MCORE" print main.bigMap | one; $G core --json "$MBIN" "$MCORE" print 'len(main.bigMap)' | one; maps print main.bigMap; } |
  schema core-print "goscope core --json BIN CORE print EXPR" "One object: the value, as dlv prints it, and its tree."
{ $G profile "$PROF" "$W/a.pb.gz" top --json | one; $G profile "$PROF" "$W/a.pb.gz" top --inlined --json | one; } |
  schema profile-top "goscope profile BIN PROFILE top --json" "One object: functions by flat or cumulative value (ms for CPU profiles)."
$G profile "$PROF" "$W/a.pb.gz" list 'main\.' --json | one |
  schema profile-list "goscope profile BIN PROFILE list REGEX --json" "One object: per function, its source lines with values."
{ $G profile "$PROF" "$W/a.pb.gz" disasm 'main\.hotB$' --json | one; $G profile "$PROF" "$W/a.pb.gz" disasm 'main\.mix$' --json | one; } |
  schema profile-disasm "goscope profile BIN PROFILE disasm REGEX --json" "One object: per function (or inlined copy), its instructions with values."
$G profile "$PROF" "$W/a.pb.gz" flamegraph -o "$W/f.svg" --json | one |
  schema profile-flamegraph "goscope profile BIN PROFILE flamegraph --json" "One object: what was written."
{ $G profile "$PROF" "$W/a.pb.gz" diff "$W/b.pb.gz" --json | one; $G profile "$PROF" "$W/a.pb.gz" diff "$W/b.pb.gz" --disasm 'main\.hotA$' --json | one; } |
  schema profile-diff "goscope profile BIN BASE diff NEW --json" "One object: per function (and per instruction with --disasm) the change."
# Live processes: the live fixture (stacks, top, snapshot) and tracefix (debug, trace, locks,
# record). Needs root (ptrace and perf uprobes).
LIVE=$(cargo xtask fixture live)
TRACEFIX=$(cargo xtask fixture tracefix)
DEBUGFIX=$(cargo xtask fixture debugfix)
# The system Go's build, and Go 1.19's if the tests built one (older runtimes lack some fields).
LIVES=("$LIVE" $(find target/fixtures -maxdepth 2 -path '*go1.19*' -name 'live-linux-amd64-default-*' -type f | head -1))
: > "$W/stacks.jsonl"; : > "$W/top.jsonl"; : > "$W/snapshot.jsonl"
for L in "${LIVES[@]}"; do
  rm -f "$W/ready"
  "$L" -dir "$W" >/dev/null 2>&1 & LPID=$!
  while [ ! -f "$W/ready" ]; do sleep 0.1; done
  { $G stacks --json $LPID | one; $G stacks --json --group $LPID | one; $G stacks --json --nonblocking $LPID | one; } >> "$W/stacks.jsonl"
  { timeout 2 $G top --json --interval 300ms $LPID || true; } >> "$W/top.jsonl"
  $G snapshot --json $LPID -o "$W/core.snap" | one >> "$W/snapshot.jsonl"
  kill $LPID; wait $LPID 2>/dev/null || true
done
schema stacks "goscope stacks --json PID" "One object: the pause, and every goroutine (or group) with its stack." < "$W/stacks.jsonl"
schema top "goscope top --json PID" "JSON Lines: one object per sample, with the groups of goroutines." < "$W/top.jsonl"
schema snapshot "goscope snapshot --json PID -o FILE" "One object: what was written and how long the process was paused." < "$W/snapshot.jsonl"
$G debug exec "$DEBUGFIX" --json -c 'break main.tick' -c continue -c stack -c 'print i' -c regs -c disassemble -c goroutines -c clearall -c exit -- -dir "$W" -n 3 calls 2>/dev/null |
  schema debug "goscope debug --json" "JSON Lines: one object per command result or event (stops, exits, errors)."
$G trace --json --returns 'main\.(settle|twice)$' -- "$TRACEFIX" calls "$W/t.json" 2>/dev/null |
  schema trace "goscope trace --json" "JSON Lines: one object per call or return, then the summary."
$G locks --json --only '^main\.' -- "$TRACEFIX" atomics "$W/l.json" 2>/dev/null | one |
  schema locks "goscope locks --json" "One object: every atomic site with its count, per goroutine."
$G record --json --duration 1s -o "$W/r.pb.gz" -- "$TRACEFIX" work 200 2>/dev/null | one |
  schema record "goscope record --json" "One object: what was written."
ls schemas/*.schema.json | wc -l
