//! The errors, one family per kind of operation:
//!
//! - [`Error`]: allocation, the operating system and memory control (`alloc`, `mlock`,
//!   `try_collapse`, the reports, and [`Backing`](crate::backing::Backing) methods);
//! - [`KeyError`]: a key that names no value, or the wrong one (`get_disjoint_mut`);
//! - [`InsertAtError`]: a value [`insert_at`](crate::Slab::insert_at) could not place, with
//!   its [`KeyError`];
//! - [`Full`]: a value [`insert`](crate::Slab::insert) could not place (and, without a value,
//!   a [`vacant_entry`](crate::Slab::vacant_entry) that found no slot);
//! - `SnapshotError` (the `serde` feature): a snapshot that could not be restored.
//!
//! Every message is one line, lowercase, without a final period: what happened and, where
//! something outside the program (a limit, a sysctl, a capability) or one call fixes it, the
//! fix — which `hint()` also returns alone. `Debug` shows the fields and the message, so a
//! `main` returning `Result<(), Box<dyn std::error::Error>>` prints the fix too. A cause (an
//! OS error) is in `source()`, never repeated in the message.

use core::fmt;
use core::num::NonZeroU32;
use std::io;

use crate::{backing::HugePageSize, system::Limit};

/// What went wrong with an allocation, the operating system or a memory control, with what to
/// do about it.
///
/// Returned by [`alloc`](crate::Slab::alloc), [`alloc_bytes`](crate::Slab::alloc_bytes),
/// [`with_capacity`](crate::Slab::with_capacity), [`try_clone`](crate::Slab::try_clone),
/// [`mlock`](crate::Slab::mlock), [`munlock`](crate::Slab::munlock),
/// [`try_collapse`](crate::Slab::try_collapse), the reports
/// ([`huge_page_bytes`](crate::Slab::huge_page_bytes),
/// [`locked_bytes`](crate::Slab::locked_bytes), [`numa_bytes`](crate::Slab::numa_bytes)) and
/// the [`Backing`](crate::backing::Backing) methods. A call that returns an `Error` leaves the slab
/// exactly as it was.
///
/// The message ([`Display`](fmt::Display)) says what happened and, where a command or a call
/// fixes it, ends with that fix, which [`hint`](Error::hint) returns alone. `Debug` shows the
/// fields and then the message. An OS error is the [`source`](std::error::Error::source),
/// never part of the message.
///
/// The enum and each variant are `#[non_exhaustive]`: match a variant with `{ .. }`
/// (`Error::MemlockLimit { needed, .. }`, `Error::NotAllocated { .. }`). Only this crate
/// builds them; a custom [`Backing`](crate::backing::Backing) reports its own failures with
/// [`Error::other`].
///
/// ```
/// use nexus_slab::{Error, Slab};
///
/// let mut slab: Slab<u64> = Slab::new();
/// assert!(matches!(slab.alloc(0), Err(Error::ZeroCapacity { .. })));
/// let err = slab.mlock().unwrap_err(); // no memory yet
/// assert!(matches!(err, Error::NotAllocated { .. }));
/// let fix = "call `alloc(n)` first, or build it with `Slab::try_with_capacity(n)`";
/// assert_eq!(err.hint().as_deref(), Some(fix));
/// assert_eq!(err.to_string(), format!("the slab has no memory yet: {fix}"));
///
/// slab.alloc(16).unwrap();
/// let err = slab.alloc(16).unwrap_err();
/// assert!(matches!(err, Error::AlreadyAllocated { capacity, .. } if capacity >= 16));
/// ```
#[non_exhaustive]
pub enum Error {
    /// The slab already owns memory; a slab allocates once and never grows.
    #[non_exhaustive]
    AlreadyAllocated {
        /// Capacity of the existing allocation.
        capacity: usize,
    },

    /// `alloc(0)` or `with_capacity(0)`.
    #[non_exhaustive]
    ZeroCapacity,

    /// More slots than a key can address (slots are linked by 32-bit indices).
    #[non_exhaustive]
    CapacityOverflow {
        /// Slots asked for.
        requested: usize,
        /// The most slots a slab can hold.
        max: usize,
    },

    /// The bytes for the requested slots do not fit in the address space.
    #[non_exhaustive]
    SizeOverflow {
        /// Slots asked for.
        requested: usize,
        /// Bytes per slot.
        slot_size: usize,
    },

    /// More memory than the machine has: a slab must fit in RAM to stay resident.
    #[non_exhaustive]
    ExceedsMemory {
        /// Bytes the allocation needs.
        bytes: usize,
        /// Physical memory of the machine.
        physical: usize,
    },

    /// A byte budget that cannot hold one slot.
    #[non_exhaustive]
    BudgetTooSmall {
        /// The budget given.
        budget: usize,
        /// The smallest `memory_size()` a slab of this type and backing can have.
        minimum: usize,
        /// The page size the backing allocates in.
        granularity: usize,
    },

    /// A memory control or report was asked of a slab that has no memory yet.
    #[non_exhaustive]
    NotAllocated,

    /// Not enough huge pages are reserved for a huge-page allocation. [`hint`](Error::hint):
    /// the command that grows the pool of this page size enough.
    #[non_exhaustive]
    HugePagesUnavailable {
        /// Huge pages the allocation needs.
        needed: usize,
        /// Huge pages free (and not reserved by others) when the allocation failed.
        free: usize,
        /// Huge pages in the pool (`nr_hugepages`) when the allocation failed.
        total: usize,
        /// The size of the pages.
        page_size: HugePageSize,
    },

    /// Locking hit the OS limit on locked memory: `RLIMIT_MEMLOCK` (`mlock`) on Unix, the
    /// process's minimum working-set size (`VirtualLock`) on Windows. [`hint`](Error::hint):
    /// the command that lifts the limit for the shell that starts the program
    /// (`sudo prlimit --memlock=unlimited --pid $$` on Linux; `ulimit -l unlimited` fails
    /// without privilege when the hard limit is as low, as it usually is). Other ways:
    /// `LimitMEMLOCK=infinity` in a systemd unit, a `memlock` line in
    /// /etc/security/limits.conf, or the capability for the binary
    /// (`sudo setcap cap_ipc_lock=ep <binary>`, lost when the binary is rebuilt). In a
    /// container whose capability bounding set lacks `CAP_SYS_RESOURCE`, which raising a hard
    /// limit needs, no process can raise it, `sudo` included: there the hint is to start the
    /// container with `--cap-add IPC_LOCK` or `--ulimit memlock=-1`.
    #[non_exhaustive]
    MemlockLimit {
        /// Bytes that had to be locked.
        needed: usize,
        /// The limit (on Windows, the minimum working-set size).
        limit: Limit,
        /// Bytes this process had locked already, which count against the limit (`VmLck`;
        /// 0 where the platform does not say).
        locked: usize,
    },

    /// A backing's `allocate` returned a region that breaks the [`Backing`](crate::backing::Backing)
    /// contract: shorter or less aligned than asked, running past the end of the address space,
    /// or longer than `isize::MAX` bytes. The slab wrote nothing to it, gave it straight back to
    /// the backing's `release`, and is unchanged.
    #[non_exhaustive]
    BrokenBacking {
        /// Bytes the slab asked for.
        size: usize,
        /// Alignment the slab asked for.
        align: usize,
        /// Address of the region returned.
        addr: usize,
        /// Length of the region returned.
        len: usize,
    },

    /// The process has as many memory mappings as `vm.max_map_count` allows, and `mlock`
    /// needed more: locking part of a mapping splits it (into up to three).
    /// [`hint`](Error::hint): the command that raises the limit.
    #[non_exhaustive]
    MapCountLimit {
        /// Mappings of the process when it failed (`/proc/self/maps`).
        mappings: usize,
        /// `vm.max_map_count`.
        max: usize,
    },

    /// A NUMA placement ([`numa_node`](crate::backing::Mmap::numa_node),
    /// [`numa_preferred`](crate::backing::Mmap::numa_preferred)) named a node the process cannot place
    /// memory on: it does not exist, has no memory, or is outside the process's cpuset.
    /// Nothing was mapped.
    #[non_exhaustive]
    NodeUnavailable {
        /// The node asked for.
        node: usize,
        /// The nodes with memory that this process may use.
        nodes: Box<[usize]>,
    },

    /// A hugetlb slab bound to a NUMA node ([`HugeTlb::numa_node`](crate::backing::HugeTlb::numa_node))
    /// needs more free huge pages than that node's pool has. Nothing was mapped.
    /// [`hint`](Error::hint): the command that grows the node's pool enough.
    #[non_exhaustive]
    NodeHugePagesUnavailable {
        /// The node the slab is bound to.
        node: usize,
        /// Huge pages the allocation needs.
        needed: usize,
        /// Huge pages free on the node (`free_hugepages` of its pool).
        free: usize,
        /// Huge pages in the node's pool (`nr_hugepages`).
        total: usize,
        /// The size of the pages.
        page_size: HugePageSize,
    },

    /// A slab bound to a NUMA node is larger than all of the node's memory. Nothing was
    /// mapped.
    #[non_exhaustive]
    NodeMemory {
        /// The node the slab is bound to.
        node: usize,
        /// Bytes the slab needs.
        bytes: usize,
        /// The node's memory (`MemTotal`).
        node_bytes: usize,
    },

    /// Transparent huge pages are off, so [`try_collapse`](crate::Slab::try_collapse) cannot
    /// work: for the whole system (`never` in `/sys/kernel/mm/transparent_hugepage/enabled`),
    /// or for this process (`prctl(PR_SET_THP_DISABLE)`). [`hint`](Error::hint): the command
    /// or call that turns them on.
    #[non_exhaustive]
    ThpDisabled {
        /// Disabled for this process by `prctl` (set by the program, or inherited from the
        /// process that started it), not for the system.
        process: bool,
    },

    /// The platform (or this kernel, or this region) cannot do what was asked.
    #[non_exhaustive]
    Unsupported {
        /// The operation.
        what: &'static str,
        /// Why.
        reason: Box<str>,
    },

    /// The operating system refused a call. The OS error is the
    /// [`source`](std::error::Error::source); the message says which call failed, what the
    /// error means here and, where there is one, the fix.
    #[non_exhaustive]
    Os {
        /// The call, e.g. `"mmap"`.
        op: &'static str,
        /// The bytes it was asked to act on.
        bytes: usize,
        /// The OS error.
        source: io::Error,
    },

    /// A failure of a custom [`Backing`](crate::backing::Backing), made with [`Error::other`]. Its
    /// message and source are the wrapped error's.
    #[non_exhaustive]
    Other {
        /// The backing's error.
        error: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl Error {
    /// An error of a custom [`Backing`](crate::backing::Backing): its message and source are `error`'s
    /// (anything that converts into a boxed error: a `String`, a `&str`, an error type), and
    /// it matches as [`Error::Other`], where `downcast_ref` gets the error back.
    ///
    /// ```
    /// use nexus_slab::Error;
    ///
    /// let err = Error::other("the arena is exhausted");
    /// assert_eq!(err.to_string(), "the arena is exhausted");
    /// assert!(matches!(err, Error::Other { .. }));
    ///
    /// let io = Error::other(std::io::Error::other("device gone"));
    /// if let Error::Other { error, .. } = &io {
    ///     assert!(error.downcast_ref::<std::io::Error>().is_some());
    /// }
    /// ```
    pub fn other(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Error::Other {
            error: error.into(),
        }
    }

    /// An OS failure of `op` over `bytes`.
    pub(crate) fn os(op: &'static str, bytes: usize, source: io::Error) -> Self {
        Error::Os { op, bytes, source }
    }

    /// `Unsupported` with its reason.
    pub(crate) fn unsupported(what: &'static str, reason: impl Into<Box<str>>) -> Self {
        Error::Unsupported {
            what,
            reason: reason.into(),
        }
    }

    /// The fix alone, as the message ends with it: the command (complete, and working from an
    /// unprivileged shell through `sudo`) or the call that removes the cause; `None` when
    /// nothing outside the failed call would help.
    ///
    /// ```
    /// use nexus_slab::{Error, HugeSlab};
    ///
    /// let mut slab: HugeSlab<u64> = HugeSlab::new();
    /// match slab.alloc(1 << 20) {
    ///     Err(e @ Error::HugePagesUnavailable { .. }) => {
    ///         let fix = e.hint().unwrap(); // run `echo N | sudo tee /sys/kernel/mm/hugepages/…`
    ///         assert!(fix.contains("| sudo tee /sys/kernel/mm/hugepages/hugepages-2048kB/"));
    ///         assert!(e.to_string().ends_with(&fix));
    ///     }
    ///     Err(e) => eprintln!("{e}"),
    ///     Ok(()) => {}
    /// }
    /// ```
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::NotAllocated => Some(ALLOC_FIRST.to_string()),
            Error::HugePagesUnavailable {
                needed,
                free,
                total,
                page_size,
            } => Some(format!(
                "run `{}`",
                pool_command(None, page_size.bytes(), grown(*total, *needed, *free))
            )),
            Error::NodeHugePagesUnavailable {
                node,
                needed,
                free,
                total,
                page_size,
            } => Some(format!(
                "run `{}`",
                pool_command(
                    Some(*node),
                    page_size.bytes(),
                    grown(*total, *needed, *free)
                )
            )),
            Error::MemlockLimit { needed, locked, .. } => Some(memlock_fix(*needed, *locked)),
            Error::MapCountLimit { max, .. } => Some(format!(
                "run `sudo sysctl -w vm.max_map_count={}`",
                max.saturating_mul(2)
            )),
            Error::ThpDisabled { process: false } => Some(
                "run `echo madvise | sudo tee /sys/kernel/mm/transparent_hugepage/enabled`"
                    .to_string(),
            ),
            Error::ThpDisabled { process: true } => {
                Some("call `prctl(PR_SET_THP_DISABLE, 0, 0, 0, 0)` first".to_string())
            }
            Error::Os { op, source, .. } => crate::sys::os_advice(op, source).1.map(str::to_string),
            _ => None,
        }
    }

    /// The message before the fix.
    fn reason(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::AlreadyAllocated { capacity } => write!(
                f,
                "the slab is already allocated ({capacity} slots) and never grows: make a new \
                 slab for another size"
            ),
            Error::ZeroCapacity => f.write_str("a capacity of 0 was asked for: ask for 1 or more"),
            Error::CapacityOverflow { requested, max } => write!(
                f,
                "{requested} slots asked for, but a slab holds at most {max} (keys are 32-bit): \
                 split the data over several slabs"
            ),
            Error::SizeOverflow {
                requested,
                slot_size,
            } => write!(
                f,
                "{requested} slots of {slot_size} bytes do not fit in the address space"
            ),
            Error::ExceedsMemory { bytes, physical } => write!(
                f,
                "{} asked for, but this machine has {} of RAM",
                Size(*bytes),
                Size(*physical)
            ),
            Error::BudgetTooSmall {
                budget, minimum, ..
            } => write!(
                f,
                "a budget of {budget} bytes cannot hold one slot: the smallest slab of this type \
                 takes {minimum} bytes"
            ),
            Error::NotAllocated => f.write_str("the slab has no memory yet"),
            Error::HugePagesUnavailable {
                needed,
                free,
                page_size,
                ..
            } => write!(
                f,
                "not enough {} huge pages: {needed} needed, {free} free",
                Size(page_size.bytes())
            ),
            Error::MemlockLimit {
                needed,
                limit,
                locked,
            } => memlock_reason(f, *needed, *limit, *locked),
            Error::BrokenBacking {
                size,
                align,
                addr,
                len,
            } => write!(
                f,
                "the backing broke its contract: it returned {len} bytes at {addr:#x} for \
                 {size} bytes aligned to {align} ({}); the slab released them unused",
                broken_promise(*size, *align, *addr, *len)
            ),
            Error::MapCountLimit { mappings, max } => write!(
                f,
                "mlock must split a mapping, but the process has {mappings} of the {max} \
                 mappings vm.max_map_count allows"
            ),
            Error::NodeUnavailable { node, nodes } => node_unavailable(f, *node, nodes),
            Error::NodeHugePagesUnavailable {
                node,
                needed,
                free,
                page_size,
                ..
            } => write!(
                f,
                "not enough {} huge pages on NUMA node {node}: {needed} needed, {free} free",
                Size(page_size.bytes())
            ),
            Error::NodeMemory {
                node,
                bytes,
                node_bytes,
            } => write!(
                f,
                "{} cannot be bound to NUMA node {node}, which has {} in all: allocate less, \
                 or use numa_preferred({node})",
                Size(*bytes),
                Size(*node_bytes)
            ),
            Error::ThpDisabled { process: false } => {
                f.write_str("transparent huge pages are off (`never`)")
            }
            Error::ThpDisabled { process: true } => f.write_str(
                "transparent huge pages are disabled for this process (PR_SET_THP_DISABLE)",
            ),
            Error::Unsupported { what, reason } => {
                write!(f, "{what} is not supported here: {reason}")
            }
            Error::Os { op, bytes, source } => {
                write!(f, "{op} of {} failed", Size(*bytes))?;
                match crate::sys::os_advice(op, source).0 {
                    Some(cause) => write!(f, ": {cause}"),
                    None => Ok(()),
                }
            }
            Error::Other { error } => fmt::Display::fmt(error, f),
        }
    }

    /// The variant and its fields, as `derive(Debug)` would write them.
    fn fields(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::AlreadyAllocated { capacity } => f
                .debug_struct("AlreadyAllocated")
                .field("capacity", capacity)
                .finish(),
            Error::ZeroCapacity => f.write_str("ZeroCapacity"),
            Error::CapacityOverflow { requested, max } => f
                .debug_struct("CapacityOverflow")
                .field("requested", requested)
                .field("max", max)
                .finish(),
            Error::SizeOverflow {
                requested,
                slot_size,
            } => f
                .debug_struct("SizeOverflow")
                .field("requested", requested)
                .field("slot_size", slot_size)
                .finish(),
            Error::ExceedsMemory { bytes, physical } => f
                .debug_struct("ExceedsMemory")
                .field("bytes", bytes)
                .field("physical", physical)
                .finish(),
            Error::BudgetTooSmall {
                budget,
                minimum,
                granularity,
            } => f
                .debug_struct("BudgetTooSmall")
                .field("budget", budget)
                .field("minimum", minimum)
                .field("granularity", granularity)
                .finish(),
            Error::NotAllocated => f.write_str("NotAllocated"),
            Error::HugePagesUnavailable {
                needed,
                free,
                total,
                page_size,
            } => f
                .debug_struct("HugePagesUnavailable")
                .field("needed", needed)
                .field("free", free)
                .field("total", total)
                .field("page_size", page_size)
                .finish(),
            Error::MemlockLimit {
                needed,
                limit,
                locked,
            } => f
                .debug_struct("MemlockLimit")
                .field("needed", needed)
                .field("limit", limit)
                .field("locked", locked)
                .finish(),
            Error::BrokenBacking {
                size,
                align,
                addr,
                len,
            } => f
                .debug_struct("BrokenBacking")
                .field("size", size)
                .field("align", align)
                .field("addr", &format_args!("{addr:#x}"))
                .field("len", len)
                .finish(),
            Error::MapCountLimit { mappings, max } => f
                .debug_struct("MapCountLimit")
                .field("mappings", mappings)
                .field("max", max)
                .finish(),
            Error::NodeUnavailable { node, nodes } => f
                .debug_struct("NodeUnavailable")
                .field("node", node)
                .field("nodes", nodes)
                .finish(),
            Error::NodeHugePagesUnavailable {
                node,
                needed,
                free,
                total,
                page_size,
            } => f
                .debug_struct("NodeHugePagesUnavailable")
                .field("node", node)
                .field("needed", needed)
                .field("free", free)
                .field("total", total)
                .field("page_size", page_size)
                .finish(),
            Error::NodeMemory {
                node,
                bytes,
                node_bytes,
            } => f
                .debug_struct("NodeMemory")
                .field("node", node)
                .field("bytes", bytes)
                .field("node_bytes", node_bytes)
                .finish(),
            Error::ThpDisabled { process } => f
                .debug_struct("ThpDisabled")
                .field("process", process)
                .finish(),
            Error::Unsupported { what, reason } => f
                .debug_struct("Unsupported")
                .field("what", what)
                .field("reason", reason)
                .finish(),
            Error::Os { op, bytes, source } => f
                .debug_struct("Os")
                .field("op", op)
                .field("bytes", bytes)
                .field("source", source)
                .finish(),
            Error::Other { error } => f.debug_struct("Other").field("error", error).finish(),
        }
    }
}

/// What the fix for a slab without memory says.
const ALLOC_FIRST: &str = "call `alloc(n)` first, or build it with `Slab::try_with_capacity(n)`";

/// The pool size that covers `needed` pages with `free` of `total` free.
fn grown(total: usize, needed: usize, free: usize) -> usize {
    total.saturating_add(needed.saturating_sub(free))
}

/// The command that sets the pool of `page_size`-byte pages (of `node`, or the machine's) to
/// `total` pages. It names the pool's own file (/proc/sys/vm/nr_hugepages is the default size's
/// alone) and pipes into `sudo tee`, since in `sudo echo N > file` the redirection runs
/// without privilege.
pub(crate) fn pool_command(node: Option<usize>, page_size: usize, total: usize) -> String {
    match node {
        Some(node) => crate::numa::node_pool_command(node, page_size, total),
        None => format!(
            "echo {total} | sudo tee /sys/kernel/mm/hugepages/hugepages-{}kB/nr_hugepages",
            page_size / 1024
        ),
    }
}

fn memlock_reason(
    f: &mut fmt::Formatter<'_>,
    needed: usize,
    limit: Limit,
    locked: usize,
) -> fmt::Result {
    let (call, name) = if cfg!(windows) {
        ("VirtualLock", "the minimum working set")
    } else {
        ("mlock", "RLIMIT_MEMLOCK")
    };
    write!(f, "{call} of {}", Size(needed))?;
    if locked > 0 {
        write!(f, " beside {} already locked", Size(locked))?;
    }
    match limit {
        Limit::Bytes(b) => write!(
            f,
            " exceeds {name} ({})",
            Size(usize::try_from(b).unwrap_or(usize::MAX))
        ),
        Limit::Unlimited => write!(f, " exceeds {name}"),
        _ => write!(f, " exceeds {name} (unknown)"),
    }
}

/// The fix for [`Error::MemlockLimit`]: a limit lifted for the shell that starts the program
/// (`ulimit -l` cannot raise the hard limit without privilege, and the hard limit is usually
/// the same 8 MiB); in a container without CAP_SYS_RESOURCE in its bounding set, where no
/// process can raise a hard limit, the container's flags; on Windows, the working set raised
/// before locking.
fn memlock_fix(needed: usize, locked: usize) -> String {
    if cfg!(windows) {
        // Windows locks at most the minimum working set less a few pages: leave 1 MiB of
        // headroom, and a maximum above the minimum.
        let min = needed
            .saturating_add(locked)
            .saturating_add(1 << 20)
            .next_multiple_of(1 << 20);
        format!(
            "call `SetProcessWorkingSetSize(GetCurrentProcess(), {min}, {})` before locking",
            min.saturating_mul(2)
        )
    } else if cfg!(target_os = "linux") {
        if crate::sys::can_gain_cap_sys_resource() == Some(false) {
            // A container without CAP_SYS_RESOURCE: `sudo prlimit` fails there too.
            "start the container with `--cap-add IPC_LOCK` or `--ulimit memlock=-1`".to_string()
        } else {
            "run `sudo prlimit --memlock=unlimited --pid $$` in the shell that starts the program"
                .to_string()
        }
    } else {
        "run `ulimit -l unlimited` as root in the shell that starts the program".to_string()
    }
}

fn node_unavailable(f: &mut fmt::Formatter<'_>, node: usize, nodes: &[usize]) -> fmt::Result {
    if cfg!(windows) {
        write!(
            f,
            "NUMA node {node} does not exist: the nodes are {}",
            NodeList(nodes)
        )
    } else {
        write!(
            f,
            "NUMA node {node} cannot hold this process's memory (no such node, no memory, or \
             outside the cpuset): the nodes it can use are {}",
            NodeList(nodes)
        )
    }
}

/// Which promise of the [`Backing`](crate::backing::Backing) contract a returned region breaks.
pub(crate) fn broken_promise(size: usize, align: usize, addr: usize, len: usize) -> &'static str {
    if len < size {
        "shorter than asked"
    } else if align != 0 && addr % align != 0 {
        "not aligned as asked"
    } else if addr.checked_add(len).is_none() {
        "running past the end of the address space"
    } else {
        "longer than isize::MAX bytes"
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.reason(f)?;
        match self.hint() {
            Some(hint) => write!(f, ": {hint}"),
            None => Ok(()),
        }
    }
}

impl fmt::Debug for Error {
    /// The variant with its fields, then the message: `MemlockLimit { needed: 8425472, limit:
    /// Bytes(8388608), locked: 0 }: mlock of 8.04 MiB exceeds RLIMIT_MEMLOCK (8 MiB): run …`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fields(f)?;
        write!(f, ": {self}")
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Os { source, .. } => Some(source),
            Error::Other { error } => error.source(),
            _ => None,
        }
    }
}

/// Bytes in binary units, exact to two decimals ("8 MiB", "8.04 MiB", "512 bytes").
pub(crate) struct Size(pub(crate) usize);

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 6] = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB"];
        let mut unit = 0;
        let mut scale = 1u128;
        while unit < UNITS.len() - 1 && self.0 as u128 >= scale * 1024 {
            unit += 1;
            scale *= 1024;
        }
        if unit == 0 {
            return write!(f, "{} bytes", self.0);
        }
        // Hundredths, rounded.
        let hundredths = (self.0 as u128 * 100 + scale / 2) / scale;
        let (whole, frac) = (hundredths / 100, hundredths % 100);
        match frac {
            0 => write!(f, "{whole} {}", UNITS[unit]),
            _ if frac % 10 == 0 => write!(f, "{whole}.{} {}", frac / 10, UNITS[unit]),
            _ => write!(f, "{whole}.{frac:02} {}", UNITS[unit]),
        }
    }
}

/// A node list as the kernel writes one: "0", "0-3,8".
struct NodeList<'a>(&'a [usize]);

impl fmt::Display for NodeList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("none");
        }
        let mut i = 0;
        while i < self.0.len() {
            let start = self.0[i];
            let mut end = start;
            while i + 1 < self.0.len() && self.0[i + 1] == end + 1 {
                i += 1;
                end += 1;
            }
            if start != self.0[0] {
                f.write_str(",")?;
            }
            match end - start {
                0 => write!(f, "{start}")?,
                _ => write!(f, "{start}-{end}")?,
            }
            i += 1;
        }
        Ok(())
    }
}

/// Why a key found no value, or no slot: what [`get_disjoint_mut`](crate::Slab::get_disjoint_mut)
/// returns, and the reason in an [`InsertAtError`].
///
/// `Copy`, `Eq` and `Hash`, and makes no allocation. The enum and its variants are
/// `#[non_exhaustive]`: match with `{ .. }` (`KeyError::Stale { index, .. }`).
///
/// ```
/// use nexus_slab::{GenSlab, KeyError};
///
/// let mut slab: GenSlab<&str> = GenSlab::with_capacity(4);
/// let a = slab.insert("a").unwrap();
/// let b = slab.insert("b").unwrap();
/// assert!(matches!(slab.get_disjoint_mut([a, a]), Err(KeyError::Duplicate { index: 0, .. })));
/// slab.remove(a);
/// let err = slab.get_disjoint_mut([b, a]).unwrap_err();
/// assert!(matches!(err, KeyError::Stale { index: 0, .. }));
/// assert_eq!(err.to_string(), "key 0 is stale: its value was removed");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyError {
    /// The key's slot is beyond the slab's capacity: a key of another slab, or made up. With
    /// `capacity` 0 the slab has no memory yet; [`hint`](KeyError::hint) says what to call.
    #[non_exhaustive]
    OutOfRange {
        /// The key's index.
        index: usize,
        /// Capacity of the slab.
        capacity: usize,
    },

    /// The key's slot holds no value, and nothing says the key ever had one (a plain key
    /// whose value was removed, or a generational key never handed out).
    #[non_exhaustive]
    Vacant {
        /// The key's index.
        index: usize,
    },

    /// A generational key whose value was removed (whether or not its slot holds a later
    /// value now), or one for a retired slot; or, for `insert_at`, a generation not later than
    /// every one the slot has had (it would revive a stale key).
    #[non_exhaustive]
    Stale {
        /// The key's index.
        index: usize,
    },

    /// `insert_at` at a slot that already holds a value.
    #[non_exhaustive]
    Occupied {
        /// The key's index.
        index: usize,
    },

    /// The same slot twice in a request for disjoint references.
    #[non_exhaustive]
    Duplicate {
        /// The repeated index.
        index: usize,
    },
}

impl KeyError {
    /// The index of the key the error is about.
    ///
    /// ```
    /// use nexus_slab::{Key, Slab};
    /// let mut slab: Slab<u8> = Slab::with_capacity(4);
    /// assert_eq!(slab.get_disjoint_mut([Key::new_saturating(3)]).unwrap_err().index(), 3);
    /// ```
    pub const fn index(&self) -> usize {
        match *self {
            KeyError::OutOfRange { index, .. }
            | KeyError::Vacant { index }
            | KeyError::Stale { index }
            | KeyError::Occupied { index }
            | KeyError::Duplicate { index } => index,
        }
    }

    /// The fix alone, as the message ends with it: for a slab with no memory yet, the call to
    /// make first; `None` otherwise (the key itself is wrong).
    ///
    /// ```
    /// use nexus_slab::{Key, Slab};
    /// let mut slab: Slab<u8> = Slab::new();
    /// let err = slab.get_disjoint_mut([Key::new_saturating(0)]).unwrap_err();
    /// assert!(err.hint().unwrap().contains("alloc(n)"));
    /// ```
    pub fn hint(&self) -> Option<String> {
        match self {
            KeyError::OutOfRange { capacity: 0, .. } => Some(ALLOC_FIRST.to_string()),
            _ => None,
        }
    }

    fn reason(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            KeyError::OutOfRange { index, capacity: 0 } => {
                write!(f, "key {index} is out of range: the slab has no memory yet")
            }
            KeyError::OutOfRange { index, capacity } => write!(
                f,
                "key {index} is out of range: the slab has {capacity} slots (a key of another \
                 slab, or made up)"
            ),
            KeyError::Vacant { index } => {
                write!(f, "key {index} names no value: its slot is vacant")
            }
            KeyError::Stale { index } => write!(f, "key {index} is stale: its value was removed"),
            KeyError::Occupied { index } => write!(
                f,
                "slot {index} already holds a value: insert_at fills only a vacant slot"
            ),
            KeyError::Duplicate { index } => write!(
                f,
                "key {index} is given twice: get_disjoint_mut needs distinct keys"
            ),
        }
    }

    fn fields(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            KeyError::OutOfRange { index, capacity } => f
                .debug_struct("OutOfRange")
                .field("index", &index)
                .field("capacity", &capacity)
                .finish(),
            KeyError::Vacant { index } => f.debug_struct("Vacant").field("index", &index).finish(),
            KeyError::Stale { index } => f.debug_struct("Stale").field("index", &index).finish(),
            KeyError::Occupied { index } => {
                f.debug_struct("Occupied").field("index", &index).finish()
            }
            KeyError::Duplicate { index } => {
                f.debug_struct("Duplicate").field("index", &index).finish()
            }
        }
    }
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.reason(f)?;
        match self.hint() {
            Some(hint) => write!(f, ": {hint}"),
            None => Ok(()),
        }
    }
}

impl fmt::Debug for KeyError {
    /// The variant with its fields, then the message: `Stale { index: 0 }: key 0 is stale: …`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fields(f)?;
        write!(f, ": {self}")
    }
}

impl std::error::Error for KeyError {}

/// The value an [`insert`](crate::Slab::insert) could not place, because every slot holds a
/// value (or is lent, on a split slab) or the slab has no memory yet (capacity 0). Without a
/// value (`Full<()>`, the default), what [`vacant_entry`](crate::Slab::vacant_entry) returns
/// for the same reasons.
///
/// Nothing is lost: [`into_inner`](Full::into_inner) gives the value back. `Full<T>` is
/// `Debug`, `Display` and [`std::error::Error`] for every `T`, so `.unwrap()` and `?` into
/// `Box<dyn Error>` work whatever the value type. `anyhow::Error` also needs the error to be
/// `Send + Sync + 'static`, which `Full<T>` is when `T` is; for other values (`Rc`,
/// `Box<dyn Fn()>`, borrowed data) write `.map_err(Full::without_value)?`, which drops the
/// value and keeps the reason.
///
/// On a slab with no memory the message says so, and what to call:
///
/// ```
/// use nexus_slab::Slab;
///
/// let mut slab: Slab<String> = Slab::new(); // no memory yet
/// let err = slab.insert("first".to_string()).unwrap_err();
/// assert_eq!(err.capacity(), 0);
/// let fix = "call `alloc(n)` first, or build it with `Slab::try_with_capacity(n)`";
/// assert_eq!(err.to_string(), format!("the slab has no memory yet: {fix}"));
/// assert_eq!(err.into_inner(), "first");
///
/// let mut slab: Slab<String> = Slab::with_capacity(1);
/// while !slab.is_full() {
///     slab.insert("filler".to_string()).unwrap();
/// }
/// let err = slab.insert("late".to_string()).unwrap_err();
/// assert_eq!(err.to_string(), format!("the slab is full ({} slots)", slab.capacity()));
/// assert_eq!(err.into_inner(), "late");
/// assert_eq!(slab.vacant_entry().unwrap_err().capacity(), slab.capacity());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Full<T = ()> {
    value: T,
    /// The capacity plus one: a slab has at most `u32::MAX - 1` slots, and the zero this
    /// leaves free lets `Result<Key, Full<T>>` be as small as `Full<T>` (`insert` returns it
    /// in registers for small values).
    capacity_1: NonZeroU32,
}

impl<T> Full<T> {
    /// The value an insert into a slab of `capacity` slots handed back (a capacity beyond any
    /// slab's, `u32::MAX - 1`, is taken as that).
    ///
    /// ```
    /// use nexus_slab::Full;
    /// assert_eq!(Full::new(7, 4).capacity(), 4);
    /// ```
    pub const fn new(value: T, capacity: usize) -> Self {
        let c = if capacity < u32::MAX as usize - 1 {
            capacity as u32
        } else {
            u32::MAX - 1
        };
        let capacity_1 = match NonZeroU32::new(c + 1) {
            Some(n) => n,
            None => unreachable!(),
        };
        Full { value, capacity_1 }
    }

    /// Gives back the value that was not inserted.
    ///
    /// ```
    /// use nexus_slab::Full;
    /// assert_eq!(Full::new(7, 4).into_inner(), 7);
    /// ```
    pub fn into_inner(self) -> T {
        self.value
    }

    /// The value that was not inserted, by reference.
    ///
    /// ```
    /// use nexus_slab::Full;
    /// assert_eq!(*Full::new(7, 4).value(), 7);
    /// ```
    pub const fn value(&self) -> &T {
        &self.value
    }

    /// The capacity of the slab that was full (0: it had no memory yet).
    ///
    /// ```
    /// use nexus_slab::Slab;
    /// let mut unallocated: Slab<u8> = Slab::new();
    /// assert_eq!(unallocated.insert(1).unwrap_err().capacity(), 0);
    /// ```
    pub const fn capacity(&self) -> usize {
        (self.capacity_1.get() - 1) as usize
    }

    /// The same error without the value (which is dropped): `Send + Sync + 'static` whatever
    /// `T` is, for `anyhow` and threads.
    ///
    /// ```
    /// use std::rc::Rc;
    /// use nexus_slab::{Full, Slab};
    ///
    /// let mut slab: Slab<Rc<u8>> = Slab::new();
    /// let err: Full = slab.insert(Rc::new(1)).map_err(Full::without_value).unwrap_err();
    /// let _sendable: Box<dyn std::error::Error + Send + Sync> = Box::new(err);
    /// ```
    pub fn without_value(self) -> Full {
        Full {
            value: (),
            capacity_1: self.capacity_1,
        }
    }

    /// The fix alone, as the message ends with it: for a slab with no memory yet, the call to
    /// make first; `None` for a full one.
    ///
    /// ```
    /// use nexus_slab::Slab;
    /// let mut slab: Slab<u8> = Slab::new();
    /// assert!(slab.insert(1).unwrap_err().hint().unwrap().contains("Slab::try_with_capacity(n)"));
    /// ```
    pub fn hint(&self) -> Option<String> {
        (self.capacity() == 0).then(|| ALLOC_FIRST.to_string())
    }
}

impl<T> fmt::Debug for Full<T> {
    /// `Full { capacity: 0, .. }: the slab has no memory yet: call …` (the value is not shown:
    /// `T` need not be `Debug`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Full {{ capacity: {}, .. }}: {self}", self.capacity())
    }
}

impl<T> fmt::Display for Full<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.capacity() {
            0 => write!(f, "the slab has no memory yet: {ALLOC_FIRST}"),
            capacity => write!(f, "the slab is full ({capacity} slots)"),
        }
    }
}

impl<T> std::error::Error for Full<T> {}

/// The value [`insert_at`](crate::Slab::insert_at) could not place, and why (a [`KeyError`]).
///
/// The message is the [`KeyError`]'s; there is no [`source`](std::error::Error::source), so
/// the reason prints once.
///
/// ```
/// use nexus_slab::{Key, KeyError, Slab};
///
/// let mut slab: Slab<&str> = Slab::with_capacity(4);
/// let k = slab.insert("first").unwrap();
/// let err = slab.insert_at(k, "second").unwrap_err();
/// assert!(matches!(err.error(), KeyError::Occupied { index: 0, .. }));
/// assert_eq!(err.to_string(), "slot 0 already holds a value: insert_at fills only a vacant slot");
/// assert_eq!(err.into_inner(), "second");
/// ```
pub struct InsertAtError<T> {
    value: T,
    error: KeyError,
}

impl<T> InsertAtError<T> {
    pub(crate) fn new(value: T, error: KeyError) -> Self {
        InsertAtError { value, error }
    }

    /// Why the value was refused. On a slab with no memory yet, `KeyError::OutOfRange` with
    /// capacity 0.
    ///
    /// ```
    /// use nexus_slab::{Key, KeyError, Slab};
    /// let mut slab: Slab<u8> = Slab::with_capacity(1);
    /// let far = Key::new_saturating(1 << 30);
    /// assert!(matches!(slab.insert_at(far, 1).unwrap_err().error(), KeyError::OutOfRange { .. }));
    ///
    /// let mut empty: Slab<u8> = Slab::new();
    /// let err = empty.insert_at(Key::new_saturating(0), 1).unwrap_err();
    /// assert!(matches!(err.error(), KeyError::OutOfRange { capacity: 0, .. }));
    /// assert!(err.to_string().contains("no memory yet"));
    /// ```
    pub fn error(&self) -> KeyError {
        self.error
    }

    /// Gives back the value.
    ///
    /// ```
    /// use nexus_slab::{Key, Slab};
    /// let mut slab: Slab<u8> = Slab::new();
    /// assert_eq!(slab.insert_at(Key::new_saturating(0), 9).unwrap_err().into_inner(), 9);
    /// ```
    pub fn into_inner(self) -> T {
        self.value
    }

    /// The value and the reason.
    ///
    /// ```
    /// use nexus_slab::{Key, KeyError, Slab};
    /// let mut slab: Slab<u8> = Slab::new();
    /// let (v, e) = slab.insert_at(Key::new_saturating(0), 9).unwrap_err().into_parts();
    /// assert!(matches!((v, e), (9, KeyError::OutOfRange { capacity: 0, .. })));
    /// ```
    pub fn into_parts(self) -> (T, KeyError) {
        (self.value, self.error)
    }

    /// The fix alone, as the message ends with it: [`KeyError::hint`].
    ///
    /// ```
    /// use nexus_slab::{Key, Slab};
    /// let mut slab: Slab<u8> = Slab::new();
    /// assert!(slab.insert_at(Key::new_saturating(0), 9).unwrap_err().hint().is_some());
    /// ```
    pub fn hint(&self) -> Option<String> {
        self.error.hint()
    }
}

impl<T> fmt::Debug for InsertAtError<T> {
    /// `InsertAtError(Occupied { index: 0 }): slot 0 already holds a value: …` (the value is
    /// not shown: `T` need not be `Debug`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InsertAtError(")?;
        self.error.fields(f)?;
        write!(f, "): {}", self.error)
    }
}

impl<T> fmt::Display for InsertAtError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl<T> std::error::Error for InsertAtError<T> {}

impl<T> From<InsertAtError<T>> for KeyError {
    /// The reason; the value is dropped.
    fn from(e: InsertAtError<T>) -> Self {
        e.error
    }
}

/// Checks the rules every error of this crate keeps, and returns its message: one line, no
/// final period, lowercase (a first word in capitals is an acronym or an identifier: `NUMA`,
/// `VirtualLock`); the fix (`hint`) at the end of the message and in `Debug`, which ends with
/// the message; no source's message repeated in the message. For the tests.
#[cfg(test)]
pub(crate) fn check_error(e: &(dyn std::error::Error + 'static), hint: Option<String>) -> String {
    let text = e.to_string();
    let debug = format!("{e:?}");
    assert!(
        !text.is_empty() && !text.contains('\n'),
        "one line: {text:?}"
    );
    assert!(!text.ends_with('.'), "no final period: {text}");
    let first = text.split([' ', ':']).next().unwrap();
    assert!(
        !first.starts_with(|c: char| c.is_ascii_uppercase())
            || first[1..].contains(|c: char| c.is_ascii_uppercase() || c == '_'),
        "lowercase: {text}"
    );
    assert!(
        debug.ends_with(&format!(": {text}")),
        "Debug ends with the message: {debug}"
    );
    if let Some(hint) = hint {
        assert!(!hint.is_empty() && !hint.contains('\n'), "{hint:?}");
        assert!(
            text.ends_with(&format!(": {hint}")),
            "the fix ends the message: {text}"
        );
    }
    let mut source = e.source();
    while let Some(s) = source {
        let inner = s.to_string();
        assert!(
            !text.contains(&inner),
            "the source {inner:?} printed twice: {text}"
        );
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every variant, as this crate makes them: each keeps the rules of [`check_error`], and
    /// its message stays short.
    #[test]
    fn every_error_keeps_the_message_rules() {
        let page_size = HugePageSize::SIZE_2M;
        let errors = vec![
            Error::AlreadyAllocated { capacity: 512 },
            Error::ZeroCapacity,
            Error::CapacityOverflow {
                requested: usize::MAX,
                max: u32::MAX as usize - 1,
            },
            Error::SizeOverflow {
                requested: 1 << 40,
                slot_size: 1 << 40,
            },
            Error::ExceedsMemory {
                bytes: 1 << 50,
                physical: 64 << 30,
            },
            Error::BudgetTooSmall {
                budget: 100,
                minimum: 4096,
                granularity: 4096,
            },
            Error::NotAllocated,
            Error::HugePagesUnavailable {
                needed: 513,
                free: 0,
                total: 0,
                page_size,
            },
            Error::HugePagesUnavailable {
                needed: 3,
                free: 1,
                total: 1,
                page_size: HugePageSize::SIZE_1G,
            },
            Error::MemlockLimit {
                needed: (8 << 20) + (36 << 10),
                limit: Limit::Bytes(8 << 20),
                locked: 0,
            },
            Error::MemlockLimit {
                needed: 6 << 20,
                limit: Limit::Bytes(8 << 20),
                locked: 4 << 20,
            },
            Error::MemlockLimit {
                needed: 4096,
                limit: Limit::Unknown,
                locked: 0,
            },
            Error::BrokenBacking {
                size: 4096,
                align: 64,
                addr: 0x7f00_0000_1000,
                len: 100,
            },
            Error::MapCountLimit {
                mappings: 65_530,
                max: 65_530,
            },
            Error::NodeUnavailable {
                node: 4000,
                nodes: vec![0, 1, 2, 3].into(),
            },
            Error::NodeHugePagesUnavailable {
                node: 1,
                needed: 513,
                free: 2,
                total: 14,
                page_size,
            },
            Error::NodeMemory {
                node: 1,
                bytes: 96 << 30,
                node_bytes: 64 << 30,
            },
            Error::ThpDisabled { process: false },
            Error::ThpDisabled { process: true },
            Error::unsupported(
                "MADV_COLLAPSE",
                "it needs Linux 6.1 or later, and this kernel is 5.15.0",
            ),
            Error::os(
                "mmap",
                64 << 20,
                io::Error::from(io::ErrorKind::OutOfMemory),
            ),
            #[cfg(unix)]
            Error::os("mmap", 64 << 20, io::Error::from_raw_os_error(libc::ENOMEM)),
            #[cfg(unix)]
            Error::os(
                "madvise(MADV_COLLAPSE)",
                4 << 20,
                io::Error::from_raw_os_error(libc::EAGAIN),
            ),
            #[cfg(unix)]
            Error::os(
                "mlock",
                12 << 10,
                io::Error::from_raw_os_error(libc::ENOMEM),
            ),
            #[cfg(unix)]
            Error::os("mbind", 4096, io::Error::from_raw_os_error(libc::EPERM)),
            #[cfg(windows)]
            Error::os(
                "VirtualAlloc(MEM_LARGE_PAGES)",
                2 << 20,
                io::Error::from_raw_os_error(1314),
            ),
            Error::other("the arena is exhausted"),
            Error::other(io::Error::other("device gone")),
        ];
        let mut longest = 0;
        for e in &errors {
            let text = check_error(e, e.hint());
            eprintln!("{:3} {text}", text.len());
            longest = longest.max(text.len());
        }
        assert!(longest <= 180, "a message of {longest} characters");
        // Every command is complete: no placeholder but `$$`, the shell's own pid.
        for e in &errors {
            if let Some(hint) = e.hint() {
                assert!(!hint.contains('<') && !hint.contains("..."), "{hint}");
            }
        }
    }

    #[test]
    fn key_errors_keep_the_message_rules() {
        let errors = [
            KeyError::OutOfRange {
                index: 5,
                capacity: 0,
            },
            KeyError::OutOfRange {
                index: 5000,
                capacity: 512,
            },
            KeyError::Vacant { index: 3 },
            KeyError::Stale { index: 3 },
            KeyError::Occupied { index: 3 },
            KeyError::Duplicate { index: 3 },
        ];
        for e in errors {
            let text = check_error(&e, e.hint());
            eprintln!("{:3} {text}", text.len());
            let with_value = InsertAtError::new(String::from("v"), e);
            assert_eq!(check_error(&with_value, with_value.hint()), text);
            assert_eq!(KeyError::from(with_value), e);
        }
        for full in [Full::new((), 0), Full::new((), 512)] {
            let text = check_error(&full, full.hint());
            eprintln!("{:3} {text}", text.len());
            assert_eq!(
                check_error(&Full::new(vec![1u8], full.capacity()), full.hint()),
                text
            );
        }
    }

    /// A transparent `Other` takes the wrapped error's message and source: printed once.
    #[test]
    fn other_errors_print_their_cause_once() {
        #[derive(Debug)]
        struct Outer(io::Error);
        impl fmt::Display for Outer {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("the arena could not grow")
            }
        }
        impl std::error::Error for Outer {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let e = Error::other(Outer(io::Error::other("device gone")));
        assert_eq!(check_error(&e, e.hint()), "the arena could not grow");
        assert_eq!(
            std::error::Error::source(&e).map(ToString::to_string),
            Some("device gone".to_string())
        );
    }

    #[test]
    fn errors_are_small_and_sendable() {
        fn send_sync<T: Send + Sync + 'static>() {}
        send_sync::<Error>();
        send_sync::<KeyError>();
        send_sync::<Full>();
        // 56 bytes before the split into families; the largest payloads are 32 bytes.
        assert!(size_of::<Error>() <= 40, "{}", size_of::<Error>());
        assert_eq!(size_of::<Result<(), Error>>(), size_of::<Error>());
        assert_eq!(size_of::<KeyError>(), 3 * size_of::<usize>());
        assert_eq!(size_of::<Full>(), 4);
        assert_eq!(size_of::<HugePageSize>(), 1);
    }

    #[test]
    fn sizes_print_exactly_enough() {
        assert_eq!(Size(512).to_string(), "512 bytes");
        assert_eq!(Size(4096).to_string(), "4 KiB");
        assert_eq!(Size(8 << 20).to_string(), "8 MiB");
        assert_eq!(Size((8 << 20) + (36 << 10)).to_string(), "8.04 MiB");
        assert_eq!(Size(3 << 29).to_string(), "1.5 GiB");
        assert_eq!(Size(usize::MAX).to_string(), "16384 PiB");
    }

    #[test]
    fn node_lists_print_as_the_kernel_writes_them() {
        assert_eq!(NodeList(&[]).to_string(), "none");
        assert_eq!(NodeList(&[0]).to_string(), "0");
        assert_eq!(
            NodeList(&[0, 1, 2, 3, 8, 10, 11]).to_string(),
            "0-3,8,10-11"
        );
    }

    /// The Windows message: `VirtualLock` against the minimum working set, and the call that
    /// raises it (no `ulimit`).
    #[test]
    #[cfg(windows)]
    fn the_memlock_message_is_the_windows_one() {
        let e = Error::MemlockLimit {
            needed: 16 << 20,
            limit: Limit::Bytes(200 << 10),
            locked: 0,
        };
        assert_eq!(
            e.to_string(),
            "VirtualLock of 16 MiB exceeds the minimum working set (200 KiB): call \
             `SetProcessWorkingSetSize(GetCurrentProcess(), 17825792, 35651584)` before locking"
        );
    }

    #[test]
    fn broken_promises_are_named() {
        assert_eq!(broken_promise(100, 8, 0x1000, 50), "shorter than asked");
        assert_eq!(broken_promise(100, 8, 0x1001, 100), "not aligned as asked");
        assert_eq!(
            broken_promise(100, 8, usize::MAX - 7, 100),
            "running past the end of the address space"
        );
    }
}
