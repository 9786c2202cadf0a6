//! `Slab::split`: values lent by an owner thread, freed on others; the memory's lifetime; drops
//! (panicking ones too); every backing and both key kinds.

use std::alloc::Layout;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;

use allocator_api2::alloc::{AllocError, Allocator, Global};
use nexus_slab::{
    backing::{Backing, Heap, Mmap},
    new_key_type,
    split::{Lent, Owner, RemoteFree},
    GenKey, Key, KeyError, LockedSlab, Slab, SlabKey,
};

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

/// A value that counts its drops and may panic in `Drop`.
struct Noisy {
    drops: Arc<AtomicUsize>,
    panics: bool,
}

impl Drop for Noisy {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
        if self.panics {
            panic!("a panicking drop");
        }
    }
}

fn heap_slab<T, K: SlabKey>(n: usize, alloc: &Counting) -> Slab<T, Heap<Counting>, K> {
    let mut slab = Slab::new_in(Heap::new_in(alloc.clone()));
    slab.alloc(n).unwrap();
    slab
}

/// Lends `n` values one by one, retrying while every slot is out (another thread frees them).
fn lend_all<T, B: Backing, K: SlabKey>(
    owner: &mut Owner<T, B, K>,
    values: impl IntoIterator<Item = T>,
    tx: &mpsc::Sender<Lent<T>>,
) {
    for v in values {
        let mut v = v;
        let lent = loop {
            match owner.lend(v) {
                Ok(lent) => break lent,
                Err(full) => {
                    v = full.into_inner();
                    thread::yield_now();
                }
            }
        };
        tx.send(lent).unwrap();
    }
}

const N: u64 = if cfg!(miri) { 60 } else { 20_000 };

/// A pipeline on one backing and key kind: lent on this thread, freed on another (single,
/// take and batch in turn), everything accounted for at the end.
fn pipeline<B: Backing + Send + 'static, K: SlabKey + Send + 'static>(slab: Slab<u64, B, K>) {
    let cap = slab.capacity();
    let (mut owner, remote) = slab.split();
    let (tx, rx) = mpsc::channel::<Lent<u64>>();
    let consumer = thread::spawn(move || {
        let mut sum = 0;
        let mut batch = remote.batch();
        for (i, lent) in rx.into_iter().enumerate() {
            assert_eq!(*lent, i as u64, "in order");
            sum += *lent;
            match i % 3 {
                0 => remote.free(lent),
                1 => assert_eq!(remote.take(lent), i as u64),
                _ => batch.free(lent),
            }
            if batch.len() == 8 {
                batch.flush();
            }
        }
        sum
    });
    // Keys inserted meanwhile stay put.
    let k = owner.insert(u64::MAX).unwrap();
    lend_all(&mut owner, 0..N, &tx);
    drop(tx);
    let sum = consumer.join().unwrap();
    assert_eq!(sum, (0..N).sum::<u64>());
    assert_eq!(owner.lent(), owner.reclaim(), "everything came back");
    assert_eq!(owner.lent(), 0);
    assert_eq!(owner[k], u64::MAX);
    assert_eq!(owner.len(), 1);
    // Every slot is usable again.
    let mut keys = vec![k];
    while let Ok(key) = owner.insert(0) {
        keys.push(key);
    }
    assert_eq!(keys.len(), cap);
}

#[test]
fn a_pipeline_on_the_heap_with_both_key_kinds() {
    let alloc = Counting::default();
    pipeline(heap_slab::<u64, Key>(100, &alloc));
    pipeline(heap_slab::<u64, GenKey>(100, &alloc));
    assert_eq!(alloc.0.load(Ordering::SeqCst), 0, "every region released");
}

#[test]
fn a_pipeline_on_mmap_with_typed_keys() {
    new_key_type! {
        struct OrderKey(Key);
        struct ConnKey(GenKey);
    }
    pipeline(Slab::<u64, Mmap, OrderKey>::with_capacity(64));
    pipeline(Slab::<u64, Mmap, ConnKey>::with_capacity(64));
}

#[test]
#[cfg_attr(miri, ignore)] // mlock is not modelled by Miri
fn a_locked_slab_split_across_threads() {
    let slab: LockedSlab<u64> = match LockedSlab::try_with_capacity(4096) {
        Ok(slab) => slab,
        Err(e) => return eprintln!("no locked memory here: {e}"),
    };
    // Locked for its whole life, in the kernel's own count (Linux; Windows counts differently).
    #[cfg(target_os = "linux")]
    assert_eq!(slab.locked_bytes().ok(), Some(slab.memory_size()));
    pipeline(slab);
    let gen: LockedSlab<u64, GenKey> = LockedSlab::with_capacity(4096);
    pipeline(gen);
}

#[test]
fn the_memory_outlives_the_owner_until_the_last_lent_is_gone() {
    let alloc = Counting::default();
    let drops = Arc::new(AtomicUsize::new(0));
    let noisy = |panics| Noisy {
        drops: drops.clone(),
        panics,
    };
    let (mut owner, remote) = heap_slab::<Noisy, Key>(16, &alloc).split();
    owner.insert(noisy(false)).unwrap();
    let a = owner.lend(noisy(false)).unwrap();
    let b = owner.lend(noisy(false)).unwrap();
    let c = owner.lend(noisy(false)).unwrap();
    remote.free(c); // returned, not collected
    drop(remote);
    let blocks = alloc.0.load(Ordering::SeqCst);
    assert!(blocks >= 1, "the region is out");
    drop(owner);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        2,
        "the owner dropped its own value"
    );
    assert_eq!(
        alloc.0.load(Ordering::SeqCst),
        blocks,
        "still in use by two Lents"
    );
    thread::spawn(move || drop(a)).join().unwrap();
    assert_eq!(alloc.0.load(Ordering::SeqCst), blocks);
    thread::spawn(move || drop(b)).join().unwrap();
    assert_eq!(drops.load(Ordering::SeqCst), 4);
    assert_eq!(
        alloc.0.load(Ordering::SeqCst),
        0,
        "released by the last Lent"
    );
}

#[test]
fn remote_handles_keep_the_memory_too() {
    let alloc = Counting::default();
    let (mut owner, remote) = heap_slab::<u32, GenKey>(16, &alloc).split();
    let more = owner.remote();
    let lent = owner.lend(1).unwrap();
    drop(owner);
    drop(remote);
    assert!(alloc.0.load(Ordering::SeqCst) >= 1);
    assert_eq!(more.take(lent), 1);
    assert!(alloc.0.load(Ordering::SeqCst) >= 1, "`more` still holds it");
    let batch_holder = more.clone();
    drop(more);
    drop(batch_holder);
    assert_eq!(alloc.0.load(Ordering::SeqCst), 0);
}

#[test]
fn a_batch_flushed_after_the_owner_is_gone_releases_the_memory() {
    let alloc = Counting::default();
    let (mut owner, remote) = heap_slab::<String, Key>(16, &alloc).split();
    let lents: Vec<_> = (0..5).map(|i| owner.lend(i.to_string()).unwrap()).collect();
    let mut batch = remote.batch();
    let mut lents = lents.into_iter();
    for lent in lents.by_ref().take(2) {
        batch.free(lent);
    }
    drop(owner);
    for lent in lents {
        batch.free(lent);
    }
    drop(batch);
    assert!(
        alloc.0.load(Ordering::SeqCst) >= 1,
        "the remote handle holds it"
    );
    drop(remote);
    assert_eq!(alloc.0.load(Ordering::SeqCst), 0);
}

#[test]
fn a_panicking_drop_still_hands_the_slot_back() {
    let drops = Arc::new(AtomicUsize::new(0));
    let noisy = |panics| Noisy {
        drops: drops.clone(),
        panics,
    };
    let (mut owner, remote) = Slab::<Noisy>::with_capacity(8).split();
    let lent = owner.lend(noisy(true)).unwrap();
    let r = thread::spawn(move || catch_unwind(AssertUnwindSafe(|| drop(lent))).is_err())
        .join()
        .unwrap();
    assert!(r, "the drop panicked");
    let lent = owner.lend(noisy(true)).unwrap();
    assert!(catch_unwind(AssertUnwindSafe(|| remote.free(lent))).is_err());
    // A batch goes on with the other slots too.
    let lents: Vec<_> = [false, true, false]
        .map(|p| owner.lend(noisy(p)).unwrap())
        .into_iter()
        .collect();
    let r = catch_unwind(AssertUnwindSafe(|| remote.free_all(lents)));
    assert!(r.is_err());
    // The third value was still in the iterator: dropped with it as the panic went by.
    assert_eq!(drops.load(Ordering::SeqCst), 5, "each value dropped once");
    assert_eq!(owner.reclaim(), 5);
    assert_eq!(owner.lent(), 0);
}

#[test]
fn a_lent_of_another_slab_goes_back_to_its_own() {
    let (mut a, remote_a) = Slab::<u8>::with_capacity(8).split();
    let (mut b, _remote_b) = Slab::<u8>::with_capacity(8).split();
    let from_b = b.lend(2).unwrap();
    let mut batch = remote_a.batch();
    batch.free(a.lend(1).unwrap());
    batch.free(from_b);
    assert_eq!(batch.len(), 1);
    assert_eq!(b.reclaim(), 1);
    drop(batch);
    assert_eq!(a.reclaim(), 1);
    assert_eq!(remote_a.take(b.lend(3).unwrap()), 3);
    assert_eq!((a.reclaim(), b.reclaim()), (0, 1));
}

#[test]
fn many_remote_threads_with_one_owner() {
    let threads = if cfg!(miri) { 2 } else { 4 };
    let per = if cfg!(miri) { 20 } else { 5_000 };
    let (mut owner, remote) = Slab::<(usize, u64)>::with_capacity(64).split();
    let mut txs = Vec::new();
    let mut joins = Vec::new();
    for t in 0..threads {
        let (tx, rx) = mpsc::channel::<Lent<(usize, u64)>>();
        let remote: RemoteFree<(usize, u64)> = remote.clone();
        joins.push(thread::spawn(move || {
            let mut batch = remote.batch();
            let mut n = 0;
            for lent in rx {
                assert_eq!(lent.0, t);
                n += 1;
                if n % 2 == 0 {
                    batch.free(lent);
                    batch.flush();
                } else {
                    drop(lent);
                }
            }
            n
        }));
        txs.push(tx);
    }
    for i in 0..threads * per {
        let t = i % threads;
        lend_all(&mut owner, [(t, i as u64)], &txs[t]);
    }
    drop(txs);
    let n: usize = joins.into_iter().map(|j| j.join().unwrap()).sum();
    assert_eq!(n, threads * per);
    owner.reclaim();
    assert_eq!(owner.lent(), 0);
}

#[test]
fn handles_cross_threads_when_the_values_do() {
    fn send_sync_clone<H: Send + Sync + Clone>(_: &H) {}
    fn send<H: Send>(_: &H) {}
    let (mut owner, remote) = Slab::<String>::with_capacity(8).split();
    send_sync_clone(&remote);
    send(&owner);
    let lent = owner.lend("x".to_string()).unwrap();
    send(&lent);
    send(&remote.batch());
    // Moved to other threads and used there.
    let (remote, lent) = thread::spawn(move || {
        assert_eq!(*lent, "x");
        (remote, lent)
    })
    .join()
    .unwrap();
    thread::spawn(move || remote.free(lent)).join().unwrap();
    assert_eq!(owner.reclaim(), 1);
}

#[test]
fn owner_debug_and_iteration() {
    let (mut owner, _remote) = Slab::<u8>::with_capacity(8).split();
    let k = owner.insert(1).unwrap();
    let lent = owner.lend(2).unwrap();
    assert_eq!(format!("{lent:?}"), "Lent(2)");
    assert!(format!("{owner:?}").contains("lent: 1"));
    assert_eq!(format!("{owner:#?}").matches(':').count(), 1);
    for (_, v) in &mut owner {
        *v += 1;
    }
    assert_eq!((&owner).into_iter().collect::<Vec<_>>(), [(k, &2)]);
    owner[k] += 1;
    assert_eq!(owner[k], 3);
}

/// A snapshot of the owner's slab holds the owner's values; slots out on loan come back free
/// in the restored slab (which owns no lent value), for both key kinds.
#[cfg(feature = "serde")]
#[test]
fn a_snapshot_of_a_split_slab_restores_with_the_lent_slots_free() {
    fn check<K: SlabKey + 'static>(generational: bool) {
        let (mut owner, remote) = Slab::<u32, Mmap, K>::with_capacity(8).split();
        let cap = owner.capacity();
        let a = owner.insert(1).unwrap();
        let b = owner.insert(2).unwrap();
        owner.remove(a); // a stale key for the generational slab
        let lent = owner.lend(3).unwrap();
        let returned = owner.lend(4).unwrap();
        remote.free(returned);
        let saved = serde_json::to_string(owner.as_slab()).unwrap();
        let mut restored: Slab<u32, Mmap, K> = serde_json::from_str(&saved).unwrap();
        assert_eq!(restored[b], 2);
        assert!(!restored.contains(a));
        assert_eq!(restored.len(), 1);
        let mut n = 1;
        while let Ok(k) = restored.insert(0) {
            assert!(!generational || k != a, "a stale key came back");
            n += 1;
        }
        assert_eq!(n, cap, "every slot is usable in the restored slab");
        drop(lent);
    }
    check::<Key>(false);
    check::<GenKey>(true);
}

/// A copy of a split slab holds the owner's values under the same keys, and the slots out on
/// loan are free in it: it fills to its capacity, and stale generational keys stay stale.
#[test]
fn a_copy_of_a_split_slab_has_the_lent_slots_free() {
    fn check<K: SlabKey + 'static>(generational: bool) {
        let (owner, remote) = Slab::<String, Heap, K>::new_in(Heap::new()).split();
        assert_eq!(
            owner.try_clone().unwrap().capacity(),
            0,
            "unallocated: copied as is"
        );
        drop((owner, remote));
        let mut slab: Slab<String, Heap, K> = Slab::new_in(Heap::new());
        slab.alloc(8).unwrap();
        let (mut owner, remote) = slab.split();
        let cap = owner.capacity();
        let gone = owner.insert("gone".into()).unwrap();
        let kept = owner.insert("kept".into()).unwrap();
        owner.remove(gone);
        let mut lent: Vec<_> = (0..3).map(|i| owner.lend(i.to_string()).unwrap()).collect();
        remote.free(lent.pop().unwrap()); // one returned, two still lent
        let mut copy = owner.try_clone().unwrap();
        assert_eq!(copy.len(), 1);
        assert_eq!(copy[kept], "kept");
        let mut n = 1;
        while let Ok(k) = copy.insert(String::new()) {
            assert!(!generational || k != gone, "a stale key came back");
            n += 1;
        }
        assert_eq!(n, cap, "generational: {generational}");
        assert_eq!(owner[kept], "kept", "the owner is unchanged");
        assert_eq!((lent.len(), owner.lent()), (2, 3));
    }
    check::<Key>(false);
    check::<GenKey>(true);
}

/// An owner whose value panics in `Drop` still drops the rest and lets go of the memory: the
/// value still lent keeps it until it goes.
#[test]
fn an_owner_dropped_through_a_panic_still_lets_go() {
    let alloc = Counting::default();
    let drops = Arc::new(AtomicUsize::new(0));
    let noisy = |panics| Noisy {
        drops: drops.clone(),
        panics,
    };
    let (mut owner, remote) = heap_slab::<Noisy, Key>(16, &alloc).split();
    owner.insert(noisy(false)).unwrap();
    owner.insert(noisy(true)).unwrap();
    owner.insert(noisy(false)).unwrap();
    let lent = owner.lend(noisy(false)).unwrap();
    drop(remote);
    assert!(catch_unwind(AssertUnwindSafe(|| drop(owner))).is_err());
    assert_eq!(
        drops.load(Ordering::SeqCst),
        3,
        "every owned value dropped once"
    );
    assert!(
        alloc.0.load(Ordering::SeqCst) >= 1,
        "the lent value keeps the memory"
    );
    drop(lent);
    assert_eq!(drops.load(Ordering::SeqCst), 4);
    assert_eq!(
        alloc.0.load(Ordering::SeqCst),
        0,
        "released with the last Lent"
    );
}

/// Keys a user builds (from a `usize`, from bits) for a slot that is lent, or returned and not
/// yet taken back, find nothing and change nothing: every lookup misses, `insert_at` hands the
/// value back, `owner[key]` panics, and the lent value, the count and the free slots are as
/// they were. `forge` makes every key a user could build for slot index `i`.
fn forged_keys_miss_out_slots<K: SlabKey + std::fmt::Debug + 'static>(
    forge: impl Fn(usize) -> Vec<K>,
) {
    let slab: Slab<String, Mmap, K> = Slab::with_capacity(8);
    let cap = slab.capacity();
    let (mut owner, remote) = slab.split();
    owner.insert("live".to_string()).unwrap();
    let lent_at = owner.vacant_key().unwrap().index();
    let lent = owner.lend("lent".to_string()).unwrap();
    let returned_at = owner.vacant_key().unwrap().index();
    remote.free(owner.lend("returned".to_string()).unwrap());
    assert_ne!(lent_at, returned_at);
    for i in [lent_at, returned_at] {
        let keys = forge(i);
        assert!(!keys.is_empty());
        for key in keys {
            assert_eq!(owner.get(key), None, "{key:?}");
            assert!(!owner.contains(key), "{key:?}");
            assert_eq!(owner.get_mut(key), None, "{key:?}");
            assert_eq!(owner.remove(key), None, "{key:?}");
            assert!(owner.get_disjoint_mut([key]).is_err(), "{key:?}");
            let read = catch_unwind(AssertUnwindSafe(|| owner[key].len()));
            assert!(read.is_err(), "{key:?}: owner[key] must panic");
            let back = owner.insert_at(key, "forged".to_string());
            assert_eq!(back.unwrap_err().into_inner(), "forged", "{key:?}");
        }
    }
    assert_eq!(*lent, "lent");
    assert_eq!(owner.len(), 1);
    assert_eq!(owner.lent(), 2, "the returned slot is out until collected");
    let values: Vec<&String> = owner.values().collect();
    assert_eq!(values, ["live"]);
    drop(lent);
    assert_eq!(owner.reclaim(), 2);
    // Every slot but the live one takes a value again, each once.
    let mut got: Vec<usize> = Vec::new();
    while let Ok(k) = owner.insert(String::new()) {
        got.push(k.index());
    }
    got.sort_unstable();
    got.dedup();
    assert_eq!(got.len(), cap - 1);
}

#[test]
fn forged_plain_keys_never_reach_a_lent_or_returned_slot() {
    forged_keys_miss_out_slots::<Key>(|i| {
        Key::try_from(i)
            .into_iter()
            .chain([Key::new_saturating(i)])
            .collect()
    });
}

#[test]
fn forged_generational_keys_never_reach_a_lent_or_returned_slot() {
    forged_keys_miss_out_slots::<GenKey>(|i| {
        let gens = [
            0u64,
            1,
            2,
            3,
            4,
            5,
            6,
            7,
            u32::MAX as u64 - 1,
            u32::MAX as u64,
        ];
        gens.iter()
            .filter_map(|&g| GenKey::from_bits(g << 32 | i as u64))
            .collect()
    });
}

/// A slot retired at its last generation (restored there with `insert_at`, then removed) stays
/// out of use after a split: no lend or insert takes it, returned slots come back without it,
/// `is_full`/`vacant_key` see the slab as full with fewer values than slots, and `insert_at`
/// refuses it. One retired before the split and one retired through the owner.
#[test]
fn retired_slots_stay_out_of_lends_and_collects() {
    let last = |i: usize| GenKey::from_bits(u64::from(u32::MAX) << 32 | i as u64).unwrap();
    let mut slab: Slab<String, Mmap, GenKey> = Slab::with_capacity(4);
    let cap = slab.capacity();
    slab.insert_at(last(0), "last".to_string()).unwrap();
    assert_eq!(slab.remove(last(0)).as_deref(), Some("last"));
    let (mut owner, remote) = slab.split();

    // Lend every slot there is: slot 0 is not among them.
    let mut lent = Vec::new();
    while let Ok(l) = owner.lend(format!("{}", lent.len())) {
        lent.push(l);
    }
    assert_eq!(lent.len(), cap - 1);
    assert!(owner.is_full() && owner.vacant_key().is_none());
    remote.free_all(lent);
    assert!(!owner.is_full(), "returned slots are room");
    assert_eq!(owner.reclaim(), cap - 1);

    // Insert into every slot there is: again not slot 0, which insert_at refuses.
    let mut keys = Vec::new();
    while let Ok(k) = owner.insert(String::new()) {
        keys.push(k);
    }
    assert_eq!(keys.len(), cap - 1);
    assert!(keys.iter().all(|k| k.index() != 0), "{keys:?}");
    assert!(owner.is_full() && owner.len() == cap - 1);
    let back = owner.insert_at(last(0), "again".to_string()).unwrap_err();
    assert!(matches!(back.error(), KeyError::Stale { index: 0, .. }));

    // Retire a second slot through the owner: full with two values fewer than slots.
    let k = keys[0];
    owner.remove(k).unwrap();
    owner
        .insert_at(last(k.index()), "last".to_string())
        .unwrap();
    assert_eq!(owner.remove(last(k.index())).as_deref(), Some("last"));
    assert!(owner.is_full(), "both retired slots are out of use");
    assert_eq!(owner.len(), cap - 2);
    assert!(owner.lend(String::new()).is_err());
    assert!(owner.insert(String::new()).is_err());
    assert!(owner.get(last(k.index())).is_none() && owner.get(last(0)).is_none());
}

/// How many values `slab` takes before it is full (the values it holds included).
fn fills_to<K: SlabKey>(mut slab: Slab<String, Heap, K>) -> usize {
    let mut n = slab.len();
    while slab.insert(String::new()).is_ok() {
        n += 1;
    }
    n
}

/// Issue 18, defect 7: with generational keys, `insert_at` far up leaves the slots it skips on
/// the free list at generation 0; a lend that takes one must not leave it out at 0 (which says
/// "retired"), or a copy or a snapshot of the owner's slab loses it for good. The slot goes out
/// at generation 2, as a never-used one does, so its next key after the loan has generation 3.
#[test]
fn a_lent_slot_skipped_by_insert_at_is_kept_by_copies_and_snapshots() {
    let mut slab: Slab<String, Heap, GenKey> = Slab::new_in(Heap::new());
    slab.alloc(1).unwrap(); // as few slots as the heap gives (a few kilobytes' worth)
    let cap = slab.capacity();
    // Restore a key at the last slot: every slot below it is skipped.
    let far = GenKey::from_bits(1 << 32 | (cap as u64 - 1)).unwrap();
    slab.insert_at(far, "far".into()).unwrap();
    let (mut owner, remote) = slab.split();
    let lent = owner.lend("lent".into()).unwrap(); // slot 0, one of the skipped
    let n = fills_to(owner.try_clone().unwrap());
    assert_eq!(n, cap, "capacity {cap}, owner's copy holds {n}");
    #[cfg(feature = "serde")]
    {
        let saved = serde_json::to_string(owner.as_slab()).unwrap();
        let restored: Slab<String, Heap, GenKey> = serde_json::from_str(&saved).unwrap();
        let n = fills_to(restored);
        assert_eq!(n, cap, "capacity {cap}, the owner's snapshot holds {n}");
    }
    remote.free(lent);
    assert_eq!(owner.reclaim(), 1);
    let k = owner.insert("again".into()).unwrap();
    assert_eq!((k.index(), k.generation()), (0, 3), "out at 2, back at 3");
    assert_eq!(owner[far], "far");
}

/// Issue 18: `Slab::try_clone` reached through the owner (`as_slab`; it was `Deref<Target =
/// Slab>`) is the same copy as `Owner::try_clone`: the slots out on loan (lent, or returned and
/// not taken back) are free in it, for both key kinds.
#[test]
fn a_copy_through_as_slab_has_the_lent_slots_free_too() {
    fn check<K: SlabKey + 'static>() {
        let mut slab: Slab<String, Heap, K> = Slab::new_in(Heap::new());
        slab.alloc(8).unwrap();
        let (mut owner, remote) = slab.split();
        let cap = owner.capacity();
        let kept = owner.insert("kept".into()).unwrap();
        let lent = owner.lend("lent".into()).unwrap();
        remote.free(owner.lend("returned".into()).unwrap());
        let through_deref: &Slab<String, Heap, K> = owner.as_slab();
        let copy = through_deref.try_clone().unwrap();
        assert_eq!((copy.len(), copy[kept].as_str()), (1, "kept"));
        let n = fills_to(copy);
        assert_eq!(
            n, cap,
            "capacity {cap}, the copy made through as_slab holds {n}"
        );
        assert_eq!(fills_to(owner.try_clone().unwrap()), cap);
        drop(lent);
    }
    check::<Key>();
    check::<GenKey>();
}

/// Issue 19: `Owner::vacant_key` reads (`&self`), so a function given `&Owner` can ask for the
/// next key — through `Deref`, `Slab::vacant_key(&self)` was shadowed by the owner's
/// `vacant_key(&mut self)` (E0596). It names the key the next insert takes while a slot is
/// free, and `None` when none is free until the owner reclaims the returned ones.
#[test]
fn vacant_key_reads_through_a_shared_owner() {
    fn peek<T>(o: &Owner<T>) -> Option<Key> {
        o.vacant_key()
    }
    let slab: Slab<u64> = Slab::with_capacity(1);
    let cap = slab.capacity();
    let (mut owner, remote) = slab.split();
    let next = peek(&owner).unwrap();
    assert_eq!(owner.insert(1).unwrap(), next);
    let lent: Vec<_> = (1..cap as u64).map(|v| owner.lend(v).unwrap()).collect();
    assert_eq!(peek(&owner), None, "full");
    remote.free_all(lent);
    assert_eq!(peek(&owner), None, "returned, not reclaimed");
    assert_eq!(owner.reclaim(), cap - 1);
    let next = peek(&owner).unwrap();
    assert_eq!(owner.insert(2).unwrap(), next);
}

/// A `Lent` is two pointers (the value's and the shared block's; the slot's link is worked
/// out from the value's address when it is handed back), whatever the value: a ring or a
/// channel of them carries 16 bytes per entry.
#[test]
fn a_lent_is_two_pointers() {
    use std::mem::size_of;
    assert_eq!(size_of::<Lent<u8>>(), 2 * size_of::<usize>());
    assert_eq!(size_of::<Lent<[u64; 8]>>(), 2 * size_of::<usize>());
    assert_eq!(size_of::<Lent<String>>(), 2 * size_of::<usize>());
    // Handed back from 24-byte slots (no power of two), the links still name the right
    // slots: every slot comes back exactly once.
    let (mut owner, remote) = Slab::<[u8; 24]>::with_capacity(100).split();
    let cap = owner.capacity();
    let lent: Vec<_> = (0..cap)
        .map(|v| owner.lend([v as u8; 24]).unwrap())
        .collect();
    assert!(owner.is_full());
    for (i, l) in lent.into_iter().enumerate() {
        assert_eq!(l[0], i as u8);
        remote.free(l);
    }
    assert_eq!(owner.reclaim(), cap);
    let mut seen = std::collections::BTreeSet::new();
    while let Ok(k) = owner.insert([7; 24]) {
        assert!(
            seen.insert(k.index()),
            "slot {} handed out twice",
            k.index()
        );
    }
    assert_eq!(seen.len(), cap);
}
