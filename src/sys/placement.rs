//! Linux: NUMA placement (`mbind`, `move_pages`), isolation from fork and core dumps
//! (`madvise`), and the raw kernel settings the preflight in `info.rs` reports on.
//!
//! No libnuma: the three system calls are made directly, with the constants of the kernel's
//! `include/uapi/linux/mempolicy.h` defined here (older `libc` releases lack them).

use std::fs;
use std::io;
use std::ptr::{self, NonNull};

use libc::{c_int, c_uint, c_ulong, c_void};

use crate::numa::{node_pool_file, NodeHugePool, NumaBytes, NumaNode, NumaPolicy};
use crate::Error;

// include/uapi/linux/mempolicy.h: policy modes (enum, in this order) and mbind flags.
const MPOL_PREFERRED: c_int = 1;
const MPOL_BIND: c_int = 2;
const MPOL_MF_STRICT: c_uint = 1 << 0;
const MPOL_MF_MOVE: c_uint = 1 << 1;

const NODES: &str = "/sys/devices/system/node";

/// Parses a kernel node list ("0", "0-3,8-11"); `None` when it is not one.
pub(crate) fn parse_node_list(s: &str) -> Option<Vec<usize>> {
    let mut nodes = Vec::new();
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((lo, hi)) => {
                let (lo, hi): (usize, usize) = (lo.parse().ok()?, hi.parse().ok()?);
                if hi < lo || hi - lo > 1 << 16 {
                    return None;
                }
                nodes.extend(lo..=hi);
            }
            None => nodes.push(part.parse().ok()?),
        }
    }
    Some(nodes)
}

/// The nodes that have memory (`has_memory`; `online` on kernels without it), or `None` when
/// the kernel has no NUMA support (no `/sys/devices/system/node`).
pub(crate) fn numa_nodes_with_memory() -> Option<Vec<usize>> {
    let list = fs::read_to_string(format!("{NODES}/has_memory"))
        .or_else(|_| fs::read_to_string(format!("{NODES}/online")))
        .ok()?;
    parse_node_list(&list)
}

/// The nodes this process may place memory on: nodes with memory in its cpuset
/// (`Mems_allowed_list` of /proc/self/status).
pub(crate) fn numa_nodes_usable() -> Option<Vec<usize>> {
    let mut nodes = numa_nodes_with_memory()?;
    let allowed = super::procfs::status_value(b"Mems_allowed_list:")
        .and_then(|l| String::from_utf8(l).ok())
        .and_then(|l| parse_node_list(&l));
    if let Some(allowed) = allowed {
        nodes.retain(|n| allowed.contains(n));
    }
    Some(nodes)
}

/// A number from a sysfs or procfs file holding one.
fn read_usize(path: &str) -> Option<usize> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// What the kernel reports about `node`: meminfo and hugetlb pools.
pub(crate) fn numa_node(node: usize) -> NumaNode {
    let meminfo = fs::read_to_string(format!("{NODES}/node{node}/meminfo")).unwrap_or_default();
    // "Node 0 MemTotal:       10839836 kB"
    let field = |name: &str| -> Option<usize> {
        meminfo.lines().find_map(|l| {
            let mut words = l.split_whitespace().skip(2);
            (words.next()? == name).then_some(())?;
            let kb: usize = words.next()?.parse().ok()?;
            Some(kb.saturating_mul(1024))
        })
    };
    // Ascending by page size, as the sizes come.
    let huge_pools: Vec<NodeHugePool> =
        super::linux::page_sizes_in(&format!("{NODES}/node{node}/hugepages"))
            .into_iter()
            .filter_map(|size| node_huge_pool(node, size))
            .collect();
    NumaNode {
        id: node,
        memory_total: field("MemTotal:"),
        memory_free: field("MemFree:"),
        huge_pools,
    }
}

/// Every node with memory, as [`numa_node`] reports it.
pub(crate) fn numa_node_infos() -> Vec<NumaNode> {
    numa_nodes_with_memory()
        .unwrap_or_default()
        .into_iter()
        .map(numa_node)
        .collect()
}

/// `node`'s pool of `page`-byte huge pages, if the kernel has one.
pub(crate) fn node_huge_pool(node: usize, page: usize) -> Option<NodeHugePool> {
    Some(NodeHugePool {
        page_size: page,
        total: read_usize(&node_pool_file(node, page, "nr_hugepages"))?,
        free: read_usize(&node_pool_file(node, page, "free_hugepages"))?,
        surplus: read_usize(&node_pool_file(node, page, "surplus_hugepages")).unwrap_or(0),
    })
}

/// Linux places pages after mapping (`bind`), so nothing is mapped here.
pub(crate) fn map_on_node(
    _len: usize,
    _huge_page: Option<usize>,
    _policy: NumaPolicy,
) -> Result<Option<NonNull<u8>>, Error> {
    Ok(None)
}

/// Why a NUMA system call was refused, for the calls every NUMA kernel has.
fn numa_call_error(op: &'static str, len: usize, err: io::Error) -> Error {
    match err.raw_os_error() {
        Some(libc::ENOSYS) => Error::unsupported(
            "NUMA placement",
            format!("this kernel has no {op} (ENOSYS): it was built without CONFIG_NUMA"),
        ),
        Some(libc::EPERM) => Error::unsupported(
            "NUMA placement",
            format!(
                "a seccomp filter refuses {op} (EPERM): Docker allows the NUMA calls with \
                 `docker run --cap-add SYS_NICE`"
            ),
        ),
        _ => Error::os(op, len, err),
    }
}

/// Applies `policy` to `[ptr, ptr + len)` with `mbind`. Pages already faulted in are moved
/// (`MPOL_MF_MOVE`); a strict binding fails (`MPOL_MF_STRICT`) if one cannot be.
pub(crate) fn bind(ptr: *mut u8, len: usize, policy: NumaPolicy) -> Result<(), Error> {
    let node = policy.node();
    let bits = c_ulong::BITS as usize;
    let mut mask: Vec<c_ulong> = vec![0; node / bits + 1];
    mask[node / bits] |= 1 << (node % bits);
    // The kernel reads `maxnode - 1` bits of the mask.
    let maxnode = (mask.len() * bits + 1) as c_ulong;
    let (mode, flags) = match policy {
        NumaPolicy::Bind(_) => (MPOL_BIND, MPOL_MF_STRICT | MPOL_MF_MOVE),
        NumaPolicy::Preferred(_) => (MPOL_PREFERRED, MPOL_MF_MOVE),
    };
    // SAFETY: mbind reads `mask` (`maxnode - 1` bits, inside the vector) and changes only the
    // memory policy of the caller's range; it reads and writes no memory of the range.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mbind,
            ptr as c_ulong,
            len as c_ulong,
            mode as c_ulong,
            mask.as_ptr(),
            maxnode,
            flags as c_ulong,
        )
    };
    if rc == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        // The node is outside the nodes with memory, or outside the cpuset.
        Some(libc::EINVAL) => Err(Error::NodeUnavailable {
            node,
            nodes: numa_nodes_usable().unwrap_or_default().into(),
        }),
        _ => Err(numa_call_error("mbind", len, err)),
    }
}

/// Advises `[ptr, ptr + len)` out of forked children (`MADV_DONTFORK`) and/or out of core dumps
/// (`MADV_DONTDUMP`).
pub(crate) fn exclude(ptr: *mut u8, len: usize, fork: bool, dump: bool) -> Result<(), Error> {
    for (wanted, advice, op) in [
        (fork, libc::MADV_DONTFORK, "madvise(MADV_DONTFORK)"),
        (dump, libc::MADV_DONTDUMP, "madvise(MADV_DONTDUMP)"),
    ] {
        // SAFETY: both advices only set a flag on the caller's whole-page range; no contents
        // change.
        if wanted && unsafe { libc::madvise(ptr.cast(), len, advice) } != 0 {
            return Err(Error::os(op, len, io::Error::last_os_error()));
        }
    }
    Ok(())
}

/// Bytes of `[ptr, ptr + len)` per NUMA node, one `move_pages` query (no move: `nodes` null)
/// per page of `step` bytes (the base page when `step` is not a larger aligned power of two).
/// Pages not resident are on no node and not counted.
pub(crate) fn numa_bytes(ptr: *mut u8, len: usize, step: usize) -> Result<NumaBytes, Error> {
    const BATCH: usize = 512;
    let base = super::page_size();
    let start = ptr as usize;
    let end = start.saturating_add(len);
    let step = if step > base && step.is_power_of_two() && start % step == 0 {
        step
    } else {
        base
    };
    let mut per_node: Vec<usize> = Vec::new();
    let mut addrs = [ptr::null_mut::<c_void>(); BATCH];
    let mut status = [0 as c_int; BATCH];
    let mut at = start - start % step;
    while at < end {
        let n = ((end - at).div_ceil(step)).min(BATCH);
        for (i, a) in addrs[..n].iter_mut().enumerate() {
            *a = (at + i * step) as *mut c_void;
        }
        // SAFETY: `addrs` and `status` hold `n` entries; with `nodes` null, move_pages only
        // reports the node of each page into `status` and moves nothing.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_move_pages,
                0 as c_int,
                n as c_ulong,
                addrs.as_ptr(),
                ptr::null::<c_int>(),
                status.as_mut_ptr(),
                0 as c_int,
            )
        };
        if rc < 0 {
            return Err(numa_call_error(
                "move_pages",
                len,
                io::Error::last_os_error(),
            ));
        }
        for (i, &node) in status[..n].iter().enumerate() {
            // A negative status is an errno: -ENOENT for a page not resident, -EFAULT ...
            if let Ok(node) = usize::try_from(node) {
                let lo = at + i * step;
                let bytes = (lo + step).min(end) - lo.max(start);
                if per_node.len() <= node {
                    per_node.resize(node + 1, 0);
                }
                per_node[node] += bytes;
            }
        }
        at += n * step;
    }
    Ok(NumaBytes::from_pairs(per_node.into_iter().enumerate()))
}

/// `kernel.numa_balancing` (/proc/sys/kernel/numa_balancing): 0 off, 1 on, 2 memory tiering,
/// 3 both; `None` on kernels built without it.
pub(crate) fn numa_balancing() -> Option<u32> {
    fs::read_to_string("/proc/sys/kernel/numa_balancing")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// `vm.compact_unevictable_allowed` (/proc/sys/vm/compact_unevictable_allowed).
pub(crate) fn compact_unevictable_allowed() -> Option<u32> {
    fs::read_to_string("/proc/sys/vm/compact_unevictable_allowed")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The bracketed word of /sys/kernel/mm/transparent_hugepage/defrag.
pub(crate) fn thp_defrag() -> Option<String> {
    let s = fs::read_to_string("/sys/kernel/mm/transparent_hugepage/defrag").ok()?;
    let start = s.find('[')? + 1;
    let end = s[start..].find(']')? + start;
    Some(s[start..end].to_string())
}

/// Bytes this process has locked now (`VmLck` of /proc/self/status).
pub(crate) fn locked_now() -> Option<usize> {
    super::procfs::status_bytes(b"VmLck:")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_lists_parse() {
        assert_eq!(parse_node_list("0\n"), Some(vec![0]));
        assert_eq!(parse_node_list("0-2,5"), Some(vec![0, 1, 2, 5]));
        assert_eq!(parse_node_list(""), Some(vec![]));
        assert_eq!(parse_node_list("2-1"), None);
        assert_eq!(parse_node_list("x"), None);
    }
}
