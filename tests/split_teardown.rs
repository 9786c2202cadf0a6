//! Teardown races of a split slab: the holders of the shared block (the owner, `RemoteFree`
//! handles, a `FreeBatch` flushing, and — once the owner is gone — `Lent`s) let go of it at the
//! same time, with no join in between. Threads are joined only after every racing drop has
//! been issued; a barrier starts the drops together.
//!
//! Written for Miri, whose data-race detector and aliasing models (Stacked and Tree Borrows)
//! see a holder that touches the block after its last reference is gone: `.ci/miri_seeds.sh`
//! runs this file with many seeds under both models, and once with `-Zmiri-preemption-rate=0`,
//! where `a_push_the_owner_takes_back_as_it_goes` forces the schedule of issue 18's defect 2
//! (the owner frees the block right after a remote push's compare-and-swap, while the push is
//! still returning; a `cfg(miri)` yield point after that compare-and-swap hands over there).
//! Natively each scenario runs many rounds and checks the counts.
//!
//! Each round checks that every value is dropped exactly once and that the slab's memory goes
//! back exactly once (a counting allocator); Miri also reports the shared block leaked or freed
//! twice.

use std::alloc::Layout;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

use allocator_api2::alloc::{AllocError, Allocator, Global};
use nexus_slab::{
    backing::Heap,
    split::{Owner, RemoteFree},
    GenKey, Key, Slab, SlabKey,
};

/// Rounds per scenario: each is another schedule (Miri: another seeded interleaving).
const ROUNDS: usize = if cfg!(miri) { 2 } else { 2_000 };

/// The global allocator, counting the blocks it has out.
#[derive(Clone, Default)]
struct Counting(Arc<AtomicUsize>);

// SAFETY: every call is passed to `Global`, which keeps the contract.
unsafe impl Allocator for Counting {
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        let block = Global.allocate(layout)?;
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(block)
    }

    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        self.0.fetch_sub(1, Ordering::SeqCst);
        // SAFETY: the caller's contract, passed on: `ptr` came from `allocate` with `layout`.
        unsafe { Global.deallocate(ptr, layout) }
    }
}

/// A value that counts its drops.
struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A round's split slab (a few slots on the heap, counted), and a maker of counted values.
struct Round<K: SlabKey> {
    alloc: Counting,
    drops: Arc<AtomicUsize>,
    made: usize,
    _keys: std::marker::PhantomData<K>,
}

impl<K: SlabKey + 'static> Round<K> {
    fn split(&self) -> (Owner<Counted, Heap<Counting>, K>, RemoteFree<Counted>) {
        let mut slab = Slab::new_in(Heap::new_in(self.alloc.clone()));
        slab.alloc(4).unwrap();
        slab.split()
    }

    fn value(&mut self) -> Counted {
        self.made += 1;
        Counted(self.drops.clone())
    }
}

/// Runs `round` `ROUNDS` times, each on fresh counters; after each (which joins its threads
/// last), every value made was dropped exactly once and every block of the slab's memory is
/// back.
fn rounds<K: SlabKey + 'static>(round: impl Fn(&mut Round<K>)) {
    for i in 0..ROUNDS {
        let mut r = Round {
            alloc: Counting::default(),
            drops: Arc::new(AtomicUsize::new(0)),
            made: 0,
            _keys: std::marker::PhantomData,
        };
        round(&mut r);
        assert_eq!(
            r.drops.load(Ordering::SeqCst),
            r.made,
            "round {i}: every value dropped exactly once"
        );
        assert_eq!(
            r.alloc.0.load(Ordering::SeqCst),
            0,
            "round {i}: the slab's memory released (once)"
        );
    }
}

/// The owner goes on this thread while a `Lent` is dropped on another (the remote handle is
/// gone): whichever lets go last frees the block, the other must not touch it after its own
/// release (issue 18, defect 1: `release` read the block's `destroy` after its decrement).
#[test]
fn the_owner_and_a_lent_let_go_together() {
    rounds::<Key>(|r| {
        let (mut owner, remote) = r.split();
        drop(remote);
        owner.insert(r.value()).unwrap();
        let lent = owner.lend(r.value()).unwrap();
        let start = Arc::new(Barrier::new(2));
        let t = {
            let start = start.clone();
            thread::spawn(move || {
                start.wait();
                drop(lent);
            })
        };
        start.wait();
        drop(owner);
        t.join().unwrap();
    });
}

/// Two `RemoteFree` handles (a clone) dropped on two threads while the owner goes on a third.
#[test]
fn two_remote_handles_and_the_owner_let_go_together() {
    rounds::<GenKey>(|r| {
        let (mut owner, remote) = r.split();
        let more = remote.clone();
        owner.insert(r.value()).unwrap();
        let start = Arc::new(Barrier::new(3));
        let handles: Vec<_> = [remote, more]
            .into_iter()
            .map(|h| {
                let start = start.clone();
                thread::spawn(move || {
                    start.wait();
                    drop(h);
                })
            })
            .collect();
        start.wait();
        drop(owner);
        handles.into_iter().for_each(|t| t.join().unwrap());
    });
}

/// Two `RemoteFree` handles dropped on two threads after the owner is gone: the last of the
/// two frees the block.
#[test]
fn two_remote_handles_let_go_together_after_the_owner() {
    rounds::<Key>(|r| {
        let (owner, remote) = r.split();
        let more = remote.clone();
        drop(owner);
        let start = Arc::new(Barrier::new(2));
        let t = {
            let start = start.clone();
            thread::spawn(move || {
                start.wait();
                drop(more);
            })
        };
        start.wait();
        drop(remote);
        t.join().unwrap();
    });
}

/// A batch flushed (and its remote handle dropped, then a last `Lent`) on one thread while the
/// owner goes on another.
#[test]
fn a_batch_flush_and_the_owner_let_go_together() {
    rounds::<GenKey>(|r| {
        let (mut owner, remote) = r.split();
        let lents: Vec<_> = (0..3).map(|_| owner.lend(r.value()).unwrap()).collect();
        let start = Arc::new(Barrier::new(2));
        let t = {
            let start = start.clone();
            thread::spawn(move || {
                let mut lents = lents.into_iter();
                let last = lents.next_back().unwrap();
                let mut batch = remote.batch();
                lents.for_each(|l| batch.free(l));
                start.wait();
                drop(batch); // one splice of two slots, or refused: the owner is gone
                drop(remote);
                drop(last);
            })
        };
        start.wait();
        drop(owner);
        t.join().unwrap();
    });
}

/// Two `Lent`s dropped together on two threads after the owner and every remote handle are
/// gone: the last of them frees the block, with the slab the owner parked in it.
#[test]
fn lents_let_go_together_after_everything_else() {
    rounds::<Key>(|r| {
        let (mut owner, remote) = r.split();
        owner.insert(r.value()).unwrap();
        let a = owner.lend(r.value()).unwrap();
        let b = owner.lend(r.value()).unwrap();
        drop(remote);
        drop(owner);
        let start = Arc::new(Barrier::new(2));
        let t = {
            let start = start.clone();
            thread::spawn(move || {
                start.wait();
                drop(a);
            })
        };
        start.wait();
        drop(b);
        t.join().unwrap();
    });
}

/// Issue 18, defect 2: a remote push onto the stack must not keep a reference to the shared
/// block past its compare-and-swap, after which the owner may take the slot back, close the
/// stack and free the block. Under `-Zmiri-preemption-rate=0` the schedule is forced: this
/// thread yields once, so the `Lent`'s thread runs until the yield point right after its
/// push's compare-and-swap (`cfg(miri)` only); then the owner goes, counts the slot as
/// returned and frees the block, all while the push has yet to return. Under random
/// preemption, another race of the owner against a `Lent`.
#[test]
fn a_push_the_owner_takes_back_as_it_goes() {
    rounds::<GenKey>(|r| {
        let (mut owner, remote) = r.split();
        drop(remote);
        let lent = owner.lend(r.value()).unwrap();
        let t = thread::spawn(move || drop(lent));
        thread::yield_now();
        drop(owner);
        t.join().unwrap();
    });
}
