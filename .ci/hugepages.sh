# Sourced by .ci/run: reserve huge pages for the tests and restore the old pool sizes on exit.
# Sets NEXUS_SLAB_REQUIRE_HUGEPAGES=1 when the pages were reserved, so tests fail, not skip.

HP2M=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
HP1G=/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages
OLD2M=""
OLD1G=""

restore_hugepages() {
  if [ -n "$OLD2M" ]; then echo "$OLD2M" > "$HP2M" || true; fi
  if [ -n "$OLD1G" ]; then echo "$OLD1G" > "$HP1G" || true; fi
  echo "huge pages restored: 2 MiB pool $(cat "$HP2M")${OLD1G:+, 1 GiB pool $(cat "$HP1G")}"
}

reserve_hugepages() {
  if [ "$(id -u)" != 0 ] || [ ! -w "$HP2M" ]; then
    echo "not root: huge-page tests will skip"
    return
  fi
  OLD2M=$(cat "$HP2M")
  trap restore_hugepages EXIT
  # Compact first so the pool can be filled from a fragmented machine.
  echo 1 > /proc/sys/vm/compact_memory 2>/dev/null || true
  echo 160 > "$HP2M"
  local got2m
  got2m=$(cat "$HP2M")
  local want1g=0 got1g=0
  if grep -qw pdpe1gb /proc/cpuinfo && [ -w "$HP1G" ]; then
    OLD1G=$(cat "$HP1G")
    want1g=1
    echo 1 > "$HP1G" || true
    got1g=$(cat "$HP1G")
  fi
  echo "reserved huge pages: $got2m x 2 MiB, $got1g x 1 GiB (1 GiB wanted: $want1g)"
  if [ "$got2m" -ge 160 ] && [ "$got1g" -ge "$want1g" ]; then
    export NEXUS_SLAB_REQUIRE_HUGEPAGES=1
  else
    echo "could not reserve every page: huge-page tests may skip"
  fi
}
