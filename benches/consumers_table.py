#!/usr/bin/env python3
"""Turns `cargo bench --bench consumers` output (divan's tree) into the tables of docs/perf.md.

    DIVAN_TIMER=tsc cargo bench --bench consumers | tee c1.txt   # repeat: c2.txt, c3.txt
    python3 benches/consumers_table.py c1.txt c2.txt c3.txt
    python3 benches/consumers_table.py --rows 'get_u64|churn_u64 .unwrap' c*.txt   # some rows

`--rows REGEX` keeps the rows whose "workload pattern size" matches.

Each cell is the median over the runs of divan's median time per item (ns/op). Each ratio is taken
within each run (both figures from the same run) and the median of those is printed: plain keys
against the faster of `slab` and nexus-slab 0.1.2 and against `slab` alone, generational keys
against `slotmap` and against plain keys. Below 1 means we are faster.
"""
import re
import statistics
import sys

from divan_tree import measurements, medians

CHURN_OPS = 1 << 16
IMPLS = ["Plain", "Gen", "SlabCrate", "Nexus012", "SlotMapCrate"]
HEAD = {"Plain": "Key", "Gen": "GenKey", "SlabCrate": "slab", "Nexus012": "0.1.2", "SlotMapCrate": "slotmap"}
GET = {"0": ".unwrap()", "1": "unwrap_or", "2": "if let", "3": "slab[k]"}
TAKE = {"0": ".unwrap()", "1": "unwrap_or", "2": "if let"}
ITER = {"0": "for_each", "1": "for"}


def size(arg):
    n = int(arg)
    return f"{n >> 20}Mi" if n >= 1 << 20 else f"{n >> 10}Ki"


def parse(path):
    """{(bench, pattern, size): {impl: ns/op}}"""
    out = {}
    for stack, ns in measurements(path):
        bench, impl = stack[0], stack[1].split("<")[0]
        pattern = stack[2] if len(stack) == 4 else "-"
        arg = stack[-1]
        items = CHURN_OPS if bench.startswith(("churn", "replace")) else int(arg)
        out.setdefault((bench, pattern, size(arg)), {})[impl] = ns / items
    return out


def main(args):
    rows = None
    if args[:1] == ["--rows"]:
        rows, args = re.compile(args[1]), args[2:]
    runs = [parse(p) for p in args]
    keys = sorted({k for r in runs for k in r}, key=lambda k: (k[0], k[2].endswith("Mi"), k[1]))
    print(f"{len(runs)} run(s); ns/op, median of the runs' medians\n", file=sys.stderr)
    hdr = ["workload", "pattern", "size"] + [HEAD[i] for i in IMPLS]
    hdr += ["Key / best(slab, 0.1.2)", "Key / slab", "GenKey / slotmap", "GenKey / Key"]
    print("| " + " | ".join(hdr) + " |")
    print("|" + "|".join(["---"] * 3 + ["---:"] * (len(hdr) - 3)) + "|")
    for k in keys:
        med = medians(runs, k, IMPLS)
        bench, pattern, sz = k
        names = ITER if bench.startswith("iter") else TAKE if bench.startswith("churn") else GET
        cells = [bench, names.get(pattern, pattern), sz]
        if rows and not rows.search(" ".join(cells)):
            continue
        cells += [f"{med[i]:.2f}" if i in med else "–" for i in IMPLS]

        def ratio(num, den):
            """Median over the runs of num/den, each run's two figures (den: the smallest of
            the implementations listed)."""
            vals = []
            for r in runs:
                row = r.get(k, {})
                d = [row[i] for i in den if i in row]
                if num in row and d:
                    vals.append(row[num] / min(d))
            return f"{statistics.median(vals):.2f}" if vals else "–"

        cells.append(ratio("Plain", ("SlabCrate", "Nexus012")))
        cells.append(ratio("Plain", ("SlabCrate",)))
        cells.append(ratio("Gen", ("SlotMapCrate",)))
        cells.append(ratio("Gen", ("Plain",)))
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
