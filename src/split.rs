//! Objects that cross threads: [`Slab::split`] into an [`Owner`], which inserts and lends with
//! no atomic operation on its fast path, and [`RemoteFree`] handles, with which any thread
//! hands back the slots of the [`Lent`] values it was given.
//!
//! What is shared between the threads sits in one heap block made at `split`: the remote
//! stack (one 64-bit word, see `raw::remote`) and a reference count. The owner, each
//! `RemoteFree` and — once the owner is gone — each value still lent hold a reference; the
//! last one to go releases the slab's memory through its backing. A `Lent` takes no reference
//! while the owner lives (lending is a plain store), so the owner, when it goes, adds one for
//! each slot still out before it closes the stack; a slot handed back to a closed stack drops
//! that reference instead of being pushed.

use core::cell::UnsafeCell;
use core::fmt;
use core::marker::PhantomData;
use core::mem::ManuallyDrop;
use core::ops::{Deref, DerefMut, Index, IndexMut};
use core::ptr::{self, NonNull};

use crate::backing::{Backing, CloneBacking, Mmap};
use crate::entry::VacantEntry;
use crate::iter::{Drain, Iter, IterMut, Keys, Values, ValuesMut};
use crate::key::SlabKey;
use crate::raw::remote::{write_link, Pushed, Refs, RemoteHead};
use crate::raw::RawSlab;
use crate::{Error, Full, InsertAtError, Key, KeyError, Slab};

/// What the threads of a split slab share; at offset 0 of [`Shared`], which is what is
/// allocated (so a pointer to it is one to the whole block).
#[repr(C)]
struct Header {
    head: RemoteHead,
    refs: Refs,
    /// Frees the whole block (a `Shared<T, B, K>`) and the slab parked in it.
    destroy: unsafe fn(NonNull<Header>),
    /// The address of the slab's slot 0 (fixed while split: an owner never moves its memory),
    /// from which a `Lent` finds its slot's link: a `Lent` holds two pointers, not a third
    /// field.
    slots: usize,
    /// The loom model check's view of the block's life (see `crate::sync::check`).
    #[cfg(all(loom, test))]
    life: crate::sync::check::BlockLife,
}

/// Marks an access to the block at `h` for the loom model check, which reports it if the
/// block's free does not happen after it (a use after free); nothing in other builds.
///
/// # Safety
/// `h` is a block made by `split` (under loom its memory outlives the execution).
#[inline(always)]
#[cfg_attr(all(loom, test), track_caller)]
unsafe fn touch(h: NonNull<Header>) {
    // SAFETY: under loom a freed block's memory is quarantined, not given back, so its
    // `life` is still there to report the access.
    #[cfg(all(loom, test))]
    unsafe {
        (*ptr::addr_of!((*h.as_ptr()).life)).check()
    };
    #[cfg(not(all(loom, test)))]
    let _ = h;
}

/// The shared block, with the slab the owner parks there when it goes (to be released by the
/// last holder).
#[repr(C)]
struct Shared<T, B: Backing, K: SlabKey> {
    header: Header,
    parked: UnsafeCell<Option<Slab<T, B, K>>>,
}

/// Frees a `Shared<T, B, K>` block, releasing the parked slab's memory.
///
/// # Safety
/// `h` came from the `Box<Shared<T, B, K>>` made by `split`, and the last reference was just
/// dropped (no one else uses the block).
unsafe fn destroy<T, B: Backing, K: SlabKey>(h: NonNull<Header>) {
    let block = h.cast::<Shared<T, B, K>>().as_ptr();
    // Under loom: the block's life ends (a write every access must happen before), its
    // contents are dropped (the parked slab's memory goes back through the backing) and its
    // memory is quarantined (see `crate::sync::check`).
    // SAFETY: as below; `life` is read and written through loom's checks only.
    #[cfg(all(loom, test))]
    unsafe {
        (*ptr::addr_of!((*block).header.life)).end();
        ptr::drop_in_place(block);
        crate::sync::check::quarantine(block.cast(), core::alloc::Layout::new::<Shared<T, B, K>>());
    }
    // SAFETY: per the contract, the block is a leaked `Box<Shared<T, B, K>>` (the header is
    // at offset 0 of the `repr(C)` block, and the pointer keeps the whole block's provenance),
    // and nothing else refers to it any more.
    #[cfg(not(all(loom, test)))]
    drop(unsafe { Box::from_raw(block) });
}

/// The block's reference count, referenced alone.
///
/// The block is never referenced whole (`&Header`) by a holder that may not be the last: such
/// a reference covers bytes outside any `UnsafeCell` (the stack's padding, `destroy`), and a
/// reference held across the atomic operation with which a holder lets go (a decrement, a push
/// the owner may take back at once) would still claim them while another thread frees the
/// block. References to the atomics alone claim nothing the aliasing model keeps alive.
///
/// # Safety
/// `h` is a live block, kept alive by the caller up to the reference's last use.
#[inline]
unsafe fn refs<'a>(h: NonNull<Header>) -> &'a Refs {
    // SAFETY: per the contract the block is live; `addr_of!` makes no reference to the header.
    unsafe {
        touch(h);
        &*ptr::addr_of!((*h.as_ptr()).refs)
    }
}

/// Pushes a chain of out slots onto the remote stack of block `h`, holding no reference to
/// the block but to the stack's word (see `refs`): after the compare-and-swap, the owner may
/// take the slots back, close the stack and free the block before this returns.
///
/// # Safety
/// `h` is a live block (the caller's reference, or the owner's, keeps it alive up to the
/// push), and as for [`RemoteHead::push_chain`].
#[inline]
unsafe fn push(h: NonNull<Header>, top: u32, count: u32, link_bottom: impl FnMut(u32)) -> Pushed {
    // SAFETY: per the contract the block is live up to the push, which publishes and is the
    // last use of the word; the chain is as `push_chain` requires.
    unsafe {
        touch(h);
        let word = RemoteHead::word(ptr::addr_of!((*h.as_ptr()).head));
        RemoteHead::push_chain(word, top, count, link_bottom)
    }
}

/// Drops `n` references to the block at `h`, freeing it with the last one.
///
/// # Safety
/// `h` is a live block and the caller holds `n` of its references, which it gives up.
unsafe fn release(h: NonNull<Header>, n: usize) {
    // What the last holder needs is read before the count goes down: a holder that was not
    // the last must not touch the block after its decrement (another one may free it then).
    // SAFETY: the caller's references keep the block alive until the decrement; `destroy` is
    // written once, by `split`, before any other thread had the block.
    let destroy = unsafe {
        touch(h);
        (*h.as_ptr()).destroy
    };
    // SAFETY: as above; the decrement is the count's last use here.
    let last = unsafe { refs(h) }.release(n);
    if last {
        // SAFETY: the last reference is gone: no one else uses the block.
        unsafe { destroy(h) };
    }
}

/// The link (slot index + 1) of the out slot whose value pointer is `value`, in the slab of
/// block `h`.
///
/// # Safety
/// `h` is a live block and `value` the value pointer of one of its slab's slots.
#[inline]
unsafe fn link_of<T>(h: NonNull<Header>, value: NonNull<T>) -> u32 {
    // SAFETY: the block is live; `slots` is written once, by `split`, before any other thread
    // had the block. Only the field is read (no reference to the header).
    let base = unsafe {
        touch(h);
        ptr::addr_of!((*h.as_ptr()).slots).read()
    };
    crate::raw::remote::link_at::<T>(base, value)
}

/// Hands an out slot back: pushes it onto the remote stack, or, when the owner is gone, drops
/// the reference the owner left for it.
///
/// # Safety
/// `value` is the value pointer of an out slot of the slab of block `h` whose value is gone
/// (dropped or moved out), `link` its link, and the caller owns the slot (a `Lent`'s).
#[inline]
unsafe fn give_back<T>(h: NonNull<Header>, value: NonNull<T>, link: u32) {
    // SAFETY: the slot is lent, so the block is alive (the owner, or the reference the owner
    // left for this slot) until the push hands the slot over; the slot is the caller's,
    // vacant, and its link is written only by the callback, before the push publishes it.
    let pushed = unsafe { push(h, link, 1, |next| write_link(value, next)) };
    if pushed == Pushed::Closed {
        // SAFETY: the owner left one reference for this slot when it closed the stack.
        unsafe { release(h, 1) };
    }
}

impl<T, B: Backing + Send + 'static, K: SlabKey + 'static> Slab<T, B, K> {
    /// Splits the slab for use across threads: an [`Owner`] that keeps the whole
    /// single-thread API (same keys, same code) and can also [`lend`](Owner::lend) values to
    /// other threads, and a [`RemoteFree`] with which any thread hands their slots back.
    ///
    /// The owner inserts, gets, removes and lends with no atomic operation; a remote thread
    /// returns a slot with one compare-and-swap (one per batch with [`FreeBatch`]); the owner
    /// takes back everything returned with one swap, by itself when it runs out of slots. The
    /// slab's memory stays until the owner, every `RemoteFree` and every `Lent` are gone.
    ///
    /// Costs one small heap allocation (the shared block), and with plain keys a pass over
    /// the never-used slots, which join the free list (inserts still take them in order).
    ///
    /// ```
    /// use nexus_slab::{LockedSlab, Slab};
    ///
    /// let slab: Slab<String> = Slab::with_capacity(1024);
    /// let (mut owner, remote) = slab.split();
    /// let order = owner.lend("buy 100".to_string()).unwrap();
    /// let retire = std::thread::spawn(move || {
    ///     assert_eq!(*order, "buy 100");
    ///     remote.free(order); // dropped here, slot handed back
    /// });
    /// retire.join().unwrap();
    /// assert_eq!(owner.reclaim(), 1);
    /// assert_eq!(owner.lent(), 0);
    /// ```
    #[must_use = "the owner and the handle are the slab now: dropping them frees it"]
    pub fn split(mut self) -> (Owner<T, B, K>, RemoteFree<T>) {
        self.raw_mut().begin_split();
        let shared = Box::new(Shared::<T, B, K> {
            header: Header {
                head: RemoteHead::new(),
                refs: Refs::new(2),
                destroy: destroy::<T, B, K>,
                slots: self.raw().slots_addr(),
                #[cfg(all(loom, test))]
                life: crate::sync::check::BlockLife::new(),
            },
            parked: UnsafeCell::new(None),
        });
        let header = NonNull::from(Box::leak(shared)).cast::<Header>();
        (
            Owner {
                slab: ManuallyDrop::new(self),
                header,
                lent: 0,
            },
            RemoteFree {
                header,
                _values: PhantomData,
            },
        )
    }
}

/// The owning side of a split slab: the slab's whole single-thread API, plus
/// [`lend`](Owner::lend) and [`reclaim`](Owner::reclaim). Made by [`Slab::split`].
///
/// Every method has the name and the code of [`Slab`]'s (no `Deref`: an owner is not a slab,
/// and its `insert`, `vacant_entry` and `is_full` also see the slots handed back);
/// [`as_slab`](Owner::as_slab) reads the rest. [`insert`](Owner::insert) and `lend` take back
/// the returned slots by themselves (one swap) when no slot is free.
///
/// An owner is not a slab: no `&Slab` can be taken from it implicitly (a `Slab` method would
/// not see the lent slots), only through [`as_slab`](Owner::as_slab):
///
/// ```compile_fail,E0308
/// use nexus_slab::Slab;
/// let (owner, _remote) = Slab::<u64>::with_capacity(8).split();
/// let slab: &Slab<u64> = &owner;
/// ```
///
/// Lent slots are out of the owner's sight: `get`, `iter`, `drain`, `retain`, `clear` and
/// drop skip them, [`len`](Owner::len) does not count them (see [`lent`](Owner::lent)), and a
/// [`GenKey`](crate::GenKey) that named the slot before stays stale. When the owner is dropped
/// it drops its own values; values still lent stay valid, and the memory goes back to the
/// backing when the last of them is dropped.
///
/// ```
/// use nexus_slab::{GenSlab, Slab};
///
/// let (mut owner, remote) = GenSlab::<u32>::with_capacity(4).split();
/// let k = owner.insert(1).unwrap();
/// let lent = owner.lend(2).unwrap();
/// assert_eq!((owner.len(), owner.lent()), (1, 1));
/// assert_eq!(owner.iter().map(|(_, v)| *v).collect::<Vec<_>>(), [1]);
/// assert_eq!(remote.take(lent), 2);
/// owner.remove(k);
/// assert!(owner.get(k).is_none());
/// ```
pub struct Owner<T, B: Backing = Mmap, K: SlabKey = Key> {
    /// Taken out only by `drop` (parked in the shared block).
    slab: ManuallyDrop<Slab<T, B, K>>,
    header: NonNull<Header>,
    /// Slots lent and not yet taken back (lent, or returned and still on the remote stack).
    lent: usize,
}

// SAFETY: the owner is its slab plus a handle on the shared block, whose state is atomic (the
// remote stack, the count) or touched only by the owner (the parked slab, written once as it
// goes): it may move to another thread exactly when the slab may.
unsafe impl<T, B: Backing, K: SlabKey> Send for Owner<T, B, K> where Slab<T, B, K>: Send {}
// SAFETY: `&Owner` reads the slab (as `&Slab` does) and the atomic stack, or makes a
// `RemoteFree` with an atomic increment.
unsafe impl<T, B: Backing, K: SlabKey> Sync for Owner<T, B, K> where Slab<T, B, K>: Sync {}

/// Takes back every slot returned to the stack of block `h` (an owner's) into `raw`, its
/// slab, counting them off `lent`: how many.
fn take_back<T, K: crate::key::sealed::RawKey>(
    h: NonNull<Header>,
    raw: &mut RawSlab<T, K>,
    lent: &mut usize,
) -> usize {
    // SAFETY: the owner (the caller) holds a reference to the block until its drop; a whole
    // `&RemoteHead` is fine for the owner (see `Owner::head`).
    let head = unsafe {
        touch(h);
        &*ptr::addr_of!((*h.as_ptr()).head)
    };
    let Some((top, count)) = head.take() else {
        return 0;
    };
    // SAFETY: the chain is what the remote stack held: slots this owner lent, handed back
    // with their links written before the push the swap synchronised with.
    unsafe { raw.adopt(top, count) };
    *lent -= count as usize;
    count as usize
}

impl<T, B: Backing, K: SlabKey> Owner<T, B, K> {
    /// The remote stack. A whole `&RemoteHead` is fine here: the owner's own reference keeps
    /// the block alive until the end of its drop, after its last use of the stack.
    #[inline]
    fn head(&self) -> &RemoteHead {
        // SAFETY: the owner holds a reference to the block until its drop.
        unsafe {
            touch(self.header);
            &*ptr::addr_of!((*self.header.as_ptr()).head)
        }
    }

    /// The block's reference count (the owner's reference keeps it alive, as for `head`).
    #[inline]
    fn refs(&self) -> &Refs {
        // SAFETY: the owner holds a reference to the block until its drop.
        unsafe { refs(self.header) }
    }

    /// Stores `value` in a slot and hands it out as a [`Lent`], which another thread may own
    /// and drop (or give to [`RemoteFree`]): the slot comes back to this owner then. No
    /// atomic operation unless no slot is free, when the returned ones are taken back first
    /// (one swap).
    ///
    /// The value is out of the owner's sight until then: no key finds it, and `iter`, `len`
    /// and the owner's drop skip it.
    ///
    /// # Errors
    ///
    /// [`Full`] with the value when every slot holds a value or is lent (and not returned).
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let (mut owner, _remote) = Slab::<u64>::with_capacity(2).split();
    /// let mut a = owner.lend(1).unwrap();
    /// *a += 10;
    /// assert_eq!(*a, 11);
    /// assert!(owner.is_empty());
    /// drop(a); // hands the slot back
    /// assert_eq!(owner.lent(), 1); // until taken back
    /// assert_eq!(owner.reclaim(), 1);
    /// ```
    #[inline]
    pub fn lend(&mut self, value: T) -> Result<Lent<T>, Full<T>> {
        // The core's steps written out, so that the out-of-line path returns this result (see
        // `RawSlab::SMALL`).
        let i = match self.slab.raw_mut().claim_out() {
            Some(i) => i,
            None if RawSlab::<T, K::Raw>::SMALL => return self.lend_slow(value),
            None => {
                let (header, lent) = (self.header, &mut self.lent);
                let refill = move |raw: &mut RawSlab<T, K::Raw>| take_back(header, raw, lent) > 0;
                match self.slab.raw_mut().claim_out_after(refill) {
                    Some(i) => i,
                    None => return Err(Full::new(value, self.slab.capacity())),
                }
            }
        };
        // SAFETY: `claim_out` (or `claim_out_after`) just took slot `i`.
        let value = unsafe { self.slab.raw_mut().put_out(i, value) };
        self.lent += 1;
        Ok(Lent {
            value,
            header: self.header,
            _owns: PhantomData,
        })
    }

    /// The rest of `lend` when no slot is free (small values): takes the returned ones back.
    #[cold]
    #[inline(never)]
    fn lend_slow(&mut self, value: T) -> Result<Lent<T>, Full<T>> {
        if self.reclaim() == 0 {
            return Err(Full::new(value, self.slab.capacity()));
        }
        self.lend(value)
    }

    /// Inserts `value` and returns its key, as [`Slab::insert`] does (same code); when no slot
    /// is free, first takes back the returned ones (one swap).
    ///
    /// # Errors
    ///
    /// [`Full`] with the value when every slot holds a value or is lent (and not returned).
    ///
    /// ```
    /// use nexus_slab::{Key, Slab};
    ///
    /// let slab: Slab<u64> = Slab::with_capacity(1);
    /// let cap = slab.capacity();
    /// let (mut owner, remote) = slab.split();
    /// let lent: Vec<_> = (0..cap as u64).map(|v| owner.lend(v).unwrap()).collect();
    /// assert!(owner.insert(7).is_err()); // everything is lent
    /// remote.free_all(lent);
    /// assert!(owner.insert(7).is_ok()); // taken back by itself
    /// ```
    #[inline]
    pub fn insert(&mut self, value: T) -> Result<K, Full<T>> {
        // The core's steps written out, so that the out-of-line path returns this result (see
        // `RawSlab::SMALL`).
        let (i, n) = match self.slab.raw_mut().claim() {
            Some(slot) => slot,
            None if RawSlab::<T, K::Raw>::SMALL => return self.insert_slow(value),
            None => {
                let (header, lent) = (self.header, &mut self.lent);
                let refill = move |raw: &mut RawSlab<T, K::Raw>| take_back(header, raw, lent) > 0;
                match self.slab.raw_mut().claim_after(refill) {
                    Some(slot) => slot,
                    None => return Err(Full::new(value, self.slab.capacity())),
                }
            }
        };
        // SAFETY: `claim` (or `claim_after`) took slot `i` (numbered `n`), vacant.
        Ok(K::from_raw(unsafe {
            self.slab.raw_mut().fill(i, n, value)
        }))
    }

    /// The rest of `insert` when no slot is free (small values): takes the returned ones back.
    #[cold]
    #[inline(never)]
    fn insert_slow(&mut self, value: T) -> Result<K, Full<T>> {
        if self.reclaim() == 0 {
            return Err(Full::new(value, self.slab.capacity()));
        }
        self.insert(value)
    }

    /// Takes back every slot returned so far (one atomic swap; a load only when there is
    /// none) and returns how many: they go on top of the free list. O(1) when the free list
    /// is empty (as when `insert` or `lend` do it by themselves), else O(slots taken back).
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let (mut owner, remote) = Slab::<u8>::with_capacity(8).split();
    /// let lent = [owner.lend(1).unwrap(), owner.lend(2).unwrap()];
    /// assert_eq!(owner.reclaim(), 0);
    /// remote.free_all(lent);
    /// assert_eq!(owner.reclaim(), 2);
    /// ```
    pub fn reclaim(&mut self) -> usize {
        take_back(self.header, self.slab.raw_mut(), &mut self.lent)
    }

    /// Slots out on loan: lent and not yet taken back by [`reclaim`](Owner::reclaim) (so
    /// including those returned since the last one).
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let (mut owner, _remote) = Slab::<u8>::with_capacity(8).split();
    /// let a = owner.lend(1).unwrap();
    /// assert_eq!(owner.lent(), 1);
    /// drop(a);
    /// assert_eq!(owner.lent(), 1);
    /// owner.reclaim();
    /// assert_eq!(owner.lent(), 0);
    /// ```
    #[inline]
    #[must_use]
    pub fn lent(&self) -> usize {
        self.lent
    }

    /// Another [`RemoteFree`] handle (one atomic increment).
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let (mut owner, remote) = Slab::<u8>::with_capacity(8).split();
    /// drop(remote);
    /// let again = owner.remote();
    /// again.free(owner.lend(1).unwrap());
    /// assert_eq!(owner.reclaim(), 1);
    /// ```
    pub fn remote(&self) -> RemoteFree<T> {
        self.refs().add(1);
        RemoteFree {
            header: self.header,
            _values: PhantomData,
        }
    }

    /// Whether an insert or a lend would fail now: no slot free, none returned.
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let slab: Slab<u64> = Slab::with_capacity(1);
    /// let cap = slab.capacity();
    /// let (mut owner, remote) = slab.split();
    /// let mut lent: Vec<_> = (0..cap as u64).map(|v| owner.lend(v).unwrap()).collect();
    /// assert!(owner.is_full() && owner.is_empty());
    /// remote.free(lent.pop().unwrap());
    /// assert!(!owner.is_full());
    /// ```
    #[inline]
    pub fn is_full(&self) -> bool {
        !self.slab.raw().has_vacant() && self.head().is_empty()
    }

    /// The key the next [`insert`](Owner::insert) will return when a slot is free now;
    /// `None` when none is — though slots handed back and not yet reclaimed may then be taken
    /// by that insert ([`reclaim`](Owner::reclaim) first to see their keys here). Reads only.
    ///
    /// ```
    /// use nexus_slab::{Key, Slab};
    ///
    /// let (mut owner, _remote) = Slab::<u8>::with_capacity(8).split();
    /// let next = owner.vacant_key().unwrap();
    /// assert_eq!(owner.insert(1).unwrap(), next);
    /// ```
    #[must_use]
    pub fn vacant_key(&self) -> Option<K> {
        self.slab.vacant_key()
    }

    /// The slab, to read what the owner's own methods do not cover. Its [`Slab::try_clone`]
    /// is [`Owner::try_clone`] (the slots out on loan are free in the copy).
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let (mut owner, _remote) = Slab::<u8>::with_capacity(8).split();
    /// owner.insert(1).unwrap();
    /// let _lent = owner.lend(2).unwrap();
    /// assert_eq!(owner.as_slab().len(), 1);
    /// assert_eq!(owner.as_slab().try_clone().unwrap().len(), 1);
    /// ```
    #[must_use]
    pub fn as_slab(&self) -> &Slab<T, B, K> {
        &self.slab
    }

    /// As [`Slab::get`].
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let (mut owner, _remote) = Slab::<u8>::with_capacity(8).split();
    /// let k = owner.insert(1).unwrap();
    /// assert_eq!(owner.get(k), Some(&1));
    /// ```
    #[inline]
    #[must_use]
    pub fn get(&self, key: K) -> Option<&T> {
        self.slab.get(key)
    }

    /// As [`Slab::get_unchecked`].
    ///
    /// # Safety
    ///
    /// `key` must name a value in this slab (`self.contains(key)`).
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let (mut owner, _remote) = Slab::<u8>::with_capacity(8).split();
    /// let k = owner.insert(1).unwrap();
    /// // SAFETY: `k` was just inserted.
    /// assert_eq!(unsafe { owner.get_unchecked(k) }, &1);
    /// ```
    #[inline]
    pub unsafe fn get_unchecked(&self, key: K) -> &T {
        // SAFETY: the caller's promise, passed on.
        unsafe { self.slab.get_unchecked(key) }
    }

    /// As [`Slab::contains`]: a lent value is not in the owner's slab.
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let (mut owner, _remote) = Slab::<u8>::with_capacity(8).split();
    /// let k = owner.insert(1).unwrap();
    /// assert!(owner.contains(k));
    /// ```
    #[inline]
    #[must_use]
    pub fn contains(&self, key: K) -> bool {
        self.slab.contains(key)
    }

    /// Values in the owner's slab (not counting the [`lent`](Owner::lent) ones).
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let (mut owner, _remote) = Slab::<u8>::with_capacity(8).split();
    /// owner.insert(1).unwrap();
    /// let _out = owner.lend(2).unwrap();
    /// assert_eq!((owner.len(), owner.lent()), (1, 1));
    /// ```
    #[inline]
    #[must_use]
    pub fn len(&self) -> usize {
        self.slab.len()
    }

    /// Whether the owner's slab holds no value (lent ones are not in it).
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let (mut owner, _remote) = Slab::<u8>::with_capacity(8).split();
    /// let _out = owner.lend(2).unwrap();
    /// assert!(owner.is_empty());
    /// ```
    #[inline]
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.slab.is_empty()
    }

    /// As [`Slab::capacity`]: every slot, lent or not.
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let (owner, _remote) = Slab::<u8>::with_capacity(8).split();
    /// assert!(owner.capacity() >= 8);
    /// ```
    #[inline]
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.slab.capacity()
    }

    /// As [`Slab::iter`]: the owner's values, not the lent ones.
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let (mut owner, _remote) = Slab::<u8>::with_capacity(8).split();
    /// owner.insert(1).unwrap();
    /// let _out = owner.lend(2).unwrap();
    /// assert_eq!(owner.iter().map(|(_, v)| *v).collect::<Vec<_>>(), [1]);
    /// ```
    pub fn iter(&self) -> Iter<'_, T, K> {
        self.slab.iter()
    }

    /// As [`Slab::keys`].
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let (mut owner, _remote) = Slab::<u8>::with_capacity(8).split();
    /// let k = owner.insert(1).unwrap();
    /// assert_eq!(owner.keys().collect::<Vec<_>>(), [k]);
    /// ```
    pub fn keys(&self) -> Keys<'_, T, K> {
        self.slab.keys()
    }

    /// As [`Slab::values`].
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let (mut owner, _remote) = Slab::<u8>::with_capacity(8).split();
    /// owner.insert(1).unwrap();
    /// assert_eq!(owner.values().sum::<u8>(), 1);
    /// ```
    pub fn values(&self) -> Values<'_, T, K> {
        self.slab.values()
    }

    /// As [`Slab::key_of`]: the key of a value in the owner's slab (a lent value has none).
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let (mut owner, _remote) = Slab::<u8>::with_capacity(8).split();
    /// let k = owner.insert(1).unwrap();
    /// assert_eq!(owner.key_of(&owner[k]), Some(k));
    /// ```
    #[must_use]
    pub fn key_of(&self, value: &T) -> Option<K> {
        self.slab.key_of(value)
    }

    /// As [`Slab::memory_size`].
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let (owner, _remote) = Slab::<u8>::with_capacity(8).split();
    /// assert!(owner.memory_size() > 0);
    /// ```
    #[must_use]
    pub fn memory_size(&self) -> usize {
        self.slab.memory_size()
    }

    /// As [`Slab::backing`].
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let (owner, _remote) = Slab::<u8>::with_capacity(8).split();
    /// assert!(owner.backing().prefaults());
    /// ```
    #[must_use]
    pub fn backing(&self) -> &B {
        self.slab.backing()
    }

    /// As [`Slab::locked_bytes`].
    ///
    /// # Errors
    ///
    /// As for [`Slab::locked_bytes`].
    ///
    /// ```
    /// use nexus_slab::LockedSlab;
    ///
    /// let mut slab: LockedSlab<u8> = LockedSlab::new();
    /// if slab.alloc(8).is_ok() {
    ///     let (owner, _remote) = slab.split();
    ///     if let Ok(locked) = owner.locked_bytes() {
    ///         assert_eq!(locked, owner.memory_size());
    ///     }
    /// }
    /// ```
    pub fn locked_bytes(&self) -> Result<usize, Error> {
        self.slab.locked_bytes()
    }

    /// As [`Slab::huge_page_bytes`].
    ///
    /// # Errors
    ///
    /// As for [`Slab::huge_page_bytes`].
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let (owner, _remote) = Slab::<u8>::with_capacity(8).split();
    /// if let Ok(huge) = owner.huge_page_bytes() {
    ///     assert!(huge <= owner.memory_size());
    /// }
    /// ```
    pub fn huge_page_bytes(&self) -> Result<usize, Error> {
        self.slab.huge_page_bytes()
    }

    /// As [`Slab::numa_bytes`].
    ///
    /// # Errors
    ///
    /// As for [`Slab::numa_bytes`].
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let (owner, _remote) = Slab::<u8>::with_capacity(8).split();
    /// if let Ok(placed) = owner.numa_bytes() {
    ///     assert!(placed.resident() <= owner.memory_size());
    /// }
    /// ```
    pub fn numa_bytes(&self) -> Result<crate::system::NumaBytes, Error> {
        self.slab.numa_bytes()
    }

    /// A handle to the next vacant slot, as [`Slab::vacant_entry`]; takes back the returned
    /// slots first if none is free.
    ///
    /// # Errors
    ///
    /// [`Full`] (without a value) when every slot holds a value or is lent (and not returned).
    ///
    /// ```
    /// use nexus_slab::{Key, Slab};
    ///
    /// let (mut owner, _remote) = Slab::<(Key, u8)>::with_capacity(8).split();
    /// let entry = owner.vacant_entry().unwrap();
    /// let key = entry.key();
    /// entry.insert((key, 1));
    /// assert_eq!(owner[key].0, key);
    /// ```
    pub fn vacant_entry(&mut self) -> Result<VacantEntry<'_, T, B, K>, Full> {
        if !self.slab.raw().has_vacant() {
            self.reclaim();
        }
        self.slab.vacant_entry()
    }

    /// As [`Slab::get_mut`].
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let (mut owner, _remote) = Slab::<u8>::with_capacity(8).split();
    /// let k = owner.insert(1).unwrap();
    /// *owner.get_mut(k).unwrap() += 1;
    /// assert_eq!(owner[k], 2);
    /// ```
    #[inline]
    pub fn get_mut(&mut self, key: K) -> Option<&mut T> {
        self.slab.get_mut(key)
    }

    /// As [`Slab::get_unchecked_mut`].
    ///
    /// # Safety
    ///
    /// `key` must name a value in this slab (`self.contains(key)`); a lent slot holds none.
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let (mut owner, _remote) = Slab::<u8>::with_capacity(8).split();
    /// let k = owner.insert(1).unwrap();
    /// // SAFETY: `k` was just inserted.
    /// unsafe { *owner.get_unchecked_mut(k) = 5 };
    /// assert_eq!(owner[k], 5);
    /// ```
    #[inline]
    pub unsafe fn get_unchecked_mut(&mut self, key: K) -> &mut T {
        // SAFETY: the caller's promise, passed on.
        unsafe { self.slab.get_unchecked_mut(key) }
    }

    /// As [`Slab::get_disjoint_mut`].
    ///
    /// # Errors
    ///
    /// As for [`Slab::get_disjoint_mut`].
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let (mut owner, _remote) = Slab::<u8>::with_capacity(8).split();
    /// let a = owner.insert(1).unwrap();
    /// let b = owner.insert(2).unwrap();
    /// let [x, y] = owner.get_disjoint_mut([a, b]).unwrap();
    /// std::mem::swap(x, y);
    /// assert_eq!((owner[a], owner[b]), (2, 1));
    /// ```
    pub fn get_disjoint_mut<const N: usize>(
        &mut self,
        keys: [K; N],
    ) -> Result<[&mut T; N], KeyError> {
        self.slab.get_disjoint_mut(keys)
    }

    /// As [`Slab::remove`].
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let (mut owner, _remote) = Slab::<u8>::with_capacity(8).split();
    /// let k = owner.insert(1).unwrap();
    /// assert_eq!(owner.remove(k), Some(1));
    /// assert_eq!(owner.remove(k), None);
    /// ```
    #[inline]
    pub fn remove(&mut self, key: K) -> Option<T> {
        self.slab.remove(key)
    }

    /// As [`Slab::insert_at`]; a lent slot is not vacant for it (refused).
    ///
    /// # Errors
    ///
    /// As for [`Slab::insert_at`].
    ///
    /// ```
    /// use nexus_slab::{Key, Slab};
    ///
    /// let (mut owner, _remote) = Slab::<&str>::with_capacity(8).split();
    /// owner.insert_at(Key::new_saturating(3), "three").unwrap();
    /// assert_eq!(owner[Key::new_saturating(3)], "three");
    /// ```
    pub fn insert_at(&mut self, key: K, value: T) -> Result<(), InsertAtError<T>> {
        self.slab.insert_at(key, value)
    }

    /// As [`Slab::iter_mut`] (lent values are not visited).
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let (mut owner, _remote) = Slab::<u8>::with_capacity(8).split();
    /// let k = owner.insert(1).unwrap();
    /// owner.iter_mut().for_each(|(_, v)| *v += 1);
    /// assert_eq!(owner[k], 2);
    /// ```
    pub fn iter_mut(&mut self) -> IterMut<'_, T, K> {
        self.slab.iter_mut()
    }

    /// As [`Slab::values_mut`].
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let (mut owner, _remote) = Slab::<u8>::with_capacity(8).split();
    /// let k = owner.insert(1).unwrap();
    /// owner.values_mut().for_each(|v| *v *= 3);
    /// assert_eq!(owner[k], 3);
    /// ```
    pub fn values_mut(&mut self) -> ValuesMut<'_, T, K> {
        self.slab.values_mut()
    }

    /// As [`Slab::drain`], except that the keys do not start again from 0 afterwards (lent
    /// slots must stay out of use); lent values stay lent.
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let (mut owner, _remote) = Slab::<u8>::with_capacity(8).split();
    /// owner.insert(1).unwrap();
    /// let lent = owner.lend(2).unwrap();
    /// assert_eq!(owner.drain().map(|(_, v)| v).collect::<Vec<_>>(), [1]);
    /// assert_eq!(*lent, 2);
    /// ```
    pub fn drain(&mut self) -> Drain<'_, T, K> {
        self.slab.drain()
    }

    /// As [`Slab::retain`] (lent values are not visited).
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let (mut owner, _remote) = Slab::<u8>::with_capacity(8).split();
    /// for v in 0..4 {
    ///     owner.insert(v).unwrap();
    /// }
    /// owner.retain(|_, v| *v % 2 == 1);
    /// assert_eq!(owner.values().copied().collect::<Vec<_>>(), [1, 3]);
    /// ```
    pub fn retain<F: FnMut(K, &mut T) -> bool>(&mut self, keep: F) {
        self.slab.retain(keep)
    }

    /// As [`Slab::clear`], except that the keys do not start again from 0 (lent slots must
    /// stay out of use: the cleared slots go on the free list one by one); lent values stay
    /// lent.
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let (mut owner, _remote) = Slab::<String>::with_capacity(8).split();
    /// let k = owner.insert("a".into()).unwrap();
    /// let lent = owner.lend("b".into()).unwrap();
    /// owner.clear();
    /// assert!(owner.is_empty() && !owner.contains(k));
    /// assert_eq!(*lent, "b");
    /// ```
    pub fn clear(&mut self) {
        self.slab.clear()
    }

    /// As [`Slab::try_clone`]: a copy of the owner's values in a slab of its own (not split),
    /// with the same keys; the slots out on loan are free in the copy, below its free list.
    ///
    /// # Errors
    ///
    /// As for [`Slab::try_clone`].
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let (mut owner, _remote) = Slab::<String>::with_capacity(8).split();
    /// let k = owner.insert("kept".into()).unwrap();
    /// let _lent = owner.lend("lent".into()).unwrap();
    /// let mut copy = owner.try_clone().unwrap();
    /// assert_eq!(copy[k], "kept");
    /// assert_eq!(copy.len(), 1);
    /// let mut n = copy.len();
    /// while copy.insert(String::new()).is_ok() {
    ///     n += 1;
    /// }
    /// assert_eq!(n, copy.capacity()); // the lent slot is usable in the copy
    /// ```
    pub fn try_clone(&self) -> Result<Slab<T, B, K>, Error>
    where
        T: Clone,
        B: CloneBacking,
    {
        // The same copy as `Slab::try_clone` through `as_slab`, which frees the out slots in it.
        self.slab.try_clone()
    }

    /// As [`Slab::mlock`].
    ///
    /// # Errors
    ///
    /// As for [`Slab::mlock`].
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let (mut owner, _remote) = Slab::<u64>::with_capacity(512).split();
    /// match owner.mlock() {
    ///     Ok(()) => owner.munlock().unwrap(),
    ///     Err(e) => eprintln!("cannot lock here: {e}"),
    /// }
    /// ```
    pub fn mlock(&mut self) -> Result<(), Error> {
        self.slab.mlock()
    }

    /// As [`Slab::munlock`].
    ///
    /// # Errors
    ///
    /// As for [`Slab::munlock`].
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let (mut owner, _remote) = Slab::<u64>::new().split();
    /// assert!(owner.munlock().is_err()); // no memory
    /// ```
    pub fn munlock(&mut self) -> Result<(), Error> {
        self.slab.munlock()
    }

    /// As [`Slab::try_collapse`].
    ///
    /// # Errors
    ///
    /// As for [`Slab::try_collapse`].
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let (mut owner, _remote) = Slab::<u64>::with_capacity(4 << 20).split();
    /// match owner.try_collapse() {
    ///     Ok(huge) => println!("{huge} bytes on huge pages"),
    ///     Err(e) => eprintln!("no huge pages: {e}"),
    /// }
    /// ```
    pub fn try_collapse(&mut self) -> Result<usize, Error> {
        self.slab.try_collapse()
    }
}

impl<T, B: Backing, K: SlabKey> Index<K> for Owner<T, B, K> {
    type Output = T;

    /// # Panics
    ///
    /// With "invalid key" when `key` names no value.
    #[inline]
    #[track_caller]
    fn index(&self, key: K) -> &T {
        &self.slab[key]
    }
}

impl<T, B: Backing, K: SlabKey> IndexMut<K> for Owner<T, B, K> {
    /// # Panics
    ///
    /// With "invalid key" when `key` names no value.
    #[inline]
    #[track_caller]
    fn index_mut(&mut self, key: K) -> &mut T {
        &mut self.slab[key]
    }
}

impl<'a, T, B: Backing, K: SlabKey> IntoIterator for &'a Owner<T, B, K> {
    type Item = (K, &'a T);
    type IntoIter = Iter<'a, T, K>;

    fn into_iter(self) -> Iter<'a, T, K> {
        self.slab.iter()
    }
}

impl<'a, T, B: Backing, K: SlabKey> IntoIterator for &'a mut Owner<T, B, K> {
    type Item = (K, &'a mut T);
    type IntoIter = IterMut<'a, T, K>;

    fn into_iter(self) -> IterMut<'a, T, K> {
        self.slab.iter_mut()
    }
}

impl<T: fmt::Debug, B: Backing, K: SlabKey> fmt::Debug for Owner<T, B, K> {
    /// `{:?}` shows the sizes and the lent count; `{:#?}` shows every `key: value` too.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.alternate() {
            f.debug_map().entries(self.slab.iter()).finish()
        } else {
            f.debug_struct("Owner")
                .field("len", &self.slab.len())
                .field("lent", &self.lent)
                .field("capacity", &self.slab.capacity())
                .finish()
        }
    }
}

impl<T, B: Backing, K: SlabKey> Drop for Owner<T, B, K> {
    fn drop(&mut self) {
        /// Drops the owner's values, parks the slab in the shared block and lets go of it,
        /// even when a value's `Drop` panics.
        struct Finish<'a, T, B: Backing, K: SlabKey> {
            owner: &'a mut Owner<T, B, K>,
            returned: usize,
        }

        impl<T, B: Backing, K: SlabKey> Drop for Finish<'_, T, B, K> {
            fn drop(&mut self) {
                let owner = &mut *self.owner;
                // After a panic this goes on with the values not yet dropped (a second panic
                // aborts); otherwise there is nothing left.
                owner.slab.raw_mut().drop_values();
                // SAFETY: taken once, here; the field is never used again.
                let slab = unsafe { ManuallyDrop::take(&mut owner.slab) };
                let h = owner.header;
                // SAFETY: the block is alive (the owner's reference); `parked` is written by
                // the owner only, once, and read only by whoever frees the block, after the
                // release below (which orders this write before it).
                unsafe {
                    touch(h);
                    let shared = h.cast::<Shared<T, B, K>>();
                    *(*shared.as_ptr()).parked.get() = Some(slab);
                    // The owner's own reference, and the ones it left for the slots that were
                    // returned after all.
                    release(h, self.returned + 1);
                }
            }
        }

        let lent = self.lent;
        // One reference for each slot out, before the stack closes: a slot handed back to a
        // closed stack drops one. The slots returned before the close drop theirs below. (The
        // owner's own reference keeps the block alive through both, until `Finish`'s release.)
        if lent > 0 {
            self.refs().add(lent);
        }
        let returned = self.head().close() as usize;
        let finish = Finish {
            owner: self,
            returned,
        };
        finish.owner.slab.raw_mut().drop_values();
    }
}

/// A value lent by an [`Owner`] to whichever thread holds this: `Deref`/`DerefMut` to it,
/// `Send` when `T` is. Dropping it drops the value (on the dropping thread) and hands the
/// slot back to the owner — also when the value's `Drop` panics. [`RemoteFree::take`] moves
/// the value out instead; [`FreeBatch`] hands many slots back at once.
///
/// A `Lent` keeps the slab's memory alive, even past the owner. It is two pointers in size
/// (16 bytes on 64-bit targets), whatever `T`: cheap to send through a channel or a ring.
///
/// ```
/// use nexus_slab::{Slab, split::Lent};
///
/// let (mut owner, _remote) = Slab::<Vec<u8>>::with_capacity(8).split();
/// let mut msg: Lent<Vec<u8>> = owner.lend(vec![1, 2]).unwrap();
/// msg.push(3);
/// let len = std::thread::spawn(move || msg.len()).join().unwrap(); // dropped there
/// assert_eq!(len, 3);
/// drop(owner); // the memory stays until the last Lent is gone
/// ```
///
/// A `Lent` of a value that may not cross threads may not either:
///
/// ```compile_fail
/// fn send<S: Send>(_: S) {}
/// let slab = nexus_slab::Slab::<std::rc::Rc<u8>>::with_capacity(1);
/// let (mut owner, _remote) = slab.split();
/// send(owner.lend(std::rc::Rc::new(1)).unwrap());
/// ```
pub struct Lent<T> {
    value: NonNull<T>,
    header: NonNull<Header>,
    _owns: PhantomData<T>,
}

// SAFETY: a `Lent` owns its value (no one else reaches the slot until it is handed back), and
// handing the slot back touches only the atomic stack and the slot itself.
unsafe impl<T: Send> Send for Lent<T> {}
// SAFETY: `&Lent` gives only `&T`.
unsafe impl<T: Sync> Sync for Lent<T> {}

impl<T> Lent<T> {
    /// The link of this `Lent`'s slot.
    #[inline]
    fn link(&self) -> u32 {
        // SAFETY: a `Lent` keeps its block alive, and its value pointer is one of the slab's.
        unsafe { link_of(self.header, self.value) }
    }

    /// Moves the value out and hands the slot back (the slot first, then the value is
    /// returned).
    fn into_value(self) -> T {
        let this = ManuallyDrop::new(self);
        // SAFETY: the slot holds the lent value, owned by this `Lent` (not dropped: it is in
        // `ManuallyDrop`), read out once; then the empty slot is handed back.
        unsafe {
            let value = this.value.as_ptr().read();
            give_back(this.header, this.value, this.link());
            value
        }
    }
}

impl<T> Deref for Lent<T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the slot holds the value, owned by this `Lent`, until its drop.
        unsafe { self.value.as_ref() }
    }
}

impl<T> DerefMut for Lent<T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes the reference unique.
        unsafe { self.value.as_mut() }
    }
}

impl<T> Drop for Lent<T> {
    #[inline]
    fn drop(&mut self) {
        /// Hands the slot back when dropped: after the value's drop, even if it panics.
        struct GiveBack(NonNull<Header>, NonNull<u8>, u32);
        impl Drop for GiveBack {
            #[inline]
            fn drop(&mut self) {
                // SAFETY: the slot of a `Lent` whose value was just dropped (or whose drop
                // panicked, which ends the value all the same); given back once.
                unsafe { give_back(self.0, self.1, self.2) };
            }
        }
        let _back = GiveBack(self.header, self.value.cast(), self.link());
        // SAFETY: the value is owned by this `Lent` and dropped once; the slot is handed back
        // after, by `_back`.
        unsafe { ptr::drop_in_place(self.value.as_ptr()) };
    }
}

impl<T: fmt::Debug> fmt::Debug for Lent<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Lent").field(&**self).finish()
    }
}

/// Hands lent slots back to their [`Owner`] from any thread: `Clone + Send + Sync`. Made by
/// [`Slab::split`] (and [`Owner::remote`]).
///
/// [`free`](RemoteFree::free) drops the value on the calling thread and returns the slot with
/// one compare-and-swap; [`take`](RemoteFree::take) moves the value out; a [`FreeBatch`]
/// returns many slots with one compare-and-swap. Handles keep the slab's memory alive.
///
/// ```
/// use nexus_slab::{LockedSlab, Slab, split::Lent};
/// use std::sync::mpsc;
///
/// // A gateway thread creates orders, a matching thread retires them.
/// let slab: Slab<[u64; 4]> = Slab::with_capacity(1024);
/// let (mut gateway, remote) = slab.split();
/// let (tx, rx) = mpsc::channel::<Lent<[u64; 4]>>();
/// let matcher = std::thread::spawn(move || {
///     let mut batch = remote.batch();
///     // Whatever has arrived, up to 32 orders: their slots go back with one atomic.
///     while let Ok(first) = rx.recv() {
///         for order in std::iter::once(first).chain(rx.try_iter().take(31)) {
///             assert_eq!(order[0] * 2, order[1]);
///             batch.free(order);
///         }
///         batch.flush();
///     }
/// });
/// for i in 0..10_000u64 {
///     let mut order = [i, 2 * i, 0, 0];
///     let lent = loop {
///         match gateway.lend(order) {
///             Ok(lent) => break lent,
///             // All 1024 slots are out: wait for the matcher's next batch.
///             Err(full) => (order, _) = (full.into_inner(), std::thread::yield_now()),
///         }
///     };
///     tx.send(lent).unwrap();
/// }
/// drop(tx);
/// matcher.join().unwrap();
/// gateway.reclaim();
/// assert_eq!(gateway.lent(), 0);
/// ```
pub struct RemoteFree<T> {
    header: NonNull<Header>,
    /// Takes `T`s in and drops them; invariant in `T` (no lifetime in `T` may be shortened or
    /// lengthened through a handle).
    _values: PhantomData<fn(T) -> T>,
}

// SAFETY: a handle touches only the shared block's atomics and the slots of `Lent`s it is
// given, whose values it drops on the calling thread (`T: Send`); the slab it may release last
// has `B: Send` (required by `split`) and holds no value by then.
unsafe impl<T: Send> Send for RemoteFree<T> {}
// SAFETY: as for `Send`: every method takes `&self` and uses only atomics.
unsafe impl<T: Send> Sync for RemoteFree<T> {}

impl<T> RemoteFree<T> {
    /// Drops the value here and hands its slot back to the owner: one compare-and-swap. The
    /// same as dropping the `Lent`; a `Lent` of another slab goes back to its own.
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let (mut owner, remote) = Slab::<String>::with_capacity(8).split();
    /// remote.free(owner.lend("x".into()).unwrap());
    /// assert_eq!(owner.reclaim(), 1);
    /// ```
    #[inline]
    pub fn free(&self, lent: Lent<T>) {
        drop(lent);
    }

    /// Moves the value out and hands its slot back: one compare-and-swap.
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let (mut owner, remote) = Slab::<String>::with_capacity(8).split();
    /// let lent = owner.lend("x".into()).unwrap();
    /// assert_eq!(remote.take(lent), "x");
    /// assert_eq!(owner.reclaim(), 1);
    /// ```
    #[inline]
    pub fn take(&self, lent: Lent<T>) -> T {
        lent.into_value()
    }

    /// A batch that collects slots and hands them all back with one compare-and-swap, on
    /// [`flush`](FreeBatch::flush) or drop.
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let (mut owner, remote) = Slab::<u32>::with_capacity(64).split();
    /// let lent: Vec<_> = (0..10).map(|v| owner.lend(v).unwrap()).collect();
    /// let mut batch = remote.batch();
    /// for l in lent {
    ///     batch.free(l);
    /// }
    /// assert_eq!(batch.len(), 10);
    /// batch.flush();
    /// assert_eq!(owner.reclaim(), 10);
    /// ```
    pub fn batch(&self) -> FreeBatch<'_, T> {
        FreeBatch {
            remote: self,
            top: 0,
            bottom: None,
            count: 0,
        }
    }

    /// Drops every value here and hands the slots back with one compare-and-swap for those of
    /// this handle's slab.
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let (mut owner, remote) = Slab::<u32>::with_capacity(64).split();
    /// let lent: Vec<_> = (0..10).map(|v| owner.lend(v).unwrap()).collect();
    /// remote.free_all(lent);
    /// assert_eq!(owner.reclaim(), 10);
    /// ```
    pub fn free_all<I: IntoIterator<Item = Lent<T>>>(&self, lents: I) {
        let mut batch = self.batch();
        for lent in lents {
            batch.free(lent);
        }
    }
}

impl<T> Clone for RemoteFree<T> {
    /// Another handle (one atomic increment).
    fn clone(&self) -> Self {
        // SAFETY: this handle keeps the block alive.
        unsafe { refs(self.header) }.add(1);
        RemoteFree {
            header: self.header,
            _values: PhantomData,
        }
    }
}

impl<T> Drop for RemoteFree<T> {
    fn drop(&mut self) {
        // SAFETY: this handle holds one reference, given up here.
        unsafe { release(self.header, 1) };
    }
}

impl<T> fmt::Debug for RemoteFree<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteFree").finish_non_exhaustive()
    }
}

/// Slots on their way back to the owner, handed back together with one compare-and-swap on
/// [`flush`](FreeBatch::flush) or drop. Made by [`RemoteFree::batch`].
///
/// The slots are linked to each other as they come (plain stores into the slots themselves:
/// a batch needs no memory of its own, whatever its length).
///
/// ```
/// use nexus_slab::Slab;
///
/// let (mut owner, remote) = Slab::<u64>::with_capacity(64).split();
/// let lent: Vec<_> = (0..40).map(|v| owner.lend(v).unwrap()).collect();
/// let mut batch = remote.batch();
/// let mut sum = 0;
/// for l in lent {
///     sum += batch.take(l);
///     if batch.len() == 32 {
///         batch.flush();
///     }
/// }
/// drop(batch); // the last 8
/// assert_eq!(sum, (0..40).sum::<u64>());
/// assert_eq!(owner.reclaim(), 40);
/// ```
pub struct FreeBatch<'a, T> {
    remote: &'a RemoteFree<T>,
    /// Link of the chain's top slot (0: empty).
    top: u32,
    /// Value pointer of the chain's bottom slot, whose link is written at the splice.
    bottom: Option<NonNull<u8>>,
    count: u32,
}

// SAFETY: the batch holds emptied slots of `Lent`s it was given (no values) and a reference to
// a `RemoteFree`, which is `Sync` when `T: Send`.
unsafe impl<T: Send> Send for FreeBatch<'_, T> {}

impl<T> FreeBatch<'_, T> {
    /// Drops the value here and adds its slot to the batch (no atomic operation). A `Lent` of
    /// another slab is handed back to its own at once.
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let (mut owner, remote) = Slab::<String>::with_capacity(8).split();
    /// let mut batch = remote.batch();
    /// batch.free(owner.lend("a".into()).unwrap());
    /// assert_eq!(owner.reclaim(), 0); // not flushed yet
    /// drop(batch);
    /// assert_eq!(owner.reclaim(), 1);
    /// ```
    #[inline]
    pub fn free(&mut self, lent: Lent<T>) {
        if lent.header != self.remote.header {
            return free_elsewhere(lent);
        }
        /// Adds the slot to the batch when dropped: after the value's drop, even if it panics.
        struct AddSlot<'b, 'a, T>(&'b mut FreeBatch<'a, T>, NonNull<u8>, u32);
        impl<T> Drop for AddSlot<'_, '_, T> {
            #[inline]
            fn drop(&mut self) {
                // SAFETY: the slot of a `Lent` of this batch's slab whose value is gone.
                unsafe { self.0.add(self.1, self.2) };
            }
        }
        let lent = ManuallyDrop::new(lent);
        let _add = AddSlot(self, lent.value.cast(), lent.link());
        // SAFETY: the value is owned by the `Lent` (kept from dropping it again by
        // `ManuallyDrop`) and dropped once; the slot is added after, by `_add`.
        unsafe { ptr::drop_in_place(lent.value.as_ptr()) };
    }

    /// Moves the value out and adds its slot to the batch (no atomic operation). A `Lent` of
    /// another slab is handed back to its own at once.
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let (mut owner, remote) = Slab::<String>::with_capacity(8).split();
    /// let mut batch = remote.batch();
    /// assert_eq!(batch.take(owner.lend("a".into()).unwrap()), "a");
    /// batch.flush();
    /// assert_eq!(owner.reclaim(), 1);
    /// ```
    #[inline]
    pub fn take(&mut self, lent: Lent<T>) -> T {
        if lent.header != self.remote.header {
            return lent.into_value();
        }
        let lent = ManuallyDrop::new(lent);
        // SAFETY: the value is owned by the `Lent` (not dropped: `ManuallyDrop`), read out
        // once; then its empty slot joins the batch.
        unsafe {
            let value = lent.value.as_ptr().read();
            self.add(lent.value.cast(), lent.link());
            value
        }
    }

    /// Links an emptied slot on top of the batch's chain.
    ///
    /// # Safety
    /// `value` is the value pointer of an out slot of this batch's slab, whose value is gone,
    /// owned by the caller (a `Lent`'s), with link `link`.
    #[inline]
    unsafe fn add(&mut self, value: NonNull<u8>, link: u32) {
        if self.count == 0 {
            // The bottom: its link is written at the splice.
            self.bottom = Some(value);
        } else {
            // SAFETY: per the contract, the slot is ours and vacant.
            unsafe { write_link(value, self.top) };
        }
        self.top = link;
        self.count += 1;
    }

    /// Slots waiting in the batch.
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let (mut owner, remote) = Slab::<u8>::with_capacity(8).split();
    /// let mut batch = remote.batch();
    /// assert!(batch.is_empty());
    /// batch.free(owner.lend(1).unwrap());
    /// assert_eq!(batch.len(), 1);
    /// ```
    #[inline]
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether the batch holds no slot.
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let (_owner, remote) = Slab::<u8>::with_capacity(8).split();
    /// assert!(remote.batch().is_empty());
    /// ```
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Hands every slot of the batch back to the owner: one compare-and-swap (none when the
    /// batch is empty).
    ///
    /// ```
    /// use nexus_slab::Slab;
    ///
    /// let (mut owner, remote) = Slab::<u8>::with_capacity(8).split();
    /// let mut batch = remote.batch();
    /// batch.free(owner.lend(1).unwrap());
    /// batch.free(owner.lend(2).unwrap());
    /// batch.flush();
    /// assert!(batch.is_empty());
    /// assert_eq!(owner.reclaim(), 2);
    /// ```
    #[inline]
    pub fn flush(&mut self) {
        let (top, count) = (self.top, self.count);
        let Some(bottom) = self.bottom.take() else {
            return;
        };
        self.top = 0;
        self.count = 0;
        let h = self.remote.header;
        // SAFETY: the remote handle this batch borrows keeps the block alive; the chain's
        // slots are out slots of this slab, emptied and linked by `add` from `top` down to
        // `bottom`, owned by this batch; the callback writes the bottom's link before the push
        // publishes it.
        let pushed = unsafe { push(h, top, count, |next| write_link(bottom, next)) };
        if pushed == Pushed::Closed {
            // SAFETY: the owner left one reference for each of these slots; the remote handle
            // this batch borrows keeps the block alive meanwhile.
            unsafe { release(h, count as usize) };
        }
    }
}

/// Drops a `Lent` of another slab than the batch's (its slot goes back to its own).
#[cold]
#[inline(never)]
fn free_elsewhere<T>(lent: Lent<T>) {
    drop(lent);
}

impl<T> Drop for FreeBatch<'_, T> {
    fn drop(&mut self) {
        self.flush();
    }
}

impl<T> fmt::Debug for FreeBatch<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FreeBatch")
            .field("len", &self.count)
            .finish()
    }
}

// Not in the loom build: loom's atomics work only inside a loom model.
#[cfg(all(test, not(loom)))]
mod tests {
    //! Atomic operations counted per thread (`raw::remote::OPS`), and the owner's bookkeeping
    //! checked against the core's state.

    use super::*;
    use crate::raw::remote::OPS;
    use crate::{backing::Heap, GenKey};

    /// Runs `f` and returns the atomic (loads, read-modify-writes) it made on this thread.
    fn ops<R>(f: impl FnOnce() -> R) -> ((u32, u32), R) {
        OPS.with(|c| c.set((0, 0)));
        let r = f();
        (OPS.with(|c| c.get()), r)
    }

    fn split<T: 'static, K: SlabKey + 'static>(n: usize) -> (Owner<T, Heap, K>, RemoteFree<T>) {
        let mut slab: Slab<T, Heap, K> = Slab::new_in(Heap::new());
        slab.alloc(n).unwrap();
        slab.split()
    }

    /// Every slot below the high-water mark is occupied, free, or out (lent or returned):
    /// `len + lent + free == hwm` (no slot retired in these tests).
    fn check_accounts<T, B: Backing, K: SlabKey>(owner: &Owner<T, B, K>) {
        let raw = owner.slab.raw();
        let (free, hwm) = raw.accounts();
        assert_eq!(
            owner.len() + owner.lent() + free,
            hwm,
            "len + lent + free == used"
        );
    }

    #[test]
    fn owner_insert_get_remove_and_lend_take_no_atomics() {
        let (mut owner, _remote) = split::<u64, Key>(64);
        let ((loads, rmws), lents) = ops(|| {
            let mut lents = Vec::with_capacity(8);
            for round in 0..4u64 {
                let k = owner.insert(round).unwrap();
                assert_eq!(owner.get(k), Some(&round));
                *owner.get_mut(k).unwrap() += 1;
                assert_eq!(owner.remove(k), Some(round + 1));
                lents.push(owner.lend(round).unwrap());
            }
            lents
        });
        assert_eq!(
            (loads, rmws),
            (0, 0),
            "the owner's fast paths are plain loads and stores"
        );
        assert_eq!(lents.len(), 4);
        let ((loads, rmws), ()) = ops(|| assert_eq!(owner.reclaim(), 0));
        assert_eq!(
            (loads, rmws),
            (1, 0),
            "collect with nothing returned: one load"
        );
        drop(lents);
    }

    #[test]
    fn a_remote_free_is_one_compare_and_swap() {
        let (mut owner, remote) = split::<String, GenKey>(8);
        let lent = owner.lend("x".into()).unwrap();
        let ((loads, rmws), ()) = ops(|| remote.free(lent));
        assert_eq!((loads, rmws), (1, 1));
        let lent = owner.lend("y".into()).unwrap();
        let ((loads, rmws), v) = ops(|| remote.take(lent));
        assert_eq!((loads, rmws, v.as_str()), (1, 1, "y"));
        // The owner takes both back with one swap.
        let ((loads, rmws), n) = ops(|| owner.reclaim());
        assert_eq!((loads, rmws, n), (1, 1, 2));
        check_accounts(&owner);
    }

    #[test]
    fn a_batch_is_one_compare_and_swap() {
        let (mut owner, remote) = split::<u64, Key>(64);
        let lents: Vec<_> = (0..32).map(|v| owner.lend(v).unwrap()).collect();
        let mut batch = remote.batch();
        let ((loads, rmws), ()) = ops(|| lents.into_iter().for_each(|l| batch.free(l)));
        assert_eq!((loads, rmws, batch.len()), (0, 0, 32), "batching is local");
        let ((loads, rmws), ()) = ops(|| batch.flush());
        assert_eq!((loads, rmws), (1, 1), "one splice for 32 slots");
        let ((loads, rmws), ()) = ops(|| batch.flush());
        assert_eq!((loads, rmws), (0, 0), "an empty batch costs nothing");
        assert_eq!(owner.lent(), 32);
        assert_eq!(owner.reclaim(), 32);
        assert_eq!(owner.lent(), 0);
        check_accounts(&owner);
    }

    #[test]
    fn a_dry_owner_takes_back_with_one_swap() {
        for gen in [false, true] {
            let cap;
            let lents = if gen {
                let (mut owner, remote) = split::<u32, GenKey>(1);
                cap = owner.capacity();
                let mut lents: Vec<_> = (0..cap as u32).map(|v| owner.lend(v).unwrap()).collect();
                // Dry, nothing returned: one load, then Full.
                let ((loads, rmws), r) = ops(|| owner.insert(9));
                assert_eq!((loads, rmws), (1, 0));
                assert!(r.is_err());
                remote.free(lents.pop().unwrap());
                let ((loads, rmws), r) = ops(|| owner.insert(9));
                assert_eq!((loads, rmws), (1, 1), "one swap takes the stack back");
                let k = r.unwrap();
                assert_eq!(owner[k], 9);
                check_accounts(&owner);
                lents.len()
            } else {
                let (mut owner, remote) = split::<u32, Key>(1);
                cap = owner.capacity();
                let mut lents: Vec<_> = (0..cap as u32).map(|v| owner.lend(v).unwrap()).collect();
                assert!(owner.lend(9).is_err());
                remote.free(lents.pop().unwrap());
                let ((loads, rmws), r) = ops(|| owner.lend(9));
                assert_eq!((loads, rmws), (1, 1), "one swap takes the stack back");
                assert_eq!(*r.unwrap(), 9);
                check_accounts(&owner);
                lents.len()
            };
            assert_eq!(lents, cap - 1);
        }
    }

    #[test]
    fn splitting_keeps_the_keys_inserts_hand_out() {
        let mut plain: Slab<u8, Heap> = Slab::new_in(Heap::new());
        plain.alloc(200).unwrap();
        let mut twin: Slab<u8, Heap> = Slab::new_in(Heap::new());
        twin.alloc(200).unwrap();
        for s in [&mut plain, &mut twin] {
            for v in 0..10 {
                s.insert(v).unwrap();
            }
            s.remove(Key::new_saturating(3));
            s.remove(Key::new_saturating(7));
        }
        let (mut owner, _remote) = twin.split();
        check_accounts(&owner);
        while let Ok(k) = plain.insert(1) {
            assert_eq!(owner.insert(1), Ok(k));
        }
        assert!(owner.insert(1).is_err());
        check_accounts(&owner);
    }

    #[test]
    fn lent_slots_are_out_until_taken_back() {
        let (mut owner, remote) = split::<u32, Key>(8);
        let a = owner.insert(1).unwrap();
        let lent = owner.lend(2).unwrap();
        let b = owner.insert(3).unwrap();
        check_accounts(&owner);
        assert_eq!((owner.len(), owner.lent()), (2, 1));
        // The lent slot is slot 1: no key reaches it, iteration skips it.
        assert_eq!((a, b), (Key::new_saturating(0), Key::new_saturating(2)));
        assert_eq!(owner.get(Key::new_saturating(1)), None);
        assert_eq!(owner.keys().collect::<Vec<_>>(), [a, b]);
        // Not vacant for insert_at either.
        assert!(owner.insert_at(Key::new_saturating(1), 9).is_err());
        // clear and drain never make a lent slot free.
        owner.clear();
        check_accounts(&owner);
        for _ in 0..owner.capacity() - 1 {
            let k = owner.insert(0).unwrap();
            assert_ne!(k, Key::new_saturating(1));
        }
        assert!(owner.insert(0).is_err());
        assert_eq!(*lent, 2);
        remote.free(lent);
        assert_eq!(owner.insert(5), Ok(Key::new_saturating(1)));
        owner.drain().for_each(drop);
        check_accounts(&owner);
    }

    #[test]
    fn a_lent_generational_slot_keeps_old_keys_stale() {
        let (mut owner, remote) = split::<u32, GenKey>(4);
        let old = owner.insert(1).unwrap();
        owner.remove(old);
        let lent = owner.lend(2).unwrap(); // the same slot
        assert!(owner.get(old).is_none());
        remote.free(lent);
        owner.reclaim();
        let new = owner.insert(3).unwrap();
        assert_eq!(new.index(), old.index());
        assert!(new.generation() > old.generation());
        assert!(owner.get(old).is_none());
        assert_eq!(owner[new], 3);
        // A never-used slot goes out at generation 2 (0 stays "retired"), so its first key
        // after the loan has generation 3.
        let fresh = owner.lend(4).unwrap();
        remote.free(fresh);
        owner.reclaim();
        let k = owner.insert(5).unwrap();
        assert_eq!((k.index(), k.generation()), (1, 3));
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    //! Loom runs the real split code: a `Slab<_, Heap<LoomAlloc>, _>` split into an owner,
    //! `RemoteFree` handles and `Lent`s, with `lend`, `give_back`, `FreeBatch`, `reclaim`
    //! (`adopt`), `Owner::drop`, `release` and the block's `destroy` as they are (their
    //! atomics are loom's, see `crate::sync`). Each scenario explores every interleaving of
    //! its threads (no preemption bound: they are small enough) and checks that:
    //! every value is dropped exactly once (counted; the count is a plain `std` atomic, so
    //! that the values add no branch points to the model); the slab's memory goes back exactly
    //! once (`LoomAlloc`: loom reports it leaked, or freed twice); the shared block is freed
    //! exactly once, and touched by no one after (its `BlockLife`: leaked, freed twice, or used
    //! after the free, including accesses racing the free). No thread is joined before the
    //! racing drops; threads are joined at the end, for the counts.

    use super::*;
    use crate::sync::check::{model, LoomAlloc};
    use crate::{backing::Heap, GenKey};
    use loom::thread;
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    use std::sync::Arc;

    /// Preemptions per execution: no bound, so loom explores every interleaving of these 2-3
    /// threads (4 to 86462 executions per scenario).
    const PREEMPTIONS: Option<usize> = None;

    /// A value that counts its drops.
    struct Token(Arc<AtomicUsize>);

    impl Drop for Token {
        fn drop(&mut self) {
            self.0.fetch_add(1, Relaxed);
        }
    }

    /// Values made and dropped in one execution.
    struct Drops(Arc<AtomicUsize>, usize);

    impl Drops {
        fn new() -> Self {
            Drops(Arc::new(AtomicUsize::new(0)), 0)
        }

        fn token(&mut self) -> Token {
            self.1 += 1;
            Token(self.0.clone())
        }

        /// Every thread is joined: each value made was dropped exactly once.
        fn check(&self) {
            assert_eq!(
                self.0.load(Relaxed),
                self.1,
                "every value dropped exactly once"
            );
        }
    }

    type LoomOwner<K> = Owner<Token, Heap<LoomAlloc>, K>;

    fn split<K: SlabKey + 'static>() -> (LoomOwner<K>, RemoteFree<Token>) {
        let mut slab = Slab::new_in(Heap::new_in(LoomAlloc));
        slab.alloc(4).unwrap();
        slab.split()
    }

    /// The owner goes while another thread drops a `Lent` (defect 1 of issue 18: the one
    /// that is not last must not read the block after its decrement).
    #[test]
    fn loom_owner_drop_against_a_lent_drop() {
        model("owner drop against a Lent drop", PREEMPTIONS, || {
            let mut drops = Drops::new();
            let (mut owner, remote) = split::<Key>();
            drop(remote);
            owner.insert(drops.token()).unwrap();
            let lent = owner.lend(drops.token()).unwrap();
            let t = thread::spawn(move || drop(lent));
            drop(owner);
            t.join().unwrap();
            drops.check();
        });
    }

    /// As above, with a `RemoteFree` dropped on a third thread: when the `Lent`'s push comes
    /// first and the handle goes last, what the `Lent`'s thread did (the value's drop, the
    /// slot's link) reaches the handle's free only through the owner, whose `close` acquires
    /// the push (it is an acquire-release swap for that).
    #[test]
    fn loom_owner_drop_against_a_lent_drop_and_a_handle_drop() {
        model(
            "owner drop against a Lent and a RemoteFree drop",
            PREEMPTIONS,
            || {
                let mut drops = Drops::new();
                let (mut owner, remote) = split::<GenKey>();
                let lent = owner.lend(drops.token()).unwrap();
                let a = thread::spawn(move || drop(lent));
                let b = thread::spawn(move || drop(remote));
                drop(owner);
                a.join().unwrap();
                b.join().unwrap();
                drops.check();
            },
        );
    }

    /// Two `RemoteFree` handles go on two threads (one after freeing a `Lent`) while the owner
    /// goes on a third.
    #[test]
    fn loom_remote_handles_on_two_threads_against_the_owner() {
        model(
            "RemoteFree clones on two threads against the owner",
            PREEMPTIONS,
            || {
                let mut drops = Drops::new();
                let (mut owner, remote) = split::<GenKey>();
                let more = remote.clone();
                let lent = owner.lend(drops.token()).unwrap();
                let a = thread::spawn(move || {
                    remote.free(lent);
                    drop(remote);
                });
                let b = thread::spawn(move || drop(more));
                drop(owner);
                a.join().unwrap();
                b.join().unwrap();
                drops.check();
            },
        );
    }

    /// A batch of two slots is flushed (one splice), then its handle dropped, while the owner
    /// goes.
    #[test]
    fn loom_batch_flush_against_the_owner_drop() {
        model("batch flush against the owner drop", PREEMPTIONS, || {
            let mut drops = Drops::new();
            let (mut owner, remote) = split::<Key>();
            let lents = [drops.token(), drops.token()].map(|v| owner.lend(v).unwrap());
            let t = thread::spawn(move || {
                let mut batch = remote.batch();
                lents.into_iter().for_each(|l| batch.free(l));
                drop(batch);
                drop(remote);
            });
            drop(owner);
            t.join().unwrap();
            drops.check();
        });
    }

    /// Two `Lent`s dropped on two threads after the owner and every `RemoteFree` are gone:
    /// both find the stack closed, and the last one frees the block and the slab parked in it.
    #[test]
    fn loom_lents_freed_after_the_owner_and_the_handles() {
        model(
            "Lents freed after the owner and the handles",
            PREEMPTIONS,
            || {
                let mut drops = Drops::new();
                let (mut owner, remote) = split::<GenKey>();
                owner.insert(drops.token()).unwrap();
                let a = owner.lend(drops.token()).unwrap();
                let b = owner.lend(drops.token()).unwrap();
                drop(remote);
                drop(owner);
                let t = thread::spawn(move || drop(a));
                drop(b);
                t.join().unwrap();
                drops.check();
            },
        );
    }

    /// The owner reclaims while one thread returns a slot and another a batch of two: it gets
    /// all three back (`adopt` follows the links pushed), and every slot takes a value again.
    #[test]
    fn loom_collect_against_pushes() {
        model("collect against pushes", PREEMPTIONS, || {
            let mut drops = Drops::new();
            let (mut owner, remote) = split::<Key>();
            let cap = owner.capacity();
            let [a, b, c] =
                [drops.token(), drops.token(), drops.token()].map(|v| owner.lend(v).unwrap());
            let more = remote.clone();
            let single = thread::spawn(move || remote.free(a));
            let batch = thread::spawn(move || more.free_all([b, c]));
            let mut got = 0;
            while owner.lent() > 0 {
                got += owner.reclaim();
                thread::yield_now();
            }
            assert_eq!(got, 3);
            let mut n = 0;
            while owner.insert(drops.token()).is_ok() {
                n += 1;
            }
            assert_eq!(n, cap, "every slot takes a value again");
            drop(owner);
            single.join().unwrap();
            batch.join().unwrap();
            drops.check();
        });
    }
}
