//! The handles a slab gives out: plain [`Key`]s, or generational [`GenKey`]s that detect
//! reuse. The kind is chosen by type ([`SlabKey`]); one core serves both.

use core::fmt;
use core::hash::Hash;
use core::num::NonZeroU32;

pub(crate) mod sealed {
    use core::fmt;
    use core::hash::Hash;

    /// The two key representations the core knows: [`Key`](crate::Key) and
    /// [`GenKey`](crate::GenKey). Sealed: only this crate can make one from raw parts, so every
    /// value of a raw key is one the public constructors allow.
    pub trait RawKey: Copy + Eq + Ord + Hash + fmt::Debug {
        /// Whether keys carry a generation (and the slab keeps one per slot).
        const GENERATIONAL: bool;

        /// The slot index this key names.
        fn slot(self) -> usize;

        /// The slot index plus one (what a `Key` stores; never 0).
        fn ordinal(self) -> usize;

        /// The key of the slot numbered `n` (index + 1) at stored generation `generation`
        /// (ignored by plain keys).
        ///
        /// # Safety
        /// `1 <= n <= MAX_CAPACITY`: the core calls it only with the number of one of its
        /// slots. For generational keys `generation` must be odd (the generation of an
        /// occupied slot, or the next one of a vacant slot), so never 0.
        unsafe fn from_ordinal(n: u32, generation: u32) -> Self;

        /// The generation this key expects (0 for plain keys; odd for generational ones).
        fn generation_bits(self) -> u32;

        /// The key as one `u64`, as saved slabs store it: a plain key's index, a generational
        /// key's bits.
        #[cfg_attr(not(feature = "serde"), allow(dead_code))]
        fn to_wire(self) -> u64;

        /// The key saved as `bits`, or `None` for bits no slab hands out.
        #[cfg_attr(not(feature = "serde"), allow(dead_code))]
        fn from_wire(bits: u64) -> Option<Self>;
    }
}

use sealed::RawKey;

/// The kind of key a slab hands out: [`Key`] (the default), [`GenKey`], or a typed key made
/// from one of them with [`new_key_type!`](crate::new_key_type).
///
/// Every `SlabKey` stands for one of the two built-in keys (its [`Raw`](SlabKey::Raw) type):
/// the slab converts with [`from_raw`](SlabKey::from_raw) when it hands a key out and with
/// [`into_raw`](SlabKey::into_raw) when it is given one, and looks at nothing else — not
/// [`index`](SlabKey::index), not `Eq`, `Ord` or `Hash`. Every raw key value is safe to use
/// with every slab, so the safe methods stay sound whatever an implementation returns; only
/// [`get_unchecked`](crate::Slab::get_unchecked) (an `unsafe fn`) relies on the round trip
/// below, which is why the trait is `unsafe`.
///
/// Use [`new_key_type!`](crate::new_key_type) to make key types; implement it by hand only
/// when the macro cannot express what you need.
///
/// # Safety
///
/// An implementation must make `from_raw` and `into_raw` inverse: for every raw key `r`,
/// `K::from_raw(r).into_raw() == r`, and `into_raw` must return the same raw key every time
/// it is called on copies of the same key. (A newtype around `Key` or `GenKey` that wraps and
/// unwraps its field does.) Either may panic: the slab is left as it was.
///
/// ```
/// use nexus_slab::{GenKey, Key, SlabKey};
///
/// fn index_of<K: SlabKey>(key: K) -> usize {
///     key.index()
/// }
/// assert_eq!(index_of(Key::new_saturating(3)), 3);
/// assert_eq!(index_of(GenKey::from_bits(1 << 32 | 7).unwrap()), 7);
///
/// // By hand (what `new_key_type!` writes for you):
/// #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
/// struct Ticket(Key);
/// // SAFETY: `from_raw` wraps and `into_raw` unwraps the same field.
/// unsafe impl SlabKey for Ticket {
///     type Raw = Key;
///     fn from_raw(raw: Key) -> Self {
///         Ticket(raw)
///     }
///     fn into_raw(self) -> Key {
///         self.0
///     }
/// }
/// let mut slab: nexus_slab::Slab<&str, nexus_slab::backing::Heap, Ticket> =
///     nexus_slab::Slab::new_in(nexus_slab::backing::Heap::new());
/// slab.alloc(4).unwrap();
/// let t: Ticket = slab.insert("row 12").unwrap();
/// assert_eq!(slab[t], "row 12");
/// ```
///
/// A safe `impl` does not compile:
///
/// ```compile_fail,E0200
/// use nexus_slab::{Key, SlabKey};
/// #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
/// struct Evil(Key);
/// impl SlabKey for Evil {
///     type Raw = Key;
///     fn from_raw(_: Key) -> Self { Evil(Key::new_saturating(1_000_000)) }
///     fn into_raw(self) -> Key { self.0 }
/// }
/// ```
pub unsafe trait SlabKey: Copy + Eq + Ord + Hash + fmt::Debug {
    /// The built-in key this key stands for: [`Key`] or [`GenKey`].
    type Raw: RawKey;

    /// This key, from the built-in key the slab handed out.
    ///
    /// ```
    /// use nexus_slab::{Key, SlabKey};
    /// assert_eq!(<Key as SlabKey>::from_raw(Key::new_saturating(2)), Key::new_saturating(2));
    /// ```
    fn from_raw(raw: Self::Raw) -> Self;

    /// The built-in key this key stands for.
    ///
    /// ```
    /// use nexus_slab::{Key, SlabKey};
    /// assert_eq!(Key::new_saturating(2).into_raw(), Key::new_saturating(2));
    /// ```
    fn into_raw(self) -> Self::Raw;

    /// The slot index this key names. The slab never calls it (it reads the raw key).
    ///
    /// ```
    /// use nexus_slab::{Key, SlabKey};
    /// assert_eq!(SlabKey::index(Key::new_saturating(9)), 9);
    /// ```
    #[inline]
    fn index(self) -> usize {
        self.into_raw().slot()
    }
}

/// The handle to a value in a [`Slab`](crate::Slab): the index of its slot, in 4 bytes.
///
/// Keys are plain indices with **no generation counter**, as in the `slab` crate. It is the
/// caller's responsibility not to use a stale key: after a value is removed its slot is reused
/// (last freed, first reused), and the old key then reaches the new value.
///
/// A `Key` is 4 bytes and so is `Option<Key>` (the index is stored plus one, leaving 0 free
/// for `None`), so keys stored inside values — links of a list, an order book's price
/// levels — cost what a `u32` does.
///
/// Any key value at all is *safe* to pass to a slab — stale, from another slab, or
/// `Key::new_saturating(usize::MAX)`: lookups answer `None`/`false`, never undefined behaviour and never a
/// panic (only `slab[key]` panics, as `Index` does everywhere).
///
/// ```
/// use nexus_slab::{Key, Slab};
///
/// let mut slab: Slab<&str> = Slab::with_capacity(4);
/// let k = slab.insert("a").unwrap();
/// assert_eq!(k, Key::new_saturating(0));
/// assert_eq!(k.index(), 0);
/// assert_eq!(slab.get(Key::new_saturating(usize::MAX)), None);
/// assert_eq!(std::mem::size_of::<Option<Key>>(), 4);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(transparent)]
pub struct Key(NonZeroU32);

impl Key {
    /// The largest index a `Key` holds. No slab has a slot there (a slab holds at most
    /// `Key::MAX_INDEX` slots, numbered from 0), so it is the key that is never found.
    ///
    /// ```
    /// use nexus_slab::Key;
    /// assert_eq!(Key::MAX_INDEX, u32::MAX as usize - 1);
    /// ```
    pub const MAX_INDEX: usize = u32::MAX as usize - 1;

    /// The key of slot `index`, saturating: an index beyond [`MAX_INDEX`](Key::MAX_INDEX)
    /// becomes `MAX_INDEX`, which no slab has, so such a key is simply not found — never
    /// another slot. For a key that refuses such an index, `Key::try_from(index)`.
    ///
    /// ```
    /// use nexus_slab::Key;
    /// assert_eq!(Key::new_saturating(3).index(), 3);
    /// assert_eq!(Key::new_saturating(usize::MAX).index(), Key::MAX_INDEX);
    /// assert!(Key::try_from(usize::MAX).is_err());
    /// ```
    #[inline]
    #[must_use]
    pub const fn new_saturating(index: usize) -> Self {
        let index = if index < Self::MAX_INDEX {
            index
        } else {
            Self::MAX_INDEX
        };
        // `index + 1` is in `1..=u32::MAX`: never zero.
        match NonZeroU32::new(index as u32 + 1) {
            Some(n) => Key(n),
            None => unreachable!(),
        }
    }

    /// The slot index this key names (at most [`MAX_INDEX`](Key::MAX_INDEX)).
    ///
    /// ```
    /// use nexus_slab::Key;
    /// assert_eq!(Key::new_saturating(42).index(), 42);
    /// ```
    #[inline]
    pub const fn index(self) -> usize {
        (self.0.get() - 1) as usize
    }
}

impl RawKey for Key {
    const GENERATIONAL: bool = false;

    #[inline]
    fn slot(self) -> usize {
        self.index()
    }

    #[inline]
    fn ordinal(self) -> usize {
        self.0.get() as usize
    }

    #[inline]
    unsafe fn from_ordinal(n: u32, _: u32) -> Self {
        debug_assert!(n != 0 && n as usize <= Key::MAX_INDEX);
        // SAFETY: `n >= 1` per the caller. (Unlike `Key::new`, no clamp: this is the insert
        // path, and a `Key` stores exactly this number.)
        Key(unsafe { NonZeroU32::new_unchecked(n) })
    }

    #[inline]
    fn generation_bits(self) -> u32 {
        0
    }

    fn to_wire(self) -> u64 {
        self.index() as u64
    }

    fn from_wire(bits: u64) -> Option<Self> {
        Some(Key::new_saturating(
            usize::try_from(bits).unwrap_or(usize::MAX),
        ))
    }
}

// SAFETY: the identity: `from_raw` and `into_raw` return their argument.
unsafe impl SlabKey for Key {
    type Raw = Key;

    #[inline]
    fn from_raw(raw: Key) -> Self {
        raw
    }

    #[inline]
    fn into_raw(self) -> Key {
        self
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({})", self.index())
    }
}

impl TryFrom<usize> for Key {
    type Error = crate::KeyError;

    /// The key of slot `index`, or [`KeyError::OutOfRange`](crate::KeyError::OutOfRange) when
    /// no slab can have that slot (`index > Key::MAX_INDEX`; its `capacity` is the most slots a
    /// slab holds). [`Key::new_saturating`] maps such an index to the key no slab has instead.
    ///
    /// ```
    /// use nexus_slab::{Key, KeyError};
    ///
    /// assert_eq!(Key::try_from(5), Ok(Key::new_saturating(5)));
    /// let err = Key::try_from(1usize << 33).unwrap_err();
    /// assert!(matches!(err, KeyError::OutOfRange { index, .. } if index == 1 << 33));
    /// ```
    fn try_from(index: usize) -> Result<Self, Self::Error> {
        if index <= Key::MAX_INDEX {
            Ok(Key::new_saturating(index))
        } else {
            Err(crate::KeyError::OutOfRange {
                index,
                capacity: Key::MAX_INDEX + 1,
            })
        }
    }
}

impl From<Key> for usize {
    /// Same as [`Key::index`].
    ///
    /// ```
    /// use nexus_slab::Key;
    /// assert_eq!(usize::from(Key::new_saturating(5)), 5);
    /// ```
    fn from(key: Key) -> Self {
        key.index()
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
/// let mut slab: GenSlab<&str> = GenSlab::with_capacity(4);
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
    /// let mut slab: GenSlab<u8> = GenSlab::with_capacity(2);
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
    /// let mut slab: GenSlab<u8> = GenSlab::with_capacity(2);
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
    /// let mut slab: GenSlab<u8> = GenSlab::with_capacity(2);
    /// let k = slab.insert(1).unwrap();
    /// assert_eq!(GenKey::from_bits(k.to_bits()), Some(k));
    /// ```
    #[inline]
    pub const fn to_bits(self) -> u64 {
        (self.generation.get() as u64) << 32 | self.index as u64
    }

    /// The key stored by [`to_bits`](GenKey::to_bits), or `None` for bits that no slab ever
    /// hands out: a generation of 0 or an even one (a slab gives occupied slots odd
    /// generations and vacant ones even). Such bits are refused rather than rounded to a
    /// nearby key, so corrupted input shows as `None` and `from_bits(k.to_bits()) == Some(k)`
    /// for every key.
    ///
    /// Any key it returns is safe to use with any slab: one that the slab did not hand out
    /// for the value now in its slot is simply not found (never a vacant slot, never another
    /// value).
    ///
    /// ```
    /// use nexus_slab::GenKey;
    /// assert_eq!(GenKey::from_bits(5), None); // generation 0
    /// assert_eq!(GenKey::from_bits(2 << 32 | 5), None); // even: a vacant slot's generation
    /// assert_eq!(GenKey::from_bits(1 << 32 | 5).map(GenKey::index), Some(5));
    /// ```
    #[inline]
    pub const fn from_bits(bits: u64) -> Option<Self> {
        let generation = (bits >> 32) as u32;
        if generation % 2 == 0 {
            return None;
        }
        match NonZeroU32::new(generation) {
            Some(generation) => Some(GenKey {
                index: bits as u32,
                generation,
            }),
            None => None,
        }
    }
}

impl RawKey for GenKey {
    const GENERATIONAL: bool = true;

    #[inline]
    fn slot(self) -> usize {
        self.index as usize
    }

    #[inline]
    fn ordinal(self) -> usize {
        self.index as usize + 1
    }

    #[inline]
    unsafe fn from_ordinal(n: u32, generation: u32) -> Self {
        debug_assert!(n != 0 && generation % 2 == 1);
        GenKey {
            index: n - 1,
            // SAFETY: odd per the caller, so not 0.
            generation: unsafe { NonZeroU32::new_unchecked(generation) },
        }
    }

    #[inline]
    fn generation_bits(self) -> u32 {
        self.generation.get()
    }

    fn to_wire(self) -> u64 {
        self.to_bits()
    }

    fn from_wire(bits: u64) -> Option<Self> {
        GenKey::from_bits(bits)
    }
}

impl GenKey {
    /// Test hook: a key with any non-zero generation, even ones no constructor makes, to
    /// check that the core's lookups refuse them too (defence in depth).
    #[cfg(test)]
    pub(crate) fn forged_for_test(index: u32, generation: u32) -> Self {
        GenKey {
            index,
            generation: NonZeroU32::new(generation).expect("non-zero"),
        }
    }
}

// SAFETY: the identity: `from_raw` and `into_raw` return their argument.
unsafe impl SlabKey for GenKey {
    type Raw = GenKey;

    #[inline]
    fn from_raw(raw: GenKey) -> Self {
        raw
    }

    #[inline]
    fn into_raw(self) -> GenKey {
        self
    }
}

impl fmt::Debug for GenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GenKey({}v{})", self.index, self.generation)
    }
}
