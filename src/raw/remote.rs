//! Lending: slots whose values another thread owns for a while, and the stack on which other
//! threads hand them back. The façade is [`crate::split`]; this is the part that knows slots.
//!
//! A split slab has a fourth slot state besides occupied, free and retired: **out**. An out
//! slot holds a value some other thread owns (lent) or, once that thread is done, nothing (it
//! sits on the remote stack, returned); either way the owner's bitmap says vacant (plain keys:
//! bit clear; generational keys: generation even, left as it was — or 2 for a slot never used
//! before, so that 0 still means retired) and the slot is on no free
//! list, so `get`, iteration, `drain` and the slab's drop never reach it, and no key finds it.
//! When the owner takes the remote stack back ([`RawSlab::adopt`]) its slots go onto the free
//! list under the generation they had, so the next insert gives them a generation no key had.
//!
//! The remote stack ([`RemoteHead`]) is one 64-bit word: the top slot's link (slot index + 1,
//! 0 = empty) in the low half, the number of slots on the stack in the high half. The slots are
//! linked through the same `next` field the free list uses, so returning a slot needs no memory
//! beyond the slab and the stack cannot overflow. Other threads only push (one
//! compare-and-swap, a whole chain at a time for a batch); the owner only takes the whole stack
//! (one swap), so a popped slot is never pushed back under a pusher's feet: no ABA. A push
//! writes the link before its release CAS; the owner reads links after its acquire swap, and
//! the CASes of later pushers continue the release sequence, so every link the owner follows
//! was written before it reads it.
//!
//! With plain keys, a split slab has no never-used slots: [`RawSlab::begin_split`] puts them on
//! the bottom of the free list (in ascending order, so the keys handed out are the same). The
//! insert path that takes never-used slots stores a whole bitmap word on the assumption that
//! every slot below the high-water mark in it is occupied, which a lent slot is not.

use core::ptr::{self, NonNull};

// Loom's atomics in the loom build of the tests (see `crate::sync`).
use crate::sync::{fence, AtomicU64, AtomicUsize, Ordering};

use super::{link_of, slot_of_link, RawSlab, NIL};
use crate::key::sealed::RawKey;

/// The remote stack's word once the owner is gone: nothing is taken back any more. Its low
/// half is no link (links are at most `MAX_CAPACITY < u32::MAX`).
const CLOSED: u64 = u64::MAX;

/// The remote stack of a split slab (see the module docs). Aligned to two cache lines, so the
/// line remote threads write is shared with nothing else (x86 prefetches lines in pairs).
#[repr(align(128))]
pub struct RemoteHead {
    word: AtomicU64,
}

impl RemoteHead {
    /// An empty stack.
    pub fn new() -> Self {
        RemoteHead {
            word: AtomicU64::new(0),
        }
    }

    /// The stack's word alone, for [`push_chain`](RemoteHead::push_chain): a reference to
    /// the atomic (all of it inside an `UnsafeCell`) and to nothing around it, so that it
    /// does not keep the block alive in the aliasing model once the push has published (a
    /// `&RemoteHead` would: its padding is outside the `UnsafeCell`, so a `&self` argument
    /// protects it for the whole call, while the owner may free the block right after the
    /// push's compare-and-swap).
    ///
    /// # Safety
    /// `head` points to a live `RemoteHead`; the reference is used only while the caller
    /// keeps it alive (until the push that publishes).
    #[inline]
    pub unsafe fn word<'a>(head: *const RemoteHead) -> &'a AtomicU64 {
        // SAFETY: per the contract `head` is live; `addr_of!` makes no reference to the
        // `RemoteHead` itself.
        unsafe { &*ptr::addr_of!((*head).word) }
    }

    /// Pushes a chain of `count` slots whose top slot's link is `top` onto the stack whose
    /// word is `word` ([`RemoteHead::word`]), with one compare-and-swap (retried only when
    /// another push got in between). `link_bottom(next)` is called before each attempt to
    /// write the chain's bottom slot's link.
    ///
    /// Returns [`Pushed::Closed`] without pushing (and without calling `link_bottom`) once the
    /// owner has closed the stack. After a successful push the owner may take the slots back
    /// and free the stack's block before this returns: `word` is all this holds of it (see
    /// [`RemoteHead::word`]), and nothing of the block is touched after the compare-and-swap.
    ///
    /// # Safety
    /// `word` is the word of a live stack; the chain's slots are out slots of the slab this
    /// stack belongs to that the caller owns (no value in them, no one else writing them),
    /// linked from `top` through `count` slots down to the bottom one, whose link
    /// `link_bottom` writes; `count > 0`.
    #[inline]
    pub unsafe fn push_chain(
        word: &AtomicU64,
        top: u32,
        count: u32,
        mut link_bottom: impl FnMut(u32),
    ) -> Pushed {
        debug_assert!(top != NIL && count > 0);
        count_op(Op::Load);
        let mut cur = word.load(Ordering::Relaxed);
        loop {
            if cur == CLOSED {
                // Pairs with the owner's release in `close`: what it did before closing (its
                // reference count update) happens before what the caller does next.
                fence(Ordering::Acquire);
                return Pushed::Closed;
            }
            link_bottom(cur as u32);
            let new = ((cur >> 32) + u64::from(count)) << 32 | u64::from(top);
            count_op(Op::Rmw);
            // Release: the links (and the values' drops) happen before the owner's acquire
            // `take` that sees this word or a later one.
            // (Strong: a spurious failure would cost another attempt, and the count of
            // atomic operations per return is part of the contract.)
            match word.compare_exchange(cur, new, Ordering::Release, Ordering::Relaxed) {
                Ok(_) => {
                    // Under Miri only: a point where the scheduler may switch threads right
                    // after the slots are published, when the owner may take them back and
                    // free the block at once (tests/split_teardown.rs forces that schedule
                    // with -Zmiri-preemption-rate=0). Nothing in other builds.
                    #[cfg(miri)]
                    std::thread::yield_now();
                    return Pushed::Returned;
                }
                Err(now) => cur = now,
            }
        }
    }

    /// Takes the whole stack: the top slot's link and the number of slots, or `None` when it
    /// is empty (then only a load was spent, no read-modify-write).
    #[inline]
    pub fn take(&self) -> Option<(u32, u32)> {
        count_op(Op::Load);
        if self.word.load(Ordering::Relaxed) == 0 {
            return None;
        }
        count_op(Op::Rmw);
        let word = self.word.swap(0, Ordering::Acquire);
        debug_assert!(word != CLOSED, "only the owner takes, and it closes last");
        let (top, count) = (word as u32, (word >> 32) as u32);
        (top != NIL).then_some((top, count))
    }

    /// Whether nothing has been returned since the last `take`.
    #[inline]
    pub fn is_empty(&self) -> bool {
        count_op(Op::Load);
        self.word.load(Ordering::Relaxed) == 0
    }

    /// Closes the stack for good (the owner is going away) and returns how many slots were
    /// on it. Later pushes get [`Pushed::Closed`].
    pub fn close(&self) -> u32 {
        count_op(Op::Rmw);
        let word = self.word.swap(CLOSED, Ordering::AcqRel);
        debug_assert!(word != CLOSED, "closed twice");
        (word >> 32) as u32
    }
}

impl Default for RemoteHead {
    fn default() -> Self {
        Self::new()
    }
}

/// Where a slot handed back went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pushed {
    /// Onto the remote stack: the owner will take it back.
    Returned,
    /// Nowhere: the owner is gone and takes nothing back.
    Closed,
}

/// The reference count of what a split slab shares between threads: the owner, each remote
/// handle and — once the owner is gone — each slot still lent hold one.
///
/// Transparent over the atomic: a `&Refs` is all inside an `UnsafeCell`, so the `&self` of
/// [`release`](Refs::release) does not keep the block alive past its decrement.
#[repr(transparent)]
pub struct Refs(AtomicUsize);

impl Refs {
    /// A count of `n`.
    pub fn new(n: usize) -> Self {
        Refs(AtomicUsize::new(n))
    }

    /// Adds `n` holders. Relaxed, as for `Arc::clone`: a new holder is made from an existing
    /// one, which keeps the count above zero meanwhile.
    pub fn add(&self, n: usize) {
        count_op(Op::Rmw);
        let old = self.0.fetch_add(n, Ordering::Relaxed);
        if old > isize::MAX as usize {
            // Only leaked handles can get here; wrapping would free memory still in use.
            std::process::abort();
        }
    }

    /// Drops `n` holders; true for the caller that dropped the last one, which may then free
    /// what the count guards (everything the other holders did happens before).
    pub fn release(&self, n: usize) -> bool {
        count_op(Op::Rmw);
        if self.0.fetch_sub(n, Ordering::Release) != n {
            return false;
        }
        fence(Ordering::Acquire);
        true
    }
}

/// Kinds of atomic operations, counted per thread in this crate's unit tests.
#[derive(Clone, Copy)]
pub(crate) enum Op {
    /// A plain atomic load (no bus lock).
    Load,
    /// A read-modify-write: compare-and-swap, swap, fetch-add (a `lock`-prefixed or `xchg`
    /// instruction on x86).
    Rmw,
}

#[cfg(test)]
thread_local! {
    /// Atomic operations of this thread: (loads, read-modify-writes).
    pub(crate) static OPS: core::cell::Cell<(u32, u32)> = const { core::cell::Cell::new((0, 0)) };
}

#[inline(always)]
fn count_op(op: Op) {
    #[cfg(test)]
    OPS.with(|c| {
        let (l, r) = c.get();
        c.set(match op {
            Op::Load => (l + 1, r),
            Op::Rmw => (l, r + 1),
        });
    });
    #[cfg(not(test))]
    let _ = op;
}

/// The link (index + 1) of the slot whose value pointer is `value`, in a slot array of `T`s
/// that starts at address `base`. (Addresses only: no pointer is made from them.)
#[inline]
pub(crate) fn link_at<T>(base: usize, value: NonNull<T>) -> u32 {
    let offset = value.as_ptr() as usize - base;
    // A slot index below `MAX_CAPACITY`, so + 1 fits.
    (offset / core::mem::size_of::<super::Slot<T>>()) as u32 + 1
}

/// Writes the free-list link `next` into the out slot whose value pointer is `value`.
///
/// # Safety
/// `value` is the value pointer of an out slot of a live slab, owned by the caller, holding
/// no value (dropped or moved out).
#[inline]
pub(crate) unsafe fn write_link<T>(value: NonNull<T>, next: u32) {
    // SAFETY: a slot is a `repr(C)` union of the value and the `u32` link, both at offset 0,
    // aligned to at least 4 and at least 4 bytes long; the value pointer is the slot's (same
    // provenance, from the region); the slot is the caller's and vacant, so the link may be
    // written.
    unsafe { value.cast::<u32>().as_ptr().write(next) }
}

impl<T, K: RawKey> RawSlab<T, K> {
    /// Makes this slab ready to lend (once, when it is split): no restart, no wholesale clear
    /// from now on, and with plain keys the never-used slots go onto the bottom of the free
    /// list in ascending order (O(never-used slots), once). The keys inserts hand out are the
    /// same as before.
    pub(crate) fn begin_split(&mut self) {
        if self.split {
            return;
        }
        // Lent slots look vacant: from now on no slot may be loose (see `loose`).
        self.settle();
        self.split = true;
        if K::GENERATIONAL || self.hwm == self.cap {
            return;
        }
        // Chain `hwm..cap`, lowest on top, ending in NIL.
        let first = link_of(self.hwm);
        for j in self.hwm..self.cap {
            let next = if j + 1 < self.cap {
                link_of(j + 1)
            } else {
                NIL
            };
            // SAFETY: `j < cap`, a never-used slot: vacant, its link may be written.
            unsafe { (*self.slots.as_ptr().add(j)).next = next };
        }
        // Below whatever is on the free list now, which inserts take first.
        if self.free == NIL {
            self.free = first;
        } else {
            let mut cur = slot_of_link(self.free);
            loop {
                // SAFETY: `cur` is on the free list: a vacant slot below `hwm` with a link.
                let next = unsafe { (*self.slots.as_ptr().add(cur)).next };
                if next == NIL {
                    break;
                }
                cur = slot_of_link(next);
            }
            // SAFETY: as above; `cur` is the bottom of the free list.
            unsafe { (*self.slots.as_ptr().add(cur)).next = first };
        }
        self.hwm = self.cap;
    }

    /// Stores `value` in slot `i`, just taken by [`claim_out`](RawSlab::claim_out): the slot
    /// is out (vacant in the owner's view, on no list). Returns the value's pointer.
    ///
    /// # Safety
    /// `claim_out` (or `claim_out_after`) just returned `i`.
    #[inline(always)]
    pub(crate) unsafe fn put_out(&mut self, i: usize, value: T) -> NonNull<T> {
        // SAFETY: `i < cap`, inside the slot array (`value` is at offset 0 of a slot).
        let p = unsafe { self.value_nn(i) };
        // SAFETY: the slot is vacant and now off every list: nothing else reads or writes it.
        unsafe { p.as_ptr().write(value) };
        p
    }

    /// Takes the slot the next lend uses off the free list (or, generational keys, past the
    /// high-water mark), leaving it vacant in the owner's view (as `insert` would choose it,
    /// but with the bit clear, the generation even and unchanged, `len` unchanged): its
    /// index. [`put_out`](RawSlab::put_out) then stores the value.
    #[inline(always)]
    pub(crate) fn claim_out(&mut self) -> Option<usize> {
        if self.free != NIL {
            let i = slot_of_link(self.free);
            // SAFETY: slots on the free list are vacant slots below `hwm <= cap` whose `next`
            // field was written when they were freed.
            self.free = unsafe { (*self.slots.as_ptr().add(i)).next };
            if K::GENERATIONAL {
                // A free slot may be at generation 0: one `insert_at` skipped, never used. It
                // goes out at 2, as a never-used slot does below (an out slot at 0 would look
                // retired to `out_slots`, and copies and snapshots would lose it). Every other
                // free slot is at an even generation of at least 2, kept. Branchless: a
                // compare and a conditional move.
                // SAFETY: `i < hwm <= cap`, generational keys.
                unsafe {
                    let g = self.gen_ptr(i);
                    *g = (*g).max(2);
                }
            }
            Some(i)
        } else if K::GENERATIONAL && self.hwm < self.cap {
            // Generational keys only (plain ones have no never-used slots once split). The
            // slot goes out at generation 2 (vacant, and no key had generation 1 here): only a
            // retired slot is vacant at 0 below the high-water mark.
            let i = self.hwm;
            self.hwm += 1;
            // SAFETY: `i < cap`, generational keys.
            unsafe { *self.gen_ptr(i) = 2 };
            Some(i)
        } else {
            None
        }
    }

    /// [`claim_out`](RawSlab::claim_out) after `refill`, if it put slots on the free list.
    #[cold]
    #[inline(never)]
    pub(crate) fn claim_out_after(
        &mut self,
        refill: impl FnOnce(&mut Self) -> bool,
    ) -> Option<usize> {
        if refill(self) {
            self.claim_out()
        } else {
            None
        }
    }

    /// Puts a chain of `count` returned slots, from the slot linked `top` down to one linked
    /// to NIL, onto the free list: O(1) when the free list is empty, else O(`count`) to find
    /// the chain's bottom (the returned slots go on top).
    ///
    /// # Safety
    /// The chain is what `RemoteHead::take` returned for this slab's stack: out slots of this
    /// slab, each with no value and a link written before the take, `count` of them.
    pub(crate) unsafe fn adopt(&mut self, top: u32, count: u32) {
        debug_assert!(self.split && top != NIL && count > 0);
        if self.free != NIL {
            let mut bottom = slot_of_link(top);
            for _ in 1..count {
                // SAFETY: a slot of the returned chain, below `cap`, whose link was written by
                // the thread that returned it before the take (see the module docs).
                bottom = slot_of_link(unsafe { (*self.slots.as_ptr().add(bottom)).next });
            }
            // SAFETY: the chain's bottom slot, below `cap`, vacant and ours now.
            unsafe { (*self.slots.as_ptr().add(bottom)).next = self.free };
        }
        self.free = top;
    }
}

#[cfg(all(test, loom))]
mod loom_model {
    //! Loom explores every interleaving with up to 4 preemptions (and the weak-memory outcomes
    //! loom models) of a few threads pushing single slots and chains onto the real
    //! `RemoteHead` while the owner takes the stack. The links live in loom cells here
    //! (the slab's are plain memory, which loom does not see), so a link read without a
    //! happens-before edge to its write fails the model. The teardown (close, the reference
    //! count, the block's free) is modelled on the real split code in `split::loom_tests`.

    use super::{Pushed, RemoteHead};
    use crate::sync::check::model;
    use loom::cell::UnsafeCell;
    use loom::sync::Arc;
    use loom::thread;

    /// Slot links, as the slab's `next` fields (slot `i` has link `i + 1`).
    struct Links([UnsafeCell<u32>; 5]);

    struct Model {
        head: RemoteHead,
        links: Links,
    }

    impl Model {
        fn new() -> Arc<Self> {
            Arc::new(Model {
                head: RemoteHead::new(),
                links: Links(core::array::from_fn(|_| UnsafeCell::new(u32::MAX))),
            })
        }

        /// Returns slot `i` alone.
        fn push(&self, i: usize) -> Pushed {
            // SAFETY: slot `i` is this thread's; the callback writes its own link.
            unsafe {
                RemoteHead::push_chain(RemoteHead::word(&self.head), i as u32 + 1, 1, |next| {
                    self.links.0[i].with_mut(|p| *p = next)
                })
            }
        }

        /// Returns `slots` as one chain (first on top), linked locally, one splice.
        fn push_batch(&self, slots: &[usize]) -> Pushed {
            for w in slots.windows(2) {
                let next = w[1] as u32 + 1;
                // SAFETY: the cell's slot is this thread's until it is pushed.
                self.links.0[w[0]].with_mut(|p| unsafe { *p = next });
            }
            let bottom = *slots.last().unwrap();
            // SAFETY: the chain's slots are this thread's, linked above; the callback writes
            // the bottom's link.
            unsafe {
                RemoteHead::push_chain(
                    RemoteHead::word(&self.head),
                    slots[0] as u32 + 1,
                    slots.len() as u32,
                    |next| self.links.0[bottom].with_mut(|p| *p = next),
                )
            }
        }

        /// Takes the stack and follows its links: the slots, top first.
        fn take(&self) -> Vec<usize> {
            let Some((top, count)) = self.head.take() else {
                return Vec::new();
            };
            let mut out = Vec::new();
            let mut link = top;
            while link != 0 {
                let i = link as usize - 1;
                out.push(i);
                // SAFETY: a slot of the taken chain: its pusher is done with it (loom checks
                // that the write happens before this read).
                link = self.links.0[i].with(|p| unsafe { *p });
            }
            assert_eq!(out.len(), count as usize, "the count matches the chain");
            out
        }
    }

    /// The owner's side: takes the stack (yielding to the pushers in between) until `n` slots
    /// came back.
    fn take_until(m: &Model, n: usize) -> Vec<usize> {
        let mut got = m.take();
        while got.len() < n {
            thread::yield_now();
            got.extend(m.take());
        }
        got
    }

    fn check_all_once(mut got: Vec<usize>, want: &[usize]) {
        got.sort_unstable();
        assert_eq!(got, want, "every returned slot comes back exactly once");
    }

    /// Two threads push single slots while the owner takes in between; then the rest.
    #[test]
    fn loom_two_pushers_and_a_take() {
        model("two pushers and a take", Some(4), || {
            let m = Model::new();
            let a = {
                let m = m.clone();
                thread::spawn(move || {
                    assert_eq!(m.push(0), Pushed::Returned);
                    assert_eq!(m.push(1), Pushed::Returned);
                })
            };
            let b = {
                let m = m.clone();
                thread::spawn(move || assert_eq!(m.push(2), Pushed::Returned))
            };
            // The owner takes while they push, until it has all three: every link it
            // follows must be ordered before its read by the atomics alone (no join yet).
            let got = take_until(&m, 3);
            a.join().unwrap();
            b.join().unwrap();
            check_all_once(got, &[0, 1, 2]);
        });
    }

    /// A batch splice (a chain of three) races a single push and two takes.
    #[test]
    fn loom_batch_splice_against_push_and_takes() {
        model("batch splice against a push and takes", Some(4), || {
            let m = Model::new();
            let a = {
                let m = m.clone();
                thread::spawn(move || assert_eq!(m.push_batch(&[3, 0, 4]), Pushed::Returned))
            };
            let b = {
                let m = m.clone();
                thread::spawn(move || assert_eq!(m.push(1), Pushed::Returned))
            };
            let got = take_until(&m, 4);
            a.join().unwrap();
            b.join().unwrap();
            check_all_once(got, &[0, 1, 3, 4]);
        });
    }
}

#[cfg(all(test, not(loom)))]
impl<T, K: RawKey> RawSlab<T, K> {
    /// Test hook: (free-list length, slots below the high-water mark).
    pub(crate) fn accounts(&self) -> (usize, usize) {
        let mut n = 0;
        let mut cur = self.free;
        while cur != NIL {
            n += 1;
            // SAFETY: slots on the free list are vacant slots below `hwm` with a link.
            cur = unsafe { (*self.slots.as_ptr().add(slot_of_link(cur))).next };
        }
        (n, self.hwm)
    }
}

impl<T, K: RawKey> RawSlab<T, K> {
    /// Puts `slots` at the bottom of the free list, in order (for a copy of a split slab, whose
    /// out slots hold no value in the copy).
    ///
    /// # Safety
    /// Each slot is below the high-water mark, vacant (no value, even generation), on no list,
    /// not retired, and listed once.
    pub(crate) unsafe fn append_free(&mut self, slots: &[usize]) {
        let mut bottom: Option<usize> = None;
        let mut cur = self.free;
        while cur != NIL {
            bottom = Some(slot_of_link(cur));
            // SAFETY: slots on the free list are vacant slots below `hwm` with a link.
            cur = unsafe { (*self.slots.as_ptr().add(slot_of_link(cur))).next };
        }
        for &i in slots {
            debug_assert!(i < self.hwm && !self.is_occupied(i));
            // SAFETY: per the contract, slot `i < hwm <= cap` is vacant and on no list; the
            // bottom (if any) is a vacant slot on the free list.
            unsafe {
                (*self.slots.as_ptr().add(i)).next = NIL;
                match bottom {
                    Some(b) => (*self.slots.as_ptr().add(b)).next = link_of(i),
                    None => self.free = link_of(i),
                }
            }
            bottom = Some(i);
        }
    }

    /// The out slots of a split slab (lent, or returned and not taken back), ascending: for a
    /// snapshot or a copy, where they are free (neither owns a lent value). With
    /// generational keys an out slot's generation is even and not 0 (`lend` moves a never-used
    /// slot to 2), so retired slots (0) stay retired. Empty unless split; O(high-water mark).
    pub(crate) fn out_slots(&self) -> Vec<usize> {
        if !self.split {
            return Vec::new();
        }
        let mut listed = vec![false; self.hwm];
        let mut cur = self.free;
        while cur != NIL {
            let i = slot_of_link(cur);
            listed[i] = true;
            // SAFETY: slots on the free list are vacant slots below `hwm` with a link.
            cur = unsafe { (*self.slots.as_ptr().add(i)).next };
        }
        (0..self.hwm)
            .filter(|&i| !listed[i] && !self.is_occupied(i))
            // SAFETY: `i < hwm <= cap`, generational keys.
            .filter(|&i| !K::GENERATIONAL || unsafe { *self.gen_ptr(i) } != 0)
            .collect()
    }
}
