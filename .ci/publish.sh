#!/usr/bin/env bash
# Packages the crate as crates.io would receive it, builds the package (`cargo publish
# --dry-run`), and fails on any warning but the expected ones:
# - "ignoring test/benchmark/example ... not included in the published package": the package
#   ships the sources, README, change history and licenses only (`include` in Cargo.toml).
# - "crate nexus-slab@X already exists on crates.io index": printed as a NOTE, since it is a
#   decision for whoever publishes (the version to release), not a packaging fault.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo publish --dry-run 2>&1 | tee "$log"
echo "--- files in the package:"
cargo package --list | sed 's/^/    /'
unexpected=$(grep '^warning:' "$log" \
    | grep -v -e 'is not included in the published package$' \
        -e 'already exists on crates.io index$' \
        -e '^warning: aborting upload due to dry run$' || true)
if grep -q 'already exists on crates.io index$' "$log"; then
    echo "NOTE: $(grep -o 'crate .* already exists on crates.io index' "$log"): a real publish" \
        "of this version would be refused"
fi
if [ -n "$unexpected" ]; then
    echo "publish.sh: unexpected warnings:"
    echo "$unexpected"
    exit 1
fi
echo "publish.sh: the package builds and has no unexpected warning ($((SECONDS - start)) s)"
