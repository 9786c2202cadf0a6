//! What this machine allows: [`SystemInfo::probe`] reads page sizes, huge-page pools, the THP
//! mode, the memlock limit and capability — the facts that decide which backings work here —
//! and the NUMA nodes and kernel settings that add latency jitter ([`SystemInfo::preflight`]).

use core::fmt;

use crate::numa::NumaNode;
use crate::sys;

/// A resource limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Limit {
    /// At most this many bytes.
    Bytes(u64),
    /// No limit.
    Unlimited,
    /// The platform did not say.
    Unknown,
}

impl Limit {
    /// Whether `bytes` fit under the limit (`Unknown` is taken as fitting).
    ///
    /// ```
    /// use nexus_slab::system::Limit;
    /// assert!(Limit::Bytes(8 << 20).allows(4 << 20));
    /// assert!(!Limit::Bytes(8 << 20).allows(16 << 20));
    /// assert!(Limit::Unlimited.allows(u64::MAX));
    /// ```
    pub fn allows(self, bytes: u64) -> bool {
        match self {
            Limit::Bytes(limit) => bytes <= limit,
            Limit::Unlimited | Limit::Unknown => true,
        }
    }
}

impl fmt::Display for Limit {
    /// ```
    /// use nexus_slab::system::Limit;
    /// assert_eq!(Limit::Bytes(8 << 20).to_string(), "8388608 bytes (8 MiB)");
    /// assert_eq!(Limit::Unlimited.to_string(), "unlimited");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Limit::Bytes(b) => write!(f, "{b} bytes ({})", Bytes(*b as usize)),
            Limit::Unlimited => f.write_str("unlimited"),
            Limit::Unknown => f.write_str("unknown"),
        }
    }
}

/// The transparent-huge-page mode (`/sys/kernel/mm/transparent_hugepage/enabled`).
///
/// ```
/// use nexus_slab::{system::{SystemInfo, ThpMode}};
/// if let Some(mode) = SystemInfo::probe().thp_mode {
///     println!("THP: {mode}"); // always, madvise or never
///     assert_eq!(mode.to_string().is_empty(), false);
/// }
/// assert_eq!(ThpMode::Madvise.to_string(), "madvise");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ThpMode {
    /// Every anonymous mapping may get huge pages.
    Always,
    /// Only mappings advised `MADV_HUGEPAGE` (what `Mmap` does for regions of a huge page or
    /// more), and `try_collapse`.
    Madvise,
    /// No transparent huge pages at all; `try_collapse` cannot work.
    Never,
}

impl ThpMode {
    fn parse(word: &str) -> Option<Self> {
        match word {
            "always" => Some(ThpMode::Always),
            "madvise" => Some(ThpMode::Madvise),
            "never" => Some(ThpMode::Never),
            _ => None,
        }
    }
}

impl fmt::Display for ThpMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ThpMode::Always => "always",
            ThpMode::Madvise => "madvise",
            ThpMode::Never => "never",
        })
    }
}

/// One pool of hugetlb pages (`/sys/kernel/mm/hugepages/hugepages-<size>kB`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HugePagePool {
    /// Bytes per page (2 MiB, 1 GiB ...).
    pub page_size: usize,
    /// Pages in the pool (`nr_hugepages`).
    pub total: usize,
    /// Pages not mapped by anyone (`free_hugepages`), reserved ones included.
    pub free: usize,
    /// Free pages promised to existing mappings (`resv_hugepages`).
    pub reserved: usize,
    /// Pages over `total`, allocated on demand (`surplus_hugepages`).
    pub surplus: usize,
}

impl HugePagePool {
    /// Pages a new mapping can still get: free and not reserved.
    ///
    /// ```
    /// if let Some(p) = nexus_slab::system::HugePagePool::read(2 << 20) {
    ///     assert_eq!(p.available(), p.free.saturating_sub(p.reserved));
    /// }
    /// ```
    pub fn available(&self) -> usize {
        self.free.saturating_sub(self.reserved)
    }

    /// The pool of `page_size`-byte pages as the kernel reports it now, if there is one.
    ///
    /// ```
    /// if let Some(pool) = nexus_slab::system::HugePagePool::read(2 << 20) {
    ///     assert!(pool.free <= pool.total + pool.surplus);
    /// }
    /// ```
    pub fn read(page_size: usize) -> Option<Self> {
        sys::huge_pool(page_size)
    }
}

/// What this machine allows, for the memory controls of a slab.
///
/// ```
/// let info = nexus_slab::system::SystemInfo::probe();
/// assert!(info.base_page_size.is_power_of_two());
/// println!("{info}"); // a report with the command that enables each missing feature
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SystemInfo {
    /// The base page size (4 KiB on x86-64; 4, 16 or 64 KiB on arm64).
    pub base_page_size: usize,
    /// Physical memory, if known.
    pub physical_memory: Option<usize>,
    /// Every hugetlb pool, smallest pages first.
    pub huge_pools: Vec<HugePagePool>,
    /// The default huge page size (`Hugepagesize` in /proc/meminfo), if the kernel has one:
    /// the pool that `/proc/sys/vm/nr_hugepages`, the `HugePages_*` lines of /proc/meminfo and
    /// hugetlbfs mounts without a `pagesize` option refer to. 2 MiB on most x86-64 hosts, 1 GiB
    /// on hosts booted with `default_hugepagesz=1G`.
    pub default_huge_page_size: Option<usize>,
    /// The transparent-huge-page mode (`always`, `madvise`, `never`), if the kernel has THP.
    pub thp_mode: Option<ThpMode>,
    /// The soft `RLIMIT_MEMLOCK`.
    pub memlock_limit: Limit,
    /// Whether the process holds `CAP_IPC_LOCK` (which lifts the memlock limit), if known.
    pub cap_ipc_lock: Option<bool>,
    /// Bytes this process has locked already (`VmLck` of /proc/self/status), if known: they
    /// count against the memlock limit too.
    pub process_locked: Option<usize>,
    /// The NUMA nodes with memory (`/sys/devices/system/node/has_memory`), each with its memory
    /// and huge-page pools; empty where the platform reports none.
    pub numa_nodes: Vec<NumaNode>,
    /// `kernel.numa_balancing` (`/proc/sys/kernel/numa_balancing`: 0 off, 1 on, 2 memory
    /// tiering, 3 both), or `None` where the kernel has no such setting.
    pub numa_balancing: Option<u32>,
    /// `vm.compact_unevictable_allowed` (`/proc/sys/vm/compact_unevictable_allowed`): 1 lets
    /// compaction migrate locked pages.
    pub compact_unevictable_allowed: Option<u32>,
    /// When a transparent-huge-page fault may compact memory directly: the bracketed word of
    /// `/sys/kernel/mm/transparent_hugepage/defrag` (`always`, `defer`, `defer+madvise`,
    /// `madvise`, `never`).
    pub thp_defrag: Option<String>,
}

/// One source of latency jitter that the kernel's settings open or close, as
/// [`SystemInfo::preflight`] reads it: the setting, its value now, whether that value carries
/// the risk, the risk in one line, and what removes it.
///
/// ```
/// for item in nexus_slab::system::SystemInfo::probe().preflight() {
///     if item.at_risk {
///         println!("{} = {}: {} (fix: {})", item.setting, item.value, item.risk, item.fix);
///     }
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Preflight {
    /// The setting: `kernel.numa_balancing`, `vm.compact_unevictable_allowed`, `THP defrag`,
    /// `NUMA nodes with memory`.
    pub setting: &'static str,
    /// The file the value was read from.
    pub file: &'static str,
    /// The value, as the file has it (the bracketed word for THP defrag, the node list for
    /// NUMA nodes).
    pub value: String,
    /// Whether this value carries the risk.
    pub at_risk: bool,
    /// The risk, in one line: what the setting does to a slab.
    pub risk: String,
    /// What removes the risk: a command that works under `sudo`, or the call to make.
    pub fix: String,
}

impl SystemInfo {
    /// Reads everything from the kernel now.
    ///
    /// ```
    /// let info = nexus_slab::system::SystemInfo::probe();
    /// # let _ = info;
    /// ```
    pub fn probe() -> Self {
        SystemInfo {
            base_page_size: sys::page_size(),
            physical_memory: sys::physical_memory(),
            huge_pools: sys::huge_page_sizes()
                .into_iter()
                .filter_map(sys::huge_pool)
                .collect(),
            default_huge_page_size: sys::default_huge_page_size(),
            thp_mode: sys::thp_mode().as_deref().and_then(ThpMode::parse),
            memlock_limit: sys::memlock_limit(),
            cap_ipc_lock: sys::has_cap_ipc_lock(),
            process_locked: sys::locked_now(),
            numa_nodes: sys::numa_node_infos(),
            numa_balancing: sys::numa_balancing(),
            compact_unevictable_allowed: sys::compact_unevictable_allowed(),
            thp_defrag: sys::thp_defrag(),
        }
    }

    /// The jitter sources this machine's settings decide, one [`Preflight`] item per setting
    /// the platform has (none off Linux): NUMA nodes, `kernel.numa_balancing`,
    /// `vm.compact_unevictable_allowed`, THP `defrag`. Each says whether its current value
    /// carries the risk, and what removes it.
    ///
    /// ```
    /// let info = nexus_slab::system::SystemInfo::probe();
    /// for item in info.preflight() {
    ///     assert!(!item.risk.is_empty() && !item.fix.is_empty());
    /// }
    /// ```
    pub fn preflight(&self) -> Vec<Preflight> {
        let mut items = Vec::new();
        if !self.numa_nodes.is_empty() {
            let list: Vec<String> = self.numa_nodes.iter().map(|n| n.id.to_string()).collect();
            let n = list.len();
            items.push(Preflight {
                setting: "NUMA nodes with memory",
                file: "/sys/devices/system/node/has_memory",
                // "1 (node 0)", "2 (nodes 0,1)": a count, then the ids (the ids alone read as
                // a count: "NUMA nodes = 0" for a machine with node 0).
                value: format!(
                    "{n} ({} {})",
                    if n == 1 { "node" } else { "nodes" },
                    list.join(",")
                ),
                at_risk: self.numa_nodes.len() > 1,
                risk: "with more than one node, a slab not placed on a node may get pages on \
                       another socket's memory, and every access to them pays remote-memory \
                       latency"
                    .to_string(),
                fix: "place the slab on the node of the threads that use it: \
                      Mmap::new().numa_node(N) or HugeTlb::new(size).numa_node(N), and pin \
                      those threads to the node's CPUs (/sys/devices/system/node/nodeN/cpulist)"
                    .to_string(),
            });
        }
        if let Some(v) = self.numa_balancing {
            items.push(Preflight {
                setting: "kernel.numa_balancing",
                file: "/proc/sys/kernel/numa_balancing",
                value: v.to_string(),
                at_risk: v != 0,
                risk: "when on, automatic NUMA balancing unmaps pages periodically to sample \
                       accesses: the next access to each is a minor (hinting) fault, and pages \
                       may move"
                    .to_string(),
                fix: "sudo sysctl -w kernel.numa_balancing=0".to_string(),
            });
        }
        if let Some(v) = self.compact_unevictable_allowed {
            items.push(Preflight {
                setting: "vm.compact_unevictable_allowed",
                file: "/proc/sys/vm/compact_unevictable_allowed",
                value: v.to_string(),
                at_risk: v != 0,
                risk: "when 1, memory compaction may migrate locked (mlock) pages: a locked slab \
                       then takes a minor fault on each page moved"
                    .to_string(),
                fix: "sudo sysctl -w vm.compact_unevictable_allowed=0".to_string(),
            });
        }
        if let Some(mode) = &self.thp_defrag {
            let risk = match mode.as_str() {
                "always" => {
                    "any transparent-huge-page fault in the process may stall in direct \
                     compaction until a huge page is free"
                }
                "madvise" | "defer+madvise" => {
                    "faults in MADV_HUGEPAGE regions (Mmap slabs of 2 MiB or more) may stall in \
                     direct compaction: once at alloc for prefaulted slabs, in the hot path for \
                     Mmap::new().prefault(false) slabs"
                }
                _ => {
                    "no fault stalls in direct compaction; huge pages come later from \
                     background compaction (kcompactd), or not at all"
                }
            };
            items.push(Preflight {
                setting: "THP defrag",
                file: "/sys/kernel/mm/transparent_hugepage/defrag",
                value: mode.clone(),
                at_risk: mode == "always",
                risk: risk.to_string(),
                fix: "echo defer+madvise | sudo tee /sys/kernel/mm/transparent_hugepage/defrag \
                      (and prefault: keep Mmap::new(), not Mmap::new().prefault(false))"
                    .to_string(),
            });
        }
        items
    }

    /// The pool of `page_size`-byte huge pages, if the kernel has one.
    ///
    /// ```
    /// let info = nexus_slab::system::SystemInfo::probe();
    /// let _two_mib = info.pool(2 << 20);
    /// ```
    pub fn pool(&self, page_size: usize) -> Option<&HugePagePool> {
        self.huge_pools.iter().find(|p| p.page_size == page_size)
    }

    /// Whether `mlock` of `bytes` more bytes can succeed: `CAP_IPC_LOCK`, or room under the
    /// limit for them on top of what the process has locked already
    /// ([`process_locked`](SystemInfo::process_locked), as of the probe).
    ///
    /// ```
    /// let info = nexus_slab::system::SystemInfo::probe();
    /// if let (nexus_slab::system::Limit::Bytes(limit), Some(locked), Some(false)) =
    ///     (info.memlock_limit, info.process_locked, info.cap_ipc_lock)
    /// {
    ///     let room = (limit as usize).saturating_sub(locked);
    ///     assert!(!info.can_lock(room + 1));
    /// }
    /// ```
    pub fn can_lock(&self, bytes: usize) -> bool {
        let total = self.process_locked.unwrap_or(0).saturating_add(bytes);
        self.cap_ipc_lock == Some(true) || self.memlock_limit.allows(total as u64)
    }

    /// The command that reserves `pages` more huge pages of `page_size` bytes: it writes the
    /// new total to that size's own pool (`/sys/kernel/mm/hugepages/hugepages-<size>kB`), through
    /// `sudo tee` so that it works from an unprivileged shell.
    ///
    /// ```
    /// let info = nexus_slab::system::SystemInfo::probe();
    /// if let Some(pool) = info.pool(2 << 20) {
    ///     assert_eq!(
    ///         info.reserve_command(2 << 20, 4),
    ///         format!(
    ///             "echo {} | sudo tee /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages",
    ///             pool.total + 4
    ///         )
    ///     );
    /// }
    /// ```
    pub fn reserve_command(&self, page_size: usize, pages: usize) -> String {
        let total = self.pool(page_size).map_or(0, |p| p.total);
        sys::huge_pool_fix(page_size, total + pages)
    }
}

impl fmt::Display for SystemInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "base page size   {}", Bytes(self.base_page_size))?;
        if let Some(ram) = self.physical_memory {
            writeln!(f, "physical memory  {}", Bytes(ram))?;
        }
        if self.huge_pools.is_empty() {
            writeln!(f, "hugetlb pools    none (a Linux feature)")?;
        }
        for p in &self.huge_pools {
            write!(
                f,
                "hugetlb {:>8}  {}, {} free, {} promised to mappings",
                Bytes(p.page_size).to_string(),
                Count(p.total, "page reserved", "pages reserved"),
                p.free,
                p.reserved
            )?;
            if self.default_huge_page_size == Some(p.page_size) {
                write!(f, " (the default size)")?;
            }
            writeln!(f)?;
            if p.available() == 0 {
                let pages = ((128 << 20) / p.page_size).max(1);
                write!(
                    f,
                    "                 -> to reserve {pages}: {}",
                    self.reserve_command(p.page_size, pages)
                )?;
                if p.page_size >= 1 << 30 {
                    // The kernel seldom finds free 1 GiB stretches once memory is in use.
                    write!(
                        f,
                        " (or at boot, surer for 1 GiB pages: `hugepagesz={}G hugepages={}` on \
                         the kernel command line)",
                        p.page_size >> 30,
                        p.total + pages
                    )?;
                }
                writeln!(f)?;
            }
        }
        match self.thp_mode {
            Some(ThpMode::Never) => writeln!(
                f,
                "THP              never  -> try_collapse cannot work; enable with \
                 `echo madvise | sudo tee /sys/kernel/mm/transparent_hugepage/enabled`"
            )?,
            Some(mode) => writeln!(
                f,
                "THP              {mode} (Mmap slabs of {} or more start on huge pages; \
                 try_collapse works)",
                Bytes(sys::thp_size().unwrap_or(2 << 20))
            )?,
            None => writeln!(f, "THP              not available")?,
        }
        write!(f, "RLIMIT_MEMLOCK   {}", self.memlock_limit)?;
        match self.cap_ipc_lock {
            Some(true) => writeln!(f, "; CAP_IPC_LOCK held: mlock of any size works")?,
            Some(false) => writeln!(
                f,
                "; no CAP_IPC_LOCK: mlock is capped by the limit (raise it with `ulimit -l`, \
                 /etc/security/limits.conf, or `sudo setcap cap_ipc_lock=ep <binary>`)"
            )?,
            None => writeln!(f)?,
        }
        for node in &self.numa_nodes {
            write!(f, "NUMA node {:<6}", node.id)?;
            match (node.memory_total, node.memory_free) {
                (Some(total), Some(free)) => write!(f, " {} ({} free)", Bytes(total), Bytes(free))?,
                (None, Some(free)) => write!(f, " {} free", Bytes(free))?,
                _ => {}
            }
            for p in &node.huge_pools {
                write!(
                    f,
                    "; {} pages {}/{} free",
                    Bytes(p.page_size),
                    p.free,
                    p.total
                )?;
            }
            writeln!(f)?;
        }
        for item in self.preflight() {
            if item.at_risk {
                writeln!(
                    f,
                    "RISK {} = {}: {} -> {}",
                    item.setting, item.value, item.risk, item.fix
                )?;
            } else {
                writeln!(f, "ok   {} = {}: {}", item.setting, item.value, item.risk)?;
            }
        }
        Ok(())
    }
}

/// A count and its noun, singular for 1 ("1 page", "3 pages").
struct Count(usize, &'static str, &'static str);

impl fmt::Display for Count {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let noun = if self.0 == 1 { self.1 } else { self.2 };
        write!(f, "{} {noun}", self.0)
    }
}

/// Bytes in the largest binary unit that keeps them whole-ish ("8 MiB", "2 GiB", "4 KiB").
pub(crate) struct Bytes(pub(crate) usize);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
        let mut v = self.0 as f64;
        let mut unit = 0;
        while v >= 1024.0 && unit < UNITS.len() - 1 {
            v /= 1024.0;
            unit += 1;
        }
        if v.fract() == 0.0 {
            write!(f, "{v} {}", UNITS[unit])
        } else {
            write!(f, "{v:.1} {}", UNITS[unit])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_print_in_binary_units() {
        assert_eq!(Bytes(4096).to_string(), "4 KiB");
        assert_eq!(Bytes(2 << 20).to_string(), "2 MiB");
        assert_eq!(Bytes(1 << 30).to_string(), "1 GiB");
        assert_eq!(Bytes(1536).to_string(), "1.5 KiB");
        assert_eq!(Bytes(7).to_string(), "7 B");
    }

    /// The report as printed for a host whose default huge page size is 1 GiB, with an empty
    /// 2 MiB pool and one 1 GiB page (only meaningful where the fix commands exist: Linux).
    #[cfg(all(target_os = "linux", not(miri)))]
    #[test]
    fn the_report_names_each_pool_and_its_own_command() {
        let pool = |page_size, total, free| HugePagePool {
            page_size,
            total,
            free,
            reserved: 0,
            surplus: 0,
        };
        let info = SystemInfo {
            base_page_size: 4096,
            physical_memory: Some(16 << 30),
            huge_pools: vec![pool(2 << 20, 0, 0), pool(1 << 30, 1, 0)],
            default_huge_page_size: Some(1 << 30),
            thp_mode: Some(ThpMode::Never),
            memlock_limit: Limit::Bytes(8 << 20),
            cap_ipc_lock: Some(false),
            process_locked: Some(0),
            numa_nodes: Vec::new(),
            numa_balancing: None,
            compact_unevictable_allowed: None,
            thp_defrag: None,
        };
        let text = info.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[2],
            "hugetlb    2 MiB  0 pages reserved, 0 free, 0 promised to mappings"
        );
        assert_eq!(
            lines[3],
            "                 -> to reserve 64: echo 64 | sudo tee \
             /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"
        );
        assert_eq!(
            lines[4],
            "hugetlb    1 GiB  1 page reserved, 0 free, 0 promised to mappings (the default size)"
        );
        assert!(
            lines[5].starts_with(
                "                 -> to reserve 1: echo 2 | sudo tee \
                 /sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages (or at boot"
            ),
            "{}",
            lines[5]
        );
        assert!(
            lines[5].contains("`hugepagesz=1G hugepages=2`"),
            "{}",
            lines[5]
        );
        assert!(
            text.contains("`echo madvise | sudo tee /sys/kernel/mm/transparent_hugepage/enabled`"),
            "{text}"
        );
        assert!(!text.contains("/proc/sys/vm/nr_hugepages") && !text.contains(" > /"));
    }

    #[test]
    fn limits_compare_and_print() {
        assert!(Limit::Bytes(10).allows(10));
        assert!(!Limit::Bytes(10).allows(11));
        assert!(Limit::Unknown.allows(u64::MAX));
        assert_eq!(Limit::Bytes(1 << 20).to_string(), "1048576 bytes (1 MiB)");
    }
}
