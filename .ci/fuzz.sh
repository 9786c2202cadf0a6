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
for target in model deserialize; do
  if ! cargo +nightly fuzz build "$target"; then
    echo "FUZZ FAILED: the fuzz target $target does not build"
    exit 1
  fi
done

# run TARGET SECONDS [SEED_DIR]: fuzz from the corpus left by earlier runs (and the seeds).
run() {
  local target=$1 secs=$2 seeds=${3:-}
  mkdir -p "corpus/$target"
  cargo +nightly fuzz run "$target" "corpus/$target" $seeds -- -max_total_time="$secs" \
    -max_len=1024 -len_control=0 -print_final_stats=1 2>&1 | tee "/tmp/nexus-slab-fuzz-$target.log" \
    | grep -E '^(#[0-9]+.*DONE|Done|stat::number_of_executed_units|==[0-9]+==|SUMMARY)|panicked|ERROR'
  local status=${PIPESTATUS[0]}
  if [ "$status" -ne 0 ]; then
    echo "FUZZ FAILED ($target, exit $status): see fuzz/artifacts/$target/ and /tmp/nexus-slab-fuzz-$target.log"
    tail -60 "/tmp/nexus-slab-fuzz-$target.log"
    exit 1
  fi
  echo "fuzz $target: OK"
}

# Operations against the model (keys forged from raw bits among them; snapshots round-tripped),
# starting with the inputs that once failed (seeds/model).
run model "$SECONDS_TO_RUN" seeds/model
# Hostile snapshots, starting from a few valid ones.
run deserialize "${FUZZ_DESERIALIZE_SECONDS:-30}" seeds/deserialize
