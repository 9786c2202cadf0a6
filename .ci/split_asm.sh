#!/usr/bin/env bash
# Reads the generated code of the split slab's hot paths (examples/split_hotpath.rs): the
# owner's insert/get/remove/lend and the plain slab's take no atomic read-modify-write (no
# `lock` prefix, no `xchg`: x86-64 has no other); a remote free and a batch's flush take
# exactly one `lock cmpxchg`, adding a slot to a batch none.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --example split_hotpath
bin="${CARGO_TARGET_DIR:-target}/release/examples/split_hotpath"
"$bin" >/dev/null
asm=$(objdump -d --no-show-raw-insn -M intel "$bin")

# The body of function $1 (up to the next blank line).
body() { awk -v f="<$1>:" '$2 == f { on = 1; next } on && NF == 0 { exit } on { print }' <<<"$asm"; }
rmws() { body "$1" | grep -cE '\block\b|\bxchg\b' || true; }

fail=0
check() { # name, wanted count of atomic read-modify-writes
  local n lines
  lines=$(body "$1" | grep -vc int3 || true)
  n=$(rmws "$1")
  if [ "$lines" -eq 0 ]; then echo "split_asm: $1 not found"; fail=1; return; fi
  printf '%-22s %4d instructions, %d atomic read-modify-write(s)\n' "$1" "$lines" "$n"
  if [ "$n" -ne "$2" ]; then echo "split_asm: $1 has $n, wanted $2:"; body "$1" | grep -E 'lock|xchg'; fail=1; fi
}
for f in sp_slab_insert sp_slab_get sp_slab_remove sp_owner_insert sp_owner_get sp_owner_remove \
         sp_owner_lend sp_gen_owner_insert sp_gen_owner_get sp_gen_owner_remove sp_gen_owner_lend \
         sp_batch_free; do
  check "$f" 0
done
check sp_remote_free 1
check sp_batch_flush 1
[ "$fail" -eq 0 ] && echo "split_asm: OK"
exit "$fail"
