//! # Placement and isolation: NUMA nodes, fork, core dumps
//!
//! On a server with more than one socket, memory is attached to one socket's NUMA node, and a
//! slab whose pages land on the other node pays remote-memory latency on every access. The
//! kernel places a page when it is first touched, and `mbind` only places pages not faulted in
//! yet — so placement has to happen between mapping and prefault, which only the backing can
//! do. The OS backings ([`Mmap`], [`HugeTlb`], and either through [`Locked`]) take it as a
//! builder, and the isolation flags the same way:
//!
//! ```
//! use nexus_slab::{Slab, backing::{Locked, Mmap}};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // On node 0 only, locked, out of forked children and core dumps.
//! let backing = Locked::<Mmap>::default().numa_node(0).exclude_from_fork().exclude_from_dumps();
//! let mut slab: Slab<u64, Locked<Mmap>> = Slab::new_in(backing);
//! # #[cfg(all(target_os = "linux", not(miri)))]
//! # {
//! slab.alloc(100_000)?;
//! assert_eq!(slab.numa_bytes()?.on_node(0), slab.memory_size()); // from the kernel
//! # }
//! # Ok(())
//! # }
//! ```
//!
//! [`Mmap`]: crate::backing::Mmap
//! [`HugeTlb`]: crate::backing::HugeTlb
//! [`Locked`]: crate::backing::Locked
//!
//! # NUMA placement
//!
//! - [`numa_node(n)`](crate::backing::Mmap::numa_node) binds strictly (`MPOL_BIND`): every page
//!   on node `n` — for hugetlb, from that node's own pool — or `alloc` fails.
//! - [`numa_preferred(n)`](crate::backing::Mmap::numa_preferred) (`MPOL_PREFERRED`) takes pages
//!   from node `n` while it has room, and from other nodes after that.
//! - [`Slab::numa_bytes`](crate::Slab::numa_bytes) reads back where the pages are, asking the
//!   kernel page by page (`move_pages` with no target node, which only reports):
//!   [`NumaBytes::on_node`](crate::system::NumaBytes::on_node),
//!   [`resident`](crate::system::NumaBytes::resident).
//!
//! Placement is checked at `alloc`, and nothing stays mapped after any of its errors:
//!
//! - a node that does not exist, has no memory, or is outside the process's cpuset is
//!   [`Error::NodeUnavailable`](crate::Error::NodeUnavailable), naming the nodes there are;
//! - a slab larger than the node is [`Error::NodeMemory`](crate::Error::NodeMemory);
//! - a hugetlb slab the node's pool cannot fill is
//!   [`Error::NodeHugePagesUnavailable`](crate::Error::NodeHugePagesUnavailable), whose hint is
//!   the command that grows that node's pool
//!   (`echo N | sudo tee /sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages`).
//!   The kernel's hugetlb reservation at `mmap` is machine-wide and does not cover a node, so a
//!   bound hugetlb slab is checked against the node's free pages first, then prefaulted with
//!   `MADV_POPULATE_WRITE`, which reports a missing page as an error instead of a `SIGBUS`.
//!
//! ```
//! use nexus_slab::{Error, Slab, backing::{HugePageSize, HugeTlb, Mmap}};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let required = std::env::var("NEXUS_SLAB_REQUIRE_HUGEPAGES").as_deref() == Ok("1");
//! // A node that does not exist: a typed error at alloc, and the slab stays unallocated.
//! let mut far: Slab<u64> = Slab::new_in(Mmap::new().numa_node(4000));
//! match far.alloc(10) {
//!     Err(Error::NodeUnavailable { node, nodes, .. }) => {
//!         assert_eq!(node, 4000);
//!         println!("the nodes here: {nodes:?}");
//!     }
//!     Err(e @ Error::Unsupported { .. }) => eprintln!("{e}"), // not Linux
//!     other => panic!("{other:?}"),
//! }
//! assert!(!far.is_allocated());
//!
//! // Preferred: never refused for want of room on the node.
//! let mut near: Slab<u64> = Slab::new_in(Mmap::new().numa_preferred(0));
//! # #[cfg(all(target_os = "linux", not(miri)))]
//! near.alloc(10_000)?;
//! if let Ok(placed) = near.numa_bytes() {
//!     assert_eq!(placed.resident(), near.memory_size()); // prefaulted: every page resident
//! }
//!
//! // Huge pages from node 0's own pool.
//! let on_node_0 = HugeTlb::new(HugePageSize::SIZE_2M).numa_node(0);
//! let mut huge: Slab<u64, HugeTlb> = Slab::new_in(on_node_0);
//! match huge.alloc(100_000) {
//!     Ok(()) => assert_eq!(huge.numa_bytes()?.on_node(0), huge.memory_size()),
//!     Err(e @ Error::NodeHugePagesUnavailable { .. }) => {
//!         let fix = e.hint().unwrap(); // the command for node 0's pool
//!         assert!(fix.contains("/sys/devices/system/node/node0/hugepages/hugepages-2048kB/"));
//! #       assert!(!required, "{e}");
//!     }
//!     Err(e) => {
//! #       assert!(!required, "{e}");
//!         eprintln!("no huge pages here: {e}");
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! On Windows (the `unstable-windows` feature) `numa_preferred` maps through
//! `VirtualAllocExNuma`; Windows has no strict binding, so `numa_node` there is
//! [`Error::Unsupported`](crate::Error::Unsupported). Elsewhere both are `Unsupported`.
//!
//! # Isolation: fork and core dumps
//!
//! - [`exclude_from_fork()`](crate::backing::Mmap::exclude_from_fork) (`MADV_DONTFORK`). After a
//!   `fork()` — a logger, a health check — a slab is copy-on-write, and the parent's next write to
//!   each page is a fault that copies it to a new frame: the very fault prefaulting and locking
//!   rule out. Excluded, the child has no mapping there and the parent keeps its frames. It is
//!   not set by default, nor by `Locked`: a child that reads the slab (a snapshot writer) would
//!   then crash with a segmentation fault, where without it only the parent pays faults. Set it
//!   when the process forks and no child uses the slab; `fork` + `exec` (and `posix_spawn`,
//!   which `std::process::Command` uses where it can) is unaffected either way. On hugetlb it
//!   matters more: after a fork the parent's first write to a shared huge page copies all of it,
//!   and when the pool has no page left the kernel takes the page away from the child.
//! - [`exclude_from_dumps()`](crate::backing::Mmap::exclude_from_dumps) (`MADV_DONTDUMP`): a
//!   core dump leaves the slab out, instead of stalling the machine writing it — and without its
//!   contents to debug with, which is why that is your call too.
//!
//! Both are Linux calls. On Windows, which has no `fork`, `exclude_from_fork` changes nothing, and
//! `exclude_from_dumps` makes `alloc` return `Unsupported` (Windows cannot leave a range out of a
//! dump); elsewhere either does. Each builder has its getter:
//!
//! ```
//! use nexus_slab::{LockedSlab, backing::{Locked, Mmap}};
//!
//! let backing = Locked::<Mmap>::default().exclude_from_fork().exclude_from_dumps();
//! assert!(backing.inner().excluded_from_fork() && backing.inner().excluded_from_dumps());
//! let slab: LockedSlab<u64> = LockedSlab::new_in(backing);
//! assert!(!Mmap::new().excluded_from_fork()); // not by default
//! # let _ = slab;
//! ```
//!
//! # Preflight: the settings that add jitter
//!
//! Some of what makes a locked, prefaulted slab fault anyway is a kernel setting.
//! [`SystemInfo::preflight`](crate::system::SystemInfo::preflight) reads each, says whether its
//! value carries the risk, what the risk is, and what removes it — a command that works under
//! `sudo`, or the call to make:
//!
//! - `NUMA nodes with memory`: with more than one, a slab not placed on a node may get pages on
//!   another socket's memory;
//! - `kernel.numa_balancing`: when on, automatic NUMA balancing unmaps pages periodically to
//!   sample accesses, so the next access to each is a minor (hinting) fault, and pages may move;
//! - `vm.compact_unevictable_allowed`: when 1, memory compaction may migrate locked pages, and a
//!   locked slab takes a minor fault on each page moved
//!   (`sudo sysctl -w vm.compact_unevictable_allowed=0`);
//! - `THP defrag`: faults in `MADV_HUGEPAGE` regions may stall in direct compaction — once at
//!   `alloc` for prefaulted slabs, in the hot path for lazy ones.
//!
//! ```
//! use nexus_slab::system::SystemInfo;
//!
//! for item in SystemInfo::probe().preflight() {
//!     if item.at_risk {
//!         eprintln!("{} = {}: {} -> {}", item.setting, item.value, item.risk, item.fix);
//!     }
//!     assert!(!item.fix.is_empty()); // read from item.file
//! }
//! ```
//!
//! The same items close the report of [`SystemInfo`](crate::system::SystemInfo) (see the
//! [memory control guide](super::memory_control#what-this-machine-allows-systeminfo)), marked
//! `ok` or `RISK`, with each node's memory and free huge pages.
//!
//! # How these claims are checked
//!
//! `tests/placement.rs` in the repository checks each claim against a second witness from the
//! kernel. Figures from a run on the CI machine (a 2-vCPU KVM guest with one NUMA node,
//! Linux 6.18, as root; `NEXUS_SLAB_REQUIRE_HUGEPAGES=1 cargo test --test placement --
//! --nocapture`):
//!
//! | claim | kernel witnesses | measured |
//! |-------|------------------|----------|
//! | `numa_node(0)` binds every page to node 0 | `/proc/self/numa_maps`; `get_mempolicy` per page; `numa_bytes()` | 1 MiB `Mmap`: `bind:0 anon=256 dirty=256 N0=256 kernelpagesize_kB=4`, 256 of 256 pages on node 0, policy `MPOL_BIND` mask `0x1`; 16 MiB (on THP): `N0=4096`; `Locked<Mmap>` the same; `numa_preferred(0)`: `prefer:0`; not placed: `default` |
//! | a bound hugetlb slab takes its pages from the node's own pool | the node's `free_hugepages`, `numa_maps` | 8 MiB: node 0 free 160 → 156, `bind:0 ... huge anon=4 dirty=4 N0=4 kernelpagesize_kB=2048`; back to 160 on drop |
//! | a node that does not exist: a typed error, nothing mapped | `/proc/self/maps`, pool counters | `numa_node(1)` and `numa_preferred(1)`: `NodeUnavailable { node: 1, nodes: [0] }`, no mapping appeared, no huge page taken |
//! | a node short of huge pages: a typed error whose command works | node pool files | 162 pages asked, 160 free: `NodeHugePagesUnavailable`; after running its command the same slab allocates, `N0=162` |
//! | a hugetlb fault with no page left is an error, not a `SIGBUS` | `MADV_POPULATE_WRITE` result (`EFAULT`) | 6 pages over a pool of 4 (`MAP_NORESERVE`): `NodeHugePagesUnavailable`, the process lives |
//! | `exclude_from_fork()` / `exclude_from_dumps()` mark the slab's range, and only then | smaps `VmFlags` | `Locked<Mmap>` with both: `rd wr mr mw me lo dc ac dd`; without: `rd wr mr mw me lo ac`; `HugeTlb`: `dc de ht dd` |
//! | after `fork()`, an excluded locked slab keeps its frames and takes no fault | `/proc/self/pagemap` frame numbers, `ru_minflt`, the child's maps | 1 MiB `Locked<Mmap>`, parent writes 253 of 256 pages: 0 faults, 0 frames changed, no mapping in the child; not excluded: 253 faults, 253 frames changed |
//! | every preflight field is the kernel's | the files above | 0, 1 (at risk), `madvise`; node 0's memory and pools as read |
