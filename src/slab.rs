//! [`Slab`]: the safe façade over the core and a backing.

use core::alloc::Layout;
use core::fmt;
use core::ops::{Index, IndexMut};

use crate::backing::{region_is_broken, Backing, CloneBacking, Mmap, Region, Releaser};
use crate::entry::VacantEntry;
use crate::iter::{Drain, IntoIter, Iter, IterMut, Keys, Values, ValuesMut};
use crate::key::sealed::RawKey;
use crate::key::SlabKey;
use crate::raw::{RawSlab, SlotLayout, MAX_CAPACITY};
use crate::{Error, Full, InsertAtError, Key, KeyError};

/// A fixed-capacity store of `T` values addressed by keys `K` ([`Key`] by default, or
/// [`GenKey`](crate::GenKey) to detect stale keys), with O(1) insert, get and remove, on memory
/// from the backing `B` (an anonymous [`Mmap`] by default).
///
/// A slab is created empty ([`new`](Slab::new): no memory, no system call), allocated once
/// ([`alloc`](Slab::alloc), [`alloc_bytes`](Slab::alloc_bytes),
/// [`with_capacity`](Slab::with_capacity)) and never grows or moves: a value stays at the same
/// address from insert to remove. Freed keys are reused last-in, first-out; iteration is in
/// ascending key order.
///
/// ```
/// use nexus_slab::{Key, Slab};
///
/// let mut slab: Slab<String> = Slab::new();
/// slab.alloc(1024).unwrap();
/// let hello = slab.insert("hello".to_string()).unwrap();
/// let world = slab.insert("world".to_string()).unwrap();
/// assert_eq!(slab[hello], "hello");
/// assert_eq!(slab.remove(world).as_deref(), Some("world"));
/// assert_eq!(slab.len(), 1);
/// ```
///
/// # Memory
///
/// A slot costs `max(size_of::<T>(), 4)` bytes rounded up to `T`'s alignment (at least 4),
/// plus one bit in an occupancy bitmap kept after the slots: `u64` values take 8 bytes and a
/// bit, where the `slab` crate's `Entry<u64>` takes 16. Vacant slots hold the free-list link.
///
/// # Threads
///
/// `Slab<T, B>` is `Send` when `T` and `B` are, and `Sync` when they are:
///
/// ```compile_fail
/// fn send<S: Send>(_: S) {}
/// send(nexus_slab::Slab::<std::rc::Rc<u8>>::new());
/// ```
///
/// ```compile_fail
/// fn sync<S: Sync>(_: &S) {}
/// sync(&nexus_slab::Slab::<std::cell::Cell<u8>>::new());
/// ```
pub struct Slab<T, B: Backing = Mmap, K: SlabKey = Key> {
    raw: RawSlab<T, K::Raw>,
    /// The part of the backing's region the slab uses: what `memory_size` reports and the
    /// memory controls act on (all of the region, unless `alloc_bytes` got more than its budget).
    region: Option<Region>,
    /// The length of the region the backing handed out: all of it goes back to `release`.
    region_len: usize,
    /// Whether `mlock` locked the region and no `munlock` undid it: drop then unlocks it.
    locked: bool,
    backing: B,
}

impl<T, B: Backing + Default, K: SlabKey> Slab<T, B, K> {
    /// An empty slab with no memory yet: capacity 0, no allocation, no system call.
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let slab: Slab<u64> = Slab::new();
    /// assert_eq!(slab.capacity(), 0);
    /// assert_eq!(slab.memory_size(), 0);
    /// ```
    pub fn new() -> Self {
        Self::new_in(B::default())
    }

    /// A slab allocated for at least `capacity` values, on a default backing.
    ///
    /// # Panics
    ///
    /// Where [`try_with_capacity`](Slab::try_with_capacity) returns an error (as std's
    /// collections panic when memory runs out), with the error's message and its fix. Memory
    /// control can fail where a plain allocation would not (a locked slab over the memlock
    /// limit, a huge-page pool too small): handle it with `try_with_capacity`.
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let slab: Slab<u64> = Slab::with_capacity(1000);
    /// assert!(slab.capacity() >= 1000);
    /// ```
    #[must_use]
    #[track_caller]
    pub fn with_capacity(capacity: usize) -> Self {
        Self::with_capacity_in(capacity, B::default())
    }

    /// A slab allocated for at least `capacity` values, on a default backing, or the error.
    ///
    /// # Errors
    ///
    /// As for [`alloc`](Slab::alloc).
    ///
    /// ```
    /// use nexus_slab::{LockedSlab, Slab};
    ///
    /// let slab: Slab<u64> = Slab::try_with_capacity(1000).unwrap();
    /// assert!(slab.capacity() >= 1000);
    /// match LockedSlab::<[u8; 64]>::try_with_capacity(1 << 20) {
    ///     Ok(locked) => assert!(locked.capacity() >= 1 << 20),
    ///     Err(e) => eprintln!("{e}"), // over the memlock limit: the message says how to raise it
    /// }
    /// ```
    pub fn try_with_capacity(capacity: usize) -> Result<Self, Error> {
        Self::try_with_capacity_in(capacity, B::default())
    }
}

impl<T, B: Backing, K: SlabKey> Slab<T, B, K> {
    /// A slab allocated for at least `capacity` values on `backing` (`new_in` then `alloc`).
    ///
    /// # Panics
    ///
    /// Where [`try_with_capacity_in`](Slab::try_with_capacity_in) returns an error, with the
    /// error's message and its fix.
    ///
    /// ```
    /// use nexus_slab::{backing::Heap, Slab};
    ///
    /// let slab: Slab<u64, Heap> = Slab::with_capacity_in(100, Heap::new());
    /// assert!(slab.capacity() >= 100);
    /// ```
    #[must_use]
    #[track_caller]
    pub fn with_capacity_in(capacity: usize, backing: B) -> Self {
        match Self::try_with_capacity_in(capacity, backing) {
            Ok(slab) => slab,
            Err(e) => panic!("allocating a slab of {capacity} slots: {e}"),
        }
    }

    /// A slab allocated for at least `capacity` values on `backing`, or the error.
    ///
    /// # Errors
    ///
    /// As for [`alloc`](Slab::alloc).
    ///
    /// ```
    /// use nexus_slab::{backing::{Locked, Mmap}, Slab};
    ///
    /// let backing = Locked::new(Mmap::new().exclude_from_dumps());
    /// match Slab::<u64, _>::try_with_capacity_in(10_000, backing) {
    ///     Ok(slab) => assert!(slab.capacity() >= 10_000),
    ///     Err(e) => eprintln!("{e}"),
    /// }
    /// ```
    pub fn try_with_capacity_in(capacity: usize, backing: B) -> Result<Self, Error> {
        let mut slab = Self::new_in(backing);
        slab.alloc(capacity)?;
        Ok(slab)
    }
}

impl<T: Clone, B: CloneBacking, K: SlabKey> Clone for Slab<T, B, K> {
    /// As [`try_clone`](Slab::try_clone), panicking where it would return an error (as std's
    /// collections do when memory runs out).
    ///
    /// # Panics
    ///
    /// With the error's message when the copy's memory cannot be allocated.
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let mut slab: Slab<String> = Slab::with_capacity(4);
    /// let k = slab.insert("a".into()).unwrap();
    /// let copy = slab.clone();
    /// assert_eq!(copy[k], "a");
    /// ```
    fn clone(&self) -> Self {
        match self.try_clone() {
            Ok(copy) => copy,
            Err(e) => panic!("cloning a slab: {e}"),
        }
    }
}

impl<T, B: Backing + Default, K: SlabKey> FromIterator<(K, T)> for Slab<T, B, K> {
    /// A slab holding each value at its key, with room for the highest key (at least one
    /// slot), on a default backing: what rebuilding from saved `(key, value)` pairs takes, in
    /// any order (O(n) whatever the order). When a slot appears more than once, the latest
    /// key wins: the last pair for plain keys, the highest generation for [`GenKey`]s.
    ///
    /// For a chosen capacity, backing or error handling, the same in three lines:
    /// `let mut s = Slab::new_in(backing); s.alloc(capacity)?;` then `s.insert_at(key, value)`
    /// for each pair.
    ///
    /// # Panics
    ///
    /// When the memory cannot be allocated (with the error's message).
    ///
    /// [`GenKey`]: crate::GenKey
    ///
    /// ```
    /// use nexus_slab::{Key, Slab};
    ///
    /// let saved = [(Key::new_saturating(7), "h"), (Key::new_saturating(2), "c"), (Key::new_saturating(2), "C")];
    /// let slab: Slab<&str> = saved.into_iter().collect();
    /// assert_eq!((slab[Key::new_saturating(7)], slab[Key::new_saturating(2)]), ("h", "C"));
    /// assert_eq!(slab.len(), 2);
    /// assert!(slab.capacity() >= 8);
    /// ```
    fn from_iter<I: IntoIterator<Item = (K, T)>>(entries: I) -> Self {
        let entries: Vec<(K::Raw, T)> = entries
            .into_iter()
            .map(|(k, v)| (k.into_raw(), v))
            .collect();
        let cap = entries.iter().map(|(k, _)| k.slot() + 1).max().unwrap_or(1);
        let mut slab = Slab::new_in(B::default());
        if let Err(e) = slab.alloc(cap) {
            panic!("collecting into a slab of {cap} slots: {e}");
        }
        for (key, value) in entries {
            if let Err((value, _)) = slab.raw.insert_at(key, value) {
                // The slot is taken by an earlier pair (keys within the capacity always fit):
                // the later key wins.
                if let Some(old) = slab.raw.get_mut(key) {
                    *old = value; // the same key again
                } else if let Some(i) = slab.raw.occupant_older_than(key) {
                    // SAFETY: `occupant_older_than` found slot `i` occupied.
                    drop(unsafe { slab.raw.take(i) });
                    let _ = slab.raw.insert_at(key, value);
                }
            }
        }
        slab
    }
}

impl<T, B: Backing + Default, K: SlabKey> Default for Slab<T, B, K> {
    /// Same as [`Slab::new`].
    fn default() -> Self {
        Self::new()
    }
}

impl<T, B: Backing, K: SlabKey> Slab<T, B, K> {
    /// An empty slab that will take its memory from `backing`.
    ///
    /// ```
    /// use nexus_slab::{Slab, backing::Heap};
    ///
    /// let mut slab: Slab<u32, Heap> = Slab::new_in(Heap::new());
    /// slab.alloc(8).unwrap();
    /// assert!(slab.capacity() >= 8);
    /// ```
    pub const fn new_in(backing: B) -> Self {
        Slab {
            raw: RawSlab::empty(),
            region: None,
            region_len: 0,
            locked: false,
            backing,
        }
    }

    /// Allocates room for at least `n` values. The memory is rounded up to whole pages of the
    /// backing and the slab fills them with slots, so `capacity()` may exceed `n`.
    ///
    /// # Errors
    ///
    /// [`Error::AlreadyAllocated`], [`Error::ZeroCapacity`], [`Error::CapacityOverflow`] (more
    /// than 2³² − 1 slots), [`Error::SizeOverflow`], or the backing's error (for example
    /// [`Error::Os`] when the kernel refuses the mapping). On error the slab is unchanged.
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let mut slab: Slab<[u8; 100]> = Slab::new();
    /// slab.alloc(50).unwrap();
    /// assert!(slab.capacity() >= 50);
    /// assert!(slab.alloc(50).is_err()); // once only
    /// ```
    pub fn alloc(&mut self, n: usize) -> Result<(), Error> {
        self.check_unallocated()?;
        if n == 0 {
            return Err(Error::ZeroCapacity);
        }
        if n > MAX_CAPACITY {
            return Err(Error::CapacityOverflow {
                requested: n,
                max: MAX_CAPACITY,
            });
        }
        let layout = SlotLayout::of::<T, K::Raw>()
            .region_layout(n)
            .ok_or(Error::SizeOverflow {
                requested: n,
                slot_size: SlotLayout::of::<T, K::Raw>().slot_size,
            })?;
        self.allocate(layout, usize::MAX, usize::MAX)
    }

    /// Allocates the largest slab whose [`memory_size`](Slab::memory_size) is at most
    /// `max_bytes`, on any backing: should the backing return a longer region than asked, the
    /// slab uses only its budget of it (and still gives all of it back on drop).
    ///
    /// # Errors
    ///
    /// [`Error::AlreadyAllocated`], [`Error::BudgetTooSmall`] when not even one slot fits, or
    /// the backing's error. On error the slab is unchanged.
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let mut slab: Slab<u64> = Slab::new();
    /// slab.alloc_bytes(1 << 20).unwrap();
    /// assert!(slab.memory_size() <= 1 << 20);
    /// assert!(slab.capacity() > 120_000); // 8 bytes and a bit per slot
    /// ```
    pub fn alloc_bytes(&mut self, max_bytes: usize) -> Result<(), Error> {
        self.check_unallocated()?;
        let gran = self.backing.granularity().max(1);
        let layout = SlotLayout::of::<T, K::Raw>();
        // No region can exceed `isize::MAX` bytes (rounded up to its alignment): a larger
        // budget buys nothing more, and `region_layout` below needs the size to fit a `Layout`.
        let budget = max_bytes.min(isize::MAX as usize + 1 - layout.region_align());
        let budget = budget - budget % gran;
        let cap = layout.capacity_for(budget);
        if cap == 0 {
            let one = layout.bytes_for(1).unwrap_or(usize::MAX);
            return Err(Error::BudgetTooSmall {
                budget: max_bytes,
                minimum: one.checked_next_multiple_of(gran).unwrap_or(usize::MAX),
                granularity: gran,
            });
        }
        let layout = layout
            .region_layout(cap)
            .expect("a capacity that fits a budget has a layout");
        self.allocate(layout, budget, usize::MAX)
    }

    fn check_unallocated(&self) -> Result<(), Error> {
        match self.region {
            Some(_) => Err(Error::AlreadyAllocated {
                capacity: self.raw.capacity(),
            }),
            None => Ok(()),
        }
    }

    /// Takes a region for `layout` from the backing and lays at most `max_cap` slots out over
    /// at most `budget` bytes of it (at least `layout.size()`).
    fn allocate(&mut self, layout: Layout, budget: usize, max_cap: usize) -> Result<(), Error> {
        let region = self.backing.allocate(layout)?;
        // The backing is trusted for soundness (`unsafe trait`), but a region that visibly
        // breaks the contract is handed back untouched rather than written to.
        if region_is_broken(&region, layout) {
            let err = Error::BrokenBacking {
                size: layout.size(),
                align: layout.align(),
                addr: region.as_ptr() as usize,
                len: region.len(),
            };
            // SAFETY: the region came from this backing's `allocate` for `layout` and nothing
            // used it; `release` is told the very layout it was asked for.
            unsafe { self.backing.release(region, layout) };
            return Err(err);
        }
        let used = Region::new(
            region.as_non_null(),
            region.len().min(budget),
            region.page_size(),
        );
        // SAFETY: the backing promises the region is valid, exclusively ours until released,
        // aligned and at least `layout.size()` bytes (both checked above); `used` is a prefix of
        // it no shorter than `layout.size()`, which holds >= 1 slot.
        self.raw = unsafe { RawSlab::init(used.as_non_null(), used.len(), max_cap) };
        self.region_len = region.len();
        self.region = Some(used);
        Ok(())
    }

    /// Inserts `value` and returns its key: the most recently freed slot, or else the lowest
    /// never-used one.
    ///
    /// # Errors
    ///
    /// [`Full`] with the value when no slot is vacant, or when the slab has no memory yet
    /// (capacity 0: its message says to call [`alloc`](Slab::alloc) first).
    ///
    /// ```
    /// use nexus_slab::{Key, Slab};
    ///
    /// let mut slab: Slab<&str> = Slab::with_capacity(4);
    /// assert_eq!(slab.insert("a").unwrap(), Key::new_saturating(0));
    /// assert_eq!(slab.insert("b").unwrap(), Key::new_saturating(1));
    /// ```
    #[inline]
    pub fn insert(&mut self, value: T) -> Result<K, Full<T>> {
        // The core's steps written out, so that the out-of-line path returns this result (see
        // `RawSlab::SMALL`).
        let (i, n) = match self.raw.claim() {
            Some(slot) => slot,
            None if RawSlab::<T, K::Raw>::SMALL => return self.insert_slow(value),
            None => match self.raw.claim_after(|_| false) {
                Some(slot) => slot,
                None => return Err(Full::new(value, self.raw.capacity())),
            },
        };
        // SAFETY: `claim` (or `claim_after`) took slot `i` (numbered `n`), vacant.
        Ok(K::from_raw(unsafe { self.raw.fill(i, n, value) }))
    }

    /// The rest of `insert` when no slot is listed or never used (small values).
    #[cold]
    #[inline(never)]
    fn insert_slow(&mut self, value: T) -> Result<K, Full<T>> {
        match self.raw.insert(value) {
            Ok(key) => Ok(K::from_raw(key)),
            Err(value) => Err(Full::new(value, self.raw.capacity())),
        }
    }

    /// A reference to the value at `key`, or `None` if the slot is vacant or out of range.
    ///
    /// ```
    /// use nexus_slab::{Key, Slab};
    ///
    /// let mut slab: Slab<u8> = Slab::with_capacity(4);
    /// let k = slab.insert(3).unwrap();
    /// assert_eq!(slab.get(k), Some(&3));
    /// assert_eq!(slab.get(Key::new_saturating(99_999)), None);
    /// ```
    #[inline]
    #[must_use]
    pub fn get(&self, key: K) -> Option<&T> {
        self.raw.get(key.into_raw())
    }

    /// A mutable reference to the value at `key`, or `None`.
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let mut slab: Slab<u8> = Slab::with_capacity(4);
    /// let k = slab.insert(3).unwrap();
    /// *slab.get_mut(k).unwrap() += 1;
    /// assert_eq!(slab[k], 4);
    /// ```
    #[inline]
    pub fn get_mut(&mut self, key: K) -> Option<&mut T> {
        self.raw.get_mut(key.into_raw())
    }

    /// A reference to the value at `key`, without checking that there is one.
    ///
    /// # Safety
    ///
    /// `key` must name a value in this slab (`self.contains(key)`).
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let mut slab: Slab<u8> = Slab::with_capacity(4);
    /// let k = slab.insert(3).unwrap();
    /// // SAFETY: `k` was just inserted.
    /// assert_eq!(unsafe { slab.get_unchecked(k) }, &3);
    /// ```
    #[inline]
    pub unsafe fn get_unchecked(&self, key: K) -> &T {
        let raw = key.into_raw();
        debug_assert!(
            self.raw.find(raw).is_some(),
            "get_unchecked on a vacant key"
        );
        // SAFETY: the caller promises the key names a value; `K`'s contract (an `unsafe
        // trait`) makes its raw key name the same slot, which is then occupied, hence in range
        // and initialised.
        unsafe { &*self.raw.value_ptr(raw.slot()) }
    }

    /// A mutable reference to the value at `key`, without checking that there is one.
    ///
    /// # Safety
    ///
    /// `key` must name a value in this slab (`self.contains(key)`).
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let mut slab: Slab<u8> = Slab::with_capacity(4);
    /// let k = slab.insert(3).unwrap();
    /// // SAFETY: `k` was just inserted.
    /// unsafe { *slab.get_unchecked_mut(k) = 9 };
    /// assert_eq!(slab[k], 9);
    /// ```
    #[inline]
    pub unsafe fn get_unchecked_mut(&mut self, key: K) -> &mut T {
        let raw = key.into_raw();
        debug_assert!(
            self.raw.find(raw).is_some(),
            "get_unchecked_mut on a vacant key"
        );
        // SAFETY: as in `get_unchecked`; `&mut self` makes the reference unique.
        unsafe { &mut *self.raw.value_ptr(raw.slot()) }
    }

    /// Mutable references to `N` values at once.
    ///
    /// # Errors
    ///
    /// A [`KeyError`] for the first bad key: [`KeyError::OutOfRange`]; [`KeyError::Stale`] for a
    /// [`GenKey`] whose value was removed (whether or not its slot holds a later value now);
    /// [`KeyError::Vacant`] for any other key that names no value; [`KeyError::Duplicate`].
    /// Never a panic.
    ///
    /// [`GenKey`]: crate::GenKey
    ///
    /// ```
    /// use nexus_slab::{KeyError, Slab};
    ///
    /// let mut slab: Slab<u32> = Slab::with_capacity(4);
    /// let a = slab.insert(1).unwrap();
    /// let b = slab.insert(2).unwrap();
    /// let [x, y] = slab.get_disjoint_mut([a, b]).unwrap();
    /// std::mem::swap(x, y);
    /// assert_eq!((slab[a], slab[b]), (2, 1));
    /// assert!(matches!(slab.get_disjoint_mut([a, a]), Err(KeyError::Duplicate { index: 0, .. })));
    /// ```
    pub fn get_disjoint_mut<const N: usize>(
        &mut self,
        keys: [K; N],
    ) -> Result<[&mut T; N], KeyError> {
        let ptrs = self.raw.disjoint(keys.map(K::into_raw))?;
        // SAFETY: `disjoint` checked the slots occupied and pairwise distinct, so the
        // references are to initialised values and never alias; `&mut self` covers them all.
        Ok(ptrs.map(|p| unsafe { &mut *p }))
    }

    /// Mutable references to `N` values at once, without checking that the keys name values
    /// or that they are distinct.
    ///
    /// # Safety
    ///
    /// Every key must name a value in this slab (`self.contains(key)`), and no two keys may
    /// name the same slot. [`get_disjoint_mut`](Slab::get_disjoint_mut) checks both.
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let mut slab: Slab<u32> = Slab::with_capacity(4);
    /// let a = slab.insert(1).unwrap();
    /// let b = slab.insert(2).unwrap();
    /// // SAFETY: both were just inserted, in two slots.
    /// let [x, y] = unsafe { slab.get_disjoint_unchecked_mut([a, b]) };
    /// std::mem::swap(x, y);
    /// assert_eq!((slab[a], slab[b]), (2, 1));
    /// ```
    pub unsafe fn get_disjoint_unchecked_mut<const N: usize>(
        &mut self,
        keys: [K; N],
    ) -> [&mut T; N] {
        let slots = keys.map(|k| k.into_raw().slot());
        debug_assert!(
            keys.iter().all(|&k| self.contains(k)),
            "get_disjoint_unchecked_mut on a vacant key"
        );
        debug_assert!(
            (0..N).all(|i| !slots[..i].contains(&slots[i])),
            "get_disjoint_unchecked_mut on one slot twice"
        );
        // SAFETY: per the contract (and `K`'s, an `unsafe trait`), each raw key names an
        // occupied slot, so below the capacity and initialised; the slots are distinct, so the
        // references never alias; `&mut self` covers them all.
        slots.map(|i| unsafe { &mut *self.raw.value_ptr(i) })
    }

    /// Puts `value` at exactly `key`, for restoring keys kept elsewhere — in hash maps, queues,
    /// other processes, a snapshot on disk — after a restart.
    ///
    /// The slot must be vacant and in range. With [`GenKey`](crate::GenKey)s the key's
    /// generation must also be later than every generation the slot has had, so a key that
    /// was stale before is never revived, and a retired slot is never reused.
    ///
    /// Which keys later inserts hand out: a key beyond every slot used so far skips the slots
    /// in between, and an `insert_at` anywhere but the slot the next insert would take
    /// releases the order of the free list; either way the vacant slots below the highest key
    /// used are then handed out lowest first, before any never-used slot (slots removed
    /// afterwards are reused first, as always). An `insert_at` at
    /// [`vacant_key`](Slab::vacant_key) keeps the order.
    ///
    /// O(1) amortised, whatever the order of the keys: restoring a million keys in random or
    /// descending order costs about what ascending order does (`benches/restore.rs`). The
    /// first insert after a run of `insert_at`s puts the vacant slots back in order, once, in
    /// O(highest key used). On a split slab ([`Slab::split`]) a vacated slot that is not
    /// next in line costs O(free slots).
    ///
    /// # Errors
    ///
    /// [`InsertAtError`], with the value handed back and the slab unchanged, and as its
    /// [`KeyError`]: [`KeyError::OutOfRange`] (capacity 0: the slab has no memory yet),
    /// [`KeyError::Occupied`], [`KeyError::Stale`] (generational keys: not later than the slot's
    /// history, or a retired slot).
    ///
    /// ```
    /// use nexus_slab::{GenKey, GenSlab, Key, Slab};
    ///
    /// // Plain keys: any vacant slot.
    /// let mut slab: Slab<&str> = Slab::with_capacity(16);
    /// slab.insert_at(Key::new_saturating(7), "seven").unwrap();
    /// assert_eq!(slab[Key::new_saturating(7)], "seven");
    /// assert_eq!(slab.insert("zero").unwrap(), Key::new_saturating(0)); // skipped slots fill in order
    ///
    /// // Generational keys: the exact generation comes back, and stale keys stay stale.
    /// let mut conns: GenSlab<&str> = GenSlab::with_capacity(16);
    /// let saved = GenKey::from_bits(5 << 32 | 3).unwrap(); // slot 3, generation 5
    /// conns.insert_at(saved, "restored").unwrap();
    /// assert_eq!(conns[saved], "restored");
    /// let older = GenKey::from_bits(3 << 32 | 3).unwrap();
    /// assert!(conns.get(older).is_none());
    /// conns.remove(saved);
    /// assert!(conns.insert_at(older, "revived?").is_err()); // generation 3 < 6: stale
    /// ```
    pub fn insert_at(&mut self, key: K, value: T) -> Result<(), InsertAtError<T>> {
        // A slab with no memory has capacity 0: every key is out of range.
        self.raw
            .insert_at(key.into_raw(), value)
            .map_err(|(value, error)| InsertAtError::new(value, error))
    }

    /// A copy with memory of its own from a new backing with the same settings
    /// ([`CloneBacking`]): the same capacity, the same keys for the same (cloned) values, and
    /// the same keys for the next inserts. An unallocated slab gives an unallocated copy.
    ///
    /// Locks taken with [`mlock`](Slab::mlock) are not copied (a [`Locked`](crate::backing::Locked)
    /// backing locks the copy, as it locks every region it makes). The slab of an
    /// [`Owner`](crate::split::Owner) (reached through its `Deref`) is copied as
    /// [`Owner::try_clone`](crate::split::Owner::try_clone) copies it: the slots out on loan are free
    /// in the copy.
    ///
    /// # Errors
    ///
    /// The backing's allocation error (for example [`Error::HugePagesUnavailable`]); `self`
    /// is unchanged either way. A panic in `T::clone` drops the partial copy and propagates.
    ///
    /// ```
    /// use nexus_slab::{Key, Slab};
    ///
    /// let mut slab: Slab<String> = Slab::with_capacity(8);
    /// let a = slab.insert("a".into()).unwrap();
    /// let b = slab.insert("b".into()).unwrap();
    /// slab.remove(a);
    /// let mut copy = slab.try_clone().unwrap();
    /// assert_eq!(copy[b], "b");
    /// assert_eq!(copy.capacity(), slab.capacity());
    /// assert_eq!(copy.insert("c".into()).unwrap(), slab.insert("c".into()).unwrap());
    /// ```
    pub fn try_clone(&self) -> Result<Self, Error>
    where
        T: Clone,
        B: CloneBacking,
    {
        let mut copy = Slab::new_in(self.backing.clone_backing());
        if self.region.is_some() {
            copy.alloc_exact(self.capacity())?;
            self.raw.clone_into(&mut copy.raw);
            // A split slab (an `Owner`'s, reached through `Deref`): the slots out on loan hold
            // no value in the copy, which owns no lent value; they go at the bottom of its
            // free list (none unless split).
            #[cfg(target_has_atomic = "64")]
            {
                let out = self.raw.out_slots();
                if !out.is_empty() {
                    // SAFETY: the copy has this slab's state (free list, high-water mark,
                    // generations, with only the owner's values): the out slots are vacant
                    // there, below the high-water mark, on no list and not retired, each
                    // listed once.
                    unsafe { copy.raw.append_free(&out) };
                }
            }
        }
        Ok(copy)
    }

    /// Allocates exactly `cap` slots (page rounding may leave room for more; they go unused),
    /// as a copy or a restored snapshot needs.
    pub(crate) fn alloc_exact(&mut self, cap: usize) -> Result<(), Error> {
        self.check_unallocated()?;
        let layout = Self::exact_layout(cap)?;
        self.allocate(layout, usize::MAX, cap)
    }

    /// The layout [`alloc_exact`](Slab::alloc_exact) asks of the backing for `cap` slots, or
    /// why there is none; nothing is allocated (a restore checks its size first).
    pub(crate) fn exact_layout(cap: usize) -> Result<Layout, Error> {
        if cap == 0 {
            return Err(Error::ZeroCapacity);
        }
        if cap > MAX_CAPACITY {
            return Err(Error::CapacityOverflow {
                requested: cap,
                max: MAX_CAPACITY,
            });
        }
        SlotLayout::of::<T, K::Raw>()
            .region_layout(cap)
            .ok_or(Error::SizeOverflow {
                requested: cap,
                slot_size: SlotLayout::of::<T, K::Raw>().slot_size,
            })
    }

    /// Removes and returns the value at `key`, or `None`. The slot becomes the next one
    /// `insert` uses.
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let mut slab: Slab<u8> = Slab::with_capacity(4);
    /// let k = slab.insert(3).unwrap();
    /// assert_eq!(slab.remove(k), Some(3));
    /// assert_eq!(slab.remove(k), None);
    /// ```
    #[inline]
    pub fn remove(&mut self, key: K) -> Option<T> {
        self.raw.remove(key.into_raw())
    }

    /// Whether `key` holds a value.
    ///
    /// ```
    /// use nexus_slab::{Key, Slab};
    ///
    /// let mut slab: Slab<u8> = Slab::with_capacity(4);
    /// let k = slab.insert(3).unwrap();
    /// assert!(slab.contains(k));
    /// assert!(!slab.contains(Key::new_saturating(usize::MAX)));
    /// ```
    #[inline]
    #[must_use]
    pub fn contains(&self, key: K) -> bool {
        self.raw.find(key.into_raw()).is_some()
    }

    /// Number of values in the slab.
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let mut slab: Slab<u8> = Slab::with_capacity(4);
    /// slab.insert(1).unwrap();
    /// assert_eq!(slab.len(), 1);
    /// ```
    #[inline]
    #[must_use]
    pub fn len(&self) -> usize {
        self.raw.len()
    }

    /// Whether the slab holds no value.
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let slab: Slab<u8> = Slab::with_capacity(4);
    /// assert!(slab.is_empty());
    /// ```
    #[inline]
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.raw.len() == 0
    }

    /// Number of slots: the most values the slab can hold (0 before allocation). A generational
    /// slab's retired slots, if any (see [`is_full`](Slab::is_full)), count here but take no
    /// value.
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let slab: Slab<u64> = Slab::with_capacity(100);
    /// assert!(slab.capacity() >= 100);
    /// ```
    #[inline]
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.raw.capacity()
    }

    /// Whether an insert would fail now: no slot is left to take (an unallocated slab is
    /// full). With plain keys that is exactly `len() == capacity()`; a generational slab is
    /// also full with fewer values when some slots are retired (a slot whose generation would
    /// wrap after 2³¹ reuses is never handed out again), so test this, not the length.
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let mut slab: Slab<u64> = Slab::with_capacity(1);
    /// while !slab.is_full() {
    ///     slab.insert(0).unwrap();
    /// }
    /// assert!(slab.insert(1).is_err());
    /// ```
    ///
    /// A slot retired at its last generation (reached here by restoring a key saved at it):
    ///
    /// ```
    /// use nexus_slab::{GenKey, GenSlab};
    ///
    /// let mut slab: GenSlab<u64> = GenSlab::with_capacity(1);
    /// let cap = slab.capacity();
    /// let last = GenKey::from_bits(u64::from(u32::MAX) << 32).unwrap(); // slot 0, last generation
    /// slab.insert_at(last, 7).unwrap();
    /// assert_eq!(slab.remove(last), Some(7)); // slot 0 is retired
    /// for v in 1..cap as u64 {
    ///     slab.insert(v).unwrap();
    /// }
    /// assert!(slab.is_full() && slab.len() == cap - 1);
    /// assert!(slab.insert(0).is_err());
    /// ```
    #[inline]
    #[must_use]
    pub fn is_full(&self) -> bool {
        !self.raw.has_vacant()
    }

    /// Drops every value (in key order) and invalidates every key.
    ///
    /// The memory stays: the same capacity, still resident, still locked if it was, so a
    /// warm-up pass followed by `clear` leaves nothing to fault in later. To give the memory
    /// back, drop the slab.
    ///
    /// With plain [`Key`]s the slab then starts afresh: the next insert gets key 0, as after
    /// `alloc`. With [`GenKey`](crate::GenKey)s the slots keep their generations, so no key
    /// handed out before `clear` is ever found again: freed slots are reused last-in,
    /// first-out (the last one cleared comes first) under new generations.
    ///
    /// If a value's `Drop` panics, the panic propagates with the slab consistent: the values
    /// before it are gone, the ones after it are still in the slab, `len()` counts them.
    ///
    /// ```
    /// use nexus_slab::{GenSlab, Key, Slab};
    ///
    /// let mut slab: Slab<String> = Slab::with_capacity(4);
    /// let k = slab.insert("x".into()).unwrap();
    /// slab.insert("y".into()).unwrap();
    /// slab.clear();
    /// assert!(slab.is_empty());
    /// assert!(!slab.contains(k));
    /// assert_eq!(slab.insert("z".into()).unwrap(), Key::new_saturating(0));
    ///
    /// let mut gens: GenSlab<&str> = GenSlab::with_capacity(4);
    /// let a = gens.insert("a").unwrap();
    /// let b = gens.insert("b").unwrap();
    /// gens.clear();
    /// let c = gens.insert("c").unwrap();
    /// assert_eq!(c.index(), b.index()); // the last slot cleared is reused first...
    /// assert!(!gens.contains(a) && !gens.contains(b)); // ...and no old key matches
    /// ```
    pub fn clear(&mut self) {
        self.raw.clear();
    }

    /// Bytes of memory the slab uses (0 before allocation): slots, bitmap and page rounding —
    /// the region its backing returned, or the budget's part of it after
    /// [`alloc_bytes`](Slab::alloc_bytes). The memory controls act on exactly these bytes.
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let slab: Slab<u64> = Slab::with_capacity(1);
    /// assert_eq!(slab.memory_size(), nexus_slab::system::SystemInfo::probe().base_page_size); // one page
    /// ```
    #[inline]
    #[must_use]
    pub fn memory_size(&self) -> usize {
        self.region.as_ref().map_or(0, Region::len)
    }

    /// The backing the memory comes from.
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let slab: Slab<u64> = Slab::new();
    /// assert!(slab.backing().prefaults());
    /// ```
    #[must_use]
    pub fn backing(&self) -> &B {
        &self.backing
    }

    /// A handle to the next vacant slot: its key is known before the value is built (for
    /// values that contain their own key). Dropping the entry unused changes nothing.
    ///
    /// # Errors
    ///
    /// [`Full`] (without a value) when no slot is vacant, or when the slab has no memory yet
    /// (capacity 0: its message says to call [`alloc`](Slab::alloc) first).
    ///
    /// ```
    /// use nexus_slab::{Key, Slab};
    ///
    /// let mut empty: Slab<u8> = Slab::new();
    /// assert_eq!(empty.vacant_entry().unwrap_err().capacity(), 0);
    ///
    /// struct Node { me: Key }
    /// let mut slab: Slab<Node> = Slab::with_capacity(4);
    /// let entry = slab.vacant_entry().unwrap();
    /// let key = entry.key();
    /// entry.insert(Node { me: key });
    /// assert_eq!(slab[key].me, key);
    /// ```
    pub fn vacant_entry(&mut self) -> Result<VacantEntry<'_, T, B, K>, Full> {
        match self.raw.next_key() {
            Some(key) => Ok(VacantEntry::new(self, K::from_raw(key))),
            None => Err(Full::new((), self.capacity())),
        }
    }

    /// Iterates over `(key, &value)` in ascending key order.
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let mut slab: Slab<u8> = Slab::with_capacity(4);
    /// slab.insert(1).unwrap();
    /// slab.insert(2).unwrap();
    /// assert_eq!(slab.iter().map(|(_, v)| *v).collect::<Vec<_>>(), [1, 2]);
    /// ```
    pub fn iter(&self) -> Iter<'_, T, K> {
        Iter::new(&self.raw)
    }

    /// The keys of every value, in ascending order (double-ended, exact size).
    ///
    /// ```
    /// use nexus_slab::{Key, Slab};
    ///
    /// let mut slab: Slab<u8> = Slab::with_capacity(4);
    /// for v in 0..3 {
    ///     slab.insert(v).unwrap();
    /// }
    /// slab.remove(Key::new_saturating(1));
    /// assert_eq!(slab.keys().collect::<Vec<_>>(), [Key::new_saturating(0), Key::new_saturating(2)]);
    /// assert_eq!(slab.keys().len(), 2);
    /// ```
    pub fn keys(&self) -> Keys<'_, T, K> {
        Keys::new(self.iter())
    }

    /// Every value, in ascending key order (double-ended, exact size).
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let mut slab: Slab<u8> = Slab::with_capacity(4);
    /// slab.insert(5).unwrap();
    /// slab.insert(7).unwrap();
    /// assert_eq!(slab.values().copied().collect::<Vec<_>>(), [5, 7]);
    /// assert_eq!(slab.values().rev().next(), Some(&7));
    /// ```
    pub fn values(&self) -> Values<'_, T, K> {
        Values::new(self.iter())
    }

    /// Every value, mutably, in ascending key order (double-ended, exact size).
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let mut slab: Slab<u8> = Slab::with_capacity(4);
    /// let k = slab.insert(5).unwrap();
    /// for v in slab.values_mut() {
    ///     *v += 1;
    /// }
    /// assert_eq!(slab[k], 6);
    /// ```
    pub fn values_mut(&mut self) -> ValuesMut<'_, T, K> {
        ValuesMut::new(self.iter_mut())
    }

    /// The key of the value `value` refers to, if it is a value in this slab; O(1) (values
    /// never move, so the key follows from the address). `None` for a reference to anything
    /// else — another slab's value, a copy, a local.
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let mut slab: Slab<String> = Slab::with_capacity(4);
    /// let k = slab.insert("order".to_string()).unwrap();
    /// let v: &String = &slab[k];
    /// assert_eq!(slab.key_of(v), Some(k));
    /// let copy = v.clone();
    /// assert_eq!(slab.key_of(&copy), None);
    /// ```
    #[must_use]
    pub fn key_of(&self, value: &T) -> Option<K> {
        self.raw.slot_of(value).map(|i| {
            // SAFETY: `slot_of` returns only occupied slots, so `i < cap`.
            K::from_raw(unsafe { self.raw.key_at(i) })
        })
    }

    /// The key the next [`insert`](Slab::insert) will return, without changing anything;
    /// `None` when the slab is full or not allocated.
    ///
    /// ```
    /// use nexus_slab::{Key, Slab};
    ///
    /// let mut slab: Slab<u8> = Slab::with_capacity(4);
    /// let next = slab.vacant_key().unwrap();
    /// assert_eq!(slab.insert(1).unwrap(), next);
    /// assert_eq!(Slab::<u8>::new().vacant_key(), None);
    /// ```
    #[inline]
    #[must_use]
    pub fn vacant_key(&self) -> Option<K> {
        self.raw.next_key().map(K::from_raw)
    }

    /// Whether the slab has its memory (`alloc`, `alloc_bytes` or `with_capacity` succeeded).
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let mut slab: Slab<u8> = Slab::new();
    /// assert!(!slab.is_allocated());
    /// slab.alloc(1).unwrap();
    /// assert!(slab.is_allocated());
    /// ```
    #[inline]
    #[must_use]
    pub fn is_allocated(&self) -> bool {
        self.region.is_some()
    }

    /// Iterates over `(key, &mut value)` in ascending key order.
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let mut slab: Slab<u8> = Slab::with_capacity(4);
    /// slab.insert(1).unwrap();
    /// slab.iter_mut().for_each(|(_, v)| *v += 1);
    /// assert_eq!(slab.iter().next().map(|(_, v)| *v), Some(2));
    /// ```
    pub fn iter_mut(&mut self) -> IterMut<'_, T, K> {
        IterMut::new(&mut self.raw)
    }

    /// Removes every value, yielding `(key, value)` in ascending key order. The slab is empty
    /// when the iterator is dropped, consumed or not.
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let mut slab: Slab<u8> = Slab::with_capacity(4);
    /// slab.insert(1).unwrap();
    /// slab.insert(2).unwrap();
    /// let values: Vec<u8> = slab.drain().map(|(_, v)| v).collect();
    /// assert_eq!(values, [1, 2]);
    /// assert!(slab.is_empty());
    /// ```
    pub fn drain(&mut self) -> Drain<'_, T, K> {
        Drain::new(&mut self.raw)
    }

    /// Keeps only the values for which `keep(key, &mut value)` returns true, visiting in
    /// ascending key order. Each removed value is out of the slab before it is dropped, so a
    /// panic in `keep` or in a `Drop` leaves the slab consistent.
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let mut slab: Slab<u32> = Slab::with_capacity(8);
    /// for v in 0..6 {
    ///     slab.insert(v).unwrap();
    /// }
    /// slab.retain(|_, v| *v % 2 == 0);
    /// assert_eq!(slab.iter().map(|(_, v)| *v).collect::<Vec<_>>(), [0, 2, 4]);
    /// ```
    pub fn retain<F: FnMut(K, &mut T) -> bool>(&mut self, mut keep: F) {
        let mut from = 0;
        while let Some(i) = self.raw.next_occupied(from) {
            from = i + 1;
            // SAFETY: `next_occupied` found slot `i` occupied (so `i < cap`); the reference
            // ends before the slab is touched again.
            let (key, value) =
                unsafe { (K::from_raw(self.raw.key_at(i)), &mut *self.raw.value_ptr(i)) };
            if !keep(key, value) {
                // SAFETY: still occupied: `keep` had no access to the slab.
                drop(unsafe { self.raw.take(i) });
            }
        }
    }

    /// Pins the slab's pages in RAM (`mlock`), so they are never swapped out. They stay
    /// locked until [`munlock`](Slab::munlock) or drop, which unlock them only if this call
    /// locked them: a slab that never called `mlock` leaves alone the locks others hold on its
    /// pages (an arena the application locked, `mlockall`).
    ///
    /// Locks do not nest: the kernel keeps one "locked" mark per page, not a count. Pages this
    /// call locks that the application had locked too are unlocked by `munlock` or drop, for
    /// the application as well.
    ///
    /// # Errors
    ///
    /// [`Error::NotAllocated`]; [`Error::MemlockLimit`] when `RLIMIT_MEMLOCK` is too low (the
    /// message, and [`Error::hint`], say how to raise it); [`Error::MapCountLimit`] when the
    /// process has as many mappings as `vm.max_map_count` allows; [`Error::Unsupported`] where
    /// the platform cannot lock. See [`Backing::lock`].
    ///
    /// ```
    /// use nexus_slab::{Error, Slab};
    ///
    /// let mut slab: Slab<u64> = Slab::with_capacity(512);
    /// match slab.mlock() {
    ///     Ok(()) => slab.munlock().unwrap(),
    ///     Err(e) => eprintln!("cannot lock here: {e}"),
    /// }
    /// ```
    pub fn mlock(&mut self) -> Result<(), Error> {
        let region = self.region.as_ref().ok_or(Error::NotAllocated)?;
        self.backing.lock(region)?;
        self.locked = true;
        Ok(())
    }

    /// Unlocks the slab's pages (`munlock`).
    ///
    /// # Errors
    ///
    /// [`Error::NotAllocated`], or what the OS reports.
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let mut slab: Slab<u64> = Slab::new();
    /// assert!(slab.munlock().is_err()); // nothing to unlock yet
    /// ```
    pub fn munlock(&mut self) -> Result<(), Error> {
        let region = self.region.as_ref().ok_or(Error::NotAllocated)?;
        self.backing.unlock(region)?;
        self.locked = false;
        Ok(())
    }

    /// Asks the kernel to move the slab onto transparent huge pages now (`MADV_COLLAPSE`,
    /// Linux 6.1+), and returns how many of its bytes are on huge pages afterwards, as the
    /// kernel's page tables say. Only 2 MiB-aligned 2 MiB stretches of the slab can be huge, so
    /// compare with [`memory_size`](Slab::memory_size) to see how complete it is.
    ///
    /// # Errors
    ///
    /// [`Error::NotAllocated`]; [`Error::ThpDisabled`] when transparent huge pages are off
    /// (THP `never`, or disabled for the process by `prctl`), with the command that turns them
    /// on; [`Error::Unsupported`] when the slab or the system cannot collapse, with the cause
    /// found: a slab holding no 2 MiB-aligned 2 MiB stretch (checked first), a kernel before
    /// 6.1, the range advised `MADV_NOHUGEPAGE`; [`Error::Os`] when the kernel tried and found
    /// no free huge page (with the command that compacts memory). An error is never a
    /// disguised success: nexus-slab 0.1.2 took `EINVAL` for "done".
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let mut slab: Slab<u64> = Slab::with_capacity(4 << 20);
    /// match slab.try_collapse() {
    ///     Ok(huge) => println!("{huge} of {} bytes on huge pages", slab.memory_size()),
    ///     Err(e) => eprintln!("no huge pages: {e}"),
    /// }
    /// ```
    pub fn try_collapse(&mut self) -> Result<usize, Error> {
        let region = self.region.as_ref().ok_or(Error::NotAllocated)?;
        self.backing.collapse(region)?;
        self.backing.huge_page_bytes(region)
    }

    /// Bytes of the slab on huge pages right now (transparent or hugetlb), read from the
    /// kernel's page tables for exactly the slab's range (`PAGEMAP_SCAN`, Linux 6.7+; the
    /// slab's mappings in `/proc/self/smaps` on older kernels).
    ///
    /// # Errors
    ///
    /// [`Error::NotAllocated`]; [`Error::Unsupported`] off Linux.
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let slab: Slab<u64> = Slab::with_capacity(1000);
    /// if let Ok(huge) = slab.huge_page_bytes() {
    ///     assert_eq!(huge, 0); // 8 KiB cannot hold a 2 MiB page
    /// }
    /// ```
    pub fn huge_page_bytes(&self) -> Result<usize, Error> {
        let region = self.region.as_ref().ok_or(Error::NotAllocated)?;
        self.backing.huge_page_bytes(region)
    }

    /// Bytes of the slab the kernel keeps locked in RAM right now: its resident pages in
    /// mappings the kernel marks locked, counted in full even when shared with a forked child
    /// or a second mapping (see [`Backing::locked_bytes`]). Hugetlb pages never count: they
    /// cannot be swapped anyway.
    ///
    /// # Errors
    ///
    /// [`Error::NotAllocated`]; [`Error::Unsupported`] off Linux.
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let mut slab: Slab<u64> = Slab::with_capacity(1000);
    /// if slab.mlock().is_ok() {
    ///     assert_eq!(slab.locked_bytes().ok(), Some(slab.memory_size()));
    /// }
    /// ```
    pub fn locked_bytes(&self) -> Result<usize, Error> {
        let region = self.region.as_ref().ok_or(Error::NotAllocated)?;
        self.backing.locked_bytes(region)
    }

    /// Where the slab's resident pages are: bytes per NUMA node, read from the kernel page by
    /// page (see [`Backing::numa_bytes`]). With [`Mmap::numa_node(n)`](Mmap::numa_node) every
    /// byte is on node `n`.
    ///
    /// # Errors
    ///
    /// [`Error::NotAllocated`]; [`Error::Unsupported`] where the platform cannot tell.
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let slab: Slab<u64> = Slab::with_capacity(1000);
    /// if let Ok(placed) = slab.numa_bytes() {
    ///     assert_eq!(placed.resident(), slab.memory_size());
    /// }
    /// ```
    pub fn numa_bytes(&self) -> Result<crate::system::NumaBytes, Error> {
        let region = self.region.as_ref().ok_or(Error::NotAllocated)?;
        self.backing.numa_bytes(region)
    }

    /// The core, for the iterators.
    pub(crate) fn raw(&self) -> &RawSlab<T, K::Raw> {
        &self.raw
    }

    /// The core, for the iterators.
    pub(crate) fn raw_mut(&mut self) -> &mut RawSlab<T, K::Raw> {
        &mut self.raw
    }
}

impl<T, B: Backing, K: SlabKey> Drop for Slab<T, B, K> {
    fn drop(&mut self) {
        /// Releases the region even when a value's `Drop` panics.
        struct Release<'a, T, B: Backing, K: SlabKey>(&'a mut Slab<T, B, K>);

        impl<T, B: Backing, K: SlabKey> Drop for Release<'_, T, B, K> {
            fn drop(&mut self) {
                let slab = &mut *self.0;
                // After a panic this goes on with the values not yet dropped (a second panic
                // aborts, as for `Vec`); otherwise there is nothing left.
                slab.raw.drop_values();
                if let Some(used) = slab.region.take() {
                    let whole = Region::new(used.as_non_null(), slab.region_len, used.page_size());
                    let layout = SlotLayout::of::<T, K::Raw>().release_layout(whole.len());
                    slab.raw = RawSlab::empty();
                    // SAFETY: `whole` is the region this backing's `allocate` returned (same
                    // start, length and page size), released once (taken out of the `Option`);
                    // no value is left in it.
                    let mut release = unsafe { Releaser::new(&mut slab.backing, whole, layout) };
                    // Unlock what the slab locked, and only that: a lock the application or
                    // the backing holds on these pages is theirs. The region goes back even if
                    // `unlock` fails or panics.
                    if core::mem::take(&mut slab.locked) {
                        let _ = release.parts().0.unlock(&used);
                    }
                }
            }
        }

        let guard = Release(self);
        guard.0.raw.drop_values();
    }
}

impl<T, B: Backing, K: SlabKey> Index<K> for Slab<T, B, K> {
    type Output = T;

    /// # Panics
    ///
    /// With "invalid key" when `key` names no value.
    #[inline]
    #[track_caller]
    fn index(&self, key: K) -> &T {
        match self.raw.get(key.into_raw()) {
            Some(v) => v,
            None => panic!("invalid key"),
        }
    }
}

impl<T, B: Backing, K: SlabKey> IndexMut<K> for Slab<T, B, K> {
    /// # Panics
    ///
    /// With "invalid key" when `key` names no value.
    #[inline]
    #[track_caller]
    fn index_mut(&mut self, key: K) -> &mut T {
        match self.raw.get_mut(key.into_raw()) {
            Some(v) => v,
            None => panic!("invalid key"),
        }
    }
}

impl<T, B: Backing, K: SlabKey> IntoIterator for Slab<T, B, K> {
    type Item = (K, T);
    type IntoIter = IntoIter<T, B, K>;

    /// Moves every value out, with its key, in ascending key order.
    fn into_iter(self) -> IntoIter<T, B, K> {
        IntoIter::new(self)
    }
}

impl<'a, T, B: Backing, K: SlabKey> IntoIterator for &'a Slab<T, B, K> {
    type Item = (K, &'a T);
    type IntoIter = Iter<'a, T, K>;

    fn into_iter(self) -> Iter<'a, T, K> {
        self.iter()
    }
}

impl<'a, T, B: Backing, K: SlabKey> IntoIterator for &'a mut Slab<T, B, K> {
    type Item = (K, &'a mut T);
    type IntoIter = IterMut<'a, T, K>;

    fn into_iter(self) -> IterMut<'a, T, K> {
        self.iter_mut()
    }
}

impl<T: fmt::Debug, B: Backing, K: SlabKey> fmt::Debug for Slab<T, B, K> {
    /// `{:?}` shows the sizes; `{:#?}` shows every `key: value` too.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.alternate() {
            f.debug_map().entries(self.iter()).finish()
        } else {
            f.debug_struct("Slab")
                .field("len", &self.len())
                .field("capacity", &self.capacity())
                .field("memory_size", &self.memory_size())
                .finish()
        }
    }
}
