//! The handles a slab gives out: plain [`Key`]s, or generational [`GenKey`]s that detect
//! reuse. The kind is chosen by type ([`SlabKey`]); one core serves both.

use core::fmt;
use core::hash::Hash;
use core::num::NonZeroU32;

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::Key {}
    impl Sealed for super::GenKey {}
}

/// The kind of key a slab hands out: [`Key`] (the default) or [`GenKey`].
///
/// Sealed: the slab's core relies on exactly these two.
///
/// ```
/// use nexus_slab::{GenKey, Key, SlabKey};
///
/// fn index_of<K: SlabKey>(key: K) -> usize {
///     key.index()
/// }
/// assert_eq!(index_of(Key::new(3)), 3);
/// ```
pub trait SlabKey: Copy + Eq + Ord + Hash + fmt::Debug + sealed::Sealed {
    /// Whether keys carry a generation (and the slab keeps one per slot).
    #[doc(hidden)]
    const GENERATIONAL: bool;

    /// The slot index this key names.
    fn index(self) -> usize;

    /// The key of slot `index` at stored generation `generation` (ignored by plain keys).
    #[doc(hidden)]
    fn from_parts(index: usize, generation: u32) -> Self;

    /// The generation this key expects (0 for plain keys).
    #[doc(hidden)]
    fn generation_bits(self) -> u32;
}

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

impl SlabKey for Key {
    const GENERATIONAL: bool = false;

    #[inline]
    fn index(self) -> usize {
        self.0
    }

    #[inline]
    fn from_parts(index: usize, _: u32) -> Self {
        Key(index)
    }

    #[inline]
    fn generation_bits(self) -> u32 {
        0
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

/// A key that knows which *occupant* of its slot it names: a slot index and a generation.
///
/// Every insert into a slot gives it a new generation, so a `GenKey` kept after its value was
/// removed — even after the slot was reused, or the slab cleared — is never found again:
/// `get` gives `None`, `contains` gives `false`. Choose it by type: `Slab<T, B, GenKey>` or the
/// [`GenSlab`](crate::GenSlab) alias.
///
/// 8 bytes (a `u32` index and a non-zero `u32` generation), and so is `Option<GenKey>`.
///
/// ```
/// use nexus_slab::{GenKey, GenSlab};
///
/// let mut slab: GenSlab<&str> = GenSlab::with_capacity(4).unwrap();
/// let old = slab.insert("first").unwrap();
/// slab.remove(old);
/// let new = slab.insert("second").unwrap();
/// assert_eq!(new.index(), old.index()); // the slot is reused...
/// assert_eq!(slab.get(old), None); // ...but the old key no longer matches
/// assert_eq!(slab[new], "second");
/// assert_eq!(std::mem::size_of::<Option<GenKey>>(), 8);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GenKey {
    index: u32,
    generation: NonZeroU32,
}

impl GenKey {
    /// The slot index.
    ///
    /// ```
    /// use nexus_slab::GenSlab;
    /// let mut slab: GenSlab<u8> = GenSlab::with_capacity(2).unwrap();
    /// assert_eq!(slab.insert(1).unwrap().index(), 0);
    /// ```
    #[inline]
    pub const fn index(self) -> usize {
        self.index as usize
    }

    /// The generation: which occupant of the slot this key names (odd, never 0).
    ///
    /// ```
    /// use nexus_slab::GenSlab;
    /// let mut slab: GenSlab<u8> = GenSlab::with_capacity(2).unwrap();
    /// let a = slab.insert(1).unwrap();
    /// slab.remove(a);
    /// let b = slab.insert(2).unwrap();
    /// assert!(b.generation() > a.generation());
    /// ```
    #[inline]
    pub const fn generation(self) -> u32 {
        self.generation.get()
    }

    /// The key as one `u64` (generation in the high half), e.g. to store it in an atomic.
    ///
    /// ```
    /// use nexus_slab::{GenKey, GenSlab};
    /// let mut slab: GenSlab<u8> = GenSlab::with_capacity(2).unwrap();
    /// let k = slab.insert(1).unwrap();
    /// assert_eq!(GenKey::from_bits(k.to_bits()), Some(k));
    /// ```
    #[inline]
    pub const fn to_bits(self) -> u64 {
        (self.generation.get() as u64) << 32 | self.index as u64
    }

    /// The key stored by [`to_bits`](GenKey::to_bits); `None` for bits no key has (generation 0).
    /// Any `GenKey` is safe to use with any slab: a made-up one is simply not found.
    ///
    /// ```
    /// use nexus_slab::GenKey;
    /// assert_eq!(GenKey::from_bits(5), None);
    /// assert_eq!(GenKey::from_bits(1 << 32 | 5).map(GenKey::index), Some(5));
    /// ```
    #[inline]
    pub const fn from_bits(bits: u64) -> Option<Self> {
        match NonZeroU32::new((bits >> 32) as u32) {
            Some(generation) => Some(GenKey {
                index: bits as u32,
                generation,
            }),
            None => None,
        }
    }
}

impl SlabKey for GenKey {
    const GENERATIONAL: bool = true;

    #[inline]
    fn index(self) -> usize {
        self.index as usize
    }

    #[inline]
    fn from_parts(index: usize, generation: u32) -> Self {
        debug_assert!(index <= u32::MAX as usize && generation % 2 == 1);
        GenKey {
            index: index as u32,
            // Occupied slots have odd generations; 1 stands in for an impossible 0.
            generation: NonZeroU32::new(generation).unwrap_or(NonZeroU32::MIN),
        }
    }

    #[inline]
    fn generation_bits(self) -> u32 {
        self.generation.get()
    }
}

impl fmt::Debug for GenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GenKey({}v{})", self.index, self.generation)
    }
}
