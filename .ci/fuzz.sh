#!/usr/bin/env bash
# Runs the cargo-fuzz target `model` for about a minute (FUZZ_SECONDS), or says why it could
# not. A crash fails CI; a missing tool only skips (with the reason printed).
set -uo pipefail
cd "$(dirname "$0")/.."

SECONDS_TO_RUN="${FUZZ_SECONDS:-60}"

skip() {
  echo "FUZZ SKIPPED: $*"
  exit 0
}

if ! rustup toolchain list | grep -q '^nightly'; then
  rustup toolchain install nightly --profile minimal || skip "no nightly toolchain (cargo-fuzz needs one)"
fi
command -v c++ >/dev/null 2>&1 || skip "no C++ compiler to build libFuzzer"
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked || skip "cargo install cargo-fuzz failed"
fi
cargo fuzz --version

cd fuzz
if ! cargo +nightly fuzz build model; then
  echo "FUZZ FAILED: the fuzz target does not build"
  exit 1
fi
# A minute of fuzzing from the corpus left by earlier runs on this machine, if any.
cargo +nightly fuzz run model -- -max_total_time="$SECONDS_TO_RUN" -max_len=1024 -len_control=0 \
  -print_final_stats=1 2>&1 | tee /tmp/nexus-slab-fuzz.log | grep -E '^(#[0-9]+.*DONE|Done|stat::|==[0-9]+==|SUMMARY)|panicked|ERROR'
status=${PIPESTATUS[0]}
if [ "$status" -ne 0 ]; then
  echo "FUZZ FAILED (exit $status): see fuzz/artifacts/model/ and /tmp/nexus-slab-fuzz.log"
  tail -60 /tmp/nexus-slab-fuzz.log
  exit 1
fi
echo "fuzz: OK"
