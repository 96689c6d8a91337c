#!/usr/bin/env bash
# Runs every fuzz target for a while (default 20 s each), corpus seeded from built fixtures.
# Needs a nightly toolchain and cargo-fuzz.
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-20}
fixtures=${GOSCOPE_FIXTURES_DIR:-../target/fixtures}
for t in open pclntab buildinfo disasm objdump check_inputs core_notes core_runtime runtime_static expr_parse profile; do mkdir -p corpus/$t; done
# Seeds: small real binaries for `open`, their pclntab sections for `pclntab`.
if [ -d "$fixtures" ]; then
  find "$fixtures" -type f -size -3M -name 'prog-*' | head -8 | while read -r f; do
    cp "$f" corpus/open/ 2>/dev/null || true
    cp "$f" corpus/objdump/ 2>/dev/null || true
    cp "$f" corpus/runtime_static/ 2>/dev/null || true
    head -c 1024 "$f" > "corpus/disasm/$(basename "$f").head" 2>/dev/null || true
    objcopy -O binary --only-section=.gopclntab "$f" "corpus/pclntab/$(basename "$f").pcln" 2>/dev/null || true
  done
fi
printf 'path\tx\nmod\tx\t(devel)\t\nbuild\tGOOS=linux\n' > corpus/buildinfo/seed
cp ../testdata/checkfix/goscope.toml ../testdata/checkfix/hot/hot.go corpus/check_inputs/ 2>/dev/null || true
# Expressions: every one the printfix fixture states a value for, one per file.
sed -nE 's/.*oracle\("([^"]*)".*/\1/p; s/.*oracle\(`([^`]*)`.*/\1/p; s/.*oracleAt\("[^"]*", "([^"]*)".*/\1/p' \
  ../testdata/printfix/main.go | nl -ba | while read -r n e; do printf '%s' "$e" > "corpus/expr_parse/seed$n"; done
printf '(*main.order)(0xc000123450).Items[1:]' > corpus/expr_parse/conversion
printf 'm["k"] == 1 && len(s) > 2 || $rax != 0' > corpus/expr_parse/condition

# Cores: the headers and notes (and the memory after them, up to 4 MB) of cached crash cores;
# the runtime target reads them against the crash fixture that produced them.
if [ -d "$fixtures/cores" ]; then
  for d in $(ls -d "$fixtures"/cores/crash-linux-amd64-default-*--nilmap 2>/dev/null | head -1); do
    head -c 4000000 "$d/core" > corpus/core_notes/nilmap
    cp corpus/core_notes/nilmap corpus/core_runtime/nilmap
    name=$(basename "$d"); name=${name%--nilmap}
    GOSCOPE_FUZZ_BIN=$(find "$fixtures" -maxdepth 2 -name "$name" | head -1)
    export GOSCOPE_FUZZ_BIN
  done
fi
# Profiles: the proffix fixture's own CPU profile (a short run), read against that binary.
prof_bin=$(find "$fixtures" -maxdepth 2 -type f -name 'proffix-linux-amd64-default-*' 2>/dev/null | head -1)
if [ -n "$prof_bin" ] && "$prof_bin" corpus/profile/proffix.pb.gz 300 2>/dev/null; then
  export GOSCOPE_FUZZ_PROFILE_BIN="$prof_bin"
  gzip -dc corpus/profile/proffix.pb.gz > corpus/profile/proffix.pb || true
fi
for t in open pclntab buildinfo disasm objdump check_inputs core_notes core_runtime runtime_static expr_parse profile; do
  # Whole binaries and cores for the readers; a few KiB of code is plenty for the decoders
  # (longer inputs only slow each run down).
  max_len=4000000
  if [ "$t" = disasm ]; then max_len=16384; fi
  cargo +nightly fuzz run "$t" "corpus/$t" -- -max_total_time="$secs" -rss_limit_mb=2048 -max_len="$max_len"
done
