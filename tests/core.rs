//! The behaviour of the core, on every backing: key reuse, a randomized model check, stable
//! addresses, key validity, odd value types, memory per slot, iterators, errors.

mod common;

use std::collections::HashMap;

use common::Rng;
use nexus_slab::{
    backing::{Backing, Heap, Mmap},
    Error, Full, Key, KeyError, Slab,
};

common::on_every_backing!(
    freed_keys_are_reused_last_in_first_out,
    model_check_against_a_hashmap,
    values_never_move,
    clear_invalidates_every_key,
    foreign_and_out_of_range_keys_are_never_found,
    zero_sized_values,
    cache_line_aligned_values,
    page_aligned_values,
    values_larger_than_a_page,
    strings,
    iteration_is_in_key_order_from_both_ends,
    failed_calls_leave_the_slab_as_it_was,
    unused_vacant_entry_changes_nothing,
);

/// `native` natively, `miri` under Miri (which interprets every step, some 1000× slower).
const fn scaled(native: usize, miri: usize) -> usize {
    if cfg!(miri) {
        miri
    } else {
        native
    }
}

fn slab<T, B: Backing + Default>(n: usize) -> Slab<T, B> {
    Slab::try_with_capacity(n).expect("allocation")
}

fn freed_keys_are_reused_last_in_first_out<B: Backing + Default>() {
    let mut s: Slab<u32, B> = slab(16);
    for v in 0..6 {
        assert_eq!(s.insert(v).unwrap(), Key::new_saturating(v as usize));
    }
    for k in [1, 4, 2] {
        s.remove(Key::new_saturating(k)).unwrap();
    }
    assert_eq!(s.insert(20).unwrap(), Key::new_saturating(2));
    assert_eq!(s.insert(40).unwrap(), Key::new_saturating(4));
    assert_eq!(s.insert(10).unwrap(), Key::new_saturating(1));
    // Free list empty: back to the never-used slots, in order.
    assert_eq!(s.insert(60).unwrap(), Key::new_saturating(6));
}

/// 150k random operations (1500 under Miri) against a `HashMap` model that also predicts
/// every key.
fn model_check_against_a_hashmap<B: Backing + Default>() {
    let mut s: Slab<u64, B> = slab(1000);
    let cap = s.capacity();
    let mut model: HashMap<Key, u64> = HashMap::new();
    let mut free: Vec<usize> = Vec::new(); // LIFO of freed indices
    let mut fresh = 0usize; // next never-used index
    let mut rng = Rng::new(0x5eed);
    let mut live: Vec<Key> = Vec::new();
    for step in 0..scaled(150_000, 1500) as u64 {
        match rng.below(10) {
            0..=4 => {
                let expect = free.last().copied().or((fresh < cap).then_some(fresh));
                match s.insert(step) {
                    Ok(k) => {
                        assert_eq!(Some(k.index()), expect, "step {step}: wrong key");
                        assert!(
                            model.insert(k, step).is_none(),
                            "live slot handed out twice"
                        );
                        if free.last() == Some(&k.index()) {
                            free.pop();
                        } else {
                            fresh += 1;
                        }
                        live.push(k);
                    }
                    Err(full) => {
                        assert_eq!(expect, None, "step {step}: full while a slot was free");
                        assert_eq!(full.into_inner(), step);
                        assert_eq!(model.len(), cap);
                    }
                }
            }
            5..=7 if !live.is_empty() => {
                let k = live.swap_remove(rng.below(live.len()));
                assert_eq!(s.remove(k), model.remove(&k));
                free.push(k.index());
            }
            8 => {
                let k = Key::new_saturating(rng.below(cap + 10));
                assert_eq!(s.get(k), model.get(&k));
                assert_eq!(s.contains(k), model.contains_key(&k));
                if let Some(v) = s.get_mut(k) {
                    *v += 1;
                    *model.get_mut(&k).unwrap() += 1;
                }
            }
            _ => {
                let k = Key::new_saturating(rng.below(cap + 10));
                let was = model.remove(&k);
                assert_eq!(s.remove(k), was);
                if was.is_some() {
                    free.push(k.index());
                    live.retain(|&l| l != k);
                }
            }
        }
        assert_eq!(s.len(), model.len());
    }
    let mut seen: Vec<(Key, u64)> = s.iter().map(|(k, v)| (k, *v)).collect();
    let mut want: Vec<(Key, u64)> = model.into_iter().collect();
    want.sort();
    seen.sort();
    assert_eq!(seen, want);
}

fn values_never_move<B: Backing + Default>() {
    let (n, again) = (scaled(1500, 150), scaled(700, 70));
    let mut s: Slab<String, B> = slab(2000);
    let mut addr = HashMap::new();
    for i in 0..n {
        let k = s.insert(i.to_string()).unwrap();
        addr.insert(k, s.get(k).unwrap() as *const String);
    }
    for i in (0..n).step_by(2) {
        let k = Key::new_saturating(i);
        s.remove(k).unwrap();
        addr.remove(&k);
    }
    for i in 0..again {
        let k = s.insert(format!("new {i}")).unwrap();
        addr.insert(k, s.get(k).unwrap() as *const String);
    }
    s.retain(|k, _| k.index() % 3 != 0);
    addr.retain(|k, _| k.index() % 3 != 0);
    for (k, p) in &addr {
        assert_eq!(
            s.get(*k).unwrap() as *const String,
            *p,
            "value at {k:?} moved"
        );
    }
    assert_eq!(s.len(), addr.len());
}

fn clear_invalidates_every_key<B: Backing + Default>() {
    let mut s: Slab<String, B> = slab(100);
    let keys: Vec<Key> = (0..100).map(|i| s.insert(i.to_string()).unwrap()).collect();
    s.clear();
    assert!(s.is_empty());
    for &k in &keys {
        assert!(!s.contains(k));
        assert_eq!(s.get(k), None);
        assert_eq!(s.remove(k), None);
        assert!(s.get_disjoint_mut([k]).is_err());
    }
    assert_eq!(s.iter().count(), 0);
    // Numbering starts afresh, and the old keys see only what is new.
    assert_eq!(s.insert("fresh".into()).unwrap(), Key::new_saturating(0));
    assert_eq!(s.get(keys[1]), None);
}

fn foreign_and_out_of_range_keys_are_never_found<B: Backing + Default>() {
    let mut small: Slab<u64, B> = slab(8);
    let mut big: Slab<u64, B> = slab(scaled(100_000, 1000));
    for i in 0..small.capacity() as u64 {
        small.insert(i).unwrap();
    }
    let far = big.capacity() - 1;
    let foreign = {
        for i in 0..=far as u64 {
            big.insert(i).unwrap();
        }
        Key::new_saturating(far)
    };
    assert!(foreign.index() >= small.capacity());
    for k in [
        foreign,
        Key::new_saturating(small.capacity()),
        Key::new_saturating(usize::MAX),
        Key::new_saturating(usize::MAX - 63),
        Key::new_saturating(u32::MAX as usize),
        Key::new_saturating(u32::MAX as usize + 1),
    ] {
        assert_eq!(small.get(k), None);
        assert_eq!(small.get_mut(k), None);
        assert!(!small.contains(k));
        assert_eq!(small.remove(k), None);
        assert!(matches!(
            small.get_disjoint_mut([k]),
            Err(KeyError::OutOfRange { .. })
        ));
    }
    // An unallocated slab finds nothing either.
    let empty: Slab<u64, B> = Slab::new();
    assert_eq!(empty.get(Key::new_saturating(0)), None);
    assert!(!empty.contains(Key::new_saturating(usize::MAX)));
}

fn zero_sized_values<B: Backing + Default>() {
    let mut s: Slab<(), B> = slab(100);
    let keys: Vec<Key> = (0..100).map(|_| s.insert(()).unwrap()).collect();
    assert_eq!(s.len(), 100);
    let mut sorted = keys.clone();
    sorted.dedup();
    assert_eq!(sorted.len(), 100, "distinct keys");
    assert_eq!(s.remove(keys[7]), Some(()));
    assert_eq!(s.get(keys[7]), None);
    assert_eq!(s.insert(()).unwrap(), keys[7]);
    assert_eq!(s.iter().count(), 100);
}

#[derive(Debug, PartialEq)]
#[repr(align(64))]
struct Line(u64);

#[derive(Debug, PartialEq)]
#[repr(align(4096))]
struct Page(u64);

fn cache_line_aligned_values<B: Backing + Default>() {
    let mut s: Slab<Line, B> = slab(200);
    for i in 0..200 {
        let k = s.insert(Line(i)).unwrap();
        assert_eq!(s.get(k).unwrap() as *const Line as usize % 64, 0);
    }
    assert!(s.iter().all(|(k, v)| v.0 == k.index() as u64));
}

fn page_aligned_values<B: Backing + Default>() {
    let mut s: Slab<Page, B> = slab(5);
    assert!(s.capacity() >= 5);
    for i in 0..5 {
        let k = s.insert(Page(i)).unwrap();
        assert_eq!(s.get(k).unwrap() as *const Page as usize % 4096, 0);
    }
    assert_eq!(s[Key::new_saturating(4)], Page(4));
}

fn values_larger_than_a_page<B: Backing + Default>() {
    let mut s: Slab<[u8; 6000], B> = Slab::new();
    s.alloc(3).unwrap();
    assert!(s.capacity() >= 3);
    assert!(s.memory_size() >= 3 * 6000);
    let keys: Vec<Key> = (0..s.capacity())
        .map(|i| s.insert([i as u8; 6000]).unwrap())
        .collect();
    assert!(s.is_full());
    for (i, k) in keys.iter().enumerate() {
        assert!(
            s[*k].iter().all(|&b| b == i as u8),
            "slot {i} overlaps another"
        );
    }
}

fn strings<B: Backing + Default>() {
    let mut s: Slab<String, B> = slab(64);
    let a = s.insert("alpha".repeat(100)).unwrap();
    let b = s.insert(String::new()).unwrap();
    s.get_mut(b).unwrap().push_str("beta");
    assert_eq!(s[a].len(), 500);
    assert_eq!(s.remove(b).unwrap(), "beta");
    assert_eq!(s.len(), 1);
}

fn iteration_is_in_key_order_from_both_ends<B: Backing + Default>() {
    let mut s: Slab<u32, B> = slab(1000);
    for v in 0..1000 {
        s.insert(v).unwrap();
    }
    let mut rng = Rng::new(7);
    for _ in 0..700 {
        s.remove(Key::new_saturating(rng.below(1000)));
    }
    let keys: Vec<usize> = s.iter().map(|(k, _)| k.index()).collect();
    assert!(keys.windows(2).all(|w| w[0] < w[1]), "ascending");
    assert_eq!(keys.len(), s.len());
    assert!(s.iter().all(|(k, v)| *v as usize == k.index()));
    let back: Vec<usize> = s.iter().rev().map(|(k, _)| k.index()).collect();
    assert_eq!(back, keys.iter().rev().copied().collect::<Vec<_>>());
    // Alternating ends meet in the middle without overlap.
    let mut it = s.iter();
    let (mut front, mut rear) = (Vec::new(), Vec::new());
    loop {
        assert_eq!(it.len(), keys.len() - front.len() - rear.len());
        match it.next() {
            Some((k, _)) => front.push(k.index()),
            None => break,
        }
        match it.next_back() {
            Some((k, _)) => rear.push(k.index()),
            None => break,
        }
    }
    rear.reverse();
    front.extend(rear);
    assert_eq!(front, keys);
    // iter_mut and the IntoIterator forms agree with iter.
    for (k, v) in &mut s {
        *v += k.index() as u32;
    }
    assert!((&s).into_iter().all(|(k, v)| *v as usize == 2 * k.index()));
    let owned: Vec<usize> = s.into_iter().map(|(k, _)| k.index()).collect();
    assert_eq!(owned, keys);
}

fn failed_calls_leave_the_slab_as_it_was<B: Backing + Default>() {
    let mut s: Slab<u64, B> = Slab::new();
    assert!(matches!(s.alloc(0), Err(Error::ZeroCapacity { .. })));
    assert!(matches!(
        s.alloc(usize::MAX),
        Err(Error::CapacityOverflow { .. })
    ));
    let page = B::default().granularity();
    assert!(matches!(
        s.alloc_bytes(1),
        Err(Error::BudgetTooSmall { minimum, .. }) if minimum == page
    ));
    assert_eq!((s.capacity(), s.memory_size()), (0, 0));
    // After failures the slab still allocates.
    s.alloc(10).unwrap();
    let k = s.insert(5).unwrap();
    let (cap, size) = (s.capacity(), s.memory_size());
    for err in [s.alloc(10), s.alloc_bytes(1 << 20), s.alloc(0)] {
        assert!(
            matches!(err, Err(Error::AlreadyAllocated { .. })),
            "{err:?}"
        );
    }
    assert_eq!((s.capacity(), s.memory_size(), s[k]), (cap, size, 5));
    // Sizes that overflow are refused before any allocation is attempted.
    let mut huge: Slab<[u8; 1 << 40], B> = Slab::new();
    assert!(matches!(
        huge.alloc(1 << 30),
        Err(Error::SizeOverflow { .. })
    ));
}

fn unused_vacant_entry_changes_nothing<B: Backing + Default>() {
    let mut s: Slab<u8, B> = slab(4);
    s.insert(1).unwrap();
    let k = s.vacant_entry().unwrap().key();
    assert_eq!(s.len(), 1);
    assert!(!s.contains(k));
    assert_eq!(s.insert(2).unwrap(), k);
    while !s.is_full() {
        s.insert(0).unwrap();
    }
    let full = s.vacant_entry().unwrap_err();
    assert_eq!(full.capacity(), s.capacity());
    assert_eq!(
        full.to_string(),
        format!("the slab is full ({} slots)", s.capacity())
    );
}

#[test]
fn memory_per_slot_is_at_most_the_slab_crates() {
    // The slab crate's `Entry<T>`: a tag word plus the value (or a `usize` link).
    fn check<T>(slab_entry: usize) {
        let s: Slab<T> = Slab::with_capacity(1 << 20);
        let per_slot = s.memory_size() as f64 / s.capacity() as f64;
        assert!(
            per_slot <= slab_entry as f64,
            "{}: {per_slot} bytes per slot, the slab crate needs {slab_entry}",
            std::any::type_name::<T>()
        );
        eprintln!(
            "{}: {per_slot:.3} bytes per slot (slab crate: {slab_entry})",
            std::any::type_name::<T>()
        );
    }
    check::<u64>(16);
    check::<[u8; 32]>(40);
    check::<[u64; 8]>(72);
}

#[test]
fn slabs_are_send_and_sync_when_their_values_are() {
    fn send<S: Send>() {}
    fn sync<S: Sync>() {}
    send::<Slab<String>>();
    sync::<Slab<String>>();
    send::<Slab<u8, Heap>>();
    sync::<Slab<u8, Heap>>();
    send::<nexus_slab::iter::IterMut<'static, u8>>();
    send::<nexus_slab::iter::Drain<'static, u8>>();
    send::<nexus_slab::iter::IntoIter<u8, Mmap>>();
}

#[test]
#[should_panic(expected = "invalid key")]
fn index_panics_on_a_vacant_key() {
    let s: Slab<u8> = Slab::with_capacity(4);
    let _ = s[Key::new_saturating(0)];
}

#[test]
#[should_panic(expected = "invalid key")]
fn index_mut_panics_on_an_out_of_range_key() {
    let mut s: Slab<u8> = Slab::with_capacity(4);
    s[Key::new_saturating(usize::MAX)] = 1;
}

#[test]
fn get_disjoint_mut_rejects_bad_keys_with_their_cause() {
    let mut s: Slab<u32> = Slab::with_capacity(8);
    let a = s.insert(1).unwrap();
    let b = s.insert(2).unwrap();
    let c = s.insert(3).unwrap();
    s.remove(c);
    let [x, y] = s.get_disjoint_mut([b, a]).unwrap();
    (*x, *y) = (*y, *x);
    assert_eq!((s[a], s[b]), (2, 1));
    assert!(matches!(
        s.get_disjoint_mut([a, b, a]),
        Err(KeyError::Duplicate { index: 0, .. })
    ));
    assert!(matches!(
        s.get_disjoint_mut([a, c]),
        Err(KeyError::Vacant { index: 2, .. })
    ));
    assert!(matches!(
        s.get_disjoint_mut([Key::new_saturating(usize::MAX), a]),
        Err(KeyError::OutOfRange { .. })
    ));
    assert_eq!(s.get_disjoint_mut::<0>([]).unwrap().len(), 0);
}

#[test]
fn full_works_for_values_without_debug() {
    struct Opaque(#[allow(dead_code)] u8);
    let mut s: Slab<Opaque> = Slab::with_capacity(1);
    while !s.is_full() {
        s.insert(Opaque(0)).unwrap(); // `unwrap` needs `Full<Opaque>: Debug`
    }
    let err = s.insert(Opaque(9)).unwrap_err();
    let cap = s.capacity();
    assert_eq!(
        format!("{err:?}"),
        format!("Full {{ capacity: {cap}, .. }}: the slab is full ({cap} slots)")
    );
    assert_eq!(err.to_string(), format!("the slab is full ({cap} slots)"));
    // An error for every value type: `?` into `Box<dyn Error>`, and (without the value) into
    // one that is `Send + Sync` whatever the value.
    fn boxed(s: &mut Slab<Opaque>) -> Result<Key, Box<dyn std::error::Error>> {
        Ok(s.insert(Opaque(1))?)
    }
    fn sendable(
        s: &mut Slab<std::rc::Rc<u8>>,
    ) -> Result<Key, Box<dyn std::error::Error + Send + Sync>> {
        Ok(s.insert(std::rc::Rc::new(1)).map_err(Full::without_value)?)
    }
    assert!(boxed(&mut s).is_err());
    let mut unallocated: Slab<std::rc::Rc<u8>> = Slab::new();
    let err = sendable(&mut unallocated).unwrap_err();
    assert!(err
        .to_string()
        .starts_with("the slab has no memory yet: call `alloc(n)`"));
    let full = s.insert(Opaque(9)).unwrap_err();
    assert_eq!(full.into_inner().0, 9);
}

#[test]
fn debug_shows_sizes_or_entries() {
    let mut s: Slab<u8> = Slab::with_capacity(2);
    s.insert(7).unwrap();
    let plain = format!("{s:?}");
    assert!(
        plain.contains("len: 1") && plain.contains("capacity"),
        "{plain}"
    );
    let alt = format!("{s:#?}");
    assert!(alt.contains("Key(0): 7"), "{alt}");
}

#[test]
fn unallocated_slab_refuses_everything_politely() {
    let mut s: Slab<String> = Slab::new();
    assert_eq!((s.len(), s.capacity(), s.memory_size()), (0, 0, 0));
    assert!(s.is_full() && s.is_empty());
    assert_eq!(s.insert("x".into()).unwrap_err().into_inner(), "x");
    assert_eq!(s.vacant_entry().unwrap_err().capacity(), 0);
    assert!(matches!(s.mlock(), Err(Error::NotAllocated { .. })));
    assert!(matches!(s.try_collapse(), Err(Error::NotAllocated { .. })));
    assert_eq!(s.drain().count(), 0);
    s.clear();
    s.retain(|_, _| false);
    assert_eq!(s.into_iter().count(), 0);
}

#[test]
fn alloc_bytes_takes_the_largest_slab_within_budget() {
    for budget in [4096usize, 10_000, 1 << 20, 3 << 20] {
        let mut s: Slab<[u8; 24]> = Slab::new();
        s.alloc_bytes(budget).unwrap();
        assert!(s.memory_size() <= budget, "{budget}");
        // One more slot would need more memory than the budget allows.
        let mut bigger: Slab<[u8; 24]> = Slab::new();
        bigger.alloc(s.capacity() + 1).unwrap();
        assert!(bigger.memory_size() > budget, "{budget}");
    }
}

#[test]
#[cfg_attr(
    miri,
    ignore = "needs the machine's RAM size; Miri's stub reports none and would try the allocation"
)]
fn budgets_beyond_ram_are_refused_before_allocating() {
    // 2^32 - 1 slots of 1 MiB: 4 PiB, more than any machine has.
    let mut s: Slab<[u8; 1 << 20]> = Slab::new();
    let err = s.alloc_bytes(usize::MAX).unwrap_err();
    assert!(matches!(err, Error::ExceedsMemory { .. }), "{err}");
    assert!(err.to_string().contains("RAM"), "{err}");
    let err = s.alloc(Key::MAX_INDEX).unwrap_err();
    assert!(matches!(err, Error::ExceedsMemory { .. }), "{err}");
    let mut h: Slab<[u8; 1 << 20], Heap> = Slab::new();
    assert!(matches!(h.alloc(1 << 30), Err(Error::ExceedsMemory { .. })));
    // Nothing changed: the slab still allocates.
    assert_eq!(s.capacity(), 0);
    s.alloc(3).unwrap();
    assert!(s.capacity() >= 3);
}

/// A bump arena that hands out page-aligned blocks of one buffer, used by reference.
struct Arena {
    buf: std::cell::UnsafeCell<Vec<u8>>,
    used: std::cell::Cell<usize>,
}

// SAFETY: blocks are disjoint ranges of `buf`, which is never reallocated after `new` and
// outlives every block (blocks borrow the arena); deallocation is a no-op.
unsafe impl allocator_api2::alloc::Allocator for &Arena {
    fn allocate(
        &self,
        layout: std::alloc::Layout,
    ) -> Result<std::ptr::NonNull<[u8]>, allocator_api2::alloc::AllocError> {
        // SAFETY: only this method touches `buf`, and it never reallocates it.
        let buf = unsafe { &mut *self.buf.get() };
        let base = buf.as_mut_ptr();
        let start =
            (base as usize + self.used.get()).next_multiple_of(layout.align()) - base as usize;
        let end = start
            .checked_add(layout.size())
            .ok_or(allocator_api2::alloc::AllocError)?;
        if end > buf.len() {
            return Err(allocator_api2::alloc::AllocError);
        }
        self.used.set(end);
        // SAFETY: `start..end` lies inside `buf`.
        let ptr = unsafe { base.add(start) };
        Ok(std::ptr::NonNull::slice_from_raw_parts(
            std::ptr::NonNull::new(ptr).unwrap(),
            layout.size(),
        ))
    }

    unsafe fn deallocate(&self, _: std::ptr::NonNull<u8>, _: std::alloc::Layout) {}
}

#[test]
fn a_heap_backing_can_borrow_its_allocator() {
    let arena = Arena {
        buf: std::cell::UnsafeCell::new(vec![0; 1 << 20]),
        used: std::cell::Cell::new(0),
    };
    {
        let mut slab: Slab<u64, Heap<&Arena>> = Slab::new_in(Heap::new_in(&arena));
        slab.alloc(1000).unwrap();
        let k = slab.insert(77).unwrap();
        assert_eq!(slab[k], 77);
        assert!(arena.used.get() >= slab.memory_size());
        // A second slab from the same arena gets other memory.
        let mut other: Slab<u64, Heap<&Arena>> = Slab::new_in(Heap::new_in(&arena));
        other.alloc(1000).unwrap();
        let k2 = other.insert(88).unwrap();
        assert_eq!((slab[k], other[k2]), (77, 88));
        assert!(
            other.get(k2).unwrap() as *const u64 as usize
                >= slab.get(k).unwrap() as *const u64 as usize + slab.memory_size() - 8
        );
    }
    // The slabs are gone; the arena is still ours.
    assert!(arena.used.get() >= 2 * 8192);
    // An allocator that runs out is a typed error, not a panic.
    let mut greedy: Slab<[u8; 4096], Heap<&Arena>> = Slab::new_in(Heap::new_in(&arena));
    assert!(matches!(greedy.alloc(10_000), Err(Error::Os { .. })));
}

#[test]
fn fold_sees_exactly_what_next_would_from_any_position() {
    let mut rng = Rng::new(99);
    for (n, density) in [
        (1000usize, 100usize),
        (1000, 10),
        (640, 100),
        (130, 50),
        (64, 100),
    ] {
        let mut s: Slab<u32> = Slab::with_capacity(n);
        for v in 0..n as u32 {
            s.insert(v).unwrap();
        }
        for i in 0..n {
            if rng.below(100) >= density {
                s.remove(Key::new_saturating(i));
            }
        }
        let all: Vec<usize> = s.iter().map(|(k, _)| k.index()).collect();
        for (front, back) in [
            (0, 0),
            (1, 0),
            (0, 1),
            (3, 5),
            (70, 2),
            (all.len() / 2, all.len() / 2),
        ] {
            if front + back > all.len() {
                continue;
            }
            let mut it = s.iter();
            for _ in 0..front {
                it.next();
            }
            for _ in 0..back {
                it.next_back();
            }
            let want = &all[front..all.len() - back];
            // `fold` (through for_each) yields the rest in order, keys matching values.
            let mut got = Vec::new();
            it.clone().for_each(|(k, v)| {
                assert_eq!(*v as usize, k.index());
                got.push(k.index());
            });
            assert_eq!(
                got, want,
                "n {n} density {density} front {front} back {back}"
            );
            assert_eq!(it.clone().count(), want.len());
            let mut mut_it = s.iter_mut();
            for _ in 0..front {
                mut_it.next();
            }
            for _ in 0..back {
                mut_it.next_back();
            }
            let got_mut: Vec<usize> = mut_it.fold(Vec::new(), |mut acc, (k, _)| {
                acc.push(k.index());
                acc
            });
            assert_eq!(got_mut, want);
        }
    }
}
