#!/usr/bin/env bash
# Runs the cargo-fuzz target `model` for 45 s (FUZZ_SECONDS), or says why it could
# not. A crash fails CI; a missing tool only skips (with the reason printed).
set -uo pipefail
cd "$(dirname "$0")/.."

SECONDS_TO_RUN="${FUZZ_SECONDS:-45}"

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

# First the inputs that once failed (seeds/model), each run once. They are not handed to the
# fuzzing run below as a starting corpus: long inputs on the 4097-slot slab run ~17 times a
# second against ~700 for the short ones a fresh corpus starts from (measured: 573 against
# 21,937 runs in 30 s), so the minute would be spent mutating them.
if ! cargo +nightly fuzz run model seeds/model -- -runs=0 > /tmp/nexus-slab-fuzz-seeds.log 2>&1; then
  echo "FUZZ FAILED (model): an input in fuzz/seeds/model fails again"
  tail -60 /tmp/nexus-slab-fuzz-seeds.log
  exit 1
fi
echo "fuzz model: $(ls seeds/model | wc -l) earlier failing input(s) replayed, OK"
# The two targets fuzz at once, one per core (libFuzzer runs one process): operations against
# the model (keys forged from raw bits among them; snapshots round-tripped), and hostile
# snapshots starting from a few valid ones. Each prints when both are done.
run model "$SECONDS_TO_RUN" > /tmp/nexus-slab-fuzz-model.out 2>&1 &
pid_model=$!
run deserialize "${FUZZ_DESERIALIZE_SECONDS:-30}" seeds/deserialize \
  > /tmp/nexus-slab-fuzz-deserialize.out 2>&1 &
pid_deserialize=$!
rc_model=0
wait "$pid_model" || rc_model=$?
rc_deserialize=0
wait "$pid_deserialize" || rc_deserialize=$?
cat /tmp/nexus-slab-fuzz-model.out /tmp/nexus-slab-fuzz-deserialize.out
[ "$rc_model" -eq 0 ] && [ "$rc_deserialize" -eq 0 ] || exit 1
