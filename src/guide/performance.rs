//! # Performance: what was measured, where, and how to reproduce it
//!
//! Every figure here was measured side by side, in one run, against the
//! [`slab`](https://crates.io/crates/slab) crate 0.4, nexus-slab 0.1.2 (the release this API
//! descends from) and [`slotmap`](https://crates.io/crates/slotmap) 1 — and, across threads,
//! against [`sharded-slab`](https://crates.io/crates/sharded-slab) 0.1.7 and a
//! `Mutex<slab::Slab>`. A ratio below 1 means nexus-slab is faster. The full tables, every
//! pattern and backing, and the generated code are in `docs/perf.md`, which ships with the crate
//! and is in the repository; this page has the summaries and the commands.
//!
//! # The machine
//!
//! Unless a section says otherwise: an AMD EPYC, CPU family 25 model 17 (Zen 4 "Genoa"; the
//! hypervisor hides the model name), in a shared 2-vCPU KVM guest: TSC 2.596 GHz, L1d 32 KiB and
//! L2 1 MiB per core, L3 32 MiB, Linux 6.18, transparent huge pages in `madvise` mode; measured
//! on 2026-11-29, ns per operation, the median of three runs (two for the backings table). Other
//! guests share the host and move the figures, the memory-bound ones most: read differences under
//! about 5 % at 4Ki slots and 20 % at 1Mi as noise. Sizes: 4Ki slots fit in L1 and L2; 1Mi slots
//! of `u64` are 8 MiB of values, of 64-byte values 64 MiB.
//!
//! [Later runs](#later-runs-the-current-code) on the same machine, after `insert` and `lend`
//! stopped building large values on the stack, measured the rows that change moved; they ran
//! while the machine was shared with other builds, so their absolute times are slower across the
//! board, and the ratios, taken within each run, are what to compare.
//!
//! # Summary
//!
//! - **Where nexus-slab is faster**: lookups beyond the caches (random `get` of `u64` at 1Mi:
//!   0.24–0.37× the faster of `slab` and 0.1.2 — the occupancy bitmap of 1Mi slots is 128 KiB
//!   and fits in this CPU's 1 MiB L2, so the value's line should be a lookup's only miss, as
//!   inferred from the sizes, since this guest has no miss counters); fills of fresh slabs, which
//!   `alloc` prefaulted (0.07–0.18× `slab`, whose pages fault in, for 64-byte values from 1Mi
//!   slots and for `u64` at 16Mi); sparse iteration (0.08–0.22× `slab`: 64 slots per bitmap
//!   word); and tail latency (churn p99.9 91–119 ns on the plain-key slabs and 128 ns with
//!   `GenKey`, against 183 ns for `slab` and 122 ns for 0.1.2, with zero page faults; `GenKey`
//!   churn measured slower in later runs, see [Latency](#latency)).
//! - **Where it is not**: lookups and churn with everything in L1 and plain keys (1.05–1.16× the
//!   faster of `slab` and 0.1.2: the bitmap's load and bit test are one or two instructions more
//!   than a tag beside the value, and the loop is bound by instructions there); `GenKey` lookups
//!   of small values at 1Mi (2.5–3.6× plain keys: the 4 MiB generation array does not fit in L2,
//!   so most likely a second miss; still 0.55–0.91× `slotmap`).
//! - **Hot path** (callgrind, instructions per call): `get` 13, `insert` 21, `remove` 23 (`slab`
//!   10 / 23 / 16, 0.1.2 11 / 20 / 16, `slotmap` 10 / 23 / 22).
//! - **Across threads**: `lend` 17.5 ns at the median, as fast as `Box::new` on mimalloc
//!   (0.88–1.07× per run), with a p99 (20 ns) below sharded-slab's median (90 ns); a batched
//!   remote free 3.8–5.0 ns.
//!
//! # Every way you call it
//!
//! How a caller consumes the `Option` changes the generated code — a branch to a panic for
//! `.unwrap()`, often a conditional move for `unwrap_or`, a branch around the use for `if let` —
//! and with it the ranking. Each structure holds the keys it handed out (`Key`: `Slab<V>`;
//! `GenKey`: `GenSlab<V>`). `get`: lookups of random live keys in a full structure; `churn`:
//! remove a random live key and insert, at 50 % occupancy; `fill`: inserts into a fresh
//! structure; `iter_10pct`: a 10 %-full structure visited with `for_each` or a `for` loop, per
//! slot. `docs/perf.md` has every pattern and both value sizes.
//!
//! | workload | pattern | size | Key | GenKey | slab | 0.1.2 | slotmap | Key / best(slab, 0.1.2) | GenKey / slotmap | GenKey / Key |
//! |---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|
//! | churn_64b | .unwrap() | 4Ki | 4.42 | 5.17 | 4.76 | 4.51 | 5.28 | 0.98 | 0.98 | 1.17 |
//! | churn_64b | .unwrap() | 1Mi | 24.86 | 77.88 | 62.47 | 39.44 | 93.02 | 0.63 | 0.84 | 3.13 |
//! | churn_u64 | .unwrap() | 4Ki | 2.96 | 3.71 | 3.07 | 2.74 | 3.69 | 1.08 | 1.00 | 1.25 |
//! | churn_u64 | .unwrap() | 1Mi | 9.08 | 30.76 | 17.50 | 9.19 | 46.97 | 0.99 | 0.65 | 3.39 |
//! | fill_64b | - | 4Ki | 1.75 | 1.79 | 2.13 | 1.55 | 2.16 | 1.13 | 0.83 | 1.03 |
//! | fill_64b | - | 1Mi | 2.47 | 3.11 | 30.48 | 2.79 | 30.42 | 0.88 | 0.10 | 1.26 |
//! | fill_u64 | - | 4Ki | 1.03 | 0.97 | 1.38 | 1.30 | 1.61 | 0.80 | 0.60 | 0.94 |
//! | fill_u64 | - | 1Mi | 1.02 | 0.95 | 1.38 | 1.30 | 1.66 | 0.78 | 0.57 | 0.93 |
//! | get_u64 | .unwrap() | 4Ki | 0.62 | 0.60 | 0.59 | 0.62 | 0.63 | 1.05 | 0.94 | 0.96 |
//! | get_u64 | unwrap_or | 4Ki | 0.67 | 0.69 | 0.61 | 0.60 | 0.65 | 1.11 | 1.07 | 1.03 |
//! | get_u64 | if let | 4Ki | 0.66 | 0.71 | 0.57 | 0.60 | 0.63 | 1.16 | 1.11 | 1.06 |
//! | get_u64 | `slab[k]` | 4Ki | 0.62 | 0.61 | 0.59 | 0.60 | 0.63 | 1.05 | 0.96 | 0.98 |
//! | get_u64 | .unwrap() | 1Mi | 2.10 | 5.72 | 9.21 | 8.66 | 8.64 | 0.24 | 0.66 | 2.72 |
//! | get_u64 | unwrap_or | 1Mi | 2.73 | 7.36 | 8.52 | 7.40 | 8.07 | 0.37 | 0.91 | 2.70 |
//! | get_u64 | if let | 1Mi | 1.96 | 7.06 | 8.14 | 7.43 | 8.65 | 0.26 | 0.82 | 3.60 |
//! | get_u64 | `slab[k]` | 1Mi | 1.95 | 4.91 | 8.53 | 7.04 | 8.88 | 0.28 | 0.55 | 2.52 |
//! | iter_10pct | for_each | 1Mi | 0.08 | 0.12 | 0.55 | – | 0.39 | 0.15 | 0.32 | 1.56 |
//! | iter_10pct | for | 1Mi | 0.09 | 0.19 | 0.39 | – | 0.39 | 0.22 | 0.49 | 2.21 |
//!
//! The 1Mi churn rows are the noisiest (one sample is 64Ki dependent cache misses, and the
//! neighbours' load moves them by up to 2×): read them as ranges. 0.1.2 has no iterator.
//!
//! ```bash
//! DIVAN_TIMER=tsc cargo bench --bench consumers | tee c1.txt   # ~1 min; repeat for c2, c3
//! python3 benches/consumers_table.py c1.txt c2.txt c3.txt       # this table, medians of the runs
//! ```
//!
//! ## Later runs: the current code
//!
//! The same bench, with a `replace` workload added: churn in the shape of an
//! order-cancel-replace loop (live keys in a `Vec`, a position drawn in the loop,
//! `remove(k).unwrap()`, an `insert` that does not depend on the removed value, its key stored
//! back). Medians of three to six alternating runs on the code of today, ratios taken within each
//! run, on the machine above while it was shared with other builds (1Mi rows moved by ±30 % from
//! run to run):
//!
//! | workload | pattern | size | Key | GenKey | Key / slab | Key / best(slab, 0.1.2) | GenKey / slotmap |
//! |---|---|---|---:|---:|---:|---:|---:|
//! | replace_u64 | - | 4Ki | 4.21 | 4.33 | 0.98 | 1.11 | 1.07 |
//! | replace_64b | - | 4Ki | 6.93 | 8.20 | 0.94 | 1.24 | 1.30 |
//! | churn_u64 | .unwrap() | 4Ki | 3.00 | 4.17 | 0.98 | 1.11 | 1.11 |
//! | churn_64b | .unwrap() | 4Ki | 4.29 | 5.54 | 0.95 | 0.97 | 1.08 |
//! | replace_u64 | - | 1Mi | 28.54 | 52.64 | 0.66 | 0.85 | 1.03 |
//! | replace_64b | - | 1Mi | 51.03 | 73.78 | 0.73 | 0.94 | 0.86 |
//! | churn_64b | .unwrap() | 1Mi | 17.75 | 65.03 | 0.54 | 0.79 | 0.80 |
//! | get_u64 | .unwrap() | 1Mi | 1.78 | 5.07 | 0.20 | 0.22 | 0.60 |
//! | fill_u64 | - | 4Ki | 1.38 | 1.44 | 1.23 | 1.23 | 0.91 |
//! | fill_64b | - | 4Ki | 2.15 | 2.20 | 1.05 | 1.39 | 1.02 |
//! | fill_64b | - | 1Mi | 2.41 | 2.63 | 0.09 | 0.83 | 0.09 |
//!
//! Two rows read worse than in the table above: plain-key `fill_u64` at 4Ki (1.38 ns, 1.00–1.25×
//! `slab` from run to run, where the earlier runs measured 0.78–0.80×; the same loop built on the
//! code before these changes took 1.36 ns, and the cause was not traced), and the GenKey rows at
//! 1Mi, which moved with the machine's load more than with the code (by divan's fastest samples
//! GenKey `churn_u64` at 1Mi is 14.6 ns, slotmap 14.4). `docs/perf.md` has every row before and
//! after, and what the generated code showed.
//!
//! # Every backing
//!
//! `cargo bench --bench slab`: `u64` or 64-byte values, every workload on every backing. This
//! harness drives every structure through one trait with `usize` keys, so nexus-slab pays a
//! `Key::new_saturating` per call, which is what puts `get_random` and `remove` at 4Ki above
//! `slab`; a program that keeps the keys the slab handed out does not pay it (the table above).
//! `get_chase` is a dependent pointer chase: each 64-byte node holds the key of the next, along
//! one random cycle through all nodes (16Mi nodes are 1 GiB). `iter` is per slot, at 10 % and
//! 100 % occupancy of 1Mi slots.
//!
//! | workload | size | Mmap | HugeTlb 2M | slab 0.4 | nexus 0.1.2 | Mmap / slab | Mmap / 0.1.2 | HugeTlb / slab |
//! |---|---|---:|---:|---:|---:|---:|---:|---:|
//! | churn | 1Mi | 7.24 | 7.04 | 11.38 | 7.87 | 0.64 | 0.92 | 0.62 |
//! | churn | 4Ki | 2.59 | 2.60 | 2.90 | 2.30 | 0.89 | 1.13 | 0.90 |
//! | fill_64b | 4Ki | 1.38 | 1.38 | 1.74 | 1.37 | 0.79 | 1.01 | 0.79 |
//! | fill_64b | 1Mi | 1.92 | 2.01 | 27.72 | 2.35 | 0.07 | 0.82 | 0.07 |
//! | fill_64b | 16Mi | 2.11 | 2.20 | 27.32 | 2.55 | 0.08 | 0.83 | 0.08 |
//! | fill_u64 | 4Ki | 1.10 | 1.09 | 1.11 | 1.06 | 0.98 | 1.03 | 0.98 |
//! | fill_u64 | 1Mi | 1.10 | 1.09 | 1.13 | 1.07 | 0.98 | 1.03 | 0.97 |
//! | fill_u64 | 16Mi | 1.21 | 1.10 | 6.78 | 1.07 | 0.18 | 1.12 | 0.16 |
//! | get_chase | 16Mi | 208.74 | 193.79 | 334.93 | 215.15 | 0.62 | 0.97 | 0.58 |
//! | get_chase | 1Mi | 150.74 | 152.89 | 164.79 | 151.54 | 0.91 | 0.99 | 0.93 |
//! | get_random | 4Ki | 1.04 | 1.04 | 0.82 | 0.82 | 1.26 | 1.26 | 1.27 |
//! | get_random | 1Mi | 3.23 | 3.53 | 7.99 | 8.75 | 0.40 | 0.37 | 0.44 |
//! | iter | 10% | 0.09 | 0.09 | 1.12 | 0.96 | 0.08 | 0.09 | 0.08 |
//! | iter | 100% | 0.10 | 0.10 | 0.55 | 0.36 | 0.18 | 0.27 | 0.18 |
//! | remove | 4Ki | 1.49 | 1.50 | 1.12 | 0.95 | 1.33 | 1.56 | 1.35 |
//! | remove | 1Mi | 3.40 | 3.85 | 8.13 | 6.84 | 0.42 | 0.50 | 0.47 |
//!
//! The `Heap`, `Locked<Mmap>` and 1 GiB `HugeTlb` columns are in `docs/perf.md`. The 16Mi
//! `get_chase` ran once, on a busy host (`slab` 335 ns per hop; 166–198 ns on quiet runs
//! before).
//!
//! ```bash
//! DIVAN_TIMER=tsc cargo bench --bench slab | tee bench.txt      # < 5 min
//! # + the large cases (16Mi fills, the 1 GiB chase); HugeTlb needs reserved pages, as root:
//! sudo NEXUS_BENCH_LARGE=1 DIVAN_TIMER=tsc benches/with-hugepages.sh 600 2 -- \
//!     cargo bench --bench slab | tee bench-large.txt
//! python3 benches/divan_table.py bench.txt bench-large.txt      # the tables (median of runs)
//! ```
//!
//! `benches/with-hugepages.sh ADD_2M ADD_1G -- command` adds pages to the hugetlb pools, runs the
//! command, and sets the pools back to what they were. Without reserved pages the `HugeTlb` rows
//! are skipped (divan prints "No benchmark function registered").
//!
//! # Generational keys
//!
//! `cargo bench --bench keys`: `Slab<u64>` (`Key`), `GenSlab<u64>` (`GenKey`),
//! `slotmap::SlotMap<DefaultKey, u64>` and the `slab` crate, each with the keys it handed out,
//! lookups consumed with `unwrap_or(&0)`. Bytes per `u64` slot: `Key` 8.125, `GenKey` 12.000 (a
//! 4-byte generation per slot whose parity is the occupancy bit), slotmap 16 (value and version
//! inline). This harness's 4Ki churn is bimodal from run to run for every structure, so its
//! medians move more than the table above's.
//!
//! | workload | n | Key | GenKey | slotmap | slab | GenKey/Key | GenKey/slotmap | Key/slab |
//! |---|---|---:|---:|---:|---:|---:|---:|---:|
//! | get_random | 4Ki | 0.83 | 0.93 | 0.82 | 0.71 | 1.11 | 1.13 | 1.17 |
//! | get_random | 1Mi | 2.46 | 8.01 | 9.59 | 8.74 | 3.26 | 0.84 | 0.28 |
//! | churn | 4Ki | 3.08 | 3.59 | 3.52 | 3.06 | 1.17 | 1.02 | 1.01 |
//! | churn | 1Mi | 8.36 | 17.23 | 22.92 | 12.36 | 2.06 | 0.75 | 0.68 |
//!
//! Beyond the caches a random `GenKey` lookup touches the generation's cache line as well as the
//! value's, where the plain slab's 1-bit bitmap stays in L2. Choose `GenKey` when keys outlive
//! values; plain keys pay nothing for the option.
//!
//! ```bash
//! DIVAN_TIMER=tsc cargo bench --bench keys
//! ```
//!
//! # Latency
//!
//! `examples/latency.rs`: 1Mi slots of 64-byte values, operations timed in batches of 16 with
//! `lfence; rdtsc` … `rdtscp; lfence`, pinned to one CPU under `SCHED_FIFO`, lockable slabs
//! locked before get, remove and churn, median of 3 runs with the implementations in rotating
//! order, page faults counted over the measured loops only. ns per operation:
//!
//! | op | impl | p50 | p99 | p99.9 | max | faults |
//! |---|---|---:|---:|---:|---:|---:|
//! | insert | nexus Mmap | 3.1 | 5.6 | 15.0 | 2348.1 | 0 |
//! | insert | nexus Heap | 3.1 | 12.5 | 23.2 | 2049.2 | 0 |
//! | insert | nexus HugeTlb | 3.1 | 5.0 | 15.0 | 2476.0 | 0 |
//! | insert | nexus Locked | 3.1 | 5.0 | 14.4 | 2537.6 | 0 |
//! | insert | nexus GenKey | 3.1 | 5.0 | 13.1 | 50.1 | 0 |
//! | insert | slab 0.4 | 3.1 | 153.4 | 264.2 | 3959.7 | 55296 |
//! | insert | nexus 0.1.2 | 2.5 | 8.8 | 21.9 | 2861.2 | 0 |
//! | churn | nexus Mmap | 31.9 | 64.5 | 99.0 | 5272.4 | 0 |
//! | churn | nexus Heap | 30.0 | 57.0 | 119.0 | 6631.4 | 0 |
//! | churn | nexus HugeTlb | 23.2 | 67.0 | 95.2 | 2892.0 | 0 |
//! | churn | nexus Locked | 24.4 | 62.6 | 91.4 | 2680.9 | 0 |
//! | churn | nexus GenKey | 40.1 | 74.5 | 127.8 | 3018.3 | 0 |
//! | churn | slab 0.4 | 68.9 | 114.6 | 183.4 | 5062.9 | 0 |
//! | churn | nexus 0.1.2 | 37.6 | 80.1 | 121.5 | 6230.8 | 0 |
//!
//! Later runs on the current code, with the machine shared with other builds, measured insert
//! p50 2.5 ns (Mmap, Locked; Heap 3.1; GenKey 3.8) and remove p50 42 ns (plain keys), 51 ns
//! (GenKey); GenKey churn p50 rose there to 125–321 ns over nine alternating runs (plain-key
//! churn on Mmap: 66–153 ns), which the same loop timed alone and the consumers bench did not
//! show; a recheck on a quiet machine found the steps themselves unchanged (a plain loop 58–67
//! ns per step before, 60–66 after; 69.9 → 60.9 instructions and the same simulated cache
//! misses per step), and the example's batches still slower: not resolved (`docs/perf.md`).
//!
//! The `get` and `remove` rows, the 1 GiB `HugeTlb` rows and a 10-million-operation churn run
//! (zero page faults on every slab; the worst batches, 50–130 µs, hit every implementation alike
//! and were time the host did not run this vCPU — measured earlier, on a Zen 3 guest) are in
//! `docs/perf.md`.
//!
//! ```bash
//! sudo benches/with-hugepages.sh 200 0 -- cargo run --release --example latency -- --runs 3
//! sudo benches/with-hugepages.sh 200 0 -- cargo run --release --example latency -- --runs 1 --churn 10000000
//! sudo benches/with-hugepages.sh 600 2 -- cargo run --release --example faults   # faults filling 1 GiB
//! ```
//!
//! # Objects that cross threads
//!
//! `examples/pipeline.rs`: two pinned threads (producer on CPU 0, consumer on CPU 1) under
//! `SCHED_FIFO`, a 64-byte order per operation, the TSC around the operation only (each sample
//! starts with the store buffer drained), the timer's own cost subtracted, medians of the runs'
//! percentiles. The guest's cross-core figures change with its host's load: in busy periods the
//! lock-free rows grew 3–6× at once while a mutex's barely moved.
//!
//! On the current code, against `Box::new` on mimalloc (the same order allocated on one thread
//! and freed on the other), three alternating invocations per side (ns per operation; p50 of
//! samples of 8 operations, p99 of single operations):
//!
//! | | `lend` | `Box::new` on mimalloc |
//! |---|---:|---:|
//! | p50, 8-op samples | 17.5, 17.5, 17.5 | 16.3–20.0 |
//! | ratio to mimalloc's, per run | 0.88–1.07 (median 1.00) | 1 |
//! | mean | 15.7–16.7 | 25.5–29.4 |
//! | p99.9, 8-op samples | 33–44 | 960–1300 |
//! | p99, single operations | 20, 20, 110 (a loaded run) | |
//!
//! On the consumer's side a batched free ([`FreeBatch`](crate::split::FreeBatch), flushed every
//! 32) takes 3.8–5.0 ns at the median and [`RemoteFree::free`](crate::split::RemoteFree::free)
//! 6.3 ns; sharded-slab's `insert` has a median of 90, 90 and 370 ns in the same single-operation
//! runs; writing the order into a local array with no slab at all (the floor) 1.3–2.5 ns. The
//! measured windows took 0 page faults and 0 heap allocations, and a [`Lent<T>`](crate::split::Lent)
//! is 16 bytes. mimalloc's tail is the walk it makes over the returned blocks when it collects
//! them; `docs/perf.md` has what its sources do and what reproducing that walk here measured.
//!
//! ```bash
//! cargo run --release --example pipeline -- --n 300000 --runs 1 --per 8 --rt   # p50 of 8-op samples
//! cargo run --release --example pipeline -- --n 300000 --runs 1 --per 1 --rt   # p99 of single ops
//! .ci/split_asm.sh                                                            # the atomics in the generated code
//! ```
//!
//! Earlier, before `lend` stopped building its value on the stack (a `Lent` was 24 bytes then),
//! the same example compared the split slab with sharded-slab 0.1.7 and a `Mutex<slab::Slab>` over
//! 1Mi orders per run, in quiet runs. One operation per sample (3 runs; the TSC advances in steps
//! of 26 ticks, 10 ns here):
//!
//! | implementation | producer op | p50 | p99 | p99.9 | consumer op | p50 | p99 | p99.9 |
//! |---|---|---:|---:|---:|---|---:|---:|---:|
//! | nexus-slab split | `lend` | 40 ns | 50 ns | 70 ns | `FreeBatch::free` (flush every 32) | 20 ns | 30 ns | 50 ns |
//! | nexus-slab split | `lend` | 40 ns | 50 ns | 60 ns | `RemoteFree::free` | 20 ns | 30 ns | 40 ns |
//! | sharded-slab 0.1.7 | `insert` | 90 ns | 130 ns | 160 ns | `remove` | 90 ns | 120 ns | 160 ns |
//! | `Mutex<slab::Slab>` | `lock().insert` | 80 ns | 110 ns | 210 ns | `lock().remove` | 110 ns | 140 ns | 210 ns |
//! | no slab: a round-robin array | write | 0 | 0 | 10 ns | read | 0 | 20 ns | 20 ns |
//!
//! Eight operations per sample (5 runs; divided by 8, so finer than the TSC's step, with the
//! tails averaged over 8):
//!
//! | implementation | producer op | p50 | p99 | p99.9 | consumer op | p50 | p99 | p99.9 |
//! |---|---|---:|---:|---:|---|---:|---:|---:|
//! | nexus-slab split | `lend` | 43.8 ns | 50.1 ns | 75.1 ns | `FreeBatch::free` (flush every 32) | 5.0 ns | 11.3 ns | 18.8 ns |
//! | nexus-slab split | `lend` | 43.8 ns | 48.8 ns | 65.1 ns | `RemoteFree::free` | 6.3 ns | 10.0 ns | 21.3 ns |
//! | sharded-slab 0.1.7 | `insert` | 52.6 ns | 83.9 ns | 112.7 ns | `remove` | 45.1 ns | 72.6 ns | 96.4 ns |
//! | `Mutex<slab::Slab>` | `lock().insert` | 75.1 ns | 127.7 ns | 185.3 ns | `lock().remove` | 58.8 ns | 117.7 ns | 181.6 ns |
//! | no slab: a round-robin array | write | 1.3 ns | 10.0 ns | 20.0 ns | read | 2.5 ns | 3.8 ns | 7.5 ns |
//!
//! (`cargo run --release --example pipeline -- --runs 3 --rt`, and `--runs 5 --rt --per 8`.)
//!
//! # Hot path
//!
//! `examples/hotpath.rs`: `u64` values behind `#[inline(never)]` wrappers, generic x86-64,
//! Rust 1.95, 4Ki slots; callgrind counts the instructions per call (for the replace step, per
//! step of the order-cancel-replace loop, the loop included), on the current code:
//!
//! | | `Key` | `GenKey` | slab 0.4 | nexus-slab 0.1.2 | slotmap |
//! |---|---:|---:|---:|---:|---:|
//! | `get` | 13 | 11 | 10 | 11 | 10 |
//! | `insert` | 21 | 21 | 23 | 20 | 23 |
//! | `remove` | 23 | 21 | 16 | 16 | 22 |
//! | replace step, `u64` | 64 | 65 | 59 | – | 65 |
//! | replace step, 64 B | 76 | 81 | 65 | – | 70 |
//!
//! `get` computes the value's address from the key alone, where the tag-in-slot designs select it
//! with a conditional move that waits for the tag's load; the occupancy bitmap word adds
//! instructions to insert and remove. `docs/perf.md` has the generated code.
//!
//! ```bash
//! cargo build --release --example hotpath
//! objdump -d --no-show-raw-insn -M intel target/release/examples/hotpath | grep -A40 '<hp_'
//! valgrind --tool=callgrind --branch-sim=yes target/release/examples/hotpath nexus   # or gen, slab, 012, slotmap
//! valgrind --tool=callgrind target/release/examples/hotpath replace-gen-64b   # a replace step: hpr_gen_64b / 1e6
//! ```
//!
//! # Scaling: caches, TLB and huge pages
//!
//! A dependent pointer chase from 4 KiB to 1 GiB of values shows where the caches and the TLB run
//! out and what huge pages buy (measured earlier, on a Zen 3 guest with 512 KiB of L2 per core;
//! the figures are in `docs/scaling.csv` and the chart in `docs/scaling.svg`). Up to 16 KiB
//! (L1) nexus-slab takes 2.2 ns per hop and the tag designs 1.9 ns; at 32 KiB theirs jump to 3.9
//! ns (72-byte entries overflow the 32 KiB L1 first) and ours stays at 2.2; from 8–16 MiB every
//! line reaches DRAM, and the 4 KiB-page lines (`slab`, the `Heap` backing) cross the reach of the
//! second-level TLB and stay 15–40 % above the huge-page lines (`Mmap` with THP, `HugeTlb` 2M and
//! 1G, `Locked`). At 1 GiB: `HugeTlb` 2M 164, `HugeTlb` 1G 149, `Mmap` 160 and `slab` 193 ns per
//! hop (0.85× / 0.77× / 0.83×).
//!
//! ```bash
//! sudo benches/with-hugepages.sh 600 2 -- cargo run --release --example scaling   # ~8 min
//! ```
//!
//! # Small slabs, restores
//!
//! What a slab of one entry costs to make and hold, against the `slab` crate, is in the
//! [coming-from-`slab` guide](super::from_slab#many-small-slabs) (`cargo run --release --example
//! small_slabs`). Restoring keys with `insert_at` costs about the same in any order
//! (`DIVAN_TIMER=tsc cargo bench --bench restore`, about a minute).
