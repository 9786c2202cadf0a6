#!/usr/bin/env bash
# Loom model check of Slab::split, on the real code: with RUSTFLAGS="--cfg loom" the split's
# atomics are loom's (src/sync.rs), so loom runs src/split.rs and src/raw/remote.rs themselves
# on a real split slab (Heap backing, memory through loom's allocation tracking).
#   split::loom_tests: the teardown races (the owner against a Lent; against a Lent and a
#     RemoteFree; RemoteFree clones on two threads; a batch flush against the owner; Lents
#     freed after the owner and every handle) and collect against pushes, every interleaving
#     (no preemption bound). Each checks every value dropped exactly once, the slab's memory
#     released exactly once, and the shared block freed exactly once and touched by no one
#     after (loom reports leaks, double frees and accesses racing the free).
#   raw::remote::loom_model: pushes of single slots and chains against takes, with the links
#     in loom cells, every interleaving with at most 4 preemptions.
# Every test prints its execution count. Built with --cfg loom in a target directory of its
# own (the cfg changes every crate's fingerprint).
set -euo pipefail
cd "$(dirname "$0")/.."

start=$(date +%s)
mkdir -p target
log=target/loom.log
RUSTFLAGS="--cfg loom ${RUSTFLAGS:-}" CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/loom" \
  cargo test --release --lib loom_ -- --nocapture >"$log" 2>&1 || true
if ! grep -q '^test result: ok' "$log"; then
  cat "$log"
  echo "LOOM FAILED"
  exit 1
fi
# Each model's line (the full output is in target/loom.log), then the totals.
models=$(grep -o 'loom [^:]*: [0-9]* executions explored.*' "$log")
echo "$models"
grep '^test result' "$log"
echo "loom: $(wc -l <<<"$models") models, $(awk '{s += $(NF-1)} END {print s}' \
  <<<"$(grep -o '^loom [^:]*: [0-9]* executions' <<<"$models")") executions, OK in" \
  "$(( $(date +%s) - start )) s"
