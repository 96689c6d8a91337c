#!/usr/bin/env bash
# Runs every side-by-side benchmark in benches/ (each script compares goscope with the Go tools
# or Delve on the same inputs, in one run).
set -euo pipefail
cd "$(dirname "$0")"
for b in binary.sh $(ls *.sh | grep -v -e '^lib.sh$' -e '^compare.sh$' -e '^binary.sh$'); do
  echo "== $b"
  bash "$b"
done
