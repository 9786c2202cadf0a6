#!/usr/bin/env bash
# Runs the whole test suite (unit, integration and doc tests) as static musl binaries
# (x86_64-unknown-linux-musl), which run on this machine. Rust ships musl's C runtime, so only
# the rustup target is installed. The huge pages reserved by .ci/run are required here too.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
rustup target add x86_64-unknown-linux-musl
# The randomised model is the same logic on every libc: a quarter of its cases here.
NEXUS_SLAB_PROPTEST_CASES=64 cargo test --all-features --target x86_64-unknown-linux-musl
echo "musl.sh: every test passed on x86_64-unknown-linux-musl in $((SECONDS - start)) s"
