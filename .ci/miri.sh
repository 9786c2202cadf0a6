#!/usr/bin/env bash
# Runs the unit and integration tests under Miri with strict provenance. Installing Miri is
# allowed to fail (it then prints "MIRI SKIPPED: <why>" and CI goes on); a Miri error fails CI.
#
# Covered: the core's unit tests (`--lib`) and every integration test (`--tests`) on the Heap
# and Mmap backings (Miri models memmap2's anonymous mmap). Heavy tests scale down under
# cfg(miri); only tests that need the real OS (RAM size, /proc, mlock, hugetlb, files) are
# #[cfg_attr(miri, ignore)]. Doc tests are not run under Miri (each is a separate crate to
# interpret, and many call mlock, which Miri does not model).
#
# The Miri step was the longest in CI (about 540 s in one process); it now runs in two.
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
# Miri interprets on one host thread, so the tests run as two halves at once, one per core.
# Half B has its own target directory, so neither waits on the other's build lock; half A
# builds where miri_seeds.sh will look. The halves take about equal interpretation time
# (as Miri reports it, in the CI run of 2026-12-07: panic_safety 221 s before it tried 4
# panicking drops per case instead of 5, forged_keys 152 s, proptest_model 140 s, core 81 s,
# serde 76 s, genkey 70 s, hostile_keys 64 s, the rest under 40 s each; the step took 430 s).
# Every file in tests/ goes to half A unless it is listed for half B, so a
# new test file is never left out.
half_b_tests="proptest_model panic_safety serde backing_contract"
args_a=()
args_b=(--lib)
for f in tests/*.rs; do
  name=$(basename "$f" .rs)
  case " $half_b_tests " in
    *" $name "*) args_b+=(--test "$name") ;;
    *) args_a+=(--test "$name") ;;
  esac
done
for name in $half_b_tests; do
  [ -e "tests/$name.rs" ] || { echo "miri.sh: half B lists tests/$name.rs, which does not exist"; exit 1; }
done

# Tests that need the OS are ignored under Miri; --include-ignored is never passed.
half() {
  local tag=$1 dir=target
  shift
  [ "$tag" = a ] || dir="target/miri-$tag"
  CARGO_TARGET_DIR="$dir" cargo +nightly miri test --no-fail-fast --features serde "$@" \
    >"target/miri-$tag.log" 2>&1
}
mkdir -p target
half a "${args_a[@]}" &
pid_a=$!
half b "${args_b[@]}" &
pid_b=$!
rc_a=0
rc_b=0
wait "$pid_a" || rc_a=$?
wait "$pid_b" || rc_b=$?
for tag in a b; do
  echo "--- miri half $tag"
  cat "target/miri-$tag.log"
done
if [ "$rc_a" -ne 0 ] || [ "$rc_b" -ne 0 ]; then
  echo "MIRI FAILED ($MIRIFLAGS): half A exit $rc_a, half B exit $rc_b"
  exit 1
fi
echo "miri: OK in $(( $(date +%s) - start )) s ($MIRIFLAGS)"
