#!/usr/bin/env bash
# The lower bounds in Cargo.toml are true: with every direct dependency resolved to the oldest
# version its requirement allows (`cargo +nightly update -Z direct-minimal-versions`), the
# library, tests, examples and benches build and the tests pass, with the `serde` feature (so
# its optional dependency and the round-trip tests count too). It runs in a copy of the
# manifest and lockfile (target/minimal-versions/crate, next to links to the sources), so the
# repository's Cargo.lock is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
start=$SECONDS
if ! rustup toolchain list | grep -q '^nightly'; then
    rustup toolchain install nightly --profile minimal
fi

crate="$root/target/minimal-versions/crate"
mkdir -p "$crate"
for f in src tests benches examples docs README.md CHANGELOG.md LICENSE-APACHE LICENSE-MIT; do
    ln -sfn "$root/$f" "$crate/$f"
done
cp Cargo.toml "$crate/Cargo.toml"
# The workspace's other member, the tour program, beside the copy (its manifest names the
# library as `path = ".."`, which is the copy here).
mkdir -p "$crate/tour"
ln -sfn "$root/tour/src" "$crate/tour/src"
cp tour/Cargo.toml "$crate/tour/Cargo.toml"
cp Cargo.lock "$crate/Cargo.lock"
export CARGO_TARGET_DIR="$root/target/minimal-versions/target"
cd "$crate"

cargo +nightly update -Z direct-minimal-versions
echo "--- direct dependencies at their lower bounds:"
cargo tree --depth 1 --edges normal,dev --prefix none --features serde | sort -u
# The randomised model checks the dependencies, not the model again: a quarter of its cases.
NEXUS_SLAB_PROPTEST_CASES=64 cargo test --features serde
cargo check --benches
echo "minimal-versions.sh: builds and passes at the declared lower bounds in $((SECONDS - start)) s"
