#!/usr/bin/env bash
# Runs one fuzz target: fuzz/run.sh TARGET [SECONDS] [extra libFuzzer flags...]
# Debug assertions and overflow checks on, no sanitizer (the crate has no unsafe code).
# The working corpus grows in fuzz/corpus/TARGET (ignored by git); seeds stay in
# fuzz/seeds/TARGET; a crash is written to fuzz/artifacts/TARGET.
set -euo pipefail
cd "$(dirname "$0")"
target=$1
seconds=${2:-1800}
shift $(( $# < 2 ? $# : 2 ))
mkdir -p "corpus/$target" "seeds/$target"
exec cargo +nightly fuzz run -s none -a "$target" "corpus/$target" "seeds/$target" -- \
  -dict=stream.dict -max_len=16384 -max_total_time="$seconds" -print_final_stats=1 "$@"
