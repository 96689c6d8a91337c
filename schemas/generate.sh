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
ls schemas/*.schema.json | wc -l
