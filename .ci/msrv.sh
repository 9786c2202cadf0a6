#!/usr/bin/env bash
# The `rust-version` of Cargo.toml is true: the library, the nexus-slab program, the doc tests
# and the integration tests build and pass with that toolchain (with the `serde` feature), on dependencies resolved for it
# (cargo's MSRV-aware resolver), in a copy of the crate (target/msrv/crate, next to links to
# the sources) so the repository's Cargo.lock is left alone. Left out, because they need newer
# compilers:
# - the nexus-slab 0.1.2 dev-dependency, the benchmarks' baseline: edition 2024 (Rust 1.85).
#   Only the benches and examples/hotpath.rs use it, and they are not built here.
# - tests/hostile.rs: its value types of 2^60 bytes are refused before Rust 1.83 ("too big for
#   the current architecture").
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
start=$SECONDS
msrv=$(sed -n 's/^rust-version = "\(.*\)"$/\1/p' Cargo.toml)
[ -n "$msrv" ] || { echo "msrv.sh: no rust-version in Cargo.toml"; exit 1; }
rustup toolchain install "$msrv" --profile minimal

crate="$root/target/msrv/crate"
mkdir -p "$crate"
for f in src tests benches examples docs README.md CHANGELOG.md LICENSE-APACHE LICENSE-MIT; do
    ln -sfn "$root/$f" "$crate/$f"
done
grep -v '^nexus_slab_012 = ' Cargo.toml >"$crate/Cargo.toml"
# The workspace's other member, the tour program, beside the copy (its manifest names the
# library as `path = ".."`, which is the copy here).
mkdir -p "$crate/tour"
ln -sfn "$root/tour/src" "$crate/tour/src"
cp tour/Cargo.toml "$crate/tour/Cargo.toml"
export CARGO_TARGET_DIR="$root/target/msrv/target"
cd "$crate"
rm -f Cargo.lock
# The MSRV-aware resolver (Cargo 1.84+, so the default toolchain's cargo) picks, for each
# dependency, the newest version whose own rust-version allows $msrv.
CARGO_RESOLVER_INCOMPATIBLE_RUST_VERSIONS=fallback cargo generate-lockfile

tests=()
for t in "$root"/tests/*.rs; do
    name=$(basename "$t" .rs)
    [ "$name" = hostile ] || tests+=(--test "$name")
done
# The randomised model checks the compiler, not the model again: a quarter of its cases.
NEXUS_SLAB_PROPTEST_CASES=64 cargo "+$msrv" test --features serde --lib --bins "${tests[@]}"
cargo "+$msrv" test --features serde --doc
echo "msrv.sh: Rust $msrv builds the library and the program and passes the tests (all but" \
    "tests/hostile.rs) in $((SECONDS - start)) s"
