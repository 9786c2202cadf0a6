#!/usr/bin/env bash
# Runs a command with extra hugetlb pages reserved, then gives them back.
#
#   sudo benches/with-hugepages.sh 600 2 -- cargo bench --bench slab
#
# adds 600 x 2 MiB and 2 x 1 GiB pages to the pools (1 GiB of 64-byte values plus its bitmap
# needs 513 x 2 MiB, or 2 x 1 GiB pages), runs the command, and restores each pool to what it
# was before, unless someone else changed it meanwhile (then it is left alone and said so).
set -euo pipefail

HP2M=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
HP1G=/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages
add2m=${1:?usage: with-hugepages.sh ADD_2M ADD_1G -- command...}
add1g=${2:?usage: with-hugepages.sh ADD_2M ADD_1G -- command...}
shift 2
[ "${1:-}" = "--" ] && shift

old2m=$(cat "$HP2M")
old1g=0
[ -w "$HP1G" ] && old1g=$(cat "$HP1G")
echo 1 > /proc/sys/vm/compact_memory 2>/dev/null || true
echo $((old2m + add2m)) > "$HP2M"
set2m=$(cat "$HP2M")
set1g=$old1g
if [ "$add1g" -gt 0 ] && [ -w "$HP1G" ]; then
  echo $((old1g + add1g)) > "$HP1G" || true
  set1g=$(cat "$HP1G")
fi
echo "huge pages: 2 MiB pool $old2m -> $set2m, 1 GiB pool $old1g -> $set1g" >&2

restore() {
  if [ "$(cat "$HP2M")" = "$set2m" ]; then echo "$old2m" > "$HP2M"; else
    echo "2 MiB pool changed by someone else meanwhile: left at $(cat "$HP2M")" >&2; fi
  if [ -w "$HP1G" ]; then
    if [ "$(cat "$HP1G")" = "$set1g" ]; then echo "$old1g" > "$HP1G"; else
      echo "1 GiB pool changed by someone else meanwhile: left at $(cat "$HP1G")" >&2; fi
  fi
  echo "huge pages restored: 2 MiB pool $(cat "$HP2M"), 1 GiB pool $(cat "$HP1G" 2>/dev/null || echo -)" >&2
}
trap restore EXIT
"$@"
