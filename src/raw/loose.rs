//! Loose slots: what keeps [`RawSlab::insert_at`] O(1) amortised whatever the order of the
//! keys it restores.
//!
//! The free list is singly linked through the slots, so taking a slot out of its middle means
//! walking to it: restoring keys in descending or random order (a hash map iterated after a
//! restart) was quadratic. Instead, `insert_at` may make vacant slots *loose*: vacant, below
//! the high-water mark, not retired, not out on loan, and on no list. A slot named by
//! `insert_at` that is not the top of the list turns the whole list loose (one store), and
//! is then taken from the loose slots (they need no unlinking); never-used slots that
//! `insert_at` skips become loose without being linked. While any slot is loose
//! ([`RawSlab::loose`]), inserts do not take never-used slots (`fill_end` is the high-water
//! mark), so the first insert that finds the list empty comes here and *settles* them: every
//! loose slot goes on the list, lowest first (O(high-water mark), once per burst of
//! `insert_at`s), and the slab is as if nothing had been loose.
//!
//! Telling the states apart needs no memory beyond the slab: a vacant slot below the
//! high-water mark is occupied-or-not by its bit (or generation parity), retired when its
//! generation is 0 *and* its link field holds [`RETIRED`] (loose and never-used slots at
//! generation 0 hold a real link or `NIL`), and on the list or loose otherwise. A split slab
//! never has loose slots: its lent slots look vacant and their bytes belong to other threads,
//! so nothing may scan them.

use super::{link_of, slot_of_link, RawSlab, NIL, RETIRED};
use crate::key::sealed::RawKey;

#[cfg(test)]
thread_local! {
    /// Steps taken on this thread by the free-list work whose cost depends on the order of
    /// `insert_at`s: links followed, slots skipped, bitmap words scanned, slots settled. The
    /// unit tests bound it against the number of keys restored (a count, not a time).
    pub(crate) static STEPS: core::cell::Cell<u64> = const { core::cell::Cell::new(0) };
}

/// Counts `n` steps (unit tests only; nothing otherwise).
#[inline(always)]
pub(crate) fn step(n: u64) {
    #[cfg(test)]
    STEPS.with(|c| c.set(c.get() + n));
    #[cfg(not(test))]
    let _ = n;
}

impl<T, K: RawKey> RawSlab<T, K> {
    /// Whether vacant slot `i` is retired: generational keys, below the high-water mark, at
    /// generation 0 with the retired marker. Any `i`; false on a split slab's out slots (their
    /// generation is never 0), whose bytes it does not read.
    #[inline]
    pub(crate) fn is_retired(&self, i: usize) -> bool {
        // No retired slot at all (the usual case, and always in a fresh restore): no load of
        // the slot's link, which would be a second cache miss per key when restoring a large
        // slab in random order.
        if !K::GENERATIONAL || i >= self.hwm || self.retired == 0 {
            return false;
        }
        // SAFETY: `i < hwm <= cap`, generational keys.
        if unsafe { *self.gen_ptr(i) } != 0 {
            return false;
        }
        // SAFETY: `i < hwm <= cap`; a slot at generation 0 below the high-water mark is vacant
        // and owned by the slab (listed, loose or retired; never out: lending moves generation
        // 0 to 2), so its link field may be read.
        unsafe { (*self.slots.as_ptr().add(i)).next == RETIRED }
    }

    /// Marks vacant slot `i` retired for good (generation 0, link [`RETIRED`]) and counts it.
    ///
    /// # Safety
    /// Generational keys; `i < hwm`; slot `i` is vacant (its value gone) and on no list.
    #[inline]
    pub(crate) unsafe fn retire(&mut self, i: usize) {
        debug_assert!(K::GENERATIONAL && i < self.hwm);
        // SAFETY: per the contract: `i < cap`, the slot is vacant, so its link may be written.
        unsafe {
            *self.gen_ptr(i) = 0;
            (*self.slots.as_ptr().add(i)).next = RETIRED;
        }
        self.retired += 1;
    }

    /// Raises the high-water mark to `i + 1` for `insert_at(i)`, `i >= hwm`: the slots skipped
    /// (`hwm..i`, never used) become vacant below it. On a split slab they go on top of the
    /// list, lowest first; otherwise they are loose. O(slots skipped).
    pub(crate) fn skip_to(&mut self, i: usize) {
        debug_assert!(i >= self.hwm && i < self.cap);
        if self.split {
            step((i - self.hwm) as u64);
            for j in (self.hwm..i).rev() {
                // SAFETY: `j < i < cap`, and slot `j` is vacant (never used).
                unsafe { (*self.slots.as_ptr().add(j)).next = self.free };
                self.free = link_of(j);
            }
        } else {
            step((i - self.hwm) as u64);
            for j in self.hwm..i {
                // SAFETY: `j < i < cap`, a never-used slot: its link may be written. `NIL`
                // (not the retired marker) keeps a generation-0 slot from reading as retired.
                unsafe { (*self.slots.as_ptr().add(j)).next = NIL };
            }
            if i > self.hwm {
                self.loose = true;
            }
        }
        self.hwm = i + 1;
        if self.loose {
            self.fill_end = self.hwm;
        }
    }

    /// Makes every listed slot loose (not on a split slab). O(1).
    pub(crate) fn loosen(&mut self) {
        debug_assert!(!self.split);
        self.free = NIL;
        self.loose = true;
        self.fill_end = self.hwm;
    }

    /// Puts every loose slot on the bottom of the free list, lowest first, and ends the loose
    /// state. O(high-water mark) (plus the list's length when it is not empty). Nothing to do
    /// when no slot is loose.
    pub(crate) fn settle(&mut self) {
        if !self.loose {
            return;
        }
        debug_assert!(!self.split);
        // The slots listed now (pushed since the list was made loose) are not loose.
        let mut listed = Vec::new();
        let mut bottom = None;
        if self.free != NIL {
            listed.resize(self.hwm, false);
            let mut cur = self.free;
            while cur != NIL {
                step(1);
                let j = slot_of_link(cur);
                listed[j] = true;
                bottom = Some(j);
                // SAFETY: slots on the free list are vacant slots below `hwm` with a link.
                cur = unsafe { (*self.slots.as_ptr().add(j)).next };
            }
        }
        let mut from = 0;
        while let Some(j) = self.next_loose(from, &listed) {
            step(1);
            from = j + 1;
            // SAFETY: `j < hwm <= cap`, a loose slot: vacant and on no list; the bottom (if
            // any) is a vacant slot on the list.
            unsafe {
                (*self.slots.as_ptr().add(j)).next = NIL;
                match bottom {
                    Some(b) => (*self.slots.as_ptr().add(b)).next = link_of(j),
                    None => self.free = link_of(j),
                }
            }
            bottom = Some(j);
        }
        self.loose = false;
        self.fill_end = self.cap;
    }

    /// The lowest loose slot while the list is empty (then every vacant unretired slot below
    /// the high-water mark is loose). O(high-water mark).
    pub(crate) fn first_loose(&self) -> Option<usize> {
        debug_assert!(self.loose && self.free == NIL);
        self.next_loose(0, &[])
    }

    /// The lowest vacant slot at or above `from` and below the high-water mark that is neither
    /// retired nor marked in `listed` (indexed by slot; shorter means unmarked). Reads
    /// occupancy a word at a time.
    fn next_loose(&self, from: usize, listed: &[bool]) -> Option<usize> {
        let words = self.live_words();
        let mut b = from + 1; // slot `from` is bit `from + 1`
        while b <= self.hwm {
            let w = b / 64;
            if w >= words {
                return None;
            }
            step(1);
            // SAFETY: `w < live_words`.
            let occupied = unsafe { self.occupancy_word(w) };
            // Vacant bits from `b` on in this word; bit 0 of word 0 is the sentinel (no slot).
            let mut vacant = !occupied & (!0u64 << (b % 64));
            if w == 0 {
                vacant &= !1;
            }
            while vacant != 0 {
                let j = w * 64 + vacant.trailing_zeros() as usize - 1;
                if j >= self.hwm {
                    return None;
                }
                if !listed.get(j).copied().unwrap_or(false) && !self.is_retired(j) {
                    return Some(j);
                }
                vacant &= vacant - 1;
            }
            b = (w + 1) * 64;
        }
        None
    }

    /// The loose slots, ascending (none unless loose). O(high-water mark).
    #[cfg(feature = "serde")]
    pub(crate) fn loose_slots(&self) -> Vec<usize> {
        if !self.loose {
            return Vec::new();
        }
        let mut listed = vec![false; self.hwm];
        let mut cur = self.free;
        while cur != NIL {
            listed[slot_of_link(cur)] = true;
            // SAFETY: slots on the free list are vacant slots below `hwm` with a link.
            cur = unsafe { (*self.slots.as_ptr().add(slot_of_link(cur))).next };
        }
        let mut out = Vec::new();
        let mut from = 0;
        while let Some(j) = self.next_loose(from, &listed) {
            out.push(j);
            from = j + 1;
        }
        out
    }

    /// Whether some slots are loose (test hook).
    #[cfg(test)]
    pub(crate) fn is_loose(&self) -> bool {
        self.loose
    }
}
