//! [`VacantEntry`]: a slot reserved by key before its value exists.

use core::fmt;

use crate::backing::{Backing, Mmap};
use crate::key::sealed::RawKey;
use crate::key::SlabKey;
use crate::{Key, Slab};

/// The next vacant slot of a slab, whose key is known before the value is inserted.
///
/// Made by [`Slab::vacant_entry`]. Dropping it without inserting changes nothing.
///
/// ```
/// use nexus_slab::{Key, Slab};
///
/// struct Node {
///     self_key: Key,
///     data: u32,
/// }
///
/// let mut slab: Slab<Node> = Slab::with_capacity(16);
/// let entry = slab.vacant_entry().unwrap();
/// let key = entry.key();
/// let node = entry.insert(Node { self_key: key, data: 42 });
/// assert_eq!(node.data, 42);
/// assert_eq!(slab[key].self_key, key);
/// ```
pub struct VacantEntry<'a, T, B: Backing = Mmap, K: SlabKey = Key> {
    slab: &'a mut Slab<T, B, K>,
    key: K,
}

impl<'a, T, B: Backing, K: SlabKey> VacantEntry<'a, T, B, K> {
    pub(crate) fn new(slab: &'a mut Slab<T, B, K>, key: K) -> Self {
        VacantEntry { slab, key }
    }

    /// The key the value will have.
    ///
    /// ```
    /// use nexus_slab::{Key, Slab};
    ///
    /// let mut slab: Slab<u8> = Slab::with_capacity(4);
    /// assert_eq!(slab.vacant_entry().unwrap().key(), Key::new_saturating(0));
    /// ```
    pub fn key(&self) -> K {
        self.key
    }

    /// Stores `value` under [`key`](VacantEntry::key) and returns a reference to it.
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let mut slab: Slab<u8> = Slab::with_capacity(4);
    /// let e = slab.vacant_entry().unwrap();
    /// let k = e.key();
    /// *e.insert(1) += 1;
    /// assert_eq!(slab[k], 2);
    /// ```
    pub fn insert(self, value: T) -> &'a mut T {
        let raw = self.slab.raw_mut();
        // The slab has been borrowed since `next_key` named this slot, so the insert takes
        // exactly it. The slot is the one the core reports, never one computed from `K`: a
        // key type's conversions are not trusted with memory.
        match raw.insert(value) {
            Ok(raw_key) => {
                // SAFETY: the raw key the core just returned names the slot it filled, which
                // is below the capacity; the slab stays borrowed for `'a`.
                unsafe { &mut *raw.value_ptr(RawKey::slot(raw_key)) }
            }
            Err(_) => unreachable!("a VacantEntry exists only while a slot is vacant"),
        }
    }
}

impl<T, B: Backing, K: SlabKey> fmt::Debug for VacantEntry<'_, T, B, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VacantEntry")
            .field("key", &self.key())
            .finish()
    }
}
