//! Errors: [`Error`] for everything that can fail, [`Full`] for an insert into a full slab.

use core::fmt;
use core::num::NonZeroU32;
use std::io;

/// Everything that can go wrong in `nexus-slab`, with what to do about it.
///
/// Every message says what happened and, where the fix is outside the program (a limit, a
/// sysctl, a capability), the command that changes it. A call that returns an `Error` leaves the
/// slab exactly as it was.
///
/// ```
/// use nexus_slab::{Error, Slab};
///
/// let mut slab: Slab<u64> = Slab::new();
/// assert!(matches!(slab.alloc(0), Err(Error::ZeroCapacity)));
/// slab.alloc(16).unwrap();
/// let err = slab.alloc(16).unwrap_err();
/// assert!(matches!(err, Error::AlreadyAllocated { .. }));
/// assert!(err.to_string().contains("already allocated"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The slab already owns memory; a slab allocates once.
    #[error(
        "the slab is already allocated (capacity {capacity}); a slab allocates once and never \
         grows: create a new Slab for a different size"
    )]
    AlreadyAllocated {
        /// Capacity of the existing allocation.
        capacity: usize,
    },

    /// `alloc(0)` or `with_capacity(0)`.
    #[error("a capacity of 0 was requested; ask for at least one slot")]
    ZeroCapacity,

    /// More slots than a key can address (slots are linked by 32-bit indices).
    #[error(
        "{requested} slots requested, but a slab holds at most {max} slots (keys are 32-bit \
         indices); split the data over several slabs"
    )]
    CapacityOverflow {
        /// Slots asked for.
        requested: usize,
        /// The most slots a slab can hold.
        max: usize,
    },

    /// The bytes for the requested slots do not fit in the address space.
    #[error(
        "{requested} slots of {slot_size} bytes do not fit in the address space \
         (the size overflows usize); ask for fewer slots"
    )]
    SizeOverflow {
        /// Slots asked for.
        requested: usize,
        /// Bytes per slot.
        slot_size: usize,
    },

    /// More memory than the machine has: a slab must fit in RAM to stay resident.
    #[error(
        "{bytes} bytes requested, but this machine has {physical} bytes of RAM; a slab is meant \
         to stay resident, so ask for fewer slots (or split the data over several machines)"
    )]
    ExceedsMemory {
        /// Bytes the allocation needs.
        bytes: usize,
        /// Physical memory of the machine.
        physical: usize,
    },

    /// A byte budget that cannot hold one slot.
    #[error(
        "a budget of {budget} bytes cannot hold one slot: the smallest slab of this type takes \
         {minimum} bytes (whole pages of {granularity} bytes); raise the budget to at least {minimum}"
    )]
    BudgetTooSmall {
        /// The budget given.
        budget: usize,
        /// The smallest `memory_size()` a slab of this type and backing can have.
        minimum: usize,
        /// The page size the backing allocates in.
        granularity: usize,
    },

    /// A memory operation was asked of a slab that has no memory yet.
    #[error(
        "the slab has no memory yet; call alloc(n), alloc_bytes(max) or with_capacity(n) first"
    )]
    NotAllocated,

    /// No vacant slot is left.
    #[error("the slab is full (capacity {capacity}); remove a value or allocate a larger slab")]
    Full {
        /// Capacity of the slab.
        capacity: usize,
    },

    /// A key beyond the slab's capacity (foreign, or made up).
    #[error("key {index} is out of range: this slab has {capacity} slots")]
    KeyOutOfRange {
        /// The key's index.
        index: usize,
        /// Capacity of the slab.
        capacity: usize,
    },

    /// A key that names no value: its slot is vacant, or (generational keys) the key was never
    /// handed out.
    #[error(
        "key {index} names no value: its slot is vacant, or the key was never handed out by \
         this slab"
    )]
    VacantKey {
        /// The key's index.
        index: usize,
    },

    /// A generational key whose value was removed (its slot is vacant or holds a later
    /// value).
    #[error(
        "key for slot {index} is stale: its value was removed (the slot may hold a later value \
         now); keys are valid only until their value is removed"
    )]
    StaleKey {
        /// The key's index.
        index: usize,
    },

    /// A saved slab (a snapshot being deserialised) that no slab could have written.
    #[error("the saved slab is corrupt: {what}; it was not restored")]
    Corrupt {
        /// What is impossible about it.
        what: String,
    },

    /// A snapshot being deserialised declares a slab larger than the restore may allocate: over
    /// the restore's byte limit (`RestoreLimits` of the `serde` feature; 32 MiB for the plain
    /// `Deserialize`) or, on a backing of base pages, over the memory available now. Refused
    /// before the backing was asked for anything.
    #[error("{}", snapshot_too_large(*.capacity, *.bytes, *.limit, *.available))]
    SnapshotTooLarge {
        /// Slots the snapshot declares.
        capacity: usize,
        /// Bytes the slab would take: its `memory_size()`, the slots rounded up to whole pages
        /// of the backing.
        bytes: usize,
        /// The restore's limit in bytes (`RestoreLimits::max_bytes`).
        limit: usize,
        /// The memory available now (`MemAvailable` of /proc/meminfo on Linux) when that, not
        /// the limit, refused the snapshot; `None` when the limit did.
        available: Option<usize>,
    },

    /// A key whose slot already holds a value, given to `insert_at`.
    #[error("key {index} already holds a value; insert_at fills only a vacant slot")]
    Occupied {
        /// The key's index.
        index: usize,
    },

    /// The same key twice in a request for disjoint references.
    #[error("key {index} appears more than once; get_disjoint_mut needs distinct keys")]
    DuplicateKey {
        /// The repeated index.
        index: usize,
    },

    /// Not enough huge pages are reserved for a huge-page allocation.
    #[error(
        "not enough huge pages of {}: {needed} needed, {free} free in the pool; grow the pool \
         with `{fix}`",
        crate::info::Bytes(.page_kib * 1024)
    )]
    HugePagesUnavailable {
        /// Huge pages the allocation needs.
        needed: usize,
        /// Huge pages free (and not reserved by others) when the allocation failed.
        free: usize,
        /// Size of one huge page in KiB.
        page_kib: usize,
        /// The command that grows the pool of this page size enough, as root:
        /// `echo N | sudo tee /sys/kernel/mm/hugepages/hugepages-<size>kB/nr_hugepages`.
        fix: String,
    },

    /// Locking hit the OS limit on locked memory: `RLIMIT_MEMLOCK` (`mlock`) on Unix, the
    /// process's working-set size (`VirtualLock`) on Windows.
    #[cfg_attr(
        not(windows),
        error(
            "mlock of {needed} bytes exceeds RLIMIT_MEMLOCK ({limit}); raise the limit \
             (`ulimit -l unlimited` in the shell that starts the program, or a `memlock` line in \
             /etc/security/limits.conf, or LimitMEMLOCK= in a systemd unit) or run with \
             CAP_IPC_LOCK (e.g. `sudo setcap cap_ipc_lock=ep <binary>`)"
        )
    )]
    #[cfg_attr(
        windows,
        error(
            "VirtualLock of {needed} bytes exceeds what the process working set allows ({limit}); \
             Windows locks at most the minimum working-set size, less a few pages: raise it \
             before locking with SetProcessWorkingSetSize(GetCurrentProcess(), min, max), the \
             minimum above the bytes to lock plus some headroom and the maximum above the minimum"
        )
    )]
    MemlockLimit {
        /// Bytes that had to be locked.
        needed: usize,
        /// The limit, as text: bytes, or "unlimited" (on Windows, the working-set sizes).
        limit: String,
    },

    /// A backing's `allocate` returned a region that breaks the [`Backing`](crate::Backing)
    /// contract: shorter or less aligned than asked, running past the end of the address space,
    /// or longer than `isize::MAX` bytes. The slab wrote nothing to it, gave it straight back to
    /// the backing's `release`, and is unchanged.
    #[error(
        "the backing broke its contract: asked for {size} bytes aligned to {align}, it returned \
         {len} bytes at {addr:#x}, {problem}; the slab gave the region back to the backing's \
         release and is unchanged: fix the backing's allocate"
    )]
    BrokenBacking {
        /// Bytes the slab asked for.
        size: usize,
        /// Alignment the slab asked for.
        align: usize,
        /// Address of the region returned.
        addr: usize,
        /// Length of the region returned.
        len: usize,
        /// Which promise it breaks.
        problem: &'static str,
    },

    /// The process has as many memory mappings as `vm.max_map_count` allows, and the call
    /// needed more: `mlock` of part of a mapping splits it (into up to three).
    #[error(
        "{op} needs to split a memory mapping, but this process has {mappings} mappings and \
         vm.max_map_count is {max}; raise the limit (`sudo sysctl -w vm.max_map_count={}`, or \
         `echo {} | sudo tee /proc/sys/vm/max_map_count`) or make fewer mappings",
        .max.saturating_mul(2),
        .max.saturating_mul(2)
    )]
    MapCountLimit {
        /// The call, e.g. `"mlock"`.
        op: &'static str,
        /// Mappings of the process when it failed (`/proc/self/maps`).
        mappings: usize,
        /// `vm.max_map_count`.
        max: usize,
    },

    /// A NUMA placement ([`numa_node`](crate::Mmap::numa_node),
    /// [`numa_preferred`](crate::Mmap::numa_preferred)) named a node the process cannot place
    /// memory on: it does not exist, has no memory, or is outside the process's cpuset.
    /// Nothing was mapped.
    #[cfg_attr(
        not(windows),
        error(
            "NUMA node {node} cannot hold this process's memory: it does not exist, has no \
             memory, or is outside the process's cpuset; the nodes it can use are {nodes:?} \
             (/sys/devices/system/node/has_memory, narrowed by Mems_allowed_list in \
             /proc/self/status): place the slab on one of those (`numactl --hardware` shows \
             their sizes and distances)"
        )
    )]
    #[cfg_attr(
        windows,
        error(
            "NUMA node {node} does not exist: the nodes are {nodes:?} (0 to \
             GetNumaHighestNodeNumber): place the slab on one of those"
        )
    )]
    NumaNode {
        /// The node asked for.
        node: usize,
        /// The nodes with memory that this process may use.
        nodes: Vec<usize>,
    },

    /// A hugetlb slab bound to a NUMA node ([`HugeTlb::numa_node`](crate::HugeTlb::numa_node))
    /// needs more free huge pages than that node's pool has. Nothing was mapped.
    #[error(
        "not enough huge pages on NUMA node {node}: {needed} pages of {page_kib} KiB are \
         needed, {free} are free in that node's pool; reserve them on the node with `{fix}`, \
         or let pages come from other nodes with numa_preferred({node})"
    )]
    NodeHugePagesUnavailable {
        /// The node the slab is bound to.
        node: usize,
        /// Huge pages the allocation needs.
        needed: usize,
        /// Huge pages free on the node (`free_hugepages` of its pool).
        free: usize,
        /// Size of one huge page in KiB.
        page_kib: usize,
        /// The command that grows the node's pool enough.
        fix: String,
    },

    /// A slab bound to a NUMA node is larger than all of the node's memory. Nothing was
    /// mapped.
    #[error(
        "{bytes} bytes cannot be bound to NUMA node {node}, which has {node_bytes} bytes of \
         memory in all (MemTotal in /sys/devices/system/node/node{node}/meminfo); allocate less, \
         split the data over slabs on several nodes, or use numa_preferred({node}) to let the \
         rest come from other nodes"
    )]
    NodeMemory {
        /// The node the slab is bound to.
        node: usize,
        /// Bytes the slab needs.
        bytes: usize,
        /// The node's memory (`MemTotal`).
        node_bytes: usize,
    },

    /// The platform (or this kernel) cannot do what was asked.
    #[error("{what} is not supported here: {reason}")]
    Unsupported {
        /// The operation.
        what: &'static str,
        /// Why, and what would make it work.
        reason: String,
    },

    /// The operating system refused a call.
    #[error("{op} of {bytes} bytes failed: {source}{hint}")]
    Os {
        /// The call, e.g. `"mmap"`.
        op: &'static str,
        /// The bytes it was asked to act on.
        bytes: usize,
        /// The OS error.
        #[source]
        source: io::Error,
        /// What to do about it ("" when there is nothing to add).
        hint: &'static str,
    },
}

/// The message of [`Error::SnapshotTooLarge`]: what the limit or the machine allows, and how a
/// trusted snapshot gets through.
fn snapshot_too_large(
    capacity: usize,
    bytes: usize,
    limit: usize,
    available: Option<usize>,
) -> String {
    use crate::info::Bytes;
    match available {
        Some(available) => format!(
            "the snapshot declares a slab of {capacity} slots, {bytes} bytes ({}), more than \
             the {available} bytes ({}) of memory available now; nothing was allocated: free \
             memory, or restore it on a machine with more",
            Bytes(bytes),
            Bytes(available)
        ),
        None => format!(
            "the snapshot declares a slab of {capacity} slots, {bytes} bytes ({}), over the \
             restore limit of {limit} bytes ({}); nothing was allocated. Keep refusing \
             snapshots you do not trust; to restore a trusted one this large, raise the limit: \
             `Slab::deserialize_in(backing, RestoreLimits::new().with_max_bytes({bytes}), \
             deserializer)` (the plain `Deserialize` allows RestoreLimits::DEFAULT_MAX_BYTES, \
             32 MiB)",
            Bytes(bytes),
            Bytes(limit)
        ),
    }
}

impl Error {
    /// An OS failure of `op` over `bytes`, with a hint chosen from the error kind.
    pub(crate) fn os(op: &'static str, bytes: usize, source: io::Error) -> Self {
        let hint = crate::sys::hint_for(&source);
        Error::Os {
            op,
            bytes,
            source,
            hint,
        }
    }
}

/// The value an [`insert`](crate::Slab::insert) could not place because the slab is full (or
/// not allocated yet).
///
/// Nothing is lost: [`into_inner`](Full::into_inner) gives the value back. `Full<T>` is
/// `Debug`, `Display` and [`std::error::Error`] for every `T`, so `.unwrap()`, `?` into
/// `Box<dyn Error>`, and `?` into [`Error`] (as [`Error::Full`], or [`Error::NotAllocated`] for
/// a slab with no memory yet) all work whatever the value type. `anyhow::Error` also needs the
/// error to be `Send + Sync + 'static`, which `Full<T>` is when `T` is; for other values
/// (`Rc`, `Box<dyn Fn()>`, borrowed data) write `.map_err(nexus_slab::Error::from)?`, which
/// drops the value and keeps the reason.
///
/// ```
/// use nexus_slab::{Error, Key, Slab};
///
/// let mut slab: Slab<String> = Slab::with_capacity(1).unwrap();
/// while !slab.is_full() {
///     slab.insert("filler".to_string()).unwrap();
/// }
/// let err = slab.insert("late".to_string()).unwrap_err();
/// assert_eq!(err.capacity(), slab.capacity());
/// assert_eq!(err.into_inner(), "late");
///
/// // `?` on insert in a function returning nexus_slab::Error:
/// fn add(slab: &mut Slab<String>, s: &str) -> Result<Key, Error> {
///     Ok(slab.insert(s.to_string())?)
/// }
/// assert!(matches!(add(&mut slab, "x"), Err(Error::Full { .. })));
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Full<T> {
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
}

impl<T> fmt::Debug for Full<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Full {{ capacity: {}, .. }}", self.capacity())
    }
}

impl<T> fmt::Display for Full<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.capacity() == 0 {
            f.write_str(
                "the slab has no memory yet, so the value was handed back (Full::into_inner): \
                 call alloc(n), alloc_bytes(max) or with_capacity(n) first",
            )
        } else {
            write!(
                f,
                "the slab is full (capacity {}); the value was handed back (Full::into_inner): \
                 remove a value or allocate a larger slab",
                self.capacity()
            )
        }
    }
}

impl<T> std::error::Error for Full<T> {}

/// The value [`insert_at`](crate::Slab::insert_at) could not place, with the reason.
///
/// ```
/// use nexus_slab::{Error, Key, Slab};
///
/// let mut slab: Slab<&str> = Slab::with_capacity(4).unwrap();
/// let k = slab.insert("first").unwrap();
/// let err = slab.insert_at(k, "second").unwrap_err();
/// assert!(matches!(err.error(), Error::Occupied { index: 0 }));
/// assert_eq!(err.into_inner(), "second");
/// ```
pub struct InsertAtError<T> {
    value: T,
    error: Error,
}

impl<T> InsertAtError<T> {
    pub(crate) fn new(value: T, error: Error) -> Self {
        InsertAtError { value, error }
    }

    /// Why the value was refused.
    ///
    /// ```
    /// use nexus_slab::{Error, Key, Slab};
    /// let mut slab: Slab<u8> = Slab::with_capacity(1).unwrap();
    /// let far = Key::new(1 << 30);
    /// assert!(matches!(slab.insert_at(far, 1).unwrap_err().error(), Error::KeyOutOfRange { .. }));
    /// ```
    pub fn error(&self) -> &Error {
        &self.error
    }

    /// Gives back the value.
    ///
    /// ```
    /// use nexus_slab::{Key, Slab};
    /// let mut slab: Slab<u8> = Slab::new();
    /// assert_eq!(slab.insert_at(Key::new(0), 9).unwrap_err().into_inner(), 9);
    /// ```
    pub fn into_inner(self) -> T {
        self.value
    }

    /// The value and the reason.
    ///
    /// ```
    /// use nexus_slab::{Error, Key, Slab};
    /// let mut slab: Slab<u8> = Slab::new();
    /// let (v, e) = slab.insert_at(Key::new(0), 9).unwrap_err().into_parts();
    /// assert!(matches!((v, e), (9, Error::NotAllocated)));
    /// ```
    pub fn into_parts(self) -> (T, Error) {
        (self.value, self.error)
    }
}

impl<T> fmt::Debug for InsertAtError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InsertAtError")
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl<T> fmt::Display for InsertAtError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}; the value was handed back", self.error)
    }
}

impl<T> std::error::Error for InsertAtError<T> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl<T> From<InsertAtError<T>> for Error {
    /// The reason; the value is dropped.
    fn from(e: InsertAtError<T>) -> Self {
        e.error
    }
}

impl<T> From<Full<T>> for Error {
    /// [`Error::Full`] with the slab's capacity, or [`Error::NotAllocated`] when it had no
    /// memory; the value is dropped.
    fn from(full: Full<T>) -> Self {
        match full.capacity() {
            0 => Error::NotAllocated,
            capacity => Error::Full { capacity },
        }
    }
}
