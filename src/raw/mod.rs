//! The unsafe core: slot array, occupancy bitmap, free list, generations. The only code that
//! knows them.
//!
//! `RawSlab<T, K>` works on memory it is handed and never calls the OS; it does not own the
//! memory either (the façade [`Slab`](crate::Slab) does, with its backing). It is generic over
//! the value and key types only, so its code is compiled once per value type whatever the
//! backing. The key kind is a compile-time constant (`K::GENERATIONAL`): plain-key slabs carry
//! no generation code at all.
//!
//! State, for `cap` slots:
//! - `bits` (plain keys): bit `i + 1` is set exactly when slot `i` holds a value, and bit 0
//!   is always set (a sentinel). Numbering the bits from 1 lets a key, which stores its index
//!   plus one, test its bit and bound-check without subtracting (`n <= hwm`, bit `n`); the
//!   sentinel keeps "every bit below is set" true for the first word on the fill path. Bits
//!   above `hwm` are 0.
//! - `hwm` (high-water mark): slots `hwm..cap` have never been handed out since the last
//!   restart, so they are free without being on the free list; an insert takes them in order.
//! - `free`: a LIFO stack of vacated slots below `hwm`, linked through the slots themselves
//!   (`Slot::next`); links are slot indices plus one, so `NIL` (the bottom) is 0.
//! - `gens` (generational keys, instead of `bits`): one `u32` per slot, even while vacant, odd
//!   while occupied — the parity is the occupancy bit; +1 on every insert and every remove, so a
//!   slot's generations never repeat. A slot whose generation would wrap is retired: it gets
//!   generation 0 (matches no key) and never goes back on the free list.
//!
//! Invariants: `len` == the number of occupied slots; every slot below `hwm` is occupied, on the free list,
//! or retired — exactly one; the free list holds no slot twice; with generations, slot `i` is
//! occupied exactly when `gens[i]` is odd.

pub(crate) mod layout;
pub(crate) mod loose;
#[cfg(target_has_atomic = "64")]
pub(crate) mod remote;

use core::marker::PhantomData;
use core::mem::ManuallyDrop;
use core::ptr::{self, NonNull};

pub(crate) use layout::{SlotLayout, MAX_CAPACITY};

use crate::key::sealed::RawKey;

/// End of the free list. Links are slot index + 1, so no slot links as 0.
const NIL: u32 = 0;

/// The free-list link of slot `i` (`i < MAX_CAPACITY < u32::MAX`, so it neither wraps nor is
/// `NIL`).
#[inline(always)]
const fn link_of(i: usize) -> u32 {
    // Added before narrowing, so that `link_of(n - 1)` compiles to `n`.
    (i + 1) as u32
}

/// The slot a non-`NIL` link names.
#[inline(always)]
const fn slot_of_link(l: u32) -> usize {
    l as usize - 1
}

/// Bitmap word and mask of slot `i` (bit `i + 1`; bit 0 is the sentinel).
#[inline(always)]
const fn bit_of(i: usize) -> (usize, u64) {
    let b = i + 1;
    (b / 64, 1u64 << (b % 64))
}

/// The parity (bit 0) of each of the 64 `u32`s at `p`, as bit `b` of the result for `p[b]`:
/// the occupancy of 64 generational slots. SSE2 (every x86-64 CPU has it) takes 16 at a
/// time: shift the parity bit into the sign bit, narrow 32 -> 16 -> 8 bits keeping the sign
/// (saturating packs), and collect the 16 sign bits with one `movemask`.
///
/// # Safety
/// `p` must be valid for reads of 64 `u32`s (no alignment needed beyond `u32`'s).
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline]
unsafe fn parity_bits(p: *const u32) -> u64 {
    use core::arch::x86_64::{
        __m128i, _mm_loadu_si128, _mm_movemask_epi8, _mm_packs_epi16, _mm_packs_epi32,
        _mm_slli_epi32,
    };
    let mut word = 0u64;
    for q in 0..4 {
        // SAFETY: `p + 16 * q .. + 16` is inside the 64 `u32`s the caller vouches for;
        // `loadu` takes any alignment; SSE2 is enabled (cfg above).
        let bits = unsafe {
            let at = |j: usize| _mm_loadu_si128(p.add(16 * q + 4 * j).cast::<__m128i>());
            let s = |v| _mm_slli_epi32::<31>(v);
            let lo = _mm_packs_epi32(s(at(0)), s(at(1)));
            let hi = _mm_packs_epi32(s(at(2)), s(at(3)));
            _mm_movemask_epi8(_mm_packs_epi16(lo, hi))
        };
        word |= u64::from(bits as u16) << (16 * q);
    }
    word
}

/// The parity (bit 0) of each of the 64 `u32`s at `p`, as bit `b` of the result for `p[b]`.
///
/// # Safety
/// `p` must be valid for reads of 64 `u32`s.
#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
#[inline]
unsafe fn parity_bits(p: *const u32) -> u64 {
    let mut word = 0u64;
    for b in 0..64 {
        // SAFETY: `b < 64`, inside the 64 `u32`s the caller vouches for.
        word |= u64::from(unsafe { p.add(b).read() } & 1) << b;
    }
    word
}

/// The link field of a retired slot (generational keys, with generation 0), which tells it from
/// a never-used or loose slot at generation 0. Never a link (slot index + 1 is at most
/// `MAX_CAPACITY < u32::MAX`), never `NIL`.
const RETIRED: u32 = u32::MAX;

/// While a saved state is restored: the link of a slot not yet accounted for. A generational
/// slot still so at the end is retired, so the two markers are one.
#[cfg(feature = "serde")]
const UNACCOUNTED: u32 = RETIRED;

/// The state of a restore in progress: the free list's bottom and length so far.
#[cfg(feature = "serde")]
pub(crate) struct Restoring {
    tail: u32,
    free: usize,
}

/// One slot: a value when occupied, the next free slot's link (index + 1) when vacant.
#[repr(C)]
pub(crate) union Slot<T> {
    value: ManuallyDrop<T>,
    next: u32,
}

pub(crate) struct RawSlab<T, K> {
    /// Slot 0; dangling when `cap == 0`.
    slots: NonNull<Slot<T>>,
    /// Bitmap word 0; dangling when `cap == 0` or the keys are generational.
    bits: NonNull<u64>,
    /// Generation of slot 0; dangling when `cap == 0` or the keys are plain.
    gens: NonNull<u32>,
    cap: usize,
    len: usize,
    hwm: usize,
    free: u32,
    /// Split into an owner and remote handles ([`remote`]): slots may be out on loan, off the
    /// free list and unmarked, so the slab never restarts its keys nor clears wholesale.
    split: bool,
    /// Some vacant slots below `hwm` are *loose*: on no list, not retired, not out
    /// ([`loose`]). Never on a split slab.
    loose: bool,
    /// Where inserts stop taking never-used slots in order: `cap`, or `hwm` while `loose` (so
    /// that the fill path, which assumes every slot below `hwm` in its bitmap word is
    /// occupied, never runs then; the first insert that finds no listed slot settles the loose
    /// ones instead).
    fill_end: usize,
    /// Retired slots (generational keys: generation 0 and link [`RETIRED`]); all below `hwm`.
    retired: usize,
    _owns: PhantomData<(T, K)>,
}

// SAFETY: the core owns its values (the pointers are to memory only it uses), so sending it
// sends the values: `Send` when `T` is. Keys are plain data.
unsafe impl<T: Send, K> Send for RawSlab<T, K> {}
// SAFETY: `&RawSlab` gives only `&T` and reads of the bitmap and generations: `Sync` when `T`
// is.
unsafe impl<T: Sync, K> Sync for RawSlab<T, K> {}

impl<T, K: RawKey> RawSlab<T, K> {
    /// A slab with no memory: capacity 0, every lookup misses, every insert is full.
    pub(crate) const fn empty() -> Self {
        RawSlab {
            slots: NonNull::dangling(),
            bits: NonNull::dangling(),
            gens: NonNull::dangling(),
            cap: 0,
            len: 0,
            hwm: 0,
            free: NIL,
            split: false,
            loose: false,
            fill_end: 0,
            retired: 0,
            _owns: PhantomData,
        }
    }

    /// Lays out as many slots as fit in `len` bytes at `base`, but at most `max_cap`, and
    /// clears their bitmap (and generations).
    ///
    /// # Safety
    /// `base` must be valid for reads and writes of `len` bytes, aligned to
    /// `SlotLayout::of::<T, K>().region_align()`, not used by anything else until the returned
    /// slab is dropped or forgotten, and must outlive it. `len` must hold at least one slot
    /// (`SlotLayout::capacity_for(len) > 0`), and `max_cap > 0`.
    pub(crate) unsafe fn init(base: NonNull<u8>, len: usize, max_cap: usize) -> Self {
        let layout = SlotLayout::of::<T, K>();
        let cap = layout.capacity_for(len).min(max_cap);
        debug_assert!(cap > 0);
        let (bits, gens) = if K::GENERATIONAL {
            let off = layout
                .gens_offset(cap)
                .expect("capacity_for returned a capacity that fits");
            // SAFETY: `bytes_for(cap) <= len` includes `cap` u32s at `off` (a multiple of 64),
            // so they lie inside the region, aligned.
            let gens = unsafe { base.add(off) }.cast::<u32>();
            // SAFETY: same range, valid for writes per the caller's contract; generation 0 =
            // vacant, never used.
            unsafe { ptr::write_bytes(gens.as_ptr(), 0, cap) };
            (NonNull::dangling(), gens)
        } else {
            let off = layout
                .bitmap_offset(cap)
                .expect("capacity_for returned a capacity that fits");
            // SAFETY: `bytes_for(cap) <= len`, so the bitmap (at `off`, `bitmap_words(cap)`
            // words) lies inside the region; `off` is a multiple of 64, so the words are aligned.
            let bits = unsafe { base.add(off) }.cast::<u64>();
            // SAFETY: same range as above, valid for writes per the caller's contract. Then the
            // sentinel: bit 0 of word 0 (there is at least one word).
            unsafe {
                ptr::write_bytes(bits.as_ptr(), 0, SlotLayout::bitmap_words(cap));
                *bits.as_ptr() = 1;
            }
            (bits, NonNull::dangling())
        };
        RawSlab {
            slots: base.cast(),
            bits,
            gens,
            cap,
            len: 0,
            hwm: 0,
            free: NIL,
            split: false,
            loose: false,
            fill_end: cap,
            retired: 0,
            _owns: PhantomData,
        }
    }

    #[inline]
    pub(crate) fn capacity(&self) -> usize {
        self.cap
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Bitmap words that may have set bits for slots (those covering bits `1..=hwm`).
    #[inline]
    pub(crate) fn live_words(&self) -> usize {
        SlotLayout::bitmap_words(self.hwm)
    }

    /// Occupancy as a word: bit `b` of word `w` is set when slot `64 * w + b - 1` holds a value
    /// (bit 0 of word 0, the sentinel, reads as 0). For generational keys it is gathered from
    /// the generations' parity.
    ///
    /// # Safety
    /// `w < self.live_words()`.
    #[inline]
    pub(crate) unsafe fn occupancy_word(&self, w: usize) -> u64 {
        debug_assert!(w < self.live_words());
        if K::GENERATIONAL {
            // Bit `b` stands for slot `64 * w + b - 1`: bits from `first` up to the high-water
            // mark.
            let first = usize::from(w == 0);
            let end = (self.hwm + 1 - w * 64).min(64);
            if first == 0 && end == 64 {
                // A whole word: 64 generations from slot `64 * w - 1`, gathered 16 at a time.
                // SAFETY: slots `64 * w - 1 .. 64 * w + 63` are below `hwm <= cap` (`end` is
                // 64), inside the generations.
                return unsafe { parity_bits(self.gens.as_ptr().add(w * 64 - 1)) };
            }
            let mut word = 0u64;
            for b in first..end {
                // SAFETY: slot `64 * w + b - 1 < hwm <= cap`, inside the generations.
                let g = unsafe { *self.gens.as_ptr().add(w * 64 + b - 1) };
                word |= u64::from(g & 1) << b;
            }
            word
        } else {
            // SAFETY: `w < live_words <= bitmap_words(cap)`, inside the bitmap.
            let word = unsafe { *self.bits.as_ptr().add(w) };
            if w == 0 {
                word & !1 // the sentinel is no slot
            } else {
                word
            }
        }
    }

    /// The address of slot 0 (for telling a slot's index from a value's address).
    #[cfg(target_has_atomic = "64")]
    #[inline]
    pub(crate) fn slots_addr(&self) -> usize {
        self.slots.as_ptr() as usize
    }

    /// Pointer to the value in slot `i` (which need not be occupied).
    ///
    /// # Safety
    /// `i < self.capacity()`.
    #[inline]
    pub(crate) unsafe fn value_ptr(&self, i: usize) -> *mut T {
        debug_assert!(i < self.cap);
        // SAFETY: `i < cap`, so the slot is inside the slot array; `Slot` is `repr(C)`, so
        // its `value` field sits at offset 0.
        unsafe { self.slots.as_ptr().add(i).cast::<T>() }
    }

    /// Pointer to the generation of slot `i`.
    ///
    /// # Safety
    /// `K::GENERATIONAL` and `i < self.capacity()`.
    #[inline]
    unsafe fn gen_ptr(&self, i: usize) -> *mut u32 {
        debug_assert!(K::GENERATIONAL && i < self.cap);
        // SAFETY: the generations array has `cap` entries.
        unsafe { self.gens.as_ptr().add(i) }
    }

    /// Whether slot `i` holds a value. Any `i` is fine.
    #[inline]
    pub(crate) fn is_occupied(&self, i: usize) -> bool {
        // `hwm <= cap`, and slots at or above `hwm` are vacant, so `i < hwm` is both the bounds
        // check and a fast miss for never-used slots.
        if i >= self.hwm {
            return false;
        }
        if K::GENERATIONAL {
            // SAFETY: `i < hwm <= cap`, and the keys are generational.
            (unsafe { *self.gen_ptr(i) } & 1) == 1
        } else {
            let (w, mask) = bit_of(i);
            // SAFETY: `i < hwm <= cap`, so word `(i + 1) / 64` is inside the bitmap.
            (unsafe { *self.bits.as_ptr().add(w) } & mask) != 0
        }
    }

    /// The slot `key` names, if it holds the value the key was given for. Any key is fine.
    #[inline]
    pub(crate) fn find(&self, key: K) -> Option<usize> {
        if !K::GENERATIONAL {
            // In bit numbering (slot + 1), which is what a `Key` stores: bounds and bit test
            // without a subtraction.
            let n = key.ordinal();
            if n > self.hwm {
                return None;
            }
            // SAFETY: `1 <= n <= hwm <= cap`, so word `n / 64` is inside the bitmap.
            let word = unsafe { *self.bits.as_ptr().add(n / 64) };
            // (Shifted right rather than masked, so that `take`'s mask is not shared with this
            // test and stays a single `btc`.)
            return ((word >> (n % 64)) & 1 != 0).then_some(n - 1);
        }
        let i = key.slot();
        let live = if K::GENERATIONAL {
            // Occupied slots have odd generations, vacant ones even (retired: 0). Equal to an
            // odd key generation says "occupied, by this key's value": no bitmap load. Keys are
            // made odd by every constructor; the lookup compares with the generation made odd
            // as well (`| 1`, on the key, before the load), so that no key could ever reach a
            // vacant, retired or never-used slot even if one were made wrongly — at the cost
            // of one `or` beside the load instead of a test after it.
            let want = key.generation_bits() | 1;
            if i >= self.hwm {
                return None;
            }
            // SAFETY: `i < hwm <= cap`, and the keys are generational.
            let g = unsafe { *self.gen_ptr(i) };
            g == want
        } else {
            self.is_occupied(i)
        };
        live.then_some(i)
    }

    /// The occupied slot whose value `value` points at, if any: an address inside the slot
    /// array, on a slot boundary, of a slot that holds a value. Any reference is fine.
    #[inline]
    pub(crate) fn slot_of(&self, value: *const T) -> Option<usize> {
        let size = core::mem::size_of::<Slot<T>>();
        let offset = (value as usize).checked_sub(self.slots.as_ptr() as usize)?;
        let i = offset / size;
        (offset % size == 0 && self.is_occupied(i)).then_some(i)
    }

    /// The key of occupied slot `i`.
    ///
    /// # Safety
    /// `i < self.capacity()`.
    #[inline]
    pub(crate) unsafe fn key_at(&self, i: usize) -> K {
        let gen = if K::GENERATIONAL {
            // SAFETY: `i < cap` per the caller, and the keys are generational.
            unsafe { *self.gen_ptr(i) }
        } else {
            0
        };
        // SAFETY: `i < cap <= MAX_CAPACITY` per the caller, so `i + 1` is a slot number.
        unsafe { K::from_ordinal(link_of(i), gen) }
    }

    #[inline]
    pub(crate) fn get(&self, key: K) -> Option<&T> {
        let i = self.find(key)?;
        // SAFETY: slot `i` is occupied, so it holds an initialised `T`; `&self` keeps the
        // slab (and so the value) from being changed while the reference lives.
        Some(unsafe { self.value_nn(i).as_ref() })
    }

    #[inline]
    pub(crate) fn get_mut(&mut self, key: K) -> Option<&mut T> {
        let i = self.find(key)?;
        // SAFETY: as in `get`; `&mut self` makes the reference unique.
        Some(unsafe { self.value_nn(i).as_mut() })
    }

    /// The value in slot `i`, as a pointer the compiler knows is not null (so an
    /// `Option<&T>` built from it needs no null test).
    ///
    /// # Safety
    /// `i < self.capacity()`.
    #[inline]
    unsafe fn value_nn(&self, i: usize) -> NonNull<T> {
        debug_assert!(i < self.cap);
        // SAFETY: `i < cap`, inside the slot array; `value` is at offset 0 of a `repr(C)` slot.
        unsafe { self.slots.add(i).cast::<T>() }
    }

    /// The slot the next insert will use, if the slab is not full.
    #[inline]
    fn next_vacant(&self) -> Option<usize> {
        if self.free != NIL {
            Some(slot_of_link(self.free))
        } else if self.hwm < self.fill_end {
            Some(self.hwm)
        } else if self.loose {
            // What the insert would settle and take: the lowest loose slot (O(hwm)), else the
            // first never-used one.
            self.first_loose()
                .or((self.hwm < self.cap).then_some(self.hwm))
        } else {
            None
        }
    }

    /// Whether an insert (or a lend) would find a slot, without taking anything back. With
    /// generational keys this is not `len < capacity`: retired slots hold no value and take
    /// none. O(1).
    #[inline]
    pub(crate) fn has_vacant(&self) -> bool {
        // While loose, the list is the only other home of vacant unretired slots below `hwm`,
        // so an empty list leaves `hwm - len - retired` loose ones.
        self.free != NIL
            || self.hwm < self.cap
            || (self.loose && self.hwm > self.len + self.retired)
    }

    /// The key the next insert will return, if the slab is not full.
    pub(crate) fn next_key(&self) -> Option<K> {
        let i = self.next_vacant()?;
        // SAFETY: `i < cap`; a vacant slot's generation is even, the next one is +1.
        let gen = if K::GENERATIONAL {
            // SAFETY: see above.
            unsafe { *self.gen_ptr(i) + 1 }
        } else {
            0
        };
        // SAFETY: `i < cap <= MAX_CAPACITY`.
        Some(unsafe { K::from_ordinal(link_of(i), gen) })
    }

    /// Stores `value` in the most recently freed slot (or the next never-used one).
    ///
    /// The façades ([`Slab::insert`](crate::Slab::insert), the split owner's) write the same
    /// steps out themselves, so that their out-of-line path returns their own result (see
    /// [`claim`](RawSlab::claim)).
    #[inline]
    pub(crate) fn insert(&mut self, value: T) -> Result<K, T> {
        let (i, n) = match self.claim() {
            Some(slot) => slot,
            None => match self.claim_after(|_| false) {
                Some(slot) => slot,
                None => return Err(value),
            },
        };
        // SAFETY: `claim` (or `claim_after`) took slot `i` (numbered `n`), vacant.
        Ok(unsafe { self.fill(i, n, value) })
    }

    /// Whether a value of type `T` travels in registers (at most two words): such a value
    /// may be handed whole to an out-of-line path that ends the call (a jump: the fast path
    /// saves no registers for it). A larger one is not handed over: only the slot comes back
    /// from the out-of-line path (`claim_after`), and the value is written where it is. (Were
    /// it passed along, it would need a home in memory before the branch: it would be built
    /// on the stack and copied from there, and the copy's loads would wait for the stores
    /// that built it.)
    pub(crate) const SMALL: bool = core::mem::size_of::<T>() <= 2 * core::mem::size_of::<usize>();

    /// Stores `value` in slot `i` (numbered `n`), just taken by `claim`, and counts it: its key.
    ///
    /// # Safety
    /// `claim` (or `claim_after`) just returned `(i, n)`.
    #[inline(always)]
    pub(crate) unsafe fn fill(&mut self, i: usize, n: u32, value: T) -> K {
        // SAFETY: `i < cap` and slot `i` is vacant, so writing does not overwrite a live value.
        unsafe { self.value_ptr(i).write(value) };
        self.len += 1;
        let gen = if K::GENERATIONAL {
            // SAFETY: `i < cap`. Vacant generations on the free list or above `hwm` are even
            // and below `u32::MAX`, so +1 neither overflows nor reaches a retired slot.
            unsafe {
                let g = self.gen_ptr(i);
                *g += 1;
                *g
            }
        } else {
            0
        };
        // SAFETY: `n = i + 1` with `i < cap <= MAX_CAPACITY`.
        unsafe { K::from_ordinal(n, gen) }
    }

    /// Takes the slot the next insert uses off the free list, or past the high-water mark,
    /// and (plain keys) sets its bit: its index and number (index + 1, what a plain key
    /// stores). `None` when neither has one: the slab is full, or loose slots need settling
    /// ([`claim_after`](RawSlab::claim_after)). [`fill`](RawSlab::fill) then stores the value.
    #[inline(always)]
    pub(crate) fn claim(&mut self) -> Option<(usize, u32)> {
        // SAFETY (for the bitmap words below): `i < hwm <= cap`, inside the bitmap.
        if self.free != NIL {
            let n = self.free;
            let i = slot_of_link(n);
            // SAFETY: slots on the free list are vacant slots below `hwm <= cap` whose `next`
            // field was written when they were freed.
            self.free = unsafe { (*self.slots.as_ptr().add(i)).next };
            if !K::GENERATIONAL {
                let (w, mask) = bit_of(i);
                // SAFETY: see above.
                unsafe { *self.bits.as_ptr().add(w) |= mask };
            }
            Some((i, n))
        } else if self.hwm < self.fill_end {
            let i = self.hwm;
            self.hwm += 1;
            if !K::GENERATIONAL {
                let b = i + 1;
                // SAFETY: see above.
                let word = unsafe { &mut *self.bits.as_ptr().add(b / 64) };
                // The free list is empty, so with plain keys every slot below `i` is occupied
                // (a vacated slot always goes on the free list), and bit 0 is the sentinel: the
                // word is known and is stored without reading it, which keeps a fill from
                // waiting on the previous insert's store.
                let below = (1u64 << (b % 64)) - 1;
                debug_assert_eq!(*word & below, below, "a vacant slot off the free list");
                *word = u64::MAX >> (63 - b % 64);
            }
            Some((i, link_of(i)))
        } else {
            None
        }
    }

    /// [`claim`](RawSlab::claim) after settling the loose slots, if any, or else after
    /// `refill`; `None` when the slab is full.
    #[cold]
    #[inline(never)]
    pub(crate) fn claim_after(
        &mut self,
        refill: impl FnOnce(&mut Self) -> bool,
    ) -> Option<(usize, u32)> {
        if self.loose {
            self.settle();
            return self.claim();
        }
        if refill(self) {
            self.claim()
        } else {
            None
        }
    }

    /// Stores `value` at exactly the slot `key` names, with exactly its generation: for
    /// restoring keys saved elsewhere. Any key is fine: one that could name a value already
    /// (occupied slot), a slot out of range, or — generational keys — a generation not later
    /// than every one the slot has had (which would revive a stale key) or a retired slot is
    /// refused with the value handed back, and nothing changes.
    ///
    /// O(1) amortised whatever the order of the keys: the slot the next insert would take is
    /// popped; a never-used slot beyond the high-water mark makes the slots skipped loose
    /// (O(gap), each slot skipped once); any other vacant slot makes the whole free list loose
    /// (O(1)) and is taken from there ([`loose`]). The first insert that then finds no listed
    /// slot settles the loose ones onto the list, lowest first (O(high-water mark), once). A
    /// split slab keeps its list exact (its lent slots look vacant): there another vacated
    /// slot is unlinked by walking the list, O(free-list length).
    pub(crate) fn insert_at(&mut self, key: K, value: T) -> Result<(), (T, crate::KeyError)> {
        let i = key.slot();
        if i >= self.cap {
            return Err((
                value,
                crate::KeyError::OutOfRange {
                    index: i,
                    capacity: self.cap,
                },
            ));
        }
        if self.is_occupied(i) {
            return Err((value, crate::KeyError::Occupied { index: i }));
        }
        let want = key.generation_bits();
        if K::GENERATIONAL {
            // Below the high-water mark a slot's generation says how far it got; above it,
            // the slot was never used (generation 0).
            let g = if i < self.hwm {
                // SAFETY: `i < hwm <= cap`, generational keys.
                unsafe { *self.gen_ptr(i) }
            } else {
                0
            };
            if want & 1 == 0 || want <= g || self.is_retired(i) {
                return Err((value, crate::KeyError::Stale { index: i }));
            }
        }
        if i >= self.hwm {
            self.skip_to(i);
        } else if self.free == link_of(i) {
            // SAFETY: the top of the free list: a vacant slot below `hwm` with a link.
            self.free = unsafe { (*self.slots.as_ptr().add(i)).next };
        } else if self.split {
            if !self.unlink(i) {
                // Vacant below the high-water mark but on no list: lent (or retired).
                return Err((value, crate::KeyError::Stale { index: i }));
            }
        } else {
            // Vacant, below the high-water mark, not retired and not out: listed or loose.
            // Making the list loose takes it off the list either way.
            self.loosen();
        }
        // SAFETY: `i < hwm <= cap`, and the slot is vacant (checked) and off the free list now.
        unsafe { self.place(i, want, value) };
        Ok(())
    }

    /// The occupied slot `key` names when its occupant has an earlier generation than the
    /// key's (generational keys; `None` for plain keys, and when the slot is vacant or holds
    /// the key's own or a later generation).
    pub(crate) fn occupant_older_than(&self, key: K) -> Option<usize> {
        let i = key.slot();
        if !K::GENERATIONAL || !self.is_occupied(i) {
            return None;
        }
        // SAFETY: occupied, so `i < hwm <= cap`; generational keys.
        let g = unsafe { *self.gen_ptr(i) };
        (g < key.generation_bits()).then_some(i)
    }

    /// Makes vacant slot `i` hold `value` with generation `gen` (generational keys; ignored
    /// for plain ones, whose bit is set instead) and counts it: a restored entry.
    ///
    /// # Safety
    /// `i < hwm <= cap`, and slot `i` is vacant and on no list.
    unsafe fn place(&mut self, i: usize, gen: u32, value: T) {
        // SAFETY: `i < cap` and the slot is vacant: nothing live is overwritten.
        unsafe { self.value_ptr(i).write(value) };
        if K::GENERATIONAL {
            // SAFETY: `i < cap`, generational keys.
            unsafe { *self.gen_ptr(i) = gen };
        } else {
            let (w, mask) = bit_of(i);
            // SAFETY: `i < hwm <= cap`: the word is inside the bitmap.
            unsafe { *self.bits.as_ptr().add(w) |= mask };
        }
        self.len += 1;
    }

    /// Takes slot `i` off the free list; false if it is not on it. O(list length).
    pub(crate) fn unlink(&mut self, i: usize) -> bool {
        let target = link_of(i);
        if self.free == target {
            // SAFETY: slots on the free list are vacant slots below `hwm` with a link.
            self.free = unsafe { (*self.slots.as_ptr().add(i)).next };
            return true;
        }
        let mut cur = self.free;
        // The list holds each vacated slot once, so it ends (at NIL) within `hwm` steps.
        while cur != NIL {
            loose::step(1);
            let c = slot_of_link(cur);
            // SAFETY: `cur` is on the free list: a vacant slot below `hwm` with a link.
            let next = unsafe { (*self.slots.as_ptr().add(c)).next };
            if next == target {
                // SAFETY: as above, for `target` (on the list) and `cur`.
                unsafe {
                    let after = (*self.slots.as_ptr().add(i)).next;
                    (*self.slots.as_ptr().add(c)).next = after;
                }
                return true;
            }
            cur = next;
        }
        false
    }

    /// Copies everything into `to`, a fresh core of the same capacity, cloning every value:
    /// the same keys find the same values, and the next inserts get the same keys. A panic in
    /// `T::clone` leaves `to` consistent (holding the values cloned so far) for its drop.
    pub(crate) fn clone_into(&self, to: &mut Self)
    where
        T: Clone,
    {
        assert!(to.cap == self.cap && to.hwm == 0 && to.len == 0);
        // The vacant slots and their order first: the links of the listed, loose and retired
        // slots, the generations (occupied ones one step back, so that they count as vacant
        // until their value is there).
        if self.split {
            // Lent slots look vacant and their bytes are another thread's: never read. Slots
            // at generation 0 are retired (or listed, relinked below) in the copy.
            if K::GENERATIONAL {
                for i in (0..self.hwm).filter(|&i| !self.is_occupied(i)) {
                    // SAFETY: `i < hwm <= cap` in both cores, generational keys; only `to`'s
                    // slot, which `to` owns, is written.
                    unsafe {
                        if *self.gen_ptr(i) == 0 {
                            (*to.slots.as_ptr().add(i)).next = RETIRED;
                        }
                    }
                }
            }
            let mut j = self.free;
            while j != NIL {
                let s = slot_of_link(j);
                // SAFETY: slots on `self`'s free list are vacant slots below its `hwm` with a
                // link; `to` has the same capacity, so slot `s` exists there too.
                unsafe {
                    let next = (*self.slots.as_ptr().add(s)).next;
                    (*to.slots.as_ptr().add(s)).next = next;
                    j = next;
                }
            }
        } else {
            for i in (0..self.hwm).filter(|&i| !self.is_occupied(i)) {
                // SAFETY: `i < hwm <= cap` in both cores; a vacant slot of an unsplit slab is
                // the slab's, so its link field may be read.
                unsafe {
                    (*to.slots.as_ptr().add(i)).next = (*self.slots.as_ptr().add(i)).next;
                }
            }
        }
        to.loose = self.loose;
        to.fill_end = self.fill_end;
        to.retired = self.retired;
        if K::GENERATIONAL {
            for i in 0..self.hwm {
                // SAFETY: `i < hwm <= cap` in both cores, generational keys.
                unsafe { *to.gen_ptr(i) = *self.gen_ptr(i) & !1 };
            }
        }
        to.hwm = self.hwm;
        to.free = self.free;
        let mut from = 0;
        while let Some(i) = self.next_occupied(from) {
            from = i + 1;
            // SAFETY: slot `i` is occupied in `self`, so initialised; `&self` keeps it so.
            let value = unsafe { (*self.value_ptr(i)).clone() };
            // SAFETY: slot `i < cap` is vacant in `to` (its bit clear, its generation even).
            unsafe { to.value_ptr(i).write(value) };
            if K::GENERATIONAL {
                // SAFETY: `i < cap`, generational keys.
                unsafe { *to.gen_ptr(i) = *self.gen_ptr(i) };
            } else {
                let (w, mask) = bit_of(i);
                // SAFETY: `i < hwm`: inside the bitmap.
                unsafe { *to.bits.as_ptr().add(w) |= mask };
            }
            to.len += 1;
        }
    }

    /// The high-water mark: slots at or above it have never been used.
    #[cfg(feature = "serde")]
    #[inline]
    pub(crate) fn high_water(&self) -> usize {
        self.hwm
    }

    /// The vacant slots in the order the next inserts take them: the free list, top first,
    /// then the loose slots, lowest first (what settling them would append).
    #[cfg(feature = "serde")]
    pub(crate) fn free_slots(&self) -> impl Iterator<Item = usize> + '_ {
        let mut cur = self.free;
        let listed = core::iter::from_fn(move || {
            if cur == NIL {
                return None;
            }
            let i = slot_of_link(cur);
            // SAFETY: slots on the free list are vacant slots below `hwm <= cap` with a link.
            cur = unsafe { (*self.slots.as_ptr().add(i)).next };
            Some(i)
        });
        listed.chain(self.loose_slots())
    }

    /// The stored generation of slot `i` (0 for plain keys and slots out of range).
    #[cfg(feature = "serde")]
    #[inline]
    pub(crate) fn generation_at(&self, i: usize) -> u32 {
        if K::GENERATIONAL && i < self.cap {
            // SAFETY: `i < cap`, generational keys.
            unsafe { *self.gen_ptr(i) }
        } else {
            0
        }
    }

    /// Removes and returns the value `key` names, if any. Any key is fine.
    #[inline]
    pub(crate) fn remove(&mut self, key: K) -> Option<T> {
        let i = self.find(key)?;
        // SAFETY: just checked.
        Some(unsafe { self.take(i) })
    }

    /// Moves the value out of slot `i` and puts the slot on the free list (or retires it).
    ///
    /// The slab is consistent before the value reaches the caller, so a panic in the value's
    /// `Drop` cannot leave it half-updated.
    ///
    /// # Safety
    /// Slot `i` must be occupied.
    #[inline]
    pub(crate) unsafe fn take(&mut self, i: usize) -> T {
        debug_assert!(self.is_occupied(i));
        // SAFETY: occupied, so initialised; after this read the slot is treated as vacant.
        let value = unsafe { self.value_ptr(i).read() };
        if !K::GENERATIONAL {
            let (w, mask) = bit_of(i);
            // SAFETY: `i < hwm`; the word is inside the bitmap. The bit is set, so `^` clears it.
            unsafe { *self.bits.as_ptr().add(w) ^= mask };
        }
        self.len -= 1;
        if K::GENERATIONAL {
            // SAFETY: `i < cap`.
            let g = unsafe { &mut *self.gen_ptr(i) };
            if *g == u32::MAX {
                // The next generation would wrap: retire the slot for good.
                // SAFETY: `i < hwm`, vacant now, on no list.
                unsafe { self.retire(i) };
                return value;
            }
            *g += 1;
        }
        // SAFETY: `i < cap`; the slot is vacant now, so its `next` field may be written.
        unsafe { (*self.slots.as_ptr().add(i)).next = self.free };
        self.free = link_of(i); // i < cap <= MAX_CAPACITY
        value
    }

    /// Marks slot `i` vacant without linking it into the free list, and returns the value's
    /// pointer. For tearing down: the slot is lost for good.
    ///
    /// # Safety
    /// Slot `i` must be occupied, and the caller must drop or read the value exactly once.
    #[inline]
    pub(crate) unsafe fn abandon(&mut self, i: usize) -> *mut T {
        debug_assert!(self.is_occupied(i));
        if !K::GENERATIONAL {
            let (w, mask) = bit_of(i);
            // SAFETY: `i < hwm`; the word is inside the bitmap.
            unsafe { *self.bits.as_ptr().add(w) &= !mask };
        }
        self.len -= 1;
        if K::GENERATIONAL {
            // SAFETY: `i < cap`. Generation 0 matches no key, so no key finds the slot again.
            // (Its link field still holds the value, which the caller takes: the slab is
            // being torn down, so nothing asks `is_retired` of it.)
            unsafe { *self.gen_ptr(i) = 0 };
        }
        // SAFETY: `i < cap`.
        unsafe { self.value_ptr(i) }
    }

    /// Index of the lowest occupied slot at or above `from`.
    #[inline]
    pub(crate) fn next_occupied(&self, from: usize) -> Option<usize> {
        if from >= self.hwm {
            return None;
        }
        let words = self.live_words();
        // Slot `from` is bit `from + 1`.
        let b = from + 1;
        let mut w = b / 64;
        // SAFETY: `from < hwm`, so bit `b <= hwm` and `w < words`.
        let mut bits = unsafe { self.occupancy_word(w) } & (!0u64 << (b % 64));
        loop {
            if bits != 0 {
                return Some(w * 64 + bits.trailing_zeros() as usize - 1);
            }
            w += 1;
            if w == words {
                return None;
            }
            // SAFETY: `w < words`.
            bits = unsafe { self.occupancy_word(w) };
        }
    }

    /// Drops every value in key order, each one removed before its `Drop` runs, then (plain
    /// keys) returns the slab to its freshly allocated state: next key 0. If a `Drop` panics,
    /// the values not yet dropped stay in the slab and the slab stays consistent.
    pub(crate) fn clear(&mut self) {
        if core::mem::needs_drop::<T>() || K::GENERATIONAL || self.split {
            // One by one: values are dropped, generations advance.
            let mut from = 0;
            while let Some(i) = self.next_occupied(from) {
                // SAFETY: `next_occupied` found it occupied.
                drop(unsafe { self.take(i) });
                from = i + 1;
            }
        } else {
            // SAFETY: the live words are inside the bitmap (at least word 0); nothing needs
            // dropping. Then the sentinel again.
            unsafe {
                ptr::write_bytes(self.bits.as_ptr(), 0, self.live_words());
                *self.bits.as_ptr() = 1;
            }
            self.len = 0;
        }
        self.restart();
    }

    /// When empty, with plain keys: forgets the free list and the high-water mark, so keys
    /// start from 0 again. With generational keys the slots keep their generations and the
    /// free list its order (retired slots must stay out of use), so this does nothing; nor
    /// does it on a split slab, whose lent slots must stay out of use.
    #[inline]
    pub(crate) fn restart(&mut self) {
        if !K::GENERATIONAL && self.len == 0 && !self.split {
            self.hwm = 0;
            self.free = NIL;
            self.loose = false;
            self.fill_end = self.cap;
        }
    }

    /// Drops every remaining value (for the slab's own `Drop`). If one panics, the caller's
    /// unwind guard calls this again and it goes on with the values after it.
    pub(crate) fn drop_values(&mut self) {
        if !core::mem::needs_drop::<T>() {
            return;
        }
        let mut from = 0;
        while let Some(i) = self.next_occupied(from) {
            from = i + 1;
            // SAFETY: occupied; `abandon` clears the bit first, so a value whose `Drop` panics
            // is never dropped again.
            unsafe { ptr::drop_in_place(self.abandon(i)) };
        }
    }

    /// Raw pointers to the `N` distinct values the keys name, or the first problem found.
    pub(crate) fn disjoint<const N: usize>(
        &mut self,
        keys: [K; N],
    ) -> Result<[*mut T; N], crate::KeyError> {
        let mut slots = [0usize; N];
        for (n, key) in keys.iter().enumerate() {
            let i = key.slot();
            if self.find(*key).is_none() {
                return Err(self.miss_reason(*key));
            }
            if slots[..n].contains(&i) {
                return Err(crate::KeyError::Duplicate { index: i });
            }
            slots[n] = i;
        }
        // SAFETY: every index was checked occupied, so `< cap`.
        Ok(slots.map(|i| unsafe { self.value_ptr(i) }))
    }

    /// Why `key` finds no value: out of range; stale (generational keys: the slot has moved on
    /// to a later generation — the key's value was removed, whether or not the slot holds
    /// another value now — or the slot is retired, so every key to it is); or vacant (no
    /// value, and no sign the key ever had one).
    pub(crate) fn miss_reason(&self, key: K) -> crate::KeyError {
        let i = key.slot();
        if i >= self.cap {
            return crate::KeyError::OutOfRange {
                index: i,
                capacity: self.cap,
            };
        }
        if K::GENERATIONAL && i < self.hwm {
            // SAFETY: `i < hwm <= cap`, and the keys are generational.
            let g = unsafe { *self.gen_ptr(i) };
            if key.generation_bits() < g || self.is_retired(i) {
                return crate::KeyError::Stale { index: i };
            }
        }
        crate::KeyError::Vacant { index: i }
    }

    /// Starts restoring a saved state into this fresh core: slots `0..hwm` become "not yet
    /// accounted for" (vacant, off the free list), to be filled by [`restore_entry`] and
    /// [`restore_free`] and checked by [`finish_restore`]. The core stays droppable at every
    /// step: it drops exactly the values restored so far.
    ///
    /// [`restore_entry`]: RawSlab::restore_entry
    /// [`restore_free`]: RawSlab::restore_free
    /// [`finish_restore`]: RawSlab::finish_restore
    #[cfg(feature = "serde")]
    pub(crate) fn begin_restore(
        &mut self,
        hwm: usize,
    ) -> Result<Restoring, crate::snapshot::SnapshotError> {
        assert!(
            self.hwm == 0 && self.len == 0 && self.free == NIL,
            "a fresh core"
        );
        if hwm > self.cap {
            return Err(crate::snapshot::SnapshotError::corrupt(format!(
                "{hwm} slots in use in a slab of {} slots",
                self.cap
            )));
        }
        for i in 0..hwm {
            // SAFETY: `i < hwm <= cap`, a vacant slot of this fresh core.
            unsafe { (*self.slots.as_ptr().add(i)).next = UNACCOUNTED };
        }
        self.hwm = hwm;
        Ok(Restoring { tail: NIL, free: 0 })
    }

    /// Puts a saved value back at exactly `key` (below the high-water mark, not yet
    /// restored; generational keys carry an odd generation).
    #[cfg(feature = "serde")]
    pub(crate) fn restore_entry(
        &mut self,
        key: K,
        value: T,
    ) -> Result<(), crate::snapshot::SnapshotError> {
        let i = key.slot();
        if i >= self.hwm {
            return Err(crate::snapshot::SnapshotError::corrupt(format!(
                "an entry at slot {i}, beyond the {} slots in use",
                self.hwm
            )));
        }
        // SAFETY: `i < hwm <= cap`: the slot exists.
        let unaccounted = unsafe { (*self.slots.as_ptr().add(i)).next } == UNACCOUNTED;
        if self.is_occupied(i) || !unaccounted {
            return Err(crate::snapshot::SnapshotError::corrupt(format!(
                "slot {i} appears twice"
            )));
        }
        let want = key.generation_bits();
        if K::GENERATIONAL && want & 1 == 0 {
            return Err(crate::snapshot::SnapshotError::corrupt(format!(
                "the entry at slot {i} has an even generation {want}"
            )));
        }
        // SAFETY: `i < hwm <= cap`, and the slot is vacant and on no list: it is still marked
        // unaccounted (checked above).
        unsafe { self.place(i, want, value) };
        Ok(())
    }

    /// Appends slot `i` to the bottom of the free list being restored, vacant at (even)
    /// generation `generation` (ignored by plain keys).
    #[cfg(feature = "serde")]
    pub(crate) fn restore_free(
        &mut self,
        r: &mut Restoring,
        i: usize,
        generation: u32,
    ) -> Result<(), crate::snapshot::SnapshotError> {
        if i >= self.hwm {
            return Err(crate::snapshot::SnapshotError::corrupt(format!(
                "free slot {i} is beyond the {} slots in use",
                self.hwm
            )));
        }
        // SAFETY: `i < hwm <= cap`.
        let unaccounted = unsafe { (*self.slots.as_ptr().add(i)).next } == UNACCOUNTED;
        if self.is_occupied(i) || !unaccounted {
            return Err(crate::snapshot::SnapshotError::corrupt(format!(
                "free slot {i} is also occupied or listed twice"
            )));
        }
        if K::GENERATIONAL {
            if generation & 1 == 1 {
                return Err(crate::snapshot::SnapshotError::corrupt(format!(
                    "free slot {i} has an odd (occupied) generation {generation}"
                )));
            }
            // SAFETY: `i < cap`, generational keys.
            unsafe { *self.gen_ptr(i) = generation };
        }
        // SAFETY: `i < cap`, vacant; the tail (if any) is a vacant slot on the list.
        unsafe {
            (*self.slots.as_ptr().add(i)).next = NIL;
            if r.tail == NIL {
                self.free = link_of(i);
            } else {
                (*self.slots.as_ptr().add(slot_of_link(r.tail))).next = link_of(i);
            }
        }
        r.tail = link_of(i);
        r.free += 1;
        Ok(())
    }

    /// Checks that every slot below the high-water mark was accounted for: with plain keys
    /// each is occupied or free; with generational ones the rest are retired (generation 0,
    /// never found, never reused).
    #[cfg(feature = "serde")]
    pub(crate) fn finish_restore(
        &mut self,
        r: Restoring,
    ) -> Result<(), crate::snapshot::SnapshotError> {
        let accounted = self.len + r.free;
        if K::GENERATIONAL {
            // The slots not accounted for keep generation 0 (a fresh core's, never written
            // here) and their `UNACCOUNTED` link, which is the retired marker, and stay off
            // the free list: retired, as their saved state said.
            self.retired = self.hwm - accounted;
            Ok(())
        } else if accounted != self.hwm {
            Err(crate::snapshot::SnapshotError::corrupt(format!(
                "{} values and {} free slots do not account for the {} slots in use",
                self.len, r.free, self.hwm
            )))
        } else {
            Ok(())
        }
    }

    /// Test hook: sets the stored generation of vacant slot `i`, to reach the wrap quickly.
    #[cfg(test)]
    pub(crate) fn set_generation(&mut self, i: usize, gen: u32) {
        assert!(K::GENERATIONAL && i < self.cap && !self.is_occupied(i) && gen % 2 == 0);
        // SAFETY: checked above.
        unsafe { *self.gen_ptr(i) = gen };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{GenKey, Key};
    use std::alloc::{alloc, dealloc, Layout};

    fn k(i: usize) -> Key {
        Key::new_saturating(i)
    }

    /// A core over plain heap memory, freed on drop (values are dropped first).
    struct Mem<T, K: RawKey = Key> {
        raw: RawSlab<T, K>,
        ptr: *mut u8,
        layout: Layout,
    }

    impl<T, K: RawKey> Mem<T, K> {
        fn new(cap: usize) -> Self {
            let layout = SlotLayout::of::<T, K>().region_layout(cap).unwrap();
            // SAFETY: non-zero size (cap > 0 in every test).
            let ptr = unsafe { alloc(layout) };
            let base = NonNull::new(ptr).unwrap();
            // SAFETY: fresh allocation of `layout`, owned by `Mem` until drop.
            let raw = unsafe { RawSlab::init(base, layout.size(), usize::MAX) };
            Mem { raw, ptr, layout }
        }
    }

    impl<T, K: RawKey> Drop for Mem<T, K> {
        fn drop(&mut self) {
            self.raw.drop_values();
            // SAFETY: allocated in `new` with this layout.
            unsafe { dealloc(self.ptr, self.layout) };
        }
    }

    #[test]
    fn empty_core_misses_everything() {
        let mut raw = RawSlab::<u64, Key>::empty();
        assert_eq!(raw.get(k(0)), None);
        assert_eq!(raw.remove(k(usize::MAX)), None);
        assert_eq!(raw.insert(5), Err(5));
        assert_eq!(raw.next_key(), None);
        assert_eq!(raw.next_occupied(0), None);
    }

    #[test]
    fn init_uses_every_byte_it_can() {
        let m = Mem::<u64>::new(100);
        assert!(m.raw.capacity() >= 100);
        assert_eq!(m.raw.len(), 0);
    }

    #[test]
    fn insert_takes_never_used_slots_in_order() {
        let mut m = Mem::<u32>::new(8);
        for want in 0..8 {
            assert_eq!(m.raw.next_key(), Some(k(want)));
            assert_eq!(m.raw.insert(want as u32 * 10), Ok(k(want)));
        }
    }

    #[test]
    fn free_list_is_lifo() {
        let mut m = Mem::<u32>::new(8);
        for v in 0..6 {
            m.raw.insert(v).unwrap();
        }
        assert_eq!(m.raw.remove(k(1)), Some(1));
        assert_eq!(m.raw.remove(k(4)), Some(4));
        assert_eq!(m.raw.remove(k(2)), Some(2));
        assert_eq!(m.raw.insert(20), Ok(k(2)));
        assert_eq!(m.raw.insert(40), Ok(k(4)));
        assert_eq!(m.raw.insert(10), Ok(k(1)));
        assert_eq!(m.raw.insert(60), Ok(k(6)));
    }

    #[test]
    fn full_core_hands_the_value_back() {
        let mut m = Mem::<String>::new(1);
        let cap = m.raw.capacity();
        for _ in 0..cap {
            m.raw.insert("x".into()).unwrap();
        }
        assert_eq!(m.raw.insert("back".into()), Err("back".to_string()));
        assert_eq!(m.raw.len(), cap);
    }

    #[test]
    fn remove_twice_misses() {
        let mut m = Mem::<u64>::new(4);
        let k = m.raw.insert(9).unwrap();
        assert_eq!(m.raw.remove(k), Some(9));
        assert_eq!(m.raw.remove(k), None);
        assert_eq!(m.raw.get(k), None);
        assert_eq!(m.raw.len(), 0);
    }

    #[test]
    fn out_of_range_indices_miss() {
        let mut m = Mem::<u64>::new(4);
        m.raw.insert(1).unwrap();
        for i in [
            m.raw.capacity(),
            m.raw.capacity() + 1,
            usize::MAX,
            usize::MAX / 64,
        ] {
            assert!(!m.raw.is_occupied(i));
            assert_eq!(m.raw.get_mut(k(i)), None);
            assert_eq!(m.raw.remove(k(i)), None);
        }
    }

    #[test]
    fn next_occupied_skips_gaps_across_words() {
        let mut m = Mem::<u8>::new(300);
        for _ in 0..300 {
            m.raw.insert(0).unwrap();
        }
        for i in (0..300).filter(|i| ![5, 70, 299].contains(i)) {
            m.raw.remove(k(i)).unwrap();
        }
        assert_eq!(m.raw.next_occupied(0), Some(5));
        assert_eq!(m.raw.next_occupied(6), Some(70));
        assert_eq!(m.raw.next_occupied(71), Some(299));
        assert_eq!(m.raw.next_occupied(300), None);
    }

    #[test]
    fn clear_resets_to_key_zero() {
        let mut m = Mem::<String>::new(10);
        for i in 0..10 {
            m.raw.insert(i.to_string()).unwrap();
        }
        m.raw.remove(k(3));
        m.raw.clear();
        assert_eq!(m.raw.len(), 0);
        assert_eq!(m.raw.next_occupied(0), None);
        assert_eq!(m.raw.insert("a".into()), Ok(k(0)));
    }

    #[test]
    fn clear_without_drop_glue_zeroes_the_bitmap() {
        let mut m = Mem::<u64>::new(200);
        for i in 0..200 {
            m.raw.insert(i).unwrap();
        }
        m.raw.clear();
        assert!((0..200).all(|i| !m.raw.is_occupied(i)));
        assert_eq!(m.raw.insert(1), Ok(k(0)));
    }

    #[test]
    fn disjoint_reports_the_first_problem() {
        let mut m = Mem::<u64>::new(8);
        let a = m.raw.insert(1).unwrap();
        let b = m.raw.insert(2).unwrap();
        assert!(m.raw.disjoint([a, b]).is_ok());
        assert!(matches!(
            m.raw.disjoint([a, a]),
            Err(crate::KeyError::Duplicate { index: 0 })
        ));
        assert!(matches!(
            m.raw.disjoint([a, k(5)]),
            Err(crate::KeyError::Vacant { index: 5 })
        ));
        assert!(matches!(
            m.raw.disjoint([k(usize::MAX)]),
            Err(crate::KeyError::OutOfRange { .. })
        ));
    }

    #[test]
    fn zero_sized_values_still_get_distinct_keys() {
        let mut m = Mem::<(), Key>::new(3);
        let a = m.raw.insert(()).unwrap();
        let b = m.raw.insert(()).unwrap();
        assert_ne!(a, b);
        assert_eq!(m.raw.remove(a), Some(()));
        assert_eq!(m.raw.get(b), Some(&()));
    }

    #[test]
    fn generational_keys_never_match_a_later_occupant() {
        let mut m = Mem::<u64, GenKey>::new(4);
        let a = m.raw.insert(1).unwrap();
        assert_eq!(a.generation(), 1);
        assert_eq!(m.raw.remove(a), Some(1));
        assert_eq!(m.raw.get(a), None);
        let b = m.raw.insert(2).unwrap();
        assert_eq!((b.index(), b.generation()), (a.index(), 3));
        assert_eq!(m.raw.get(a), None);
        assert_eq!(m.raw.remove(a), None);
        assert_eq!(m.raw.get(b), Some(&2));
        assert!(matches!(
            m.raw.disjoint([a]),
            Err(crate::KeyError::Stale { index: 0 })
        ));
    }

    #[test]
    fn clear_advances_generations_even_without_drop_glue() {
        let mut m = Mem::<u64, GenKey>::new(64);
        let keys: Vec<GenKey> = (0..10).map(|v| m.raw.insert(v).unwrap()).collect();
        m.raw.clear();
        assert_eq!(m.raw.len(), 0);
        for key in &keys {
            assert_eq!(m.raw.get(*key), None);
        }
        // Freed slots are reused (last cleared first) under new generations.
        let fresh = m.raw.insert(99).unwrap();
        assert_eq!((fresh.index(), fresh.generation()), (9, 3));
        assert!(keys.iter().all(|k| m.raw.get(*k).is_none()));
    }

    #[test]
    fn a_slot_whose_generation_would_wrap_is_retired() {
        let mut m = Mem::<u64, GenKey>::new(2);
        let cap = m.raw.capacity();
        // Slot 0 starts one step before the last generation.
        m.raw.set_generation(0, u32::MAX - 1);
        let last = m.raw.insert(7).unwrap();
        assert_eq!((last.index(), last.generation()), (0, u32::MAX));
        assert_eq!(m.raw.remove(last), Some(7));
        assert_eq!(m.raw.get(last), None);
        // Slot 0 is never handed out again: every other slot is, then the slab is full.
        let mut seen = Vec::new();
        while let Ok(key) = m.raw.insert(0) {
            assert_ne!(key.index(), 0, "a retired slot came back");
            seen.push(key);
        }
        assert_eq!(seen.len(), cap - 1);
        // Full with one value fewer than slots: no vacancy, no next key.
        assert!(!m.raw.has_vacant() && m.raw.next_key().is_none());
        m.raw.clear();
        assert!(
            m.raw.has_vacant(),
            "clear makes room in every slot but the retired one"
        );
        while let Ok(key) = m.raw.insert(0) {
            assert_ne!(key.index(), 0, "a retired slot came back after clear");
        }
        assert_eq!(m.raw.len(), cap - 1);
        assert!(!m.raw.has_vacant());
    }

    /// Keys restored by `insert_at` in an order: the steps of free-list work per key stay
    /// bounded whatever the order (the walk this replaced took O(n) steps per key in
    /// descending and random order: ~n²/2 and ~n²/4 in all).
    fn restore_steps<K: RawKey>(n: usize, order: &[usize], make: impl Fn(usize) -> K) -> u64 {
        let mut m = Mem::<u32, K>::new(n);
        loose::STEPS.with(|c| c.set(0));
        for &i in order {
            m.raw.insert_at(make(i), i as u32).unwrap();
        }
        // The first insert after the restore settles what is loose.
        let _ = m.raw.insert(0);
        let steps = loose::STEPS.with(|c| c.get());
        for &i in order {
            assert_eq!(m.raw.get(make(i)), Some(&(i as u32)));
        }
        steps
    }

    fn orders(n: usize) -> [(&'static str, Vec<usize>); 4] {
        let asc: Vec<usize> = (0..n).collect();
        let desc: Vec<usize> = (0..n).rev().collect();
        // A random permutation (xorshift), and every other key in random order (holes left
        // for the settle to link).
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut rand = asc.clone();
        for i in (1..n).rev() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            rand.swap(i, (x % (i as u64 + 1)) as usize);
        }
        let sparse: Vec<usize> = rand.iter().copied().filter(|i| i % 2 == 0).collect();
        [
            ("ascending", asc),
            ("descending", desc),
            ("random", rand),
            ("random, half", sparse),
        ]
    }

    #[test]
    fn insert_at_is_linear_in_the_keys_restored_whatever_their_order() {
        let n = if cfg!(miri) { 300 } else { 100_000 };
        for (name, order) in orders(n) {
            let plain = restore_steps::<Key>(n, &order, k);
            let gen = restore_steps::<GenKey>(n, &order, |i| {
                GenKey::from_bits(7 << 32 | i as u64).unwrap()
            });
            // Each slot is skipped, scanned and settled at most once; each bitmap word read
            // at most once per settle.
            let bound = 3 * n as u64 + (n / 64 + 2) as u64;
            assert!(plain <= bound, "{name}: {plain} steps for {n} plain keys");
            assert!(
                gen <= bound,
                "{name}: {gen} steps for {n} generational keys"
            );
        }
        // The bound bites: a split core keeps an exact list and walks it (the old algorithm
        // for every slab), which takes quadratically many steps in descending order.
        let n = if cfg!(miri) { 200 } else { 2_000 };
        let mut m = Mem::<u32, GenKey>::new(n);
        m.raw.begin_split();
        loose::STEPS.with(|c| c.set(0));
        for i in (0..n).rev() {
            m.raw
                .insert_at(GenKey::from_bits(1 << 32 | i as u64).unwrap(), 0)
                .unwrap();
        }
        let walked = loose::STEPS.with(|c| c.get());
        assert!(
            walked > (n * n / 4) as u64,
            "walking the list: {walked} steps for {n} keys"
        );
    }

    #[test]
    fn loose_slots_are_handed_out_lowest_first_after_the_list() {
        let mut m = Mem::<u32>::new(64);
        for i in [9, 2, 5] {
            m.raw.insert_at(k(i), i as u32).unwrap();
        }
        assert!(m.raw.is_loose());
        // Removing pushes on the list as usual: the list comes first.
        assert_eq!(m.raw.remove(k(5)), Some(5));
        assert_eq!(m.raw.next_key(), Some(k(5)));
        assert_eq!(m.raw.insert(50), Ok(k(5)));
        // Then the loose ones, lowest first, then never-used slots.
        assert_eq!(m.raw.next_key(), Some(k(0)));
        let got: Vec<usize> = (0..8).map(|v| m.raw.insert(v).unwrap().index()).collect();
        assert_eq!(got, [0, 1, 3, 4, 6, 7, 8, 10]);
        assert!(!m.raw.is_loose());
        // has_vacant stays O(1) and right while loose: fill a small core through insert_at.
        let mut t = Mem::<u8>::new(1);
        let cap = t.raw.capacity();
        t.raw.insert_at(k(cap - 1), 0).unwrap();
        for i in 0..cap - 1 {
            assert!(t.raw.has_vacant());
            t.raw.insert_at(k(i), 0).unwrap();
        }
        assert!(t.raw.is_loose() && !t.raw.has_vacant() && t.raw.next_key().is_none());
        assert_eq!(t.raw.insert(1), Err(1));
    }

    #[test]
    fn loose_generational_slots_keep_retired_ones_retired() {
        let mut m = Mem::<u64, GenKey>::new(8);
        // Retire slot 0.
        m.raw.set_generation(0, u32::MAX - 1);
        let last = m.raw.insert(7).unwrap();
        m.raw.remove(last);
        let g = |gen: u64, i: u64| GenKey::from_bits(gen << 32 | i).unwrap();
        // Skip slots 1..5, then take slot 3 out of order: slots 1, 2, 4 loose.
        m.raw.insert_at(g(3, 5), 5).unwrap();
        m.raw.insert_at(g(1, 3), 3).unwrap();
        assert!(m.raw.is_loose());
        assert!(
            m.raw.insert_at(g(1, 0), 0).is_err(),
            "a retired slot stays retired"
        );
        assert!(m.raw.insert_at(g(5, 0), 0).is_err());
        assert_eq!(m.raw.next_key().map(|k| k.index()), Some(1));
        let got: Vec<usize> = (0..4).map(|v| m.raw.insert(v).unwrap().index()).collect();
        assert_eq!(got, [1, 2, 4, 6]);
        assert_eq!(m.raw.get(g(3, 5)), Some(&5));
        assert!(m.raw.get(g(u32::MAX as u64, 0)).is_none());
        while m.raw.insert(9).is_ok() {}
        assert_eq!(
            m.raw.len(),
            m.raw.capacity() - 1,
            "every slot but the retired one"
        );
    }

    /// Defence in depth: even if a key with an even generation existed (no constructor makes
    /// one), no lookup would match a vacant slot's even generation, nor a retired or never-used
    /// slot, and nothing would change.
    #[test]
    fn lookups_refuse_every_key_that_was_not_handed_out() {
        let mut m = Mem::<String, GenKey>::new(4);
        let cap = m.raw.capacity();
        let a = m.raw.insert("a".into()).unwrap(); // slot 0, generation 1
        let b = m.raw.insert("b".into()).unwrap(); // slot 1, generation 1
        m.raw.set_generation(2, u32::MAX - 1); // slot 2: never used, one step before the wrap
        let last = m.raw.insert("last".into()).unwrap(); // slot 2 ...
        assert_eq!(last, GenKey::forged_for_test(2, u32::MAX));
        m.raw.remove(last).unwrap(); // ... retired: generation 0
        m.raw.remove(a).unwrap(); // slot 0 vacant at generation 2
                                  // SAFETY: slot 2 < cap, generational keys.
        assert_eq!(unsafe { *m.raw.gen_ptr(2) }, 0);
        let gens = [1, 2, 3, 4, u32::MAX - 1, u32::MAX, 1 << 31, (1 << 31) + 1];
        for index in [0u32, 1, 2, 3, cap as u32, u32::MAX] {
            for g in gens {
                let key = GenKey::forged_for_test(index, g);
                let live = key == b;
                assert_eq!(m.raw.find(key).is_some(), live, "{key:?}");
                assert_eq!(m.raw.get(key).is_some(), live, "{key:?}");
                if !live {
                    assert_eq!(m.raw.remove(key), None, "{key:?}");
                    assert!(m.raw.disjoint([key]).is_err(), "{key:?}");
                }
            }
        }
        assert_eq!(m.raw.len(), 1);
        // The free list still holds slot 0 once, and the retired slot never comes back.
        let mut got = Vec::new();
        while let Ok(k) = m.raw.insert(String::new()) {
            got.push(k.index());
        }
        got.sort_unstable();
        let mut want: Vec<usize> = (0..cap).filter(|&i| i != 1 && i != 2).collect();
        want.sort_unstable();
        assert_eq!(got, want);
    }

    #[test]
    fn parity_bits_gathers_bit_zero_of_each_generation() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for round in 0..if cfg!(miri) { 4 } else { 200 } {
            let gens: Vec<u32> = (0..70)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    match round % 3 {
                        0 => x as u32,
                        1 => u32::MAX - (x as u32 & 1),
                        _ => (x as u32) & 0x8000_0001,
                    }
                })
                .collect();
            for start in [0usize, 1, 3, 6] {
                let want = (0..64).fold(0u64, |w, b| w | u64::from(gens[start + b] & 1) << b);
                // SAFETY: `start + 64 <= 70` values.
                let got = unsafe { parity_bits(gens.as_ptr().add(start)) };
                assert_eq!(got, want, "round {round}, start {start}");
            }
        }
    }

    #[test]
    fn plain_keys_restart_at_zero_after_clear_generational_ones_do_not_repeat() {
        let mut plain = Mem::<u8, Key>::new(4);
        plain.raw.insert(1).unwrap();
        plain.raw.insert(2).unwrap();
        plain.raw.clear();
        assert_eq!(plain.raw.insert(3), Ok(k(0)));
        let mut gen = Mem::<u8, GenKey>::new(4);
        let a = gen.raw.insert(1).unwrap();
        gen.raw.clear();
        let b = gen.raw.insert(2).unwrap();
        assert_ne!(a, b);
        assert_eq!(gen.raw.get(a), None);
    }

    /// Counts drops; panics on the drop whose number (from 1) is `panic_on`.
    struct Noisy<'a> {
        drops: &'a core::cell::Cell<usize>,
        panic_on: usize,
    }

    /// A core holding `n` `Noisy` values that count into `drops`; the `panic_on`-th drop panics
    /// (0: none).
    fn noisy(drops: &core::cell::Cell<usize>, panic_on: usize, n: usize) -> Mem<Noisy<'_>> {
        let mut m = Mem::new(n);
        for _ in 0..n {
            assert!(m.raw.insert(Noisy { drops, panic_on }).is_ok());
        }
        m
    }

    impl Drop for Noisy<'_> {
        fn drop(&mut self) {
            self.drops.set(self.drops.get() + 1);
            if self.drops.get() == self.panic_on {
                panic!("drop #{} panics", self.panic_on);
            }
        }
    }

    #[test]
    fn take_and_remove_link_slots_onto_the_free_list_top() {
        let mut m = Mem::<u64>::new(8);
        for v in 0..5 {
            m.raw.insert(v).unwrap();
        }
        assert_eq!(m.raw.remove(k(3)), Some(3));
        assert_eq!(m.raw.next_vacant(), Some(3));
        // SAFETY: slot 0 is occupied.
        assert_eq!(unsafe { m.raw.take(0) }, 0);
        assert_eq!(m.raw.next_vacant(), Some(0));
        assert_eq!(m.raw.len(), 3);
        assert_eq!(m.raw.insert(10), Ok(k(0)));
        assert_eq!(m.raw.insert(30), Ok(k(3)));
        assert_eq!(m.raw.insert(50), Ok(k(5)));
    }

    #[test]
    fn abandoned_slots_stay_off_the_free_list_until_reset() {
        let mut m = Mem::<String>::new(4);
        let cap = m.raw.capacity();
        m.raw.insert("a".into()).unwrap();
        m.raw.insert("b".into()).unwrap();
        // SAFETY: slot 0 is occupied; the value is read out exactly once.
        let a = unsafe { m.raw.abandon(0).read() };
        assert_eq!(a, "a");
        assert!(!m.raw.is_occupied(0));
        assert_eq!(m.raw.len(), 1);
        assert_eq!(
            m.raw.next_vacant(),
            Some(2),
            "an abandoned slot is not reused"
        );
        m.raw.clear();
        assert_eq!(m.raw.next_vacant(), Some(0));
        assert!(cap >= 2);
    }

    #[test]
    fn drop_values_drops_each_value_once() {
        let drops = core::cell::Cell::new(0);
        let mut m = noisy(&drops, 0, 100);
        for i in (0..100).step_by(7) {
            drop(m.raw.remove(k(i)));
        }
        let removed = drops.get();
        m.raw.drop_values();
        assert_eq!(drops.get(), 100);
        assert_eq!(m.raw.len(), 0);
        m.raw.drop_values(); // nothing left: a no-op
        assert_eq!(drops.get(), 100);
        assert_eq!(removed, 15);
    }

    #[test]
    fn drop_values_goes_on_after_a_panic() {
        let drops = core::cell::Cell::new(0);
        let mut m = noisy(&drops, 4, 10);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| m.raw.drop_values()));
        assert!(r.is_err());
        assert_eq!((drops.get(), m.raw.len()), (4, 6));
        m.raw.drop_values();
        assert_eq!((drops.get(), m.raw.len()), (10, 0));
    }

    #[test]
    fn clear_stops_at_a_panicking_drop_with_the_rest_in_place() {
        let drops = core::cell::Cell::new(0);
        let mut m = noisy(&drops, 3, 10);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| m.raw.clear()));
        assert!(r.is_err());
        assert_eq!(drops.get(), 3);
        assert_eq!(m.raw.len(), 7);
        assert_eq!(m.raw.next_occupied(0), Some(3));
        // The dropped slots went onto the free list, last dropped on top.
        assert_eq!(m.raw.next_vacant(), Some(2));
        m.raw.clear();
        assert_eq!(
            (drops.get(), m.raw.len(), m.raw.next_vacant()),
            (10, 0, Some(0))
        );
    }

    #[test]
    fn word_boundaries_fill_and_empty_cleanly() {
        for n in [63usize, 64, 65, 127, 128, 129] {
            let mut m = Mem::<u32>::new(n);
            let cap = m.raw.capacity();
            for i in 0..cap {
                assert_eq!(m.raw.insert(i as u32), Ok(k(i)));
            }
            assert_eq!(m.raw.insert(0), Err(0));
            assert_eq!(m.raw.next_occupied(cap - 1), Some(cap - 1));
            assert!(m.raw.is_occupied(cap - 1) && !m.raw.is_occupied(cap));
            assert_eq!(m.raw.remove(k(cap - 1)), Some(cap as u32 - 1));
            assert_eq!(m.raw.next_occupied(cap - 1), None);
            assert_eq!(m.raw.insert(7), Ok(k(cap - 1)));
            m.raw.clear();
            assert_eq!(m.raw.next_occupied(0), None);
            assert_eq!(m.raw.len(), 0);
        }
    }

    #[test]
    fn disjoint_pointers_can_all_be_written() {
        let mut m = Mem::<[u64; 3]>::new(16);
        for i in 0..16 {
            m.raw.insert([i; 3]).unwrap();
        }
        let ptrs = m.raw.disjoint([15, 0, 7, 8, 1].map(k)).unwrap();
        for (n, p) in ptrs.into_iter().enumerate() {
            // SAFETY: distinct occupied slots, nothing else borrows the core meanwhile.
            unsafe { (*p)[1] = 100 + n as u64 };
        }
        assert_eq!(m.raw.get(k(7)), Some(&[7, 102, 7]));
        assert_eq!(m.raw.get(k(15)), Some(&[15, 100, 15]));
        assert!(m.raw.disjoint::<0>([]).is_ok());
    }

    #[test]
    fn over_aligned_values_keep_their_alignment() {
        #[repr(align(128))]
        struct Wide(u8);
        let mut m = Mem::<Wide>::new(9);
        for i in 0..9 {
            let k = m.raw.insert(Wide(i)).ok().unwrap();
            let p = m.raw.get(k).unwrap() as *const Wide;
            assert_eq!(p as usize % 128, 0);
            assert_eq!(m.raw.get(k).unwrap().0, i);
        }
    }

    #[test]
    fn values_are_never_moved_by_other_operations() {
        let mut m = Mem::<String>::new(32);
        for i in 0..32 {
            m.raw.insert(i.to_string()).unwrap();
        }
        let p = m.raw.get(k(17)).unwrap() as *const String;
        for i in (0..32).filter(|&i| i != 17) {
            m.raw.remove(k(i));
        }
        for _ in 0..10 {
            m.raw.insert("again".into()).unwrap();
        }
        assert_eq!(m.raw.get(k(17)).unwrap() as *const String, p);
        assert_eq!(m.raw.get(k(17)).map(String::as_str), Some("17"));
        m.raw.drop_values();
    }
}
