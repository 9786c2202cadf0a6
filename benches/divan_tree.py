"""Reading divan's tree output, shared by divan_table.py and consumers_table.py."""
import re
import statistics

UNITS = {"ps": 1e-3, "ns": 1.0, "µs": 1e3, "us": 1e3, "ms": 1e6, "s": 1e9}
LINE = re.compile(r"^((?:│  |   )*)[├╰]─ (\S+)(.*)$")


def measurements(path):
    """Yields (names from the bench down to the case, median ns per iteration) for every
    measured case in one run's output; skipped cases ("… unavailable: …") and groups have no
    median and are left out."""
    stack = []
    for line in open(path, encoding="utf-8"):
        m = LINE.match(line.rstrip("\n"))
        if not m:
            continue
        stack = stack[: len(m.group(1)) // 3] + [m.group(2)]
        cols = [c.strip() for c in m.group(3).split("│")]
        if len(cols) < 3 or len(cols[2].split()) != 2:
            continue
        v, unit = cols[2].split()  # fastest, slowest, median, mean, samples, iters
        yield list(stack), float(v) * UNITS[unit]


def medians(runs, key, impls):
    """{impl: median over the runs that measured it} for one table row."""
    med = {}
    for i in impls:
        vals = [r[key][i] for r in runs if key in r and i in r[key]]
        if vals:
            med[i] = statistics.median(vals)
    return med
