//! # Memory control: prefault, locking, huge pages
//!
//! A slab takes all of its memory once, from its [backing](crate::backing), and keeps it: no
//! growth, no reallocation, no value ever moves. What remains between a program and a steady
//! hot path is the operating system — a page fault on first touch, a page swapped out, a TLB
//! miss — and each of those is a choice this crate lets you make, then check against the
//! kernel's own accounting.
//!
//! - [Prefault](#prefault-no-page-fault-after-alloc): every page is resident before `alloc`
//!   returns.
//! - [Locking in RAM](#locking-in-ram): `mlock`, [`LockedSlab`], the limits and their fixes.
//! - [Huge pages](#huge-pages-hugetlb): reserved pools ([`HugeSlab`]), their sizes and how to
//!   reserve them.
//! - [Transparent huge pages](#transparent-huge-pages-and-try_collapse): the default backing's
//!   huge pages and [`Slab::try_collapse`].
//! - [What this machine allows](#what-this-machine-allows-systeminfo): [`SystemInfo`].
//! - [What a slot costs](#what-a-slot-costs).
//!
//! [`LockedSlab`]: crate::LockedSlab
//! [`HugeSlab`]: crate::HugeSlab
//! [`Slab::try_collapse`]: crate::Slab::try_collapse
//! [`SystemInfo`]: crate::system::SystemInfo
//!
//! # Prefault: no page fault after `alloc`
//!
//! Every built-in backing makes its whole region resident before [`alloc`](crate::Slab::alloc)
//! returns — one `madvise(MADV_POPULATE_WRITE)` on Linux 5.14 and later, a touch of every page
//! elsewhere — the slab's occupancy bitmap included. Filling a fresh slab then takes no page
//! fault at all. The kernel counts minor faults per thread, so this is easy to check:
//!
//! ```
//! use nexus_slab::{Full, Slab, backing::{Backing, Mmap}};
//!
//! /// Fills the slab: the loop whose faults are counted.
//! fn fill<B: Backing>(slab: &mut Slab<u64, B>) -> Result<(), Full<u64>> {
//!     for i in 0..slab.capacity() as u64 {
//!         slab.insert(i)?;
//!     }
//!     Ok(())
//! }
//!
//! /// Minor page faults this thread has taken so far (Linux).
//! # #[cfg(target_os = "linux")]
//! fn minor_faults() -> i64 {
//!     // SAFETY: an all-zero `rusage` is a valid value, which `getrusage` overwrites.
//!     let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
//!     // SAFETY: `usage` is ours to write.
//!     assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) }, 0);
//!     usage.ru_minflt
//! }
//! # #[cfg(not(target_os = "linux"))]
//! # fn minor_faults() -> i64 { 0 }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Run the code once first, so that its own pages are in before anything is counted.
//! fill(&mut Slab::<u64>::try_with_capacity(1)?)?;
//! minor_faults();
//!
//! let mut slab: Slab<u64> = Slab::try_with_capacity(1 << 16)?; // 512 KiB, prefaulted
//! let before = minor_faults();
//! fill(&mut slab)?;
//! # #[cfg(all(target_os = "linux", not(miri)))]
//! assert_eq!(minor_faults() - before, 0);
//!
//! // Without the prefault, the fill takes the faults instead.
//! let lazy = Mmap::new().prefault(false);
//! let mut slab: Slab<u64> = Slab::try_with_capacity_in(1 << 16, lazy)?;
//! assert!(!slab.backing().prefaults());
//! let before = minor_faults();
//! fill(&mut slab)?;
//! # #[cfg(all(target_os = "linux", not(miri)))]
//! assert!(minor_faults() - before > 0); // about one per page touched
//! # Ok(())
//! # }
//! ```
//!
//! [`Mmap::new().prefault(false)`](crate::backing::Mmap::prefault) is for slabs whose start-up
//! time matters more than their first minutes: `alloc` is cheaper, and each page costs a fault
//! the first time it is written. On the CI machine (a 2-vCPU KVM guest, Linux 6.18, THP
//! `madvise`) the `nexus-slab` program (`cargo run --release`, see
//! [below](#what-this-machine-allows-systeminfo)) filled a fresh 64 MiB slab of 64-byte values
//! with 0 page faults on every prefaulted backing, and with 31 on the lazy one, whose 2 MiB
//! stretches fault in one transparent huge page at a time. A backing of your own keeps the same
//! promise by calling [`Region::prefault`](crate::backing::Region::prefault) in `allocate` (see
//! the [backings guide](super::backings)).
//!
//! ## The rest of the hot path
//!
//! The slab's promise covers the slab: its slots and bitmap. The structures around it fault
//! like any heap memory. A `HashMap` from order ids to keys, made with `with_capacity`, still
//! took 63 minor faults in a newcomer's order-book loop of 10,000 adds, 3,334 cancels and
//! re-adds (137 made with `HashMap::new()`), measured once in that program (not a test here):
//! the allocator hands out fresh pages, and each faults on its first write. Two ways to a loop with no fault at all:
//!
//! - Run the loop once before the part that counts and [`clear`](crate::Slab::clear) what it
//!   filled: `clear` keeps a slab's memory allocated, resident and locked, and
//!   `HashMap::clear` keeps its table. The same order book then measured 0 faults, as does
//!   the example below.
//! - Keep the side structures in slabs too: an index whose values are keys, a second slab for
//!   what hangs off each value.
//!
//! The first way, checked (this example runs as a doc test and counts the faults):
//!
//! ```
//! use std::collections::HashMap;
//! use nexus_slab::{Key, Slab};
//!
//! # #[cfg(target_os = "linux")]
//! # fn minor_faults() -> i64 {
//! #     // SAFETY: an all-zero `rusage` is valid; `getrusage` overwrites it.
//! #     let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
//! #     // SAFETY: `usage` is ours to write.
//! #     assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) }, 0);
//! #     usage.ru_minflt
//! # }
//! # #[cfg(not(target_os = "linux"))]
//! # fn minor_faults() -> i64 { 0 }
//! /// Adds 10,000 orders, cancels every third, adds those back: the loop whose faults count.
//! fn book_loop(orders: &mut Slab<[u64; 4]>, index: &mut HashMap<u64, Key>) {
//!     for id in 0..10_000u64 {
//!         index.insert(id, orders.insert([id; 4]).unwrap());
//!     }
//!     for id in (0..10_000u64).step_by(3) {
//!         orders.remove(index.remove(&id).unwrap());
//!     }
//!     for id in (0..10_000u64).step_by(3) {
//!         index.insert(id, orders.insert([id; 4]).unwrap());
//!     }
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut orders: Slab<[u64; 4]> = Slab::try_with_capacity(10_000)?;
//! let mut index = HashMap::with_capacity(orders.capacity());
//! book_loop(&mut orders, &mut index); // warm-up: the index's pages and the code come in
//! orders.clear(); // the slab keeps its memory...
//! index.clear(); // ...and the map its table
//! let before = minor_faults();
//! book_loop(&mut orders, &mut index);
//! # #[cfg(all(target_os = "linux", not(miri)))]
//! assert_eq!(minor_faults() - before, 0);
//! # Ok(())
//! # }
//! ```
//!
//! Count with `RUSAGE_THREAD` for the thread that runs the loop (as above), `RUSAGE_SELF` for
//! the whole process; [`mlockall`](https://man7.org/linux/man-pages/man2/mlockall.2.html)
//! `(MCL_CURRENT | MCL_FUTURE)` also keeps the rest of the process resident, at the price of
//! locking every later allocation.
//!
//! # Locking in RAM
//!
//! A resident page can still be swapped out, and the next access to it waits for the disk.
//! [`Slab::mlock`](crate::Slab::mlock) pins the slab's pages until
//! [`munlock`](crate::Slab::munlock) or drop; a [`LockedSlab<T>`](crate::LockedSlab)
//! (`Slab<T, Locked<Mmap>>`) is locked right after its region is allocated and prefaulted, for
//! its whole life, and [`Locked<B>`](crate::backing::Locked) does the same for any backing.
//! [`locked_bytes`](crate::Slab::locked_bytes) reads back what the kernel keeps locked of
//! exactly the slab's range:
//!
//! ```
//! use nexus_slab::{Error, LockedSlab, Slab};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut book: Slab<[u64; 8]> = Slab::try_with_capacity(10_000)?;
//! match book.mlock() {
//!     Ok(()) => {
//! #       #[cfg(target_os = "linux")]
//!         assert_eq!(book.locked_bytes()?, book.memory_size());
//!         book.munlock()?;
//! #       #[cfg(target_os = "linux")]
//!         assert_eq!(book.locked_bytes()?, 0);
//!     }
//!     Err(e @ Error::MemlockLimit { .. }) => eprintln!("{e}"),
//!     Err(e) => return Err(e.into()),
//! }
//!
//! // Locked in the type: for its whole life, or not allocated at all.
//! match LockedSlab::<[u64; 8]>::try_with_capacity(10_000) {
//!     Ok(book) => {
//! #       #[cfg(target_os = "linux")]
//!         assert_eq!(book.locked_bytes()?, book.memory_size());
//!     }
//!     Err(e @ Error::MemlockLimit { .. }) => eprintln!("{}", e.hint().unwrap_or_default()),
//!     Err(e) => return Err(e.into()),
//! }
//! # Ok(())
//! # }
//! ```
//!
//! `locked_bytes` counts the slab's resident pages inside mappings the kernel marks locked (read
//! from `/proc/self/pagemap` and the `VmFlags` of `/proc/self/smaps`). A page counts in full even
//! when a forked child shares it; hugetlb pages never count (they cannot be swapped, so there is
//! nothing to lock: on [`HugeTlb`](crate::backing::HugeTlb) `mlock` succeeds without a system
//! call). Locks do not nest: the kernel keeps one mark per page, so a slab unlocks at `munlock` or
//! drop what it locked — and nothing else: a slab that never called `mlock` leaves the
//! application's own locks (`mlockall`, a locked arena) alone.
//!
//! ## The limit, and the error when it is too low
//!
//! Locking needs the capability `CAP_IPC_LOCK`, or an `RLIMIT_MEMLOCK` at least as large as
//! everything the process locks. Most Linux distributions give an ordinary user 8 MiB, hard limit
//! included. Over it, allocating a `LockedSlab` fails — with nothing left mapped — with
//! [`Error::MemlockLimit`](crate::Error::MemlockLimit): how much was needed, the limit, how much
//! the process had locked already, and the command that lifts the limit. A `main` that returns
//! `Result<(), Box<dyn Error>>` prints all of it. `examples/first_program.rs` in the repository
//! (a `LockedSlab` of 2¹⁸ orders of 32 bytes: 8 MiB of slots and 36 KiB of bitmap), run as an
//! ordinary user, prints:
//!
//! ```text
//! Error: MemlockLimit { needed: 8425472, limit: Bytes(8388608), locked: 0 }: mlock of 8.04 MiB exceeds RLIMIT_MEMLOCK (8 MiB): run `sudo prlimit --memlock=unlimited --pid $$` in the shell that starts the program
//! ```
//!
//! (`tests/memlock_limit.rs` runs that very `main` without the capability under an 8 MiB limit
//! and checks this output.) The command raises the limit of the shell you run it in, for the
//! programs it starts. `ulimit -l unlimited` would fail there: the hard limit is 8 MiB too. For
//! a service, `LimitMEMLOCK=infinity` in its systemd unit; for a binary,
//! `sudo setcap cap_ipc_lock=ep <binary>` (lost when it is rebuilt); for a user, a `memlock`
//! line in `/etc/security/limits.conf`. In a container, the command fails even as root
//! (`prlimit: failed to set the MEMLOCK resource limit: Operation not permitted`: raising a hard
//! limit needs `CAP_SYS_RESOURCE`, which containers drop); start the container with the
//! capability or the limit instead: `docker run --cap-add IPC_LOCK` or `--ulimit memlock=-1`
//! (Kubernetes: `IPC_LOCK` in the container's `securityContext.capabilities.add`). The error
//! tells the two apart: where `CAP_SYS_RESOURCE` is out of the process's capability bounding
//! set, its fix names those two flags instead of `sudo prlimit`.
//!
//! Before allocating, [`SystemInfo::can_lock`](crate::system::SystemInfo::can_lock) says whether
//! a lock of so many more bytes can succeed (the capability, or room under the limit after what
//! the process has locked already):
//!
//! ```
//! use nexus_slab::{LockedSlab, system::SystemInfo};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let info = SystemInfo::probe();
//! println!("limit {}, CAP_IPC_LOCK {:?}", info.memlock_limit, info.cap_ipc_lock);
//! let wanted = 64 << 20;
//! if info.can_lock(wanted) {
//!     let slab: LockedSlab<[u8; 64]> = LockedSlab::try_with_capacity(wanted / 65)?;
//!     assert!(slab.memory_size() <= wanted);
//! } else {
//!     eprintln!("not here: a LockedSlab of 64 MiB would fail with MemlockLimit");
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Huge pages (hugetlb)
//!
//! A 2 MiB page covers what takes 512 pages of 4 KiB, so a large slab on huge pages takes far
//! fewer TLB misses (the [performance guide](super::performance) has the pointer chase that
//! shows it). The [`HugeTlb`](crate::backing::HugeTlb) backing ([`HugeSlab<T>`](crate::HugeSlab))
//! takes them from the pool the administrator reserved: its region is a whole number of huge
//! pages, reserved when it is mapped (so a shortage is an error at `alloc`, never a `SIGBUS`
//! later), prefaulted, and never swapped. When the pool is short, the error says how many pages
//! are missing and gives the command that reserves them:
//!
//! ```
//! use nexus_slab::{Error, HugeSlab};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # // CI reserves pages and sets this: there, no pages is a failure.
//! # let required = std::env::var("NEXUS_SLAB_REQUIRE_HUGEPAGES").as_deref() == Ok("1");
//! let mut slab: HugeSlab<u64> = HugeSlab::new();
//! match slab.alloc(100_000) {
//!     Ok(()) => {
//!         assert_eq!(slab.memory_size() % (2 << 20), 0); // whole 2 MiB pages
//! #       #[cfg(target_os = "linux")]
//!         assert_eq!(slab.huge_page_bytes()?, slab.memory_size());
//!     }
//!     Err(e @ Error::HugePagesUnavailable { .. }) => {
//!         // "not enough 2 MiB huge pages: 1 needed, 0 free: run `echo 1 | sudo tee …`"
//!         let fix = e.hint().unwrap();
//!         assert!(fix.contains("sudo tee /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"));
//! #       assert!(!required, "{e}");
//!     }
//!     // Not Linux, or a kernel without hugetlb.
//!     Err(e @ Error::Unsupported { .. }) => {
//! #       assert!(!required, "{e}");
//!         eprintln!("{e}");
//!     }
//!     Err(e) => return Err(e.into()),
//! }
//! # Ok(())
//! # }
//! ```
//!
//! ## Reserving pages
//!
//! Each page size has its own pool, sized by its own file. From an ordinary shell:
//!
//! ```bash
//! # 512 pages of 2 MiB (1 GiB in all)
//! echo 512 | sudo tee /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
//! # 2 pages of 1 GiB (x86-64 CPUs with the pdpe1gb flag; arm64 with 4 KiB base pages)
//! echo 2 | sudo tee /sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages
//! ```
//!
//! Two commands that look equivalent are not. `/proc/sys/vm/nr_hugepages` sizes the *default*
//! pool, which is the 1 GiB one on hosts booted with `default_hugepagesz=1G` (common on DPDK and
//! trading machines). And `sudo echo N > file` fails, because the redirection runs in your own,
//! unprivileged shell. The kernel may reserve fewer pages than asked when free memory is
//! fragmented: read the file back. 1 GiB pages are surest reserved at boot, with
//! `hugepagesz=1G hugepages=2` on the kernel command line. Every error and report of this crate
//! that needs more pages gives the command for the right pool in this form, and
//! [`SystemInfo::reserve_command`](crate::system::SystemInfo::reserve_command) writes it for a
//! size and a count:
//!
//! ```
//! use nexus_slab::system::SystemInfo;
//!
//! let info = SystemInfo::probe();
//! for pool in &info.huge_pools {
//!     println!("{} KiB pages: {} free of {}", pool.page_size >> 10, pool.available(), pool.total);
//! }
//! if let Some(pool) = info.pool(2 << 20) {
//!     let cmd = info.reserve_command(2 << 20, 16); // 16 more pages of 2 MiB
//!     assert_eq!(
//!         cmd,
//!         format!("echo {} | sudo tee /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages",
//!                 pool.total + 16)
//!     );
//! }
//! ```
//!
//! ## 1 GiB pages and other sizes
//!
//! The page size is the backing's: [`HugePageSize::SIZE_2M`](crate::backing::HugePageSize::SIZE_2M)
//! by default, [`SIZE_1G`](crate::backing::HugePageSize::SIZE_1G) for 1 GiB pages, and
//! [`HugePageSize::new`](crate::backing::HugePageSize::new) for the sizes arm64 kernels offer
//! (64 KiB, 32 MiB, 512 MiB, 16 GiB, depending on the base page size; the directories under
//! `/sys/kernel/mm/hugepages/`, listed by `SystemInfo::huge_pools`, say which this machine has).
//! Whether the machine has such pages is for `alloc` to find out, with the same error and fix as
//! above. A slab on 1 GiB pages takes a whole 1 GiB page even for one slot, and fills it with
//! slots:
//!
//! ```
//! use nexus_slab::{Slab, backing::{Backing, HugePageSize, HugeTlb}};
//!
//! let gib = HugeTlb::new(HugePageSize::SIZE_1G);
//! assert_eq!(gib.granularity(), 1 << 30);
//! let slab: Slab<[u64; 8], HugeTlb> = Slab::new_in(gib); // alloc(n) takes whole 1 GiB pages
//! assert_eq!(slab.backing().huge_page_size().bytes(), 1 << 30);
//!
//! // arm64 with 64 KiB base pages offers 512 MiB pages (and 2 MiB ones with 4 KiB base pages).
//! let arm = HugePageSize::new(512 << 20).expect("a power of two");
//! let _backing = HugeTlb::new(arm);
//! assert_eq!(HugePageSize::new(3 << 20), None); // not a size any kernel has
//! ```
//!
//! Hugetlb pages are never swapped, so [`Locked<HugeTlb>`](crate::backing::Locked) adds nothing
//! but the type, and `locked_bytes()` reads 0 on them (`VmLck` does not count them either).
//!
//! # Transparent huge pages and `try_collapse`
//!
//! Without a reserved pool, the default [`Mmap`](crate::backing::Mmap) backing still gets huge
//! pages where the kernel allows: regions at least as long as the transparent huge page size
//! (2 MiB on x86-64, read from the kernel's `hpage_pmd_size`) are aligned to it and advised
//! `MADV_HUGEPAGE` before they are touched, so with THP in `madvise` or `always` mode they start
//! on huge pages. [`Slab::try_collapse`](crate::Slab::try_collapse) asks the kernel to move a
//! slab onto huge pages now (`MADV_COLLAPSE`, Linux 6.1+) and returns how many of its bytes are
//! on huge pages afterwards; [`huge_page_bytes`](crate::Slab::huge_page_bytes) reads the same
//! figure at any time (`PAGEMAP_SCAN` on Linux 6.7+, `/proc/self/smaps` before). An error is never
//! a disguised success: THP off is
//! [`Error::ThpDisabled`](crate::Error::ThpDisabled), with the command that turns it on.
//!
//! ```
//! use nexus_slab::{Error, Slab};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut slab: Slab<u64> = Slab::try_with_capacity(1 << 20)?; // 8 MiB
//! match slab.try_collapse() {
//!     Ok(huge) => {
//!         assert!(huge <= slab.memory_size()); // only whole, aligned 2 MiB stretches
//!         println!("{huge} of {} bytes on huge pages", slab.memory_size());
//!     }
//!     Err(e @ Error::ThpDisabled { .. }) => eprintln!("{e}"), // ends with the command
//!     Err(e) => eprintln!("no huge pages here: {e}"),
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Only 2 MiB-aligned 2 MiB stretches of a slab can be huge. `Mmap` aligns its large regions, so
//! all of them can; a [`Heap`](crate::backing::Heap) region is only page-aligned: measured on a
//! 32 MiB `Heap` slab, `try_collapse` moved 30 720 KiB (15 of its 16 stretches) and on `Mmap`
//! all 32 768 KiB (`tests/memory_control.rs`, on the CI machine).
//!
//! # What this machine allows: `SystemInfo`
//!
//! [`SystemInfo::probe`](crate::system::SystemInfo::probe) reads what decides which backings
//! work here: the base page size, each huge-page pool, the THP mode, `RLIMIT_MEMLOCK` and
//! `CAP_IPC_LOCK`, the NUMA nodes, and the settings that add latency jitter
//! ([`preflight`](crate::system::SystemInfo::preflight), see the
//! [placement guide](super::placement)), each with the command that enables what is missing.
//! Its `Display` is the report that `cargo run --release` (the `nexus-slab` program in the
//! repository) prints first; `nexus-slab --report` prints it alone and allocates nothing.
//!
//! ```
//! use nexus_slab::system::{SystemInfo, ThpMode};
//!
//! let info = SystemInfo::probe();
//! println!("{info}");
//! assert!(info.base_page_size.is_power_of_two()); // 4 KiB on x86-64; 4, 16 or 64 KiB on arm64
//! if info.thp_mode == Some(ThpMode::Never) {
//!     eprintln!("transparent huge pages are off: try_collapse will say how to turn them on");
//! }
//! ```
//!
//! On the CI machine (a 2-vCPU KVM guest, Linux 6.18, as root, with 128 pages of 2 MiB and one
//! of 1 GiB reserved) the report reads:
//!
//! ```text
//! == What this machine allows ==
//! base page size   4 KiB
//! physical memory  23.5 GiB
//! hugetlb    2 MiB  128 pages reserved, 128 free, 0 promised to mappings (the default size)
//! hugetlb    1 GiB  1 page reserved, 1 free, 0 promised to mappings
//! THP              madvise (Mmap slabs of 2 MiB or more start on huge pages; try_collapse works)
//! RLIMIT_MEMLOCK   8388608 bytes (8 MiB); CAP_IPC_LOCK held: mlock of any size works
//! NUMA node 0      17.3 GiB (6.6 GiB free); 2 MiB pages 128/128 free; 1 GiB pages 1/1 free
//! ok   NUMA nodes with memory = 1 (node 0): with more than one node, a slab not placed on a node may get pages on another socket's memory, and every access to them pays remote-memory latency
//! ok   kernel.numa_balancing = 0: when on, automatic NUMA balancing unmaps pages periodically to sample accesses: the next access to each is a minor (hinting) fault, and pages may move
//! RISK vm.compact_unevictable_allowed = 1: when 1, memory compaction may migrate locked (mlock) pages: a locked slab then takes a minor fault on each page moved -> sudo sysctl -w vm.compact_unevictable_allowed=0
//! ok   THP defrag = madvise: faults in MADV_HUGEPAGE regions (Mmap slabs of 2 MiB or more) may stall in direct compaction: once at alloc for prefaulted slabs, in the hot path for Mmap::new().prefault(false) slabs
//! ```
//!
//! The program then builds a slab of 2²⁰ 64-byte values on every backing and prints what each
//! got — capacity, bytes locked and on huge pages, page faults while filling it — or, where a
//! backing cannot work, why and the command that fixes it, once:
//!
//! ```text
//! HugeTlb 2 MiB    not available: not enough huge pages of 2 MiB: 33 needed, 0 free in the pool; grow the pool with `echo 33 | sudo tee /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages`
//! ```
//!
//! # What a slot costs
//!
//! A slot is a union of the value and a 32-bit free-list link, so it takes
//! `max(size_of::<T>(), 4)` bytes rounded up to `T`'s alignment, plus one bit in an occupancy
//! bitmap kept after the slots (with generational keys, a 4-byte generation instead of the
//! bit). The `slab` crate's `Entry<T>` adds a tag word to every value. Measured by
//! `tests/core.rs` on slabs of 2²⁰ slots, page rounding included:
//!
//! | value type | nexus-slab | `slab` crate |
//! |------------|-----------:|-------------:|
//! | `u64`      | 8.125 B    | 16 B         |
//! | `[u8; 32]` | 32.125 B   | 40 B         |
//! | `[u64; 8]` | 64.125 B   | 72 B         |
//!
//! Memory is rounded up to whole pages of the backing and the slab fills them, so
//! [`capacity`](crate::Slab::capacity) can exceed what you asked for.
//! [`alloc_bytes`](crate::Slab::alloc_bytes) works the other way round: the largest slab whose
//! [`memory_size`](crate::Slab::memory_size) fits a budget. Values keep their own alignment, so a
//! `#[repr(align(64))]` value sits on its own cache line:
//!
//! ```
//! use nexus_slab::{GenSlab, Slab};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let slab: Slab<u64> = Slab::try_with_capacity(1 << 20)?;
//! let per_slot = slab.memory_size() as f64 / slab.capacity() as f64;
//! assert!((8.12..8.13).contains(&per_slot)); // 8 bytes and a bit
//!
//! let gens: GenSlab<u64> = GenSlab::try_with_capacity(1 << 20)?;
//! let per_slot = gens.memory_size() as f64 / gens.capacity() as f64;
//! assert!((12.0..12.01).contains(&per_slot)); // 8 bytes and a 4-byte generation
//!
//! let mut budget: Slab<u64> = Slab::new();
//! budget.alloc_bytes(1 << 20)?; // at most 1 MiB
//! assert!(budget.memory_size() <= 1 << 20 && budget.capacity() > 120_000);
//!
//! #[repr(align(64))]
//! struct Line([u8; 64]);
//! let mut lines: Slab<Line> = Slab::try_with_capacity(100)?;
//! let k = lines.insert(Line([0; 64]))?;
//! assert_eq!(&lines[k] as *const Line as usize % 64, 0);
//! # Ok(())
//! # }
//! ```
//!
//! # How these claims are checked
//!
//! `tests/memory_control.rs` and `tests/memlock_limit.rs` in the repository read the kernel's
//! counters around each operation: `VmLck` of `/proc/self/status`, the hugetlb pool counters,
//! `AnonHugePages` of `/proc/self/smaps`, `ru_minflt` of `getrusage`. Figures from a run on the
//! CI machine (`NEXUS_SLAB_REQUIRE_HUGEPAGES=1 cargo test --test memory_control -- --nocapture`,
//! as root, with 2 MiB and 1 GiB pages reserved):
//!
//! | claim | kernel counter | measured |
//! |-------|----------------|----------|
//! | `mlock()` locks exactly the slab; `munlock()` and drop give it back | `VmLck` | 0 → 16384 kB → 0 for a 16 MiB slab, on `Mmap` and on `Heap` |
//! | a `LockedSlab` is locked for its whole life | `VmLck`, smaps `Locked:` | 0 → 6264 kB (100 000 × 64 B) while alive, 0 after drop |
//! | a `HugeSlab` takes exactly `memory_size / 2 MiB` pages and returns them | the 2 MiB pool's `free_hugepages`, `resv_hugepages` | 128 → 112 free, 0 → 0 reserved for 32 MiB; 128 after drop |
//! | the same on 1 GiB pages | `hugepages-1048576kB/free_hugepages` | 2 → 1 → 2 for a 1 GiB slab |
//! | a fresh slab fills without a page fault | `ru_minflt` (`RUSAGE_THREAD`) | 0 faults for 8 259 552 `u64` (64 MiB) on `Mmap`, `Heap`, `Locked<Mmap>`, `HugeTlb`; 7 on `Mmap::new().prefault(false)` |
//! | `try_collapse()` moves a slab onto huge pages | smaps `AnonHugePages` of the slab's range | `Heap`, 32 MiB: 0 → 30 720 kB; `Mmap`: 32 768 kB |
//! | too few huge pages: a typed error, nothing leaked | `/proc/self/maps`, pool counters | 131 pages asked, 128 free: `HugePagesUnavailable`, maps and pool unchanged |
//! | over `RLIMIT_MEMLOCK` without `CAP_IPC_LOCK`: a typed error, nothing leaked | `VmLck`, maps, `VmRSS` (a child process, limit 8 MiB) | a 64 MiB `LockedSlab` refused with `MemlockLimit`; maps and `VmLck` unchanged, RSS returned |
//!
//! Without reserved huge pages the hugetlb proofs cannot run; `cargo test` then lists them as
//! NOT RUN after each test binary's summary, with the command that enables each, and with
//! `NEXUS_SLAB_REQUIRE_HUGEPAGES=1` they fail instead.
