#!/usr/bin/env bash
# Runs the unit and integration tests under Miri with strict provenance. Installing Miri is
# allowed to fail (it then prints "MIRI SKIPPED: <why>" and CI goes on); a Miri error fails CI.
#
# Covered: the core's unit tests (`--lib`) and every integration test (`--tests`) on the Heap
# and Mmap backings (Miri models memmap2's anonymous mmap). Heavy tests scale down under
# cfg(miri); only tests that need the real OS (RAM size, /proc, mlock, hugetlb, files) are
# #[cfg_attr(miri, ignore)]. Doc tests are not run under Miri (each is a separate crate to
# interpret, and many call mlock, which Miri does not model).
set -uo pipefail
cd "$(dirname "$0")/.."

if ! rustup component add --toolchain nightly miri rust-src; then
  echo "MIRI SKIPPED: could not install the nightly miri and rust-src components"
  exit 0
fi
if ! cargo +nightly miri setup; then
  echo "MIRI SKIPPED: cargo miri setup failed (could not build Miri's sysroot)"
  exit 0
fi

export MIRIFLAGS="${MIRIFLAGS:--Zmiri-strict-provenance}"
start=$(date +%s)
# Tests that need the OS are ignored under Miri; --include-ignored is never passed.
if ! cargo +nightly miri test --no-fail-fast --features serde --lib --tests; then
  echo "MIRI FAILED ($MIRIFLAGS)"
  exit 1
fi
echo "miri: OK in $(( $(date +%s) - start )) s ($MIRIFLAGS)"
