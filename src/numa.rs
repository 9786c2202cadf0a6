//! NUMA vocabulary: where a backing places its pages ([`NumaPolicy`]), where a slab's pages
//! are ([`NumaBytes`]), and what each node holds ([`NumaNode`], for [`SystemInfo`]).
//!
//! [`SystemInfo`]: crate::system::SystemInfo

use core::fmt;

use crate::info::Bytes;

/// Where a backing puts its pages on a machine with several NUMA nodes (sockets).
///
/// Set it with [`Mmap::numa_node`](crate::backing::Mmap::numa_node) (strict) or
/// [`Mmap::numa_preferred`](crate::backing::Mmap::numa_preferred), and the same on
/// [`HugeTlb`](crate::backing::HugeTlb). On Linux the policy is applied to the fresh mapping with
/// `mbind` *before* it is prefaulted: only pages not yet faulted in follow a new policy, so the
/// backing is the one place that can do it.
///
/// ```
/// use nexus_slab::{backing::Mmap, system::NumaPolicy};
/// assert_eq!(Mmap::new().numa_node(0).numa(), Some(NumaPolicy::Bind(0)));
/// assert_eq!(NumaPolicy::Preferred(1).node(), 1);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NumaPolicy {
    /// Every page on this node and no other (`MPOL_BIND`): `alloc` fails with a typed error
    /// rather than place a page elsewhere.
    Bind(usize),
    /// Pages on this node while it has room, on others after that (`MPOL_PREFERRED`).
    Preferred(usize),
}

impl NumaPolicy {
    /// The node the policy names.
    ///
    /// ```
    /// assert_eq!(nexus_slab::system::NumaPolicy::Bind(3).node(), 3);
    /// ```
    pub const fn node(self) -> usize {
        match self {
            NumaPolicy::Bind(n) | NumaPolicy::Preferred(n) => n,
        }
    }

    /// Whether the policy forbids other nodes.
    ///
    /// ```
    /// use nexus_slab::system::NumaPolicy;
    /// assert!(NumaPolicy::Bind(0).is_strict());
    /// assert!(!NumaPolicy::Preferred(0).is_strict());
    /// ```
    pub const fn is_strict(self) -> bool {
        matches!(self, NumaPolicy::Bind(_))
    }
}

/// Where a slab's resident pages are: bytes per NUMA node, as the kernel reports them for each
/// page ([`Slab::numa_bytes`](crate::Slab::numa_bytes)).
///
/// Pages that are not resident (a lazy slab before first touch) are on no node and not counted,
/// so [`resident`](NumaBytes::resident) can be less than the slab's `memory_size()`.
///
/// ```
/// use nexus_slab::Slab;
///
/// let slab: Slab<u64> = Slab::with_capacity(1000);
/// if let Ok(placed) = slab.numa_bytes() {
///     // Prefaulted: every byte is resident somewhere.
///     assert_eq!(placed.resident(), slab.memory_size());
///     println!("{placed}"); // e.g. "node 0: 8 KiB"
/// }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NumaBytes {
    /// (node, bytes), ascending by node, no zero entries.
    nodes: Vec<(usize, usize)>,
}

impl NumaBytes {
    /// Builds the report from (node, bytes) pairs in any order; pairs for the same node add up.
    ///
    /// ```
    /// use nexus_slab::system::NumaBytes;
    /// let b = NumaBytes::from_pairs([(1, 4096), (0, 8192), (1, 4096)]);
    /// assert_eq!(b.nodes(), &[(0, 8192), (1, 8192)]);
    /// ```
    pub fn from_pairs(pairs: impl IntoIterator<Item = (usize, usize)>) -> Self {
        let mut nodes: Vec<(usize, usize)> = Vec::new();
        for (node, bytes) in pairs {
            if bytes == 0 {
                continue;
            }
            match nodes.binary_search_by_key(&node, |&(n, _)| n) {
                Ok(i) => nodes[i].1 += bytes,
                Err(i) => nodes.insert(i, (node, bytes)),
            }
        }
        NumaBytes { nodes }
    }

    /// (node, bytes) for every node that holds some of the slab, ascending by node.
    ///
    /// ```
    /// use nexus_slab::system::NumaBytes;
    /// assert!(NumaBytes::default().nodes().is_empty());
    /// ```
    pub fn nodes(&self) -> &[(usize, usize)] {
        &self.nodes
    }

    /// Bytes on `node`.
    ///
    /// ```
    /// use nexus_slab::system::NumaBytes;
    /// let b = NumaBytes::from_pairs([(0, 4096)]);
    /// assert_eq!((b.on_node(0), b.on_node(1)), (4096, 0));
    /// ```
    pub fn on_node(&self, node: usize) -> usize {
        self.nodes
            .iter()
            .find(|&&(n, _)| n == node)
            .map_or(0, |&(_, b)| b)
    }

    /// Resident bytes in all: the sum over the nodes.
    ///
    /// ```
    /// use nexus_slab::system::NumaBytes;
    /// assert_eq!(NumaBytes::from_pairs([(0, 4096), (1, 4096)]).resident(), 8192);
    /// ```
    pub fn resident(&self) -> usize {
        self.nodes.iter().map(|&(_, b)| b).sum()
    }
}

impl fmt::Display for NumaBytes {
    /// ```
    /// use nexus_slab::system::NumaBytes;
    /// let b = NumaBytes::from_pairs([(0, 2 << 20), (1, 4096)]);
    /// assert_eq!(b.to_string(), "node 0: 2 MiB, node 1: 4 KiB");
    /// assert_eq!(NumaBytes::default().to_string(), "no resident page");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.nodes.is_empty() {
            return f.write_str("no resident page");
        }
        for (i, &(node, bytes)) in self.nodes.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "node {node}: {}", Bytes(bytes))?;
        }
        Ok(())
    }
}

/// The hugetlb pool of one page size on one NUMA node
/// (`/sys/devices/system/node/node<N>/hugepages/hugepages-<size>kB`).
///
/// The kernel keeps no per-node count of reserved pages: reservations are machine-wide
/// ([`HugePagePool::reserved`](crate::system::HugePagePool::reserved)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct NodeHugePool {
    /// Bytes per page.
    pub page_size: usize,
    /// Pages in the node's pool (`nr_hugepages`).
    pub total: usize,
    /// Pages of the node's pool that no one has faulted in (`free_hugepages`), pages promised
    /// to mappings included.
    pub free: usize,
    /// Surplus pages on the node (`surplus_hugepages`).
    pub surplus: usize,
}

/// One NUMA node with memory, as the kernel reports it (`/sys/devices/system/node/node<N>`).
///
/// ```
/// for node in &nexus_slab::system::SystemInfo::probe().numa_nodes {
///     println!("node {}: {:?} bytes free", node.id, node.memory_free);
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct NumaNode {
    /// The node number (`N` of `node<N>`), as `numa_node(N)` takes it.
    pub id: usize,
    /// `MemTotal` of the node's meminfo, if readable.
    pub memory_total: Option<usize>,
    /// `MemFree` of the node's meminfo (on Windows, `GetNumaAvailableMemoryNodeEx`), if known.
    pub memory_free: Option<usize>,
    /// The node's hugetlb pools, smallest pages first.
    pub huge_pools: Vec<NodeHugePool>,
}

impl NumaNode {
    /// The node's pool of `page_size`-byte huge pages, if the kernel has one.
    ///
    /// ```
    /// let info = nexus_slab::system::SystemInfo::probe();
    /// if let Some(node) = info.numa_nodes.first() {
    ///     let _two_mib = node.pool(2 << 20);
    /// }
    /// ```
    pub fn pool(&self, page_size: usize) -> Option<&NodeHugePool> {
        self.huge_pools.iter().find(|p| p.page_size == page_size)
    }

    /// The command that grows this node's pool of `page_size`-byte pages by `pages` pages
    /// (`echo N | sudo tee /sys/devices/system/node/node<id>/hugepages/...`).
    ///
    /// ```
    /// let info = nexus_slab::system::SystemInfo::probe();
    /// if let Some(node) = info.numa_nodes.first().filter(|n| n.pool(2 << 20).is_some()) {
    ///     let cmd = node.reserve_command(2 << 20, 4);
    ///     assert!(cmd.contains("sudo tee") && cmd.contains(&format!("node{}", node.id)));
    /// }
    /// ```
    pub fn reserve_command(&self, page_size: usize, pages: usize) -> String {
        let total = self.pool(page_size).map_or(0, |p| p.total);
        node_pool_command(self.id, page_size, total + pages)
    }
}

/// The sysfs file of `node`'s pool of `page_size`-byte huge pages.
pub(crate) fn node_pool_file(node: usize, page_size: usize, file: &str) -> String {
    format!(
        "/sys/devices/system/node/node{node}/hugepages/hugepages-{}kB/{file}",
        page_size / 1024
    )
}

/// The command that sets `node`'s pool of `page_size`-byte pages to `total` pages.
pub(crate) fn node_pool_command(node: usize, page_size: usize, total: usize) -> String {
    format!(
        "echo {total} | sudo tee {}",
        node_pool_file(node, page_size, "nr_hugepages")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numa_bytes_merge_sort_and_drop_zeroes() {
        let b = NumaBytes::from_pairs([(2, 0), (1, 10), (0, 5), (1, 1)]);
        assert_eq!(b.nodes(), &[(0, 5), (1, 11)]);
        assert_eq!(b.resident(), 16);
        assert_eq!(b.on_node(2), 0);
    }

    #[test]
    fn node_pool_command_names_the_node_file() {
        assert_eq!(
            node_pool_command(1, 2 << 20, 8),
            "echo 8 | sudo tee /sys/devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages"
        );
    }
}
