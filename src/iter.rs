//! Iterators: [`Iter`], [`IterMut`], [`IntoIter`], [`Drain`]. All go in ascending key order,
//! from both ends, and know their exact length.
//!
//! They walk the occupancy bitmap a word (64 slots) at a time, so vacant slots cost one bit
//! each, not a visit: iterating a sparse slab touches only the live values.

use core::fmt;
use core::iter::FusedIterator;
use core::marker::PhantomData;

use crate::backing::Backing;
use crate::key::sealed::RawKey;
use crate::key::SlabKey;
use crate::raw::RawSlab;
use crate::{Key, Slab};

/// Walks the set bits of a bitmap from both ends. Over a slab the bits are numbered from 1
/// (bit `i + 1` for slot `i`, see `RawSlab::occupancy_word`): the iterators subtract one.
///
/// It stops after `remaining` indices, which is what keeps the two ends apart: the front yields
/// the smallest indices, the back the largest, and together never more than were set.
#[derive(Clone)]
pub(crate) struct BitCursor {
    front: usize,
    front_bits: u64,
    back: usize,
    back_bits: u64,
    remaining: usize,
}

/// Where a cursor reads its occupancy words (bit `b` of word `w`: slot `64 * w + b` occupied).
pub(crate) trait Words {
    /// # Safety
    /// `w` is below the number of words the cursor was made for.
    unsafe fn word(&self, w: usize) -> u64;
}

impl<T, K: RawKey> Words for RawSlab<T, K> {
    #[inline]
    unsafe fn word(&self, w: usize) -> u64 {
        // SAFETY: cursors over a slab are made for its live words (`new_for`).
        unsafe { self.occupancy_word(w) }
    }
}

impl BitCursor {
    /// A cursor over the occupied slots of `raw`.
    fn new_for<T, K: RawKey>(raw: &RawSlab<T, K>) -> Self {
        // SAFETY: the live words of a slab hold exactly `len` occupied slots.
        unsafe { BitCursor::new(raw, raw.live_words(), raw.len()) }
    }

    /// A cursor over the first `words` words of `src`, which hold exactly `len` set bits.
    ///
    /// # Safety
    /// `src` must answer `word(w)` for every `w < words`, with `len` bits set in all.
    unsafe fn new(src: &(impl Words + ?Sized), words: usize, len: usize) -> Self {
        if len == 0 {
            return BitCursor {
                front: 0,
                front_bits: 0,
                back: 0,
                back_bits: 0,
                remaining: 0,
            };
        }
        BitCursor {
            front: 0,
            // SAFETY: `len > 0`, so `words > 0`; word 0 and word `words - 1` are readable.
            front_bits: unsafe { src.word(0) },
            back: words - 1,
            // SAFETY: see above.
            back_bits: unsafe { src.word(words - 1) },
            remaining: len,
        }
    }

    /// # Safety
    /// The same source as given to `new`; slots may have been vacated since, but only ones this
    /// cursor already yielded.
    #[inline]
    unsafe fn next(&mut self, src: &(impl Words + ?Sized)) -> Option<usize> {
        if self.remaining == 0 {
            return None;
        }
        while self.front_bits == 0 {
            self.front += 1;
            // SAFETY: `remaining > 0` occupied slots lie at or after `front` and at or before
            // `back`, so `front` stays below the live words.
            self.front_bits = unsafe { src.word(self.front) };
        }
        let bit = self.front_bits.trailing_zeros() as usize;
        self.front_bits &= self.front_bits - 1;
        self.remaining -= 1;
        Some(self.front * 64 + bit)
    }

    /// # Safety
    /// As for [`next`](Self::next).
    #[inline]
    unsafe fn next_back(&mut self, src: &(impl Words + ?Sized)) -> Option<usize> {
        if self.remaining == 0 {
            return None;
        }
        while self.back_bits == 0 {
            self.back -= 1;
            // SAFETY: `remaining > 0` occupied slots lie at or before `back`, so it stays >= 0.
            self.back_bits = unsafe { src.word(self.back) };
        }
        let bit = 63 - self.back_bits.leading_zeros() as usize;
        self.back_bits &= !(1u64 << bit);
        self.remaining -= 1;
        Some(self.back * 64 + bit)
    }

    /// Feeds every remaining index, ascending, to `f`. A word whose 64 slots are all occupied
    /// is walked as a plain range, without bit scanning: dense iteration runs at memory speed.
    ///
    /// # Safety
    /// As for [`next`](Self::next).
    #[inline]
    unsafe fn fold<Acc>(
        self,
        src: &(impl Words + ?Sized),
        init: Acc,
        mut f: impl FnMut(Acc, usize) -> Acc,
    ) -> Acc {
        let mut acc = init;
        if self.remaining == 0 {
            return acc;
        }
        let (front, back) = (self.front, self.back);
        let mut w = front;
        loop {
            let mut word = if w == front && w == back {
                // Both ends consumed parts of this word: what is left is in both copies.
                self.front_bits & self.back_bits
            } else if w == front {
                self.front_bits
            } else if w == back {
                self.back_bits
            } else {
                // SAFETY: `front < w < back`, inside the live words.
                unsafe { src.word(w) }
            };
            let base = w * 64;
            if word == u64::MAX {
                for b in 0..64 {
                    acc = f(acc, base + b);
                }
            } else {
                while word != 0 {
                    let b = word.trailing_zeros() as usize;
                    word &= word - 1;
                    acc = f(acc, base + b);
                }
            }
            if w == back {
                return acc;
            }
            w += 1;
        }
    }
}

/// Shared references to every value, with keys, in ascending key order.
///
/// Made by [`Slab::iter`].
///
/// ```
/// use nexus_slab::{Key, Slab};
///
/// let mut slab: Slab<char> = Slab::with_capacity(8);
/// for c in ['a', 'b', 'c'] {
///     slab.insert(c).unwrap();
/// }
/// slab.remove(Key::new_saturating(1));
/// let all: Vec<_> = slab.iter().collect();
/// assert_eq!(all, [(Key::new_saturating(0), &'a'), (Key::new_saturating(2), &'c')]);
/// assert_eq!(slab.iter().rev().next(), Some((Key::new_saturating(2), &'c')));
/// ```
#[must_use = "iterators are lazy and do nothing unless consumed"]
pub struct Iter<'a, T, K: SlabKey = Key> {
    raw: &'a RawSlab<T, K::Raw>,
    cursor: BitCursor,
}

impl<'a, T, K: SlabKey> Iter<'a, T, K> {
    pub(crate) fn new(raw: &'a RawSlab<T, K::Raw>) -> Self {
        Iter {
            cursor: BitCursor::new_for(raw),
            raw,
        }
    }

    #[inline]
    fn item(&self, i: usize) -> (K, &'a T) {
        // SAFETY: the cursor only yields set bits, so slot `i` is occupied (and `< cap`); the
        // slab is borrowed shared for `'a`.
        unsafe { (K::from_raw(self.raw.key_at(i)), &*self.raw.value_ptr(i)) }
    }
}

impl<'a, T, K: SlabKey> Iterator for Iter<'a, T, K> {
    type Item = (K, &'a T);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        // SAFETY: the bitmap cannot change while the slab is borrowed.
        let b = unsafe { self.cursor.next(self.raw) }?;
        Some(self.item(b - 1))
    }

    #[inline]
    fn fold<Acc, F: FnMut(Acc, Self::Item) -> Acc>(self, init: Acc, mut f: F) -> Acc {
        let raw = self.raw;
        // SAFETY: the bitmap cannot change while the slab is borrowed; every bit the cursor
        // yields is an occupied slot's (bit `i + 1` for slot `i`), so `i < cap` and
        // initialised.
        unsafe {
            self.cursor.fold(raw, init, |acc, b| {
                let i = b - 1;
                f(acc, (K::from_raw(raw.key_at(i)), &*raw.value_ptr(i)))
            })
        }
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.cursor.remaining, Some(self.cursor.remaining))
    }
}

impl<T, K: SlabKey> DoubleEndedIterator for Iter<'_, T, K> {
    #[inline]
    fn next_back(&mut self) -> Option<Self::Item> {
        // SAFETY: as in `next`.
        let b = unsafe { self.cursor.next_back(self.raw) }?;
        Some(self.item(b - 1))
    }
}

impl<T, K: SlabKey> ExactSizeIterator for Iter<'_, T, K> {}
impl<T, K: SlabKey> FusedIterator for Iter<'_, T, K> {}

impl<T, K: SlabKey> Clone for Iter<'_, T, K> {
    fn clone(&self) -> Self {
        Iter {
            raw: self.raw,
            cursor: self.cursor.clone(),
        }
    }
}

impl<T, K: SlabKey> fmt::Debug for Iter<'_, T, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Iter")
            .field("remaining", &self.cursor.remaining)
            .finish()
    }
}

/// Mutable references to every value, with keys, in ascending key order.
///
/// Made by [`Slab::iter_mut`].
///
/// ```
/// use nexus_slab::Slab;
///
/// let mut slab: Slab<u32> = Slab::with_capacity(8);
/// for v in 1..=3 {
///     slab.insert(v).unwrap();
/// }
/// for (_, v) in slab.iter_mut() {
///     *v *= 10;
/// }
/// assert_eq!(slab.iter().map(|(_, v)| *v).sum::<u32>(), 60);
/// ```
#[must_use = "iterators are lazy and do nothing unless consumed"]
pub struct IterMut<'a, T, K: SlabKey = Key> {
    raw: &'a RawSlab<T, K::Raw>,
    cursor: BitCursor,
    _values: PhantomData<&'a mut T>,
}

// SAFETY: an `IterMut` hands out `&mut T` to distinct slots; it is `Send`/`Sync` exactly as
// `&mut T` is. The shared `&RawSlab` inside is only read (pointers, bitmap, generations).
unsafe impl<T: Send, K: SlabKey> Send for IterMut<'_, T, K> {}
// SAFETY: see above.
unsafe impl<T: Sync, K: SlabKey> Sync for IterMut<'_, T, K> {}

impl<'a, T, K: SlabKey> IterMut<'a, T, K> {
    pub(crate) fn new(raw: &'a mut RawSlab<T, K::Raw>) -> Self {
        IterMut {
            cursor: BitCursor::new_for(raw),
            raw,
            _values: PhantomData,
        }
    }

    #[inline]
    fn item(&mut self, i: usize) -> (K, &'a mut T) {
        // SAFETY: the cursor yields each occupied slot at most once, so the `&mut` references
        // are disjoint; the slab is borrowed mutably for `'a`. The pointer comes from the
        // core's own slot pointer, not from a reference to another slot.
        unsafe { (K::from_raw(self.raw.key_at(i)), &mut *self.raw.value_ptr(i)) }
    }
}

impl<'a, T, K: SlabKey> Iterator for IterMut<'a, T, K> {
    type Item = (K, &'a mut T);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        // SAFETY: the bitmap cannot change while the slab is borrowed.
        let b = unsafe { self.cursor.next(self.raw) }?;
        Some(self.item(b - 1))
    }

    #[inline]
    fn fold<Acc, F: FnMut(Acc, Self::Item) -> Acc>(self, init: Acc, mut f: F) -> Acc {
        let raw = self.raw;
        // SAFETY: as in `Iter::fold`; each index comes once, so the `&mut` are disjoint.
        unsafe {
            self.cursor.fold(raw, init, |acc, b| {
                let i = b - 1;
                f(acc, (K::from_raw(raw.key_at(i)), &mut *raw.value_ptr(i)))
            })
        }
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.cursor.remaining, Some(self.cursor.remaining))
    }
}

impl<T, K: SlabKey> DoubleEndedIterator for IterMut<'_, T, K> {
    #[inline]
    fn next_back(&mut self) -> Option<Self::Item> {
        // SAFETY: as in `next`.
        let b = unsafe { self.cursor.next_back(self.raw) }?;
        Some(self.item(b - 1))
    }
}

impl<T, K: SlabKey> ExactSizeIterator for IterMut<'_, T, K> {}
impl<T, K: SlabKey> FusedIterator for IterMut<'_, T, K> {}

impl<T, K: SlabKey> fmt::Debug for IterMut<'_, T, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IterMut")
            .field("remaining", &self.cursor.remaining)
            .finish()
    }
}

/// Every value, with its key, moved out of a slab in ascending key order.
///
/// Made by `slab.into_iter()`. Values not taken are dropped with the iterator, and then the
/// slab's memory is released.
///
/// ```
/// use nexus_slab::{Key, Slab};
///
/// let mut slab: Slab<String> = Slab::with_capacity(4);
/// slab.insert("a".to_string()).unwrap();
/// slab.insert("b".to_string()).unwrap();
/// let v: Vec<(Key, String)> = slab.into_iter().collect();
/// assert_eq!(v, [(Key::new_saturating(0), "a".to_string()), (Key::new_saturating(1), "b".to_string())]);
/// ```
#[must_use = "iterators are lazy and do nothing unless consumed"]
pub struct IntoIter<T, B: Backing, K: SlabKey = Key> {
    slab: Slab<T, B, K>,
    cursor: BitCursor,
}

impl<T, B: Backing, K: SlabKey> IntoIter<T, B, K> {
    pub(crate) fn new(slab: Slab<T, B, K>) -> Self {
        IntoIter {
            cursor: BitCursor::new_for(slab.raw()),
            slab,
        }
    }

    #[inline]
    fn item(&mut self, i: usize) -> (K, T) {
        let raw = self.slab.raw_mut();
        // SAFETY: the cursor yields each occupied slot once; its key is read first, then
        // `abandon` marks it vacant before the value is read, so the slab's drop will not drop
        // it again. The key type's conversion runs last: if it panics, the value is already
        // out (and dropped by the unwind), the slab consistent.
        let (raw_key, value) = unsafe { (raw.key_at(i), raw.abandon(i).read()) };
        (K::from_raw(raw_key), value)
    }
}

impl<T, B: Backing, K: SlabKey> Iterator for IntoIter<T, B, K> {
    type Item = (K, T);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        // SAFETY: the bits this cursor clears (via `abandon`) are ones it already yielded.
        let b = unsafe { self.cursor.next(self.slab.raw()) }?;
        Some(self.item(b - 1))
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.cursor.remaining, Some(self.cursor.remaining))
    }
}

impl<T, B: Backing, K: SlabKey> DoubleEndedIterator for IntoIter<T, B, K> {
    #[inline]
    fn next_back(&mut self) -> Option<Self::Item> {
        // SAFETY: as in `next`.
        let b = unsafe { self.cursor.next_back(self.slab.raw()) }?;
        Some(self.item(b - 1))
    }
}

impl<T, B: Backing, K: SlabKey> ExactSizeIterator for IntoIter<T, B, K> {}
impl<T, B: Backing, K: SlabKey> FusedIterator for IntoIter<T, B, K> {}

impl<T, B: Backing, K: SlabKey> fmt::Debug for IntoIter<T, B, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntoIter")
            .field("remaining", &self.cursor.remaining)
            .finish()
    }
}

/// Removes every value, with its key, in ascending key order.
///
/// Made by [`Slab::drain`]. The slab is empty once the `Drain` is dropped, whether or not it
/// was consumed, and (with plain keys) its next insert gets key 0 again. If the `Drain` is leaked
/// (`mem::forget`), the values not yet yielded stay in the slab.
///
/// ```
/// use nexus_slab::{Key, Slab};
///
/// let mut slab: Slab<u8> = Slab::with_capacity(4);
/// slab.insert(7).unwrap();
/// slab.insert(8).unwrap();
/// let first = slab.drain().next();
/// assert_eq!(first, Some((Key::new_saturating(0), 7)));
/// assert!(slab.is_empty());
/// ```
#[must_use = "iterators are lazy and do nothing unless consumed"]
pub struct Drain<'a, T, K: SlabKey = Key> {
    raw: &'a mut RawSlab<T, K::Raw>,
    cursor: BitCursor,
}

impl<'a, T, K: SlabKey> Drain<'a, T, K> {
    pub(crate) fn new(raw: &'a mut RawSlab<T, K::Raw>) -> Self {
        Drain {
            cursor: BitCursor::new_for(raw),
            raw,
        }
    }

    #[inline]
    fn item(&mut self, i: usize) -> (K, T) {
        // SAFETY: the cursor yields each occupied slot once; its key is read first, then
        // `take` unlinks it before the value leaves, so the slab is consistent even if the
        // caller's drop panics. The key type's conversion runs last (see `IntoIter::item`).
        let (raw_key, value) = unsafe { (self.raw.key_at(i), self.raw.take(i)) };
        (K::from_raw(raw_key), value)
    }
}

impl<T, K: SlabKey> Iterator for Drain<'_, T, K> {
    type Item = (K, T);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        // SAFETY: the bits cleared since creation are ones this cursor yielded.
        let b = unsafe { self.cursor.next(self.raw) }?;
        Some(self.item(b - 1))
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.cursor.remaining, Some(self.cursor.remaining))
    }
}

impl<T, K: SlabKey> DoubleEndedIterator for Drain<'_, T, K> {
    #[inline]
    fn next_back(&mut self) -> Option<Self::Item> {
        // SAFETY: as in `next`.
        let b = unsafe { self.cursor.next_back(self.raw) }?;
        Some(self.item(b - 1))
    }
}

impl<T, K: SlabKey> ExactSizeIterator for Drain<'_, T, K> {}
impl<T, K: SlabKey> FusedIterator for Drain<'_, T, K> {}

impl<T, K: SlabKey> Drop for Drain<'_, T, K> {
    fn drop(&mut self) {
        // Drop what was not yielded, without making keys (no key type's code runs here). A
        // panicking `Drop` stops here with the slab consistent.
        // SAFETY: the bits cleared since creation are ones this cursor yielded; each slot it
        // yields is occupied, and `take` leaves the slab consistent before the value drops.
        while let Some(b) = unsafe { self.cursor.next(self.raw) } {
            // SAFETY: slot `b - 1` was just yielded by the cursor: occupied.
            drop(unsafe { self.raw.take(b - 1) });
        }
        // Everything is out: start key numbering afresh (plain keys), as `clear` does.
        self.raw.restart();
    }
}

impl<T, K: SlabKey> fmt::Debug for Drain<'_, T, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Drain")
            .field("remaining", &self.cursor.remaining)
            .finish()
    }
}

/// Declares an adapter over `Iter`/`IterMut` that yields one part of each `(key, value)`
/// pair, keeping the inner iterator's order, both ends, exact length and fast `fold`.
macro_rules! part_iter {
    ($(#[$doc:meta])* $name:ident, $inner:ident, $item:ty, |$k:ident, $v:ident| $part:expr) => {
        $(#[$doc])*
        #[must_use = "iterators are lazy and do nothing unless consumed"]
        pub struct $name<'a, T, K: SlabKey = Key>($inner<'a, T, K>);

        impl<'a, T, K: SlabKey> $name<'a, T, K> {
            pub(crate) fn new(inner: $inner<'a, T, K>) -> Self {
                $name(inner)
            }
        }

        impl<'a, T, K: SlabKey> Iterator for $name<'a, T, K> {
            type Item = $item;

            #[inline]
            fn next(&mut self) -> Option<Self::Item> {
                self.0.next().map(|($k, $v)| $part)
            }

            #[inline]
            fn fold<Acc, F: FnMut(Acc, Self::Item) -> Acc>(self, init: Acc, mut f: F) -> Acc {
                self.0.fold(init, |acc, ($k, $v)| f(acc, $part))
            }

            #[inline]
            fn size_hint(&self) -> (usize, Option<usize>) {
                self.0.size_hint()
            }
        }

        impl<T, K: SlabKey> DoubleEndedIterator for $name<'_, T, K> {
            #[inline]
            fn next_back(&mut self) -> Option<Self::Item> {
                self.0.next_back().map(|($k, $v)| $part)
            }
        }

        impl<T, K: SlabKey> ExactSizeIterator for $name<'_, T, K> {}
        impl<T, K: SlabKey> FusedIterator for $name<'_, T, K> {}

        impl<T, K: SlabKey> fmt::Debug for $name<'_, T, K> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("remaining", &self.0.len())
                    .finish()
            }
        }
    };
}

part_iter!(
    /// The keys of a slab, in ascending order. Made by [`Slab::keys`].
    ///
    /// ```
    /// use nexus_slab::{Key, Slab};
    ///
    /// let mut slab: Slab<char> = Slab::with_capacity(4);
    /// slab.insert('a').unwrap();
    /// slab.insert('b').unwrap();
    /// assert_eq!(slab.keys().collect::<Vec<_>>(), [Key::new_saturating(0), Key::new_saturating(1)]);
    /// assert_eq!(slab.keys().rev().next(), Some(Key::new_saturating(1)));
    /// ```
    Keys, Iter, K, |k, _v| k
);

part_iter!(
    /// The values of a slab, in ascending key order. Made by [`Slab::values`].
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let mut slab: Slab<u32> = Slab::with_capacity(4);
    /// slab.insert(1).unwrap();
    /// slab.insert(2).unwrap();
    /// assert_eq!(slab.values().sum::<u32>(), 3);
    /// ```
    Values, Iter, &'a T, |_k, v| v
);

part_iter!(
    /// Mutable references to the values of a slab, in ascending key order. Made by
    /// [`Slab::values_mut`].
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let mut slab: Slab<u32> = Slab::with_capacity(4);
    /// slab.insert(1).unwrap();
    /// slab.values_mut().for_each(|v| *v *= 10);
    /// assert_eq!(slab.values().next(), Some(&10));
    /// ```
    ValuesMut, IterMut, &'a mut T, |_k, v| v
);

impl<T, K: SlabKey> Clone for Keys<'_, T, K> {
    fn clone(&self) -> Self {
        Keys(self.0.clone())
    }
}

impl<T, K: SlabKey> Clone for Values<'_, T, K> {
    fn clone(&self) -> Self {
        Values(self.0.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backing::Heap;

    type HeapSlab<T> = Slab<T, Heap>;

    fn slab_with<T>(n: usize, f: impl Fn(usize) -> T) -> HeapSlab<T> {
        let mut s = HeapSlab::with_capacity(n);
        for i in 0..n {
            assert_eq!(s.insert(f(i)).ok().map(Key::index), Some(i));
        }
        s
    }

    impl Words for [u64] {
        unsafe fn word(&self, w: usize) -> u64 {
            self[w]
        }
    }

    /// A cursor over a bitmap it borrows, with safe methods.
    struct Walk<'a> {
        words: &'a [u64],
        c: BitCursor,
    }

    impl<'a> Walk<'a> {
        fn new(words: &'a [u64]) -> Self {
            let len = words.iter().map(|w| w.count_ones() as usize).sum();
            // SAFETY: `words` is borrowed for as long as the cursor is used, with exactly
            // `len` bits set.
            let c = unsafe { BitCursor::new(words, words.len(), len) };
            Walk { words, c }
        }
        fn next(&mut self) -> Option<usize> {
            // SAFETY: the same unchanged bitmap the cursor was made for.
            unsafe { self.c.next(self.words) }
        }
        fn next_back(&mut self) -> Option<usize> {
            // SAFETY: as in `next`.
            unsafe { self.c.next_back(self.words) }
        }
    }

    /// Every index a cursor yields from the front, then from the back, then alternating.
    fn walks(words: &[u64]) -> (Vec<usize>, Vec<usize>, Vec<usize>) {
        let mut c = Walk::new(words);
        let fwd: Vec<usize> = core::iter::from_fn(|| c.next()).collect();
        let mut c = Walk::new(words);
        let mut back: Vec<usize> = core::iter::from_fn(|| c.next_back()).collect();
        back.reverse();
        let mut c = Walk::new(words);
        let (mut front, mut rear) = (Vec::new(), Vec::new());
        while let Some(i) = c.next() {
            front.push(i);
            match c.next_back() {
                Some(i) => rear.push(i),
                None => break,
            }
        }
        assert_eq!(c.c.remaining, 0);
        assert_eq!((c.next(), c.next_back()), (None, None));
        rear.reverse();
        front.extend(rear);
        (fwd, back, front)
    }

    fn set_bits(words: &[u64]) -> Vec<usize> {
        (0..words.len() * 64)
            .filter(|&i| words[i / 64] & (1 << (i % 64)) != 0)
            .collect()
    }

    #[test]
    fn bit_cursor_yields_each_set_bit_once_from_either_end() {
        let patterns: &[&[u64]] = &[
            &[],
            &[0],
            &[1],
            &[1 << 63],
            &[0, 1],
            &[1, 0, 0, 1 << 63],
            &[!0, !0, !0],
            &[0x8000_0000_0000_0001, 0, 0x10],
            &[0, 0, 0, 0, 0b1010],
            &[0xdead_beef_0bad_f00d, 0x0123_4567_89ab_cdef],
        ];
        for words in patterns {
            let want = set_bits(words);
            let (fwd, back, both) = walks(words);
            assert_eq!(fwd, want, "{words:x?} forwards");
            assert_eq!(back, want, "{words:x?} backwards");
            assert_eq!(both, want, "{words:x?} from both ends");
        }
    }

    #[test]
    fn bit_cursor_on_pseudo_random_bitmaps() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut rand = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for n in 1..if cfg!(miri) { 12 } else { 200 } {
            let words: Vec<u64> = (0..n % 7 + 1).map(|_| rand() & rand()).collect();
            let want = set_bits(&words);
            let (fwd, back, both) = walks(&words);
            assert_eq!((fwd, back), (want.clone(), want.clone()));
            assert_eq!(both, want);
        }
    }

    #[test]
    fn iter_mut_references_are_disjoint_and_live_together() {
        let mut s = slab_with(130, |i| i as u64);
        s.remove(Key::new_saturating(64));
        // Hold every `&mut` at once, then write through each: Miri checks they never alias.
        let refs: Vec<(Key, &mut u64)> = s.iter_mut().collect();
        assert_eq!(refs.len(), 129);
        for (k, v) in refs {
            *v += k.index() as u64;
        }
        assert!(s.iter().all(|(k, v)| *v == 2 * k.index() as u64));
    }

    #[test]
    fn iter_mut_from_both_ends_stays_disjoint() {
        let mut s = slab_with(10, |i| i as u32);
        let mut it = s.iter_mut();
        let a = it.next().unwrap();
        let b = it.next_back().unwrap();
        let c = it.next().unwrap();
        *a.1 += 100;
        *b.1 += 100;
        *c.1 += 100;
        assert_eq!((a.0.index(), b.0.index(), c.0.index()), (0, 9, 1));
        assert_eq!(it.len(), 7);
        assert_eq!(s[Key::new_saturating(9)], 109);
    }

    #[test]
    fn shared_references_from_iter_outlive_the_iterator() {
        let s = slab_with(70, |i| i.to_string());
        let all: Vec<&String> = s.iter().map(|(_, v)| v).collect();
        let again: Vec<&String> = s.iter().rev().map(|(_, v)| v).collect();
        assert_eq!(all.len(), 70);
        assert_eq!(all[69], again[0]);
        let it = s.iter();
        let cloned = it.clone();
        assert_eq!(it.count(), cloned.count());
    }

    #[test]
    fn size_hints_are_exact_at_every_step() {
        let mut s = slab_with(100, |i| i);
        for i in (0..100).step_by(3) {
            s.remove(Key::new_saturating(i));
        }
        let n = s.len();
        let mut it = s.iter();
        for left in (0..n).rev() {
            assert!(if left % 2 == 0 {
                it.next()
            } else {
                it.next_back()
            }
            .is_some());
            assert_eq!(it.size_hint(), (left, Some(left)));
        }
        assert!(it.next().is_none() && it.next_back().is_none());
        let mut d = s.drain();
        assert_eq!(d.len(), n);
        d.next_back();
        assert_eq!(d.size_hint(), (n - 1, Some(n - 1)));
    }

    #[test]
    fn drain_from_the_back_frees_every_heap_value() {
        let mut s = slab_with(65, |i| vec![i; 3]);
        {
            let mut d = s.drain();
            assert_eq!(
                d.next_back().map(|(k, v)| (k.index(), v[0])),
                Some((64, 64))
            );
            assert_eq!(d.next().map(|(k, _)| k.index()), Some(0));
            assert_eq!(d.next_back().map(|(k, _)| k.index()), Some(63));
        } // the other 62 Vecs drop here; Miri reports any leak or double free
        assert!(s.is_empty());
        assert_eq!(s.insert(vec![]).unwrap(), Key::new_saturating(0));
    }

    #[test]
    fn into_iter_partly_consumed_frees_everything() {
        let s = slab_with(100, Box::new);
        let mut it = s.into_iter();
        assert_eq!(it.next().map(|(k, v)| (k.index(), *v)), Some((0, 0)));
        assert_eq!(it.next_back().map(|(k, v)| (k.index(), *v)), Some((99, 99)));
        assert_eq!(it.len(), 98);
        assert!(format!("{it:?}").contains("98"));
    } // 98 boxes and the region are freed with the iterator

    #[test]
    fn into_iter_of_an_unallocated_slab_is_empty() {
        let s: HeapSlab<String> = Slab::new_in(Heap::new());
        let mut it = s.into_iter();
        assert_eq!(it.len(), 0);
        assert!(it.next().is_none() && it.next_back().is_none());
    }

    #[test]
    fn forgotten_drain_leaves_a_consistent_slab() {
        let mut s = slab_with(5, |i| i.to_string());
        let mut d = s.drain();
        assert_eq!(d.next_back().map(|(k, _)| k.index()), Some(4));
        core::mem::forget(d);
        assert_eq!(s.len(), 4);
        assert_eq!(s.insert("x".into()).unwrap(), Key::new_saturating(4));
        assert_eq!(s.iter().count(), 5);
    }

    #[test]
    fn debug_shows_what_is_left() {
        let mut s = slab_with(3, |i| i);
        let mut it = s.iter();
        it.next();
        assert_eq!(format!("{it:?}"), "Iter { remaining: 2 }");
        let it = s.iter_mut();
        assert_eq!(format!("{it:?}"), "IterMut { remaining: 3 }");
        let d = s.drain();
        assert_eq!(format!("{d:?}"), "Drain { remaining: 3 }");
    }
}
