#!/usr/bin/env python3
"""Turns `cargo bench --bench slab` output (divan's tree) into the ns/op table of docs/perf.md.

    DIVAN_TIMER=tsc cargo bench --bench slab | tee bench.txt
    python3 benches/divan_table.py bench.txt [more runs ...]

With several files (repeated runs), each cell is the median of the runs' medians. ns/op is
divan's median time per iteration divided by the items the benchmark counts (ItemsCount);
ratios are ours / theirs within the same run set.
"""
import re
import sys

from divan_tree import measurements, medians

ITEMS = {  # items per iteration, by bench and argument (see benches/slab.rs)
    "get_chase": lambda arg: 1 << 16,
    "churn": lambda arg: 1 << 16,
    "iter": lambda arg: 1 << 20,  # per slot
}
SIZES = {"Ki": 1 << 10, "Mi": 1 << 20}
THEIRS = ["SlabCrate", "Nexus012"]
ORDER = ["Mmap", "Heap", "HugeTlb", "HugeTlb1G", "Locked", "SlabCrate", "Nexus012"]


def items(bench, arg):
    if bench in ITEMS:
        return ITEMS[bench](arg)
    m = re.fullmatch(r"(\d+)(Ki|Mi)", arg)
    return int(m.group(1)) * SIZES[m.group(2)]


def parse(path):
    """{(bench, arg): {impl: median ns/op}}"""
    out = {}
    for stack, ns in measurements(path):
        if len(stack) == 3:
            bench, impl, arg = stack
            out.setdefault((bench, arg), {})[impl] = ns / items(bench, arg)
    return out


def main(paths):
    runs = [parse(p) for p in paths]
    keys = sorted({k for r in runs for k in r}, key=lambda k: (k[0], items(k[0], k[1])))
    impls = [i for i in ORDER if any(i in r.get(k, {}) for r in runs for k in keys)]
    ours = [i for i in impls if i not in THEIRS]
    hdr = ["workload", "size"] + impls + [f"{o}/slab" for o in ours] + [f"{o}/0.1.2" for o in ours]
    print("| " + " | ".join(hdr) + " |")
    print("|" + "|".join(["---"] * 2 + ["---:"] * (len(hdr) - 2)) + "|")
    for k in keys:
        med = medians(runs, k, impls)
        cells = [k[0], k[1]]
        cells += [f"{med[i]:.2f}" if i in med else "–" for i in impls]
        for base in THEIRS:
            for o in ours:
                if o in med and base in med:
                    cells.append(f"{med[o] / med[base]:.2f}")
                else:
                    cells.append("–")
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
