#!/usr/bin/env bash
# Type-checks the other platforms' code paths: macOS (Unix without hugetlb/THP) and Windows
# (with the `unstable-windows` feature).
set -euo pipefail
cd "$(dirname "$0")/.."

rustup target add x86_64-apple-darwin x86_64-pc-windows-gnu
cargo check --lib --bins --target x86_64-apple-darwin
cargo check --lib --bins --target x86_64-pc-windows-gnu
cargo check --lib --bins --target x86_64-pc-windows-gnu --features unstable-windows
