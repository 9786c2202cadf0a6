//! Proofs, from the kernel's own accounting, that placement and isolation do what they claim
//! (issue 13): `/proc/self/numa_maps` and two per-page witnesses (`get_mempolicy` here,
//! `move_pages` inside the crate) for NUMA binding, smaps `VmFlags` for `MADV_DONTFORK` (`dc`)
//! and `MADV_DONTDUMP` (`dd`), `/proc/self/pagemap` frames and `ru_minflt` across a `fork()`,
//! and each preflight field against the file it was read from.
//!
//! This machine class has one NUMA node, so "another node" is exercised as the node that does
//! not exist. A proof this machine cannot run (no reserved huge pages, no privilege) is listed
//! as NOT RUN after the test summary, and fails instead under NEXUS_SLAB_REQUIRE_HUGEPAGES=1
//! (`common::skip`).
#![cfg(all(target_os = "linux", not(miri)))]

mod common;

use std::fs;
use std::sync::{Mutex, MutexGuard};

use common::kernel::*;
use common::skip::{have_huge_pages, not_run};
use nexus_slab::{
    backing::{Backing, HugePageSize, HugeTlb, Locked, Mmap},
    system::{NumaPolicy, SystemInfo},
    Error, Slab,
};

const MIB: usize = 1 << 20;
const HUGE_2M: usize = 2 << 20;

// include/uapi/linux/mempolicy.h
const MPOL_PREFERRED: i32 = 1;
const MPOL_BIND: i32 = 2;
const MPOL_F_NODE: libc::c_ulong = 1 << 0;
const MPOL_F_ADDR: libc::c_ulong = 1 << 1;
/// The mode flags get_mempolicy may OR into the mode (MPOL_F_STATIC_NODES ...).
const MPOL_MODE_FLAGS: i32 = (1 << 15) | (1 << 14) | (1 << 13);

/// Huge-page pools and the process's mappings are shared: one test at a time.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// The start of a slab's region: the address of the first value inserted into it when empty.
fn region_start<B: Backing>(slab: &mut Slab<u64, B>) -> usize {
    assert!(slab.is_empty());
    let k = slab.insert(0).unwrap();
    let addr = slab.get(k).unwrap() as *const u64 as usize;
    slab.remove(k);
    addr
}

/// One line of /proc/self/numa_maps.
#[derive(Debug)]
struct NumaMap {
    start: usize,
    policy: String,
    /// (node, pages) of the `N<node>=<pages>` fields.
    nodes: Vec<(usize, usize)>,
    page_kib: usize,
    huge: bool,
}

/// The numa_maps lines of the mappings that start inside `[start, end)`.
fn numa_maps(start: usize, end: usize) -> Vec<NumaMap> {
    proc_text("/proc/self/numa_maps")
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let addr = usize::from_str_radix(words.next()?, 16).ok()?;
            if addr < start || addr >= end {
                return None;
            }
            let policy = words.next()?.to_string();
            let mut map = NumaMap {
                start: addr,
                policy,
                nodes: Vec::new(),
                page_kib: 4,
                huge: false,
            };
            for w in words {
                if w == "huge" {
                    map.huge = true;
                } else if let Some(kb) = w.strip_prefix("kernelpagesize_kB=") {
                    map.page_kib = kb.parse().ok()?;
                } else if let Some((n, pages)) = w.strip_prefix('N').and_then(|r| r.split_once('='))
                {
                    map.nodes.push((n.parse().ok()?, pages.parse().ok()?));
                }
            }
            Some(map)
        })
        .collect()
}

/// The /proc/self/numa_maps line covering `addr` as text, for the report.
fn numa_maps_line(addr: usize) -> String {
    let maps = proc_text("/proc/self/maps");
    let start = maps
        .lines()
        .find_map(|l| {
            let (lo, hi) = l.split_whitespace().next()?.split_once('-')?;
            let (lo, hi) = (
                usize::from_str_radix(lo, 16).ok()?,
                usize::from_str_radix(hi, 16).ok()?,
            );
            (lo <= addr && addr < hi).then_some(lo)
        })
        .unwrap();
    proc_text("/proc/self/numa_maps")
        .lines()
        .find(|l| l.starts_with(&format!("{start:x} ")))
        .unwrap()
        .to_string()
}

/// The node of the page at `addr`, per get_mempolicy(MPOL_F_NODE | MPOL_F_ADDR).
fn node_of_page(addr: usize) -> i32 {
    let mut node: libc::c_int = -1;
    // SAFETY: `node` is a valid out-pointer; no nodemask is asked for; the page is ours.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_get_mempolicy,
            &mut node as *mut libc::c_int,
            std::ptr::null_mut::<libc::c_ulong>(),
            0 as libc::c_ulong,
            addr as libc::c_ulong,
            MPOL_F_NODE | MPOL_F_ADDR,
        )
    };
    assert_eq!(rc, 0, "get_mempolicy: {}", std::io::Error::last_os_error());
    node
}

/// The policy of the mapping at `addr` (mode, first word of the node mask), per
/// get_mempolicy(MPOL_F_ADDR).
fn policy_at(addr: usize) -> (i32, u64) {
    let mut mode: libc::c_int = -1;
    let mut mask = [0 as libc::c_ulong; 16];
    // SAFETY: both are valid out-pointers; the mask holds 16 * 64 bits, and 1024 + 1 is passed
    // (the kernel reads maxnode - 1 bits).
    let rc = unsafe {
        libc::syscall(
            libc::SYS_get_mempolicy,
            &mut mode as *mut libc::c_int,
            mask.as_mut_ptr(),
            (mask.len() * 64 + 1) as libc::c_ulong,
            addr as libc::c_ulong,
            MPOL_F_ADDR,
        )
    };
    assert_eq!(rc, 0, "get_mempolicy: {}", std::io::Error::last_os_error());
    (mode & !MPOL_MODE_FLAGS, mask[0])
}

/// A slab of `n` u64 on `backing`, allocated.
fn with_capacity_in<B: Backing>(n: usize, backing: B) -> Slab<u64, B> {
    let mut slab = Slab::new_in(backing);
    slab.alloc(n).unwrap();
    slab
}

/// Checks a slab placed on node 0 against numa_maps and both per-page witnesses; returns the
/// numa_maps line of its first mapping.
fn check_on_node_0<B: Backing>(name: &str, slab: &mut Slab<u64, B>, policy: &str) -> String {
    let start = region_start(slab);
    let size = slab.memory_size();
    let end = start + size;
    let maps = numa_maps(start, end);
    let line = numa_maps_line(start);
    eprintln!("{name}: {size} bytes; numa_maps: {line}");
    // The region is its own mapping (or mappings), each with the policy and all pages on N0.
    assert_eq!(maps.first().map(|m| m.start), Some(start), "{maps:?}");
    let mut on_0 = 0;
    for m in &maps {
        assert_eq!(m.policy, policy, "{m:?}");
        assert!(m.nodes.iter().all(|&(n, _)| n == 0), "{m:?}");
        on_0 += m.nodes.iter().map(|&(_, p)| p).sum::<usize>() * m.page_kib * 1024;
    }
    assert_eq!(on_0, size, "numa_maps: every page of {name} on N0");

    // Witness 1: the crate's report (move_pages, nodes = NULL).
    let report = slab.numa_bytes().unwrap();
    assert_eq!(report.nodes(), &[(0, size)], "{name}: {report}");
    // Witness 2: get_mempolicy, page by page (every base page, even of a huge page).
    let mut per_page_on_0 = 0;
    for page in (start..end).step_by(page_size()) {
        if node_of_page(page) == 0 {
            per_page_on_0 += page_size();
        }
    }
    assert_eq!(
        per_page_on_0,
        report.on_node(0),
        "{name}: get_mempolicy agrees"
    );
    // And the policy the kernel holds for the mapping.
    let (mode, mask) = policy_at(start);
    let want = if policy.starts_with("bind") {
        MPOL_BIND
    } else {
        MPOL_PREFERRED
    };
    assert_eq!(
        (mode, mask),
        (want, 1),
        "{name}: get_mempolicy(MPOL_F_ADDR)"
    );
    line
}

#[test]
fn numa_node_0_binds_every_page_there() {
    let _g = serial();
    let mut small: Slab<u64, Mmap> = Slab::new_in(Mmap::new().numa_node(0));
    small.alloc_bytes(MIB).unwrap();
    check_on_node_0("Mmap::new().numa_node(0), 1 MiB", &mut small, "bind:0");

    // 16 MiB: advised MADV_HUGEPAGE too, so (THP on) bound huge pages.
    let mut big: Slab<u64, Mmap> = Slab::new_in(Mmap::new().numa_node(0));
    big.alloc_bytes(16 * MIB).unwrap();
    check_on_node_0("Mmap::new().numa_node(0), 16 MiB", &mut big, "bind:0");
    eprintln!(
        "  of which on huge pages: {}",
        big.huge_page_bytes().unwrap()
    );

    let mut locked: Slab<u64, Locked<Mmap>> = Slab::new_in(Locked::<Mmap>::default().numa_node(0));
    locked.alloc_bytes(MIB).unwrap();
    check_on_node_0("Locked<Mmap>.numa_node(0)", &mut locked, "bind:0");
    assert_eq!(locked.locked_bytes().unwrap(), locked.memory_size());

    let mut preferred: Slab<u64, Mmap> = Slab::new_in(Mmap::new().numa_preferred(0));
    preferred.alloc_bytes(MIB).unwrap();
    check_on_node_0("Mmap::new().numa_preferred(0)", &mut preferred, "prefer:0");

    // The control: without placement the mapping keeps the default policy.
    let mut plain: Slab<u64, Mmap> = Slab::new_in(Mmap::new());
    plain.alloc_bytes(MIB).unwrap();
    let start = region_start(&mut plain);
    let line = numa_maps_line(start);
    eprintln!("Mmap::new() (control): numa_maps: {line}");
    assert!(line.split_whitespace().nth(1) == Some("default"), "{line}");
    assert_eq!(policy_at(start).0, 0, "MPOL_DEFAULT");
}

/// Mappings in /proc/self/maps exactly `len` bytes long.
fn mappings_of_len(len: usize) -> usize {
    proc_text("/proc/self/maps")
        .lines()
        .filter(|l| {
            let Some((lo, hi)) = l.split_whitespace().next().and_then(|r| r.split_once('-')) else {
                return false;
            };
            let lo = usize::from_str_radix(lo, 16).unwrap();
            let hi = usize::from_str_radix(hi, 16).unwrap();
            hi - lo == len
        })
        .count()
}

/// The nodes this process could bind to: has_memory, narrowed by Mems_allowed_list.
fn usable_nodes() -> Vec<usize> {
    let has = fs::read_to_string("/sys/devices/system/node/has_memory").unwrap();
    let parse = |s: &str| -> Vec<usize> {
        s.trim()
            .split(',')
            .flat_map(|p| match p.split_once('-') {
                Some((a, b)) => (a.parse().unwrap()..=b.parse().unwrap()).collect::<Vec<_>>(),
                None => vec![p.parse().unwrap()],
            })
            .collect()
    };
    let allowed = proc_text("/proc/self/status")
        .lines()
        .find_map(|l| l.strip_prefix("Mems_allowed_list:").map(parse))
        .unwrap();
    parse(&has)
        .into_iter()
        .filter(|n| allowed.contains(n))
        .collect()
}

#[test]
fn a_node_that_does_not_exist_is_a_typed_error_that_maps_nothing() {
    let _g = serial();
    let nodes = usable_nodes();
    let missing = (0..).find(|n| !nodes.contains(n)).unwrap();
    // 41 pages: a length no other mapping of this test has.
    let len_41 = 41 * page_size();
    let before = mappings_of_len(len_41);
    for backing in [
        Mmap::new().numa_node(missing),
        Mmap::new().numa_preferred(missing),
    ] {
        let mut slab: Slab<[u8; 64], Mmap> = Slab::new_in(backing);
        let err = slab.alloc_bytes(len_41).unwrap_err();
        let msg = err.to_string();
        eprintln!("{:?}: {msg}", slab.backing().numa());
        match &err {
            Error::NodeUnavailable {
                node, nodes: named, ..
            } => {
                assert_eq!(*node, missing);
                assert_eq!(&named[..], &nodes[..], "names the nodes there are");
            }
            other => panic!("expected NodeUnavailable, got {other:?}"),
        }
        assert!(msg.starts_with(&format!("NUMA node {missing} ")), "{msg}");
        // The nodes as the kernel lists them ("0", "0-3"): contiguous here.
        let listed = match nodes.as_slice() {
            [one] => one.to_string(),
            [first, .., last] if last - first + 1 == nodes.len() => format!("{first}-{last}"),
            _ => String::new(),
        };
        assert!(
            msg.ends_with(&format!("the nodes it can use are {listed}")),
            "{msg}"
        );
        assert_eq!((slab.capacity(), slab.memory_size()), (0, 0));
        assert_eq!(mappings_of_len(len_41), before, "nothing stays mapped");
    }
    // The witness can tell: the same request on a node that exists maps exactly such a region.
    let mut ok: Slab<[u8; 64], Mmap> = Slab::new_in(Mmap::new().numa_node(nodes[0]));
    ok.alloc_bytes(len_41).unwrap();
    assert_eq!(ok.memory_size(), len_41);
    assert_eq!(mappings_of_len(len_41), before + 1);

    // Through Locked, and on hugetlb (checked before any page is taken).
    let pool0 = huge_free_rsvd(HUGE_2M);
    let huge0 = hugetlb_mappings();
    let mut locked: Slab<u64, Locked<HugeTlb>> =
        Slab::new_in(Locked::new(HugeTlb::default()).numa_node(missing));
    let err = locked.alloc_bytes(HUGE_2M).unwrap_err();
    assert!(
        matches!(&err, Error::NodeUnavailable { node, .. } if *node == missing),
        "{err:?}"
    );
    assert_eq!(
        huge_free_rsvd(HUGE_2M),
        pool0,
        "no huge page taken or reserved"
    );
    assert_eq!(hugetlb_mappings(), huge0);
    assert_eq!(locked.capacity(), 0);
}

/// A node's 2 MiB pool file.
fn node_pool(node: usize, file: &str) -> String {
    format!("/sys/devices/system/node/node{node}/hugepages/hugepages-2048kB/{file}")
}

fn read_num(path: &str) -> usize {
    fs::read_to_string(path).unwrap().trim().parse().unwrap()
}

/// Puts a sysfs or procfs value back when dropped.
struct Restore {
    path: String,
    old: String,
}

impl Drop for Restore {
    fn drop(&mut self) {
        let _ = fs::write(&self.path, &self.old);
    }
}

#[test]
fn hugetlb_bound_to_a_short_node_is_a_typed_error_whose_command_works() {
    let _g = serial();
    let node = usable_nodes()[0];
    let free = read_num(&node_pool(node, "free_hugepages"));
    let total = read_num(&node_pool(node, "nr_hugepages"));
    let needed = free + 2;
    let pool0 = huge_free_rsvd(HUGE_2M);
    let huge0 = hugetlb_mappings();
    let mut slab: Slab<u64, HugeTlb> = Slab::new_in(HugeTlb::default().numa_node(node));
    let err = slab.alloc_bytes(needed * HUGE_2M).unwrap_err();
    let msg = err.to_string();
    eprintln!("node {node} pool: {free} free of {total}; {needed} pages asked: {msg}");
    let fix = match &err {
        Error::NodeHugePagesUnavailable {
            node: n,
            needed: want,
            free: got,
            total: t,
            page_size,
            ..
        } => {
            assert_eq!(
                (*n, *want, *got, *t, *page_size),
                (node, needed, free, total, HugePageSize::SIZE_2M)
            );
            err.hint().unwrap()
        }
        other => panic!("expected NodeHugePagesUnavailable, got {other:?}"),
    };
    let file = node_pool(node, "nr_hugepages");
    assert_eq!(fix, format!("run `echo {} | sudo tee {file}`", total + 2));
    assert!(msg.ends_with(&fix), "{msg}");
    assert_eq!(huge_free_rsvd(HUGE_2M), pool0, "no page taken or reserved");
    assert_eq!(hugetlb_mappings(), huge0, "nothing stays mapped");
    assert_eq!(slab.capacity(), 0);

    // The command works: run it (as root), and the same request succeeds on that node.
    let restore = Restore {
        path: file.clone(),
        old: fs::read_to_string(&file).unwrap(),
    };
    if fs::write(&file, format!("{}\n", total + 2)).is_err() {
        not_run(
            &format!("running the fix itself: writing {file} needs root"),
            "run the tests as root",
        );
        return;
    }
    if read_num(&node_pool(node, "free_hugepages")) < needed {
        not_run(
            &format!("the kernel could not grow node {node}'s pool by 2 pages (fragmented memory)"),
            "echo 1 | sudo tee /proc/sys/vm/compact_memory, then run the tests again",
        );
        return;
    }
    let mut slab: Slab<u64, HugeTlb> = Slab::new_in(HugeTlb::default().numa_node(node));
    slab.alloc_bytes(needed * HUGE_2M).unwrap();
    let placed = slab.numa_bytes().unwrap();
    let line = check_on_node_0_huge(&mut slab, node);
    eprintln!("after `{fix}`: {placed}; numa_maps: {line}");
    assert_eq!(
        read_num(&node_pool(node, "free_hugepages")),
        free + 2 - needed
    );
    drop(slab);
    drop(restore);
    assert_eq!(read_num(&file), total, "pool restored");
}

/// numa_maps of a hugetlb slab bound to `node`: `bind:<node>`, `huge`, every page on the node.
fn check_on_node_0_huge(slab: &mut Slab<u64, HugeTlb>, node: usize) -> String {
    let start = region_start(slab);
    let size = slab.memory_size();
    let maps = numa_maps(start, start + size);
    assert_eq!(maps.len(), 1, "{maps:?}");
    let m = &maps[0];
    assert_eq!(m.policy, format!("bind:{node}"));
    assert!(m.huge && m.page_kib == 2048, "{m:?}");
    assert_eq!(m.nodes, vec![(node, size / HUGE_2M)]);
    assert_eq!(slab.numa_bytes().unwrap().nodes(), &[(node, size)]);
    let per_page: usize = (start..start + size)
        .step_by(page_size())
        .filter(|&p| node_of_page(p) == node as i32)
        .count()
        * page_size();
    assert_eq!(per_page, size, "get_mempolicy agrees");
    numa_maps_line(start)
}

#[test]
fn hugetlb_bound_to_node_0_takes_its_pages_from_node_0s_pool() {
    let _g = serial(); // first: a test holding pages would make the check below fail
    if !have_huge_pages(HUGE_2M, 4) {
        return;
    }
    let node = usable_nodes()[0];
    let node_free0 = read_num(&node_pool(node, "free_hugepages"));
    let (free0, rsvd0) = huge_free_rsvd(HUGE_2M).unwrap();
    let mut slab: Slab<u64, HugeTlb> =
        Slab::new_in(HugeTlb::new(HugePageSize::SIZE_2M).numa_node(node));
    slab.alloc_bytes(4 * HUGE_2M).unwrap();
    let line = check_on_node_0_huge(&mut slab, node);
    let node_free1 = read_num(&node_pool(node, "free_hugepages"));
    eprintln!(
        "HugeTlb 2 MiB .numa_node({node}), 8 MiB: node {node} free_hugepages {node_free0} -> \
         {node_free1}; numa_maps: {line}"
    );
    assert_eq!(
        node_free0 - node_free1,
        4,
        "the node's own pool gave the pages"
    );
    assert_eq!(huge_free_rsvd(HUGE_2M).unwrap(), (free0 - 4, rsvd0));
    drop(slab);
    assert_eq!(read_num(&node_pool(node, "free_hugepages")), node_free0);

    let mut pref: Slab<u64, Locked<HugeTlb>> =
        Slab::new_in(Locked::new(HugeTlb::default()).numa_preferred(node));
    pref.alloc_bytes(2 * HUGE_2M).unwrap();
    let start = region_start(&mut pref);
    let line = numa_maps_line(start);
    eprintln!("Locked<HugeTlb>.numa_preferred({node}): numa_maps: {line}");
    assert!(line.contains(&format!(" prefer:{node} ")), "{line}");
    assert_eq!(pref.numa_bytes().unwrap().nodes(), &[(node, 2 * HUGE_2M)]);
}

/// The VmFlags of the mappings over `[start, start + len)`, each as a list.
fn vm_flags(start: usize, len: usize) -> Vec<Vec<String>> {
    smaps_vmas(start, len)
        .into_iter()
        .map(|v| v.flags)
        .collect()
}

fn check_flags<B: Backing>(name: &str, mut slab: Slab<u64, B>, fork: bool, dump: bool) {
    let start = region_start(&mut slab);
    let flags = vm_flags(start, slab.memory_size());
    eprintln!("{name}: VmFlags {flags:?}");
    assert!(!flags.is_empty());
    for f in &flags {
        assert_eq!(f.iter().any(|x| x == "dc"), fork, "{name}: dc");
        assert_eq!(f.iter().any(|x| x == "dd"), dump, "{name}: dd");
    }
}

#[test]
fn dont_fork_and_dont_dump_show_in_vmflags_only_when_asked() {
    let _g = serial();
    for (fork, dump) in [(false, false), (true, false), (false, true), (true, true)] {
        let opts = |mut m: Mmap| {
            if fork {
                m = m.exclude_from_fork();
            }
            if dump {
                m = m.exclude_from_dumps();
            }
            m
        };
        let slab = with_capacity_in(100, opts(Mmap::new()));
        check_flags(&format!("Mmap 8 KiB {fork}/{dump}"), slab, fork, dump);
        let mut big: Slab<u64, Mmap> = Slab::new_in(opts(Mmap::new()));
        big.alloc_bytes(4 * MIB).unwrap();
        check_flags(&format!("Mmap 4 MiB {fork}/{dump}"), big, fork, dump);
        let locked = with_capacity_in(100, Locked::new(opts(Mmap::new())));
        check_flags(&format!("Locked<Mmap> {fork}/{dump}"), locked, fork, dump);
    }
    if have_huge_pages(HUGE_2M, 1) {
        let slab = with_capacity_in(
            100,
            HugeTlb::default().exclude_from_fork().exclude_from_dumps(),
        );
        check_flags("HugeTlb dont_fork dont_dump", slab, true, true);
        let slab = with_capacity_in(100, Locked::new(HugeTlb::default()).exclude_from_dumps());
        check_flags("Locked<HugeTlb> dont_dump", slab, false, true);
    }
}

/// Physical frame numbers of the pages of `[start, start + len)` (/proc/self/pagemap bits 0-54;
/// 0 when the process may not see them, i.e. without CAP_SYS_ADMIN).
fn frames(start: usize, len: usize) -> Vec<u64> {
    use std::os::unix::fs::FileExt;
    let f = fs::File::open("/proc/self/pagemap").unwrap();
    let mut buf = vec![0u8; len / page_size() * 8];
    f.read_exact_at(&mut buf, (start / page_size() * 8) as u64)
        .unwrap();
    buf.chunks_exact(8)
        .map(|e| {
            let e = u64::from_ne_bytes(e.try_into().unwrap());
            assert_eq!(e >> 63, 1, "page not present");
            e & ((1 << 55) - 1)
        })
        .collect()
}

/// Whether a process's /proc/<pid>/maps has a mapping over any byte of `[start, end)`.
fn maps_cover(pid: libc::pid_t, start: usize, end: usize) -> bool {
    proc_text(&format!("/proc/{pid}/maps")).lines().any(|l| {
        let (lo, hi) = l
            .split_whitespace()
            .next()
            .unwrap()
            .split_once('-')
            .unwrap();
        let lo = usize::from_str_radix(lo, 16).unwrap();
        let hi = usize::from_str_radix(hi, 16).unwrap();
        lo < end && start < hi
    })
}

struct ForkOutcome {
    pages: usize,
    written_pages: usize,
    changed_frames: usize,
    faults: i64,
    child_maps_slab: bool,
    child_saw_mapping: bool,
    frames_visible: bool,
}

/// A locked 1 MiB slab (too small for THP), filled; a child forked and kept alive; the parent
/// writes every value. What the kernel shows.
fn fork_then_write(dont_fork: bool) -> ForkOutcome {
    let backing = if dont_fork {
        Locked::<Mmap>::default().exclude_from_fork()
    } else {
        Locked::<Mmap>::default()
    };
    let mut slab: Slab<u64, Locked<Mmap>> = Slab::new_in(backing);
    slab.alloc_bytes(MIB).unwrap();
    let start = region_start(&mut slab);
    let size = slab.memory_size();
    while slab.insert(7).is_ok() {}
    let mut written: Vec<usize> = slab
        .values()
        .map(|v| v as *const u64 as usize / page_size())
        .collect();
    written.dedup();
    let before = frames(start, size);

    let mut incore = vec![0u8; size / page_size()];
    let mut fds = [0; 2];
    // SAFETY: `fds` is a valid out-array of two descriptors.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: the child only makes async-signal-safe system calls (read, mincore, _exit) on
    // memory it has (its copy of `incore`), and never touches the slab.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: see above; `incore` has one byte per page of the range.
        unsafe {
            let mut b = 0u8;
            libc::read(fds[0], (&mut b as *mut u8).cast(), 1);
            // mincore fails with ENOMEM when the range is not mapped.
            let rc = libc::mincore(start as *mut libc::c_void, size, incore.as_mut_ptr());
            libc::_exit(if rc == 0 { 1 } else { 0 });
        }
    }
    assert!(pid > 0, "fork failed");
    let child_maps_slab = maps_cover(pid, start, start + size);
    let faults0 = thread_minflt();
    for v in slab.values_mut() {
        *v += 1;
    }
    let faults = thread_minflt() - faults0;
    let after = frames(start, size);
    let mut status = 0;
    // SAFETY: wakes the child, then reaps it.
    unsafe {
        libc::write(fds[1], b"x".as_ptr().cast(), 1);
        assert_eq!(libc::waitpid(pid, &mut status, 0), pid);
        libc::close(fds[0]);
        libc::close(fds[1]);
    }
    assert!(libc::WIFEXITED(status), "child: {status:#x}");
    assert!(slab.values().all(|&v| v == 8));
    ForkOutcome {
        pages: size / page_size(),
        written_pages: written.len(),
        changed_frames: before.iter().zip(&after).filter(|(a, b)| a != b).count(),
        faults,
        child_maps_slab,
        child_saw_mapping: libc::WEXITSTATUS(status) == 1,
        frames_visible: before.iter().all(|&f| f != 0),
    }
}

#[test]
fn a_dont_fork_locked_slab_keeps_its_frames_and_takes_no_fault_after_fork() {
    let _g = serial();
    let isolated = fork_then_write(true);
    let shared = fork_then_write(false);
    for (name, o) in [("dont_fork", &isolated), ("default", &shared)] {
        eprintln!(
            "Locked<Mmap> 1 MiB, {name}: after fork() the parent wrote {} of {} pages: {} minor \
             faults, {} frames changed{}; child maps the slab: {} (/proc/<pid>/maps), {} \
             (mincore in the child)",
            o.written_pages,
            o.pages,
            o.faults,
            o.changed_frames,
            if o.frames_visible {
                ""
            } else {
                " (frames not visible without CAP_SYS_ADMIN)"
            },
            o.child_maps_slab,
            o.child_saw_mapping
        );
    }
    assert!(
        isolated.written_pages * 10 >= isolated.pages * 9,
        "the values cover the slab"
    );
    assert_eq!(isolated.faults, 0, "no copy-on-write fault");
    assert!(!isolated.child_maps_slab && !isolated.child_saw_mapping);
    // The control: copy-on-write, a fault per page written.
    assert!(
        shared.faults >= shared.written_pages as i64,
        "{}",
        shared.faults
    );
    assert!(shared.child_maps_slab && shared.child_saw_mapping);
    if isolated.frames_visible && shared.frames_visible {
        assert_eq!(isolated.changed_frames, 0, "every page kept its frame");
        assert_eq!(
            shared.changed_frames, shared.written_pages,
            "each written page moved"
        );
    } else {
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        assert!(!root, "root (CAP_SYS_ADMIN) must see the frames");
        not_run(
            "its frame comparison needs CAP_SYS_ADMIN to read page frame numbers",
            "run the tests as root",
        );
    }
}

/// The bracketed word of a sysfs mode file.
fn bracketed(path: &str) -> String {
    let s = fs::read_to_string(path).unwrap();
    let a = s.find('[').unwrap() + 1;
    let b = s[a..].find(']').unwrap() + a;
    s[a..b].to_string()
}

#[test]
fn every_preflight_item_matches_its_file() {
    let _g = serial();
    let info = SystemInfo::probe();
    let items = info.preflight();
    let item = |setting: &str| items.iter().find(|i| i.setting == setting);
    eprintln!("{info}");

    let numa = fs::read_to_string("/proc/sys/kernel/numa_balancing").ok();
    let numa: Option<u32> = numa.map(|s| s.trim().parse().unwrap());
    assert_eq!(info.numa_balancing, numa);
    if let Some(v) = numa {
        let i = item("kernel.numa_balancing").unwrap();
        assert_eq!(
            (i.value.as_str(), i.at_risk),
            (v.to_string().as_str(), v != 0)
        );
        assert_eq!(i.file, "/proc/sys/kernel/numa_balancing");
        assert_eq!(i.fix, "sudo sysctl -w kernel.numa_balancing=0");
    }

    let cua = fs::read_to_string("/proc/sys/vm/compact_unevictable_allowed").unwrap();
    let cua: u32 = cua.trim().parse().unwrap();
    assert_eq!(info.compact_unevictable_allowed, Some(cua));
    let i = item("vm.compact_unevictable_allowed").unwrap();
    assert_eq!((i.value.clone(), i.at_risk), (cua.to_string(), cua == 1));
    assert_eq!(i.fix, "sudo sysctl -w vm.compact_unevictable_allowed=0");
    assert!(i.risk.contains("locked"));

    let defrag = bracketed("/sys/kernel/mm/transparent_hugepage/defrag");
    assert_eq!(info.thp_defrag.as_deref(), Some(defrag.as_str()));
    let i = item("THP defrag").unwrap();
    assert_eq!(
        (i.value.clone(), i.at_risk),
        (defrag.clone(), defrag == "always")
    );
    assert!(i
        .fix
        .contains("| sudo tee /sys/kernel/mm/transparent_hugepage/defrag"));

    let ids: Vec<usize> = info.numa_nodes.iter().map(|n| n.id).collect();
    let has = fs::read_to_string("/sys/devices/system/node/has_memory").unwrap();
    let has_list: Vec<String> = ids.iter().map(|n| n.to_string()).collect();
    assert!(!ids.is_empty());
    let i = item("NUMA nodes with memory").unwrap();
    let word = if ids.len() == 1 { "node" } else { "nodes" };
    assert_eq!(
        i.value,
        format!("{} ({word} {})", ids.len(), has_list.join(","))
    );
    assert_eq!(i.at_risk, ids.len() > 1);
    assert!(
        has.trim() == has_list.join(",") || has.contains('-'),
        "{has} vs {}",
        i.value
    );
    for node in &info.numa_nodes {
        let meminfo =
            fs::read_to_string(format!("/sys/devices/system/node/node{}/meminfo", node.id))
                .unwrap();
        let total_kb: usize = meminfo
            .lines()
            .find(|l| l.contains("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(3))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(node.memory_total, Some(total_kb * 1024));
        assert!(node.memory_free.unwrap() <= node.memory_total.unwrap());
        for pool in &node.huge_pools {
            let dir = format!(
                "/sys/devices/system/node/node{}/hugepages/hugepages-{}kB",
                node.id,
                pool.page_size / 1024
            );
            assert_eq!(pool.total, read_num(&format!("{dir}/nr_hugepages")));
            assert_eq!(pool.free, read_num(&format!("{dir}/free_hugepages")));
            assert_eq!(pool.surplus, read_num(&format!("{dir}/surplus_hugepages")));
        }
        if cfg!(target_arch = "x86_64") {
            assert!(
                node.pool(HUGE_2M).is_some(),
                "x86-64: a 2 MiB pool per node"
            );
        }
    }
    // The report prints each item, with the fix for those at risk.
    let text = info.to_string();
    for i in &items {
        assert!(
            text.contains(&format!("{} = {}", i.setting, i.value)),
            "{text}"
        );
        assert_eq!(text.contains(&i.fix), i.at_risk, "{}: {text}", i.setting);
    }
    assert_eq!(info.process_locked, Some(status_bytes("VmLck")));
}

#[test]
fn clones_and_debug_keep_the_options() {
    let m = Mmap::new()
        .numa_node(0)
        .exclude_from_fork()
        .exclude_from_dumps();
    let c = nexus_slab::backing::CloneBacking::clone_backing(&m);
    assert_eq!(c.numa(), Some(NumaPolicy::Bind(0)));
    assert!(c.excluded_from_fork() && c.excluded_from_dumps());
    let h = Locked::new(HugeTlb::default())
        .numa_preferred(0)
        .exclude_from_dumps();
    let hc = nexus_slab::backing::CloneBacking::clone_backing(&h);
    assert_eq!(hc.inner().numa(), Some(NumaPolicy::Preferred(0)));
    assert!(hc.inner().excluded_from_dumps() && !hc.inner().excluded_from_fork());
    assert!(format!("{m:?}").contains("Bind(0)"));

    // try_clone of a placed slab is placed the same way.
    let _g = serial();
    let mut slab: Slab<u64, Mmap> = Slab::new_in(m);
    slab.alloc(1000).unwrap();
    slab.insert(1).unwrap();
    let mut copy = slab.try_clone().unwrap();
    let start = region_start_nonempty(&mut copy);
    let flags = vm_flags(start, copy.memory_size());
    assert!(
        flags.iter().all(|f| f.iter().any(|x| x == "dc")),
        "{flags:?}"
    );
    assert_eq!(
        copy.numa_bytes().unwrap().nodes(),
        &[(0, copy.memory_size())]
    );
    assert!(numa_maps_line(start).contains(" bind:0 "));
}

/// The address of the first value of a slab whose first slot is taken.
fn region_start_nonempty<B: Backing>(slab: &mut Slab<u64, B>) -> usize {
    let k = slab.keys().next().unwrap();
    slab.get(k).unwrap() as *const u64 as usize
}
