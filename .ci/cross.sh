#!/usr/bin/env bash
# Type-checks the other platforms' code paths: Linux on ARM (every target: library, program,
# tests, examples, benches; ARM servers run 4, 16 or 64 KiB base pages, so nothing may assume
# 4 KiB), macOS (Unix without hugetlb/THP) and Windows (with the `unstable-windows` feature).
set -euo pipefail
cd "$(dirname "$0")/.."

rustup target add aarch64-unknown-linux-gnu x86_64-apple-darwin x86_64-pc-windows-gnu
cargo check --all-targets --target aarch64-unknown-linux-gnu
cargo check --lib --bins --target x86_64-apple-darwin
cargo check --lib --bins --target x86_64-pc-windows-gnu
cargo check --lib --bins --target x86_64-pc-windows-gnu --features unstable-windows
