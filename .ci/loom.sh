#!/usr/bin/env bash
# Loom model check of the remote-free stack behind Slab::split (src/raw/remote.rs): every
# interleaving of 2-3 threads pushing single slots and batch chains while the owner takes the
# stack, and the teardown race of pushes against the owner closing it. Built with --cfg loom
# in a target directory of its own (the cfg changes every crate's fingerprint).
set -euo pipefail
cd "$(dirname "$0")/.."

start=$(date +%s)
RUSTFLAGS="--cfg loom ${RUSTFLAGS:-}" CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/loom" \
  cargo test --release --lib loom_ -- --nocapture
echo "loom: OK in $(( $(date +%s) - start )) s"
