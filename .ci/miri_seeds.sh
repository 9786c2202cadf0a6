#!/usr/bin/env bash
# The two-thread stress test of Slab::split (tests/split_stress.rs) under Miri with 16 seeds:
# each seed is another thread interleaving and weak-memory outcome, checked by Miri's data-race
# detector with strict provenance. Skipped (like .ci/miri.sh) when Miri cannot be installed.
set -uo pipefail
cd "$(dirname "$0")/.."

if ! rustup component add --toolchain nightly miri rust-src || ! cargo +nightly miri setup; then
  echo "MIRI SEEDS SKIPPED: Miri is not available"
  exit 0
fi
flags="-Zmiri-strict-provenance -Zmiri-many-seeds=0..16"
start=$(date +%s)
if ! MIRIFLAGS="$flags" cargo +nightly miri test --test split_stress; then
  echo "MIRI SEEDS FAILED ($flags)"
  exit 1
fi
echo "miri seeds: OK in $(( $(date +%s) - start )) s ($flags)"
