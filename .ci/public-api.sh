#!/usr/bin/env bash
# The public API, listed by cargo-public-api from rustdoc's JSON, must match the checked-in
# listing public-api.txt, so every change to the surface shows in a diff.
#
#   .ci/public-api.sh install   # start installing cargo-public-api in the background, at the
#                               # lowest CPU priority (it takes ~3-5 minutes of one core; CI
#                               # starts it first and checks last, so it uses the idle core)
#   .ci/public-api.sh check     # wait for the install, list the API, diff; fails on any change
#   .ci/public-api.sh update    # rewrite public-api.txt from the code (after a deliberate change)
set -euo pipefail
cd "$(dirname "$0")/.."

log=target/public-api-install.log
list() {
    # --manifest-path: the workspace root is also the library's manifest. -s: without blanket
    # impls (`impl<T> From<T> for T`...), which every type has. Linux x86_64, every feature.
    cargo +nightly public-api --manifest-path Cargo.toml --all-features -s 2>/dev/null
}

case "${1:-check}" in
install)
    mkdir -p target
    if command -v cargo-public-api >/dev/null 2>&1; then
        echo "cargo-public-api already installed" > "$log"
        exit 0
    fi
    rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
    # cargo-public-api reads rustdoc JSON, which only nightly writes.
    nohup nice -n 19 cargo install cargo-public-api --locked > "$log" 2>&1 &
    echo $! > target/public-api-install.pid
    ;;
check | update)
    if [ -f target/public-api-install.pid ]; then
        pid=$(cat target/public-api-install.pid)
        while kill -0 "$pid" 2>/dev/null; do sleep 2; done
    fi
    if ! command -v cargo-public-api >/dev/null 2>&1; then
        echo "public-api.sh: cargo-public-api is not installed:"
        tail -20 "$log" 2>/dev/null || true
        exit 1
    fi
    if [ "${1:-check}" = update ]; then
        list > public-api.txt
        echo "public-api.txt: $(wc -l < public-api.txt) lines"
        exit 0
    fi
    now=$(mktemp)
    trap 'rm -f "$now"' EXIT
    list > "$now"
    if ! diff -u public-api.txt "$now"; then
        echo "public-api.sh: the public API differs from public-api.txt (above: - listed, + in" \
            "the code). If the change is meant, run .ci/public-api.sh update and commit it."
        exit 1
    fi
    echo "public-api.sh: the public API matches public-api.txt ($(wc -l < "$now") lines)"
    ;;
esac
