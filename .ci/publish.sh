#!/usr/bin/env bash
# Packages the crate as crates.io would receive it, builds the package (`cargo publish
# --dry-run`), and fails on any warning but the expected ones:
# - "ignoring test/benchmark/example ... not included in the published package": the package
#   ships the sources, README, change history and licenses only (`include` in Cargo.toml).
# A "crate nexus-slab@X already exists on crates.io index" warning fails too: a version that
# crates.io has (0.1.0 to 2.4.0 were published) can never be published again.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo publish -p nexus-slab --dry-run 2>&1 | tee "$log"
echo "--- files in the package:"
cargo package -p nexus-slab --list | sed 's/^/    /'
unexpected=$(grep '^warning:' "$log" \
    | grep -v -e 'is not included in the published package$' \
        -e '^warning: aborting upload due to dry run$' || true)
# No binary target may ship (the tour is its own package); `Cargo.lock` does ship, as cargo
# (1.84 on) includes it in every package, and it is ignored when the crate is a dependency.
if cargo package -p nexus-slab --list | grep -q '^src/main.rs$'; then
    echo "publish.sh: the library package ships a binary (src/main.rs)"
    exit 1
fi
if [ -n "$unexpected" ]; then
    echo "publish.sh: unexpected warnings:"
    echo "$unexpected"
    exit 1
fi
echo "publish.sh: the package builds and has no unexpected warning ($((SECONDS - start)) s)"
