//! Hostile inputs: absurd sizes and budgets, capacities the keys cannot address, extreme keys
//! passed to every method that takes one, bad `get_disjoint_mut` requests, and allocation after
//! a failed allocation. Each must give a typed error (or `None`), never a panic, never an absurd
//! allocation attempt, and must lose nothing.
//!
//! No test here depends on the size of this machine's RAM: every "too big" request is for a
//! value type so large that no machine has the memory (petabytes or more), so a bigger CI
//! machine refuses exactly the same requests.

mod common;

use std::alloc::Layout;
use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::NonNull;

use allocator_api2::alloc::{AllocError, Allocator, Global};
use common::DropLog;
use nexus_slab::{
    backing::{Backing, Heap, Mmap, Region},
    Error, Key, KeyError, Slab,
};

common::on_every_backing!(
    absurd_capacities_are_typed_errors,
    capacities_beyond_the_key_space_overflow,
    budgets_below_one_slot_are_too_small,
    extreme_keys_miss_everywhere,
    extreme_keys_on_an_unallocated_slab,
    get_disjoint_mut_rejects_every_bad_request,
    full_slab_loses_nothing,
);

common::backing_tests!(
    mmap_native => nexus_slab::backing::Mmap | "needs the machine's RAM size, which Miri's stub lacks",
    heap_native => nexus_slab::backing::Heap | "needs the machine's RAM size, which Miri's stub lacks";
    [
    alloc_bytes_usize_max_is_refused_for_huge_values,
    alloc_of_more_than_any_ram_is_refused,
    allocation_after_every_kind_of_failure_works,
]
);

/// 1 MiB values: 2^32 − 1 of them are 4 PiB, more than any machine has.
type Mib = [u8; 1 << 20];
/// 4 GiB values (more than the 2^31 bytes past which `alloc_bytes(usize::MAX)` used to panic).
type FourGib = [u8; 1 << 32];
/// 1 TiB values.
type Tib = [u8; 1 << 40];
/// 2^60-byte values: about as large as a Rust type may be on x86_64.
type Exa = [u8; 1 << 60];

/// A page-aligned 16 MiB value type: a region for it must be aligned beyond the page.
#[repr(C, align(8192))]
struct Aligned8k([u8; 1 << 24]);

fn is_pristine<T, B: Backing>(s: &Slab<T, B>) -> bool {
    s.capacity() == 0 && s.memory_size() == 0 && s.is_empty()
}

/// After a failed allocation the slab allocates normally.
fn still_allocates<T, B: Backing>(mut s: Slab<T, B>) {
    assert!(is_pristine(&s));
    s.alloc(1).unwrap();
    assert!(s.capacity() >= 1);
}

fn absurd_capacities_are_typed_errors<B: Backing + Default>() {
    let mut s: Slab<u64, B> = Slab::new();
    let err = s.alloc(usize::MAX).unwrap_err();
    assert!(
        matches!(err, Error::CapacityOverflow { requested: usize::MAX, max, .. } if max == Key::MAX_INDEX),
        "{err:?}"
    );
    assert!(matches!(s.alloc(0), Err(Error::ZeroCapacity { .. })));
    still_allocates(s);

    // n × size overflows usize: refused before any backing is asked.
    let mut s: Slab<Tib, B> = Slab::new();
    for n in [1usize << 24, 1 << 30, Key::MAX_INDEX] {
        let err = s.alloc(n).unwrap_err();
        assert!(
            matches!(err, Error::SizeOverflow { requested, slot_size, .. } if requested == n && slot_size == 1 << 40),
            "{n}: {err:?}"
        );
    }
    assert!(is_pristine(&s));
    let mut s: Slab<Exa, B> = Slab::new();
    assert!(matches!(s.alloc(16), Err(Error::SizeOverflow { .. })));
    assert!(is_pristine(&s));
}

fn capacities_beyond_the_key_space_overflow<B: Backing + Default>() {
    // Any value type, any count above 2^32 − 2: the keys could not address the slots.
    let mut s: Slab<u8, B> = Slab::new();
    for n in [
        Key::MAX_INDEX + 1,
        u32::MAX as usize + 1,
        u32::MAX as usize + 2,
        1 << 40,
        isize::MAX as usize,
        usize::MAX - 1,
    ] {
        let err = s.alloc(n).unwrap_err();
        assert!(
            matches!(err, Error::CapacityOverflow { requested, max, .. } if requested == n && max == Key::MAX_INDEX),
            "{n}: {err:?}"
        );
        assert!(err.to_string().contains("at most"), "{err}");
    }
    let mut s: Slab<(), B> = Slab::new();
    assert!(matches!(
        s.alloc(u32::MAX as usize + 1),
        Err(Error::CapacityOverflow { .. })
    ));
    still_allocates(s);
}

fn budgets_below_one_slot_are_too_small<B: Backing + Default>() {
    // The base page: 4 KiB on x86-64; 4, 16 or 64 KiB on ARM.
    let page = B::default().granularity();
    for budget in [0usize, 1, 7, 71, 4095, page - 1] {
        let mut s: Slab<u64, B> = Slab::new();
        let err = s.alloc_bytes(budget).unwrap_err();
        assert!(
            matches!(err, Error::BudgetTooSmall { budget: b, minimum, granularity, .. } if b == budget && minimum == page && granularity == page),
            "{budget}: {err:?}"
        );
        still_allocates(s);
    }
    // A 6000-byte slot and its occupancy word fit in 8 KiB: two 4 KiB pages, or one larger page.
    let minimum = 8192usize.next_multiple_of(page);
    let mut s: Slab<[u8; 6000], B> = Slab::new();
    let err = s.alloc_bytes(minimum - 1).unwrap_err();
    assert!(
        matches!(err, Error::BudgetTooSmall { minimum: m, .. } if m == minimum),
        "{err:?}"
    );
    s.alloc_bytes(minimum).unwrap();
    assert_eq!(s.memory_size(), minimum);
    assert!(s.capacity() >= 1 && s.capacity() * 6000 <= minimum);
}

/// The regression test for `alloc_bytes(usize::MAX)` on values over 2 GiB: it used to panic
/// ("a capacity that fits a budget has a layout") because the capacity chosen for the budget
/// needed more than `isize::MAX` bytes, which no `Layout` can describe.
fn alloc_bytes_usize_max_is_refused_for_huge_values<B: Backing + Default>() {
    fn refused<T, B: Backing + Default>() {
        for budget in [
            usize::MAX,
            usize::MAX - 4095,
            isize::MAX as usize + 1,
            1 << 62,
        ] {
            let mut s: Slab<T, B> = Slab::new();
            let r = catch_unwind(AssertUnwindSafe(|| s.alloc_bytes(budget)));
            let err = r
                .unwrap_or_else(|_| {
                    panic!(
                        "alloc_bytes({budget}) panicked for {}",
                        std::any::type_name::<T>()
                    )
                })
                .unwrap_err();
            assert!(
                matches!(err, Error::ExceedsMemory { bytes, physical, .. } if bytes > physical && physical > 0),
                "{}: {err:?}",
                std::any::type_name::<T>()
            );
            assert!(is_pristine(&s));
        }
    }
    refused::<Mib, B>();
    refused::<FourGib, B>();
    refused::<Tib, B>();
    refused::<Exa, B>();
    refused::<Aligned8k, B>();
    // The slab that refused still allocates (with a value type whose one slot is modest).
    let mut s: Slab<Mib, B> = Slab::new();
    assert!(s.alloc_bytes(usize::MAX).is_err());
    still_allocates(s);
}

fn alloc_of_more_than_any_ram_is_refused<B: Backing + Default>() {
    let mut s: Slab<Mib, B> = Slab::new();
    for n in [Key::MAX_INDEX, 1 << 30, 1 << 26] {
        let err = s.alloc(n).unwrap_err();
        assert!(matches!(err, Error::ExceedsMemory { .. }), "{n}: {err:?}");
        assert!(err.to_string().contains("RAM"), "{err}");
    }
    let mut t: Slab<Tib, B> = Slab::new();
    assert!(matches!(t.alloc(1 << 20), Err(Error::ExceedsMemory { .. })));
    let mut a: Slab<Aligned8k, B> = Slab::new();
    assert!(matches!(a.alloc(1 << 30), Err(Error::ExceedsMemory { .. })));
    still_allocates(s);
    still_allocates(a);
}

fn allocation_after_every_kind_of_failure_works<B: Backing + Default>() {
    // 128 KiB values (small enough to build on a test thread's stack): 2^32 − 1 of them are
    // 512 TiB.
    let mut s: Slab<[u64; 1 << 14], B> = Slab::new();
    let errors = [
        s.alloc(0).unwrap_err(),
        s.alloc(usize::MAX).unwrap_err(),
        s.alloc(u32::MAX as usize).unwrap_err(),
        s.alloc_bytes(0).unwrap_err(),
        s.alloc_bytes(usize::MAX).unwrap_err(),
        s.mlock().unwrap_err(),
        s.munlock().unwrap_err(),
        s.try_collapse().unwrap_err(),
    ];
    assert!(matches!(errors[5], Error::NotAllocated { .. }));
    assert!(is_pristine(&s), "{errors:?}");
    s.alloc(2).unwrap();
    assert!(s.capacity() >= 2);
    let k = s.insert([7; 1 << 14]).unwrap();
    let (cap, size) = (s.capacity(), s.memory_size());
    assert!(matches!(
        s.alloc(usize::MAX),
        Err(Error::AlreadyAllocated { .. })
    ));
    assert!(matches!(
        s.alloc_bytes(usize::MAX),
        Err(Error::AlreadyAllocated { .. })
    ));
    assert_eq!((s.capacity(), s.memory_size()), (cap, size));
    assert!(s[k].iter().all(|&b| b == 7));
}

/// Keys at the edges of every integer range that matters.
fn extreme_keys(cap: usize) -> Vec<Key> {
    let mut keys: Vec<Key> = [
        usize::MAX,
        usize::MAX - 1,
        usize::MAX - 63,
        usize::MAX / 64,
        isize::MAX as usize,
        1 << 63,
        u32::MAX as usize + 1,
        u32::MAX as usize,
        u32::MAX as usize - 1,
        cap,
        cap + 1,
        cap + 63,
        cap + 64,
        cap.next_multiple_of(64),
    ]
    .into_iter()
    .map(Key::new_saturating)
    .collect();
    keys.sort();
    keys.dedup();
    keys
}

fn extreme_keys_miss_everywhere<B: Backing + Default>() {
    let log = DropLog::new();
    let mut s: Slab<common::Tracked, B> = Slab::with_capacity(100);
    let cap = s.capacity();
    let live: Vec<Key> = (0..50).map(|i| s.insert(log.item(i)).unwrap()).collect();
    s.remove(live[10]).unwrap(); // key 10 vacant, on the free list
    let vacant_in_range = Key::new_saturating(cap - 1); // beyond the high-water mark
    let mut keys = extreme_keys(cap);
    keys.push(vacant_in_range);
    keys.push(live[10]);
    for &k in &keys {
        assert_eq!(s.get(k).map(|v| v.id), None, "{k:?}");
        assert!(s.get_mut(k).is_none(), "{k:?}");
        assert!(!s.contains(k), "{k:?}");
        assert!(s.remove(k).is_none(), "{k:?}");
        let err = s.get_disjoint_mut([k]).unwrap_err();
        if k.index() >= cap {
            assert!(
                matches!(err, KeyError::OutOfRange { index, capacity, .. } if index == k.index() && capacity == cap),
                "{k:?}: {err:?}"
            );
        } else {
            assert!(
                matches!(err, KeyError::Vacant { index, .. } if index == k.index()),
                "{k:?}: {err:?}"
            );
        }
        assert!(s.get_disjoint_mut([live[0], k]).is_err());
        assert!(s.get_disjoint_mut([k, live[0]]).is_err());
        let r = catch_unwind(AssertUnwindSafe(|| s[k].id));
        assert!(r.is_err(), "index with {k:?} must panic");
        let r = catch_unwind(AssertUnwindSafe(|| s[k].id = 0));
        assert!(r.is_err(), "index_mut with {k:?} must panic");
    }
    // Nothing was lost or changed: same values, same next key, nothing dropped but key 10.
    assert_eq!(s.len(), 49);
    assert_eq!(log.dropped(), [10]);
    for (i, &k) in live.iter().enumerate() {
        if i != 10 {
            assert_eq!(s[k].id, i as u64);
        }
    }
    assert_eq!(s.insert(log.item(99)).unwrap(), live[10]);
    assert_eq!(s.insert(log.item(98)).unwrap(), Key::new_saturating(50));
    drop(s);
    assert_eq!(log.drops(), 52);
    log.assert_no_double_drop();
}

fn extreme_keys_on_an_unallocated_slab<B: Backing + Default>() {
    let mut s: Slab<String, B> = Slab::new();
    let mut keys = extreme_keys(0);
    keys.push(Key::new_saturating(0));
    for &k in &keys {
        assert_eq!(s.get(k), None);
        assert_eq!(s.get_mut(k), None);
        assert!(!s.contains(k));
        assert_eq!(s.remove(k), None);
        assert!(matches!(
            s.get_disjoint_mut([k]),
            Err(KeyError::OutOfRange { capacity: 0, .. })
        ));
        assert!(catch_unwind(AssertUnwindSafe(|| s[k].len())).is_err());
    }
    assert!(is_pristine(&s));
}

fn get_disjoint_mut_rejects_every_bad_request<B: Backing + Default>() {
    let mut s: Slab<u32, B> = Slab::with_capacity(64);
    let cap = s.capacity();
    let keys: Vec<Key> = (0..64).map(|v| s.insert(v).unwrap()).collect();
    s.remove(keys[5]).unwrap();
    let (a, b, c, vac) = (keys[0], keys[1], keys[2], keys[5]);
    let far = Key::new_saturating(usize::MAX);
    let beyond = Key::new_saturating(cap);

    // Duplicates, wherever they are, with the index of the repeated key.
    for req in [[a, a, b], [a, b, a], [b, a, a], [c, c, c]] {
        let dup = if req[0] == req[1] || req[0] == req[2] {
            req[0]
        } else {
            req[1]
        };
        assert!(
            matches!(s.get_disjoint_mut(req), Err(KeyError::Duplicate { index, .. }) if index == dup.index()),
            "{req:?}"
        );
    }
    // The first problem in key order wins: a bad key before a duplicate is reported as such.
    assert!(matches!(
        s.get_disjoint_mut([vac, a, a]),
        Err(KeyError::Vacant { index: 5, .. })
    ));
    assert!(matches!(
        s.get_disjoint_mut([a, a, far]),
        Err(KeyError::Duplicate { index: 0, .. })
    ));
    assert!(matches!(
        s.get_disjoint_mut([a, far, vac]),
        Err(KeyError::OutOfRange {
            index: Key::MAX_INDEX,
            ..
        })
    ));
    assert!(matches!(
        s.get_disjoint_mut([beyond, beyond]),
        Err(KeyError::OutOfRange { .. })
    ));
    assert!(matches!(
        s.get_disjoint_mut([vac, vac]),
        Err(KeyError::Vacant { index: 5, .. })
    ));
    // Nothing changed by the failures.
    assert_eq!(s.len(), 63);
    assert!(s.iter().all(|(k, v)| *v as usize == k.index()));

    // Empty and very wide requests work.
    assert_eq!(s.get_disjoint_mut::<0>([]).unwrap().len(), 0);
    let mut wide = [Key::new_saturating(0); 63];
    for (slot, k) in wide.iter_mut().zip(keys.iter().filter(|&&k| k != vac)) {
        *slot = *k;
    }
    for r in s.get_disjoint_mut(wide).unwrap() {
        *r += 1000;
    }
    assert!(s.iter().all(|(k, v)| *v as usize == k.index() + 1000));
    wide.reverse();
    wide[62] = wide[0];
    assert!(matches!(
        s.get_disjoint_mut(wide),
        Err(KeyError::Duplicate { .. })
    ));
}

fn full_slab_loses_nothing<B: Backing + Default>() {
    let log = DropLog::new();
    let mut s: Slab<common::Tracked, B> = Slab::with_capacity(1);
    let cap = s.capacity() as u64;
    for i in 0..cap {
        s.insert(log.item(i)).unwrap();
    }
    for i in 0..10 {
        let back = s.insert(log.item(1000 + i)).unwrap_err().into_inner();
        assert_eq!(back.id, 1000 + i);
        assert!(matches!(s.vacant_entry(), Err(full) if full.capacity() as u64 == cap));
    }
    assert_eq!(
        log.drops(),
        10,
        "each refused value came back and was dropped by us"
    );
    assert_eq!(s.len() as u64, cap);
    drop(s);
    assert_eq!(log.drops() as u64, 10 + cap);
    log.assert_no_double_drop();
}

/// An allocator that counts the calls it gets (and the bytes asked for).
#[derive(Default)]
struct Counting {
    calls: Cell<usize>,
    largest: Cell<usize>,
}

// SAFETY: forwards to `Global`; counting does not change what is returned.
unsafe impl Allocator for Counting {
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        self.calls.set(self.calls.get() + 1);
        self.largest.set(self.largest.get().max(layout.size()));
        Global.allocate(layout)
    }
    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: same contract, same allocator underneath.
        unsafe { Global.deallocate(ptr, layout) }
    }
}

#[test]
#[cfg_attr(miri, ignore = "needs the machine's RAM size, which Miri's stub lacks")]
fn absurd_requests_never_reach_the_allocator() {
    let counting = Counting::default();
    {
        let mut s: Slab<Mib, Heap<&Counting>> = Slab::new_in(Heap::new_in(&counting));
        assert!(s.alloc(usize::MAX).is_err());
        assert!(s.alloc(u32::MAX as usize).is_err());
        assert!(s.alloc_bytes(usize::MAX).is_err());
        assert!(s.alloc_bytes(1).is_err());
        let mut t: Slab<Tib, Heap<&Counting>> = Slab::new_in(Heap::new_in(&counting));
        assert!(t.alloc(1 << 20).is_err());
        assert!(t.alloc_bytes(usize::MAX).is_err());
        let mut e: Slab<Exa, Heap<&Counting>> = Slab::new_in(Heap::new_in(&counting));
        assert!(e.alloc(1).is_err());
        assert!(e.alloc_bytes(usize::MAX).is_err());
        assert_eq!(
            counting.calls.get(),
            0,
            "no absurd allocation was attempted (largest request {} bytes; the RAM size this \
             process reads: {:?}; {:?})",
            counting.largest.get(),
            nexus_slab::system::SystemInfo::probe().physical_memory,
            e.alloc(1)
        );
        s.alloc(3).unwrap();
    }
    assert_eq!(counting.calls.get(), 1);
    assert!(counting.largest.get() <= 4 << 20);
}

/// A backing that forwards to another and records what the slab asked of it.
struct Spy<B> {
    inner: B,
    asked: RefCell<Vec<Layout>>,
}

// SAFETY: every region comes from `inner` unchanged; the memory controls are the trait's
// defaults over that region.
unsafe impl<B: Backing> Backing for Spy<B> {
    fn granularity(&self) -> usize {
        self.inner.granularity()
    }
    fn allocate(&mut self, layout: Layout) -> Result<Region, Error> {
        self.asked.borrow_mut().push(layout);
        self.inner.allocate(layout)
    }
    unsafe fn release(&mut self, region: Region, layout: Layout) {
        // SAFETY: forwarded unchanged from the slab, which keeps the contract.
        unsafe { self.inner.release(region, layout) }
    }
}

#[test]
fn alloc_bytes_never_asks_for_more_than_the_budget() {
    fn check<T, B: Backing + Default>() {
        let budgets: &[usize] = if cfg!(miri) {
            &[4096, 4097, 8191, 8192, 65_536 + 7]
        } else {
            &[
                4096,
                4097,
                8191,
                8192,
                65_536 + 7,
                1 << 20,
                (3 << 20) + 4095,
            ]
        };
        for &budget in budgets {
            let mut s: Slab<T, Spy<B>> = Slab::new_in(Spy {
                inner: B::default(),
                asked: RefCell::new(Vec::new()),
            });
            match s.alloc_bytes(budget) {
                Ok(()) => {
                    assert!(s.memory_size() <= budget, "{budget}");
                    let asked = s.backing().asked.borrow();
                    assert_eq!(asked.len(), 1);
                    assert!(asked[0].size() <= budget);
                }
                Err(Error::BudgetTooSmall { minimum, .. }) => {
                    assert!(minimum > budget);
                    assert!(s.backing().asked.borrow().is_empty());
                }
                Err(e) => panic!("{budget}: {e}"),
            }
        }
    }
    check::<u8, Mmap>();
    check::<u64, Heap>();
    check::<[u8; 6000], Mmap>();
    check::<[u8; 6000], Heap>();
    check::<Aligned8kSmall, Mmap>();
    check::<Aligned8kSmall, Heap>();
}

#[repr(C, align(8192))]
struct Aligned8kSmall([u8; 16]);

#[test]
fn a_backing_refuses_a_second_region_and_zero_sized_layouts_are_harmless() {
    let layout = Layout::from_size_align(4096, 8).unwrap();
    let mut m = Mmap::new();
    let r = m.allocate(layout).unwrap();
    assert!(matches!(m.allocate(layout), Err(Error::Unsupported { .. })));
    // SAFETY: `r` came from `m` and is released once.
    unsafe { m.release(r, layout) };
    // After release the backing can hand out a region again.
    let r = m.allocate(layout).unwrap();
    // SAFETY: as above.
    unsafe { m.release(r, layout) };

    // Zero-sized layouts (not something a slab asks for) do not crash either backing.
    let zero = Layout::from_size_align(0, 1).unwrap();
    let mut h = Heap::new();
    if let Ok(r) = h.allocate(zero) {
        // SAFETY: from `h`, released once.
        unsafe { h.release(r, zero) };
    }
    let mut m = Mmap::new();
    if let Ok(r) = m.allocate(zero) {
        // SAFETY: from `m`, released once.
        unsafe { m.release(r, zero) };
    }
}
