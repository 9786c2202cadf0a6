//! Where things are inside a slab's region: the slot array, the occupancy bitmap and, for
//! generational keys, the generations.
//!
//! ```text
//! region (from the backing, page-aligned)
//! ├─ slots:       capacity × size_of::<Slot<T>>()   offset 0, aligned to the slot
//! └─ bitmap:      ceil(capacity / 64) × u64         offset rounded up to 64 (a cache line)
//!    or, with generational keys, instead of the bitmap:
//! └─ generations: capacity × u32                    offset rounded up to 64; odd = occupied
//! ```
//!
//! A slot is a union of the value and a 32-bit free-list link, so a slot costs
//! `max(size_of::<T>(), 4)` rounded up to `align_of::<T>()` (at least 4), plus one bit — or,
//! when the keys are [`GenKey`](crate::GenKey)s, 4 bytes of generation, whose parity doubles
//! as the occupancy bit.

use core::alloc::Layout;
use core::mem::{align_of, size_of};

use super::Slot;
use crate::key::sealed::RawKey;

/// The most slots a slab can hold: free-list links are `u32` (`u32::MAX` means "none"), and
/// [`Key::MAX_INDEX`](crate::Key::MAX_INDEX), where every too-large key index lands, must never
/// be a slot.
pub(crate) const MAX_CAPACITY: usize = crate::Key::MAX_INDEX;

/// Offsets of the bitmap and the generations are rounded up to this (a cache line).
const LINE: usize = 64;

/// `n` rounded up to a cache line, or `None` on overflow.
fn line_up(n: usize) -> Option<usize> {
    Some(n.checked_add(LINE - 1)? & !(LINE - 1))
}

/// Slot geometry of one `T`, and the sizes derived from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SlotLayout {
    /// Bytes between consecutive slots.
    pub(crate) slot_size: usize,
    /// Alignment of the slot array (and so of every value).
    pub(crate) slot_align: usize,
    /// Bytes of generation per slot: 4 for generational keys, 0 for plain ones.
    pub(crate) gen_size: usize,
}

impl SlotLayout {
    /// The geometry of `Slot<T>` under keys `K`.
    pub(crate) const fn of<T, K: RawKey>() -> Self {
        SlotLayout {
            slot_size: size_of::<Slot<T>>(),
            slot_align: align_of::<Slot<T>>(),
            gen_size: if K::GENERATIONAL { size_of::<u32>() } else { 0 },
        }
    }

    /// Number of `u64` words in the bitmap of `cap` slots: bits `0..=cap` (bit 0 is the
    /// sentinel, slot `i` is bit `i + 1`).
    pub(crate) const fn bitmap_words(cap: usize) -> usize {
        cap / 64 + 1
    }

    /// Byte offset of the bitmap for `cap` slots, or `None` on overflow.
    pub(crate) fn bitmap_offset(&self, cap: usize) -> Option<usize> {
        line_up(cap.checked_mul(self.slot_size)?)
    }

    /// Byte offset of the generations for `cap` slots (generational keys, which need no
    /// bitmap: an odd generation means occupied), or `None` on overflow.
    pub(crate) fn gens_offset(&self, cap: usize) -> Option<usize> {
        line_up(cap.checked_mul(self.slot_size)?)
    }

    /// Bytes that `cap` slots need (slots, bitmap, generations), or `None` on overflow.
    pub(crate) fn bytes_for(&self, cap: usize) -> Option<usize> {
        if self.gen_size == 0 {
            let words = Self::bitmap_words(cap);
            return self.bitmap_offset(cap)?.checked_add(words.checked_mul(8)?);
        }
        self.gens_offset(cap)?
            .checked_add(cap.checked_mul(self.gen_size)?)
    }

    /// Alignment the region needs: the slots', and the bitmap words'.
    pub(crate) const fn region_align(&self) -> usize {
        if self.slot_align > align_of::<u64>() {
            self.slot_align
        } else {
            align_of::<u64>()
        }
    }

    /// The layout to ask a backing for, for `cap` slots. `None` when the size overflows
    /// (including the rounding `Layout` itself does).
    pub(crate) fn region_layout(&self, cap: usize) -> Option<Layout> {
        let size = self.bytes_for(cap)?;
        Layout::from_size_align(size, self.region_align()).ok()
    }

    /// The layout to release a region of `len` bytes with: the allocation's alignment, and a
    /// size between the one requested and the region's length.
    pub(crate) fn release_layout(&self, len: usize) -> Layout {
        Layout::from_size_align(len, self.region_align())
            .expect("the region was allocated with this alignment")
    }

    /// The most slots (at most [`MAX_CAPACITY`]) whose bytes fit in `len` bytes.
    pub(crate) fn capacity_for(&self, len: usize) -> usize {
        // bytes_for is monotonic in cap: binary search the largest cap that fits.
        let mut lo = 0usize; // fits
        let mut hi = (len / self.slot_size).min(MAX_CAPACITY); // upper bound
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            match self.bytes_for(mid) {
                Some(b) if b <= len => lo = mid,
                _ => hi = mid - 1,
            }
        }
        lo
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{GenKey, Key};

    #[test]
    fn generational_keys_add_four_bytes_per_slot() {
        let plain = SlotLayout::of::<u64, Key>();
        let gen = SlotLayout::of::<u64, GenKey>();
        assert_eq!(gen.bytes_for(0), Some(0));
        for cap in [1usize, 64, 1000, 1 << 20] {
            // Four bytes of generation replace the bit of the bitmap.
            let extra = gen.bytes_for(cap).unwrap() as f64 - plain.bytes_for(cap).unwrap() as f64;
            assert!(extra <= 4.0 * cap as f64 + 64.0, "{cap}: {extra}");
            assert!(extra >= 3.875 * cap as f64 - 64.0, "{cap}: {extra}");
        }
        assert_eq!(gen.gens_offset(1), Some(64));
        assert_eq!(gen.bytes_for(1), Some(68));
    }

    #[test]
    fn slot_size_is_value_size_with_a_four_byte_floor() {
        assert_eq!(SlotLayout::of::<u64, Key>().slot_size, 8);
        assert_eq!(SlotLayout::of::<u8, Key>().slot_size, 4);
        assert_eq!(SlotLayout::of::<(), Key>().slot_size, 4);
        assert_eq!(SlotLayout::of::<[u8; 32], Key>().slot_size, 32);
        assert_eq!(SlotLayout::of::<[u64; 8], Key>().slot_size, 64);
        assert_eq!(SlotLayout::of::<[u8; 6000], Key>().slot_size, 6000);
        assert_eq!(SlotLayout::of::<[u8; 5], Key>().slot_size, 8);
    }

    #[test]
    fn bytes_for_counts_slots_padding_and_bitmap() {
        let l = SlotLayout::of::<u64, Key>();
        // The bitmap has bits 0..=cap: bit 0 is a sentinel, slot i is bit i + 1.
        assert_eq!(l.bytes_for(1), Some(64 + 8));
        assert_eq!(l.bytes_for(63), Some(512 + 8));
        assert_eq!(l.bytes_for(64), Some(512 + 16));
        assert_eq!(l.bytes_for(65), Some(576 + 16));
        assert_eq!(l.bytes_for(usize::MAX), None);
    }

    #[test]
    fn capacity_for_is_the_largest_fit() {
        for l in [
            SlotLayout::of::<u8, Key>(),
            SlotLayout::of::<u64, Key>(),
            SlotLayout::of::<[u8; 6000], Key>(),
        ] {
            for len in [0usize, 1, 71, 72, 4096, 8192, 20480, 1 << 21] {
                let cap = l.capacity_for(len);
                assert!(cap == 0 || l.bytes_for(cap).unwrap() <= len);
                assert!(l.bytes_for(cap + 1).unwrap() > len, "{l:?} {len}");
            }
        }
    }

    #[test]
    fn capacity_for_never_exceeds_the_key_space() {
        let l = SlotLayout::of::<u8, Key>();
        assert_eq!(l.capacity_for(usize::MAX), MAX_CAPACITY);
    }

    #[test]
    fn region_layout_rejects_overflow() {
        let l = SlotLayout::of::<[u8; 6000], Key>();
        assert!(l.region_layout(usize::MAX / 1000).is_none());
        assert_eq!(l.region_layout(3).unwrap().size(), 18000 + 48 + 8);
    }
}
