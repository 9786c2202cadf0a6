//! [`Key`]: the handle a slab gives out for a stored value.

use core::fmt;

/// The handle to a value in a [`Slab`](crate::Slab): the index of its slot.
///
/// Keys are plain indices with **no generation counter**, as in the `slab` crate. It is the
/// caller's responsibility not to use a stale key: after a value is removed its slot is reused
/// (last freed, first reused), and the old key then reaches the new value.
///
/// Any key value at all is *safe* to pass to a slab — stale, from another slab, or
/// `Key::new(usize::MAX)`: lookups answer `None`/`false`, never undefined behaviour and never a
/// panic (only `slab[key]` panics, as `Index` does everywhere).
///
/// ```
/// use nexus_slab::{Key, Slab};
///
/// let mut slab: Slab<&str> = Slab::with_capacity(4).unwrap();
/// let k = slab.insert("a").unwrap();
/// assert_eq!(k, Key::new(0));
/// assert_eq!(k.index(), 0);
/// assert_eq!(slab.get(Key::new(usize::MAX)), None);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(transparent)]
pub struct Key(usize);

impl Key {
    /// The key of slot `index`.
    ///
    /// ```
    /// use nexus_slab::Key;
    /// assert_eq!(Key::new(3).index(), 3);
    /// ```
    #[inline]
    pub const fn new(index: usize) -> Self {
        Key(index)
    }

    /// The slot index this key names.
    ///
    /// ```
    /// use nexus_slab::Key;
    /// assert_eq!(Key::new(42).index(), 42);
    /// ```
    #[inline]
    pub const fn index(self) -> usize {
        self.0
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({})", self.0)
    }
}

impl From<usize> for Key {
    /// Same as [`Key::new`].
    ///
    /// ```
    /// use nexus_slab::Key;
    /// assert_eq!(Key::from(5), Key::new(5));
    /// ```
    fn from(index: usize) -> Self {
        Key(index)
    }
}

impl From<Key> for usize {
    /// Same as [`Key::index`].
    ///
    /// ```
    /// use nexus_slab::Key;
    /// assert_eq!(usize::from(Key::new(5)), 5);
    /// ```
    fn from(key: Key) -> Self {
        key.0
    }
}
