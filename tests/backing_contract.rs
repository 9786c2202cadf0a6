//! The `Backing` contract, driven from the outside: every kind of region a custom backing can
//! return (exactly the layout, longer, much longer, short, misaligned, at odd or wrapping
//! addresses), every granularity (0, 1, odd, huge), `allocate` failing or panicking, and every
//! method a user can override (lock, unlock, collapse, huge_page_bytes, locked_bytes, release)
//! returning an error or panicking. The slab must stay consistent, give a typed error for a
//! broken region, and hand every region it got back to `release` exactly once, with a layout
//! that keeps the documented contract.
//!
//! The spy backing works over the global allocator and never calls the OS, so all of this runs
//! under Miri too.

mod common;

use std::alloc::Layout;
use std::cell::RefCell;
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::NonNull;
use std::rc::Rc;

use common::DropLog;
use nexus_slab::{
    backing::{Backing, Locked, Region},
    Error, Slab,
};

/// What the spy's `allocate` hands out.
#[derive(Clone, Copy, Debug)]
enum Give {
    /// `layout.size()` rounded up to the granularity: what the trait advises.
    Exact,
    /// That, and this many bytes more.
    Longer(usize),
    /// `layout.size()` less this many bytes.
    Short(usize),
    /// The right length, this many bytes past an aligned address.
    Misaligned(usize),
    /// A made-up region (never dereferenced): this address, this length.
    At(usize, usize),
    /// An error.
    Fail,
    /// A panic.
    Panic,
}

/// What an overridden method does.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Act {
    Ok,
    Fail,
    Panic,
    /// Panics the first time, then succeeds.
    PanicOnce,
}

impl Act {
    fn run(&mut self, what: &'static str) -> Result<(), Error> {
        match *self {
            Act::Ok => Ok(()),
            Act::Fail => Err(Error::other(format!("the spy's {what} says no"))),
            Act::Panic => panic!("the spy's {what} panics"),
            Act::PanicOnce => {
                *self = Act::Ok;
                panic!("the spy's {what} panics once")
            }
        }
    }
}

/// A region the spy handed out and has not had back.
struct Live {
    asked: Layout,
    /// The heap block under it (none for a made-up region).
    block: Option<(NonNull<u8>, Layout)>,
    page: usize,
}

struct State {
    gran: usize,
    give: Give,
    granularity: Act,
    lock: Act,
    unlock: Act,
    collapse: Act,
    huge: Act,
    locked: Act,
    release: Act,
    /// Calls, in order: "allocate", "release", "lock" ...
    calls: Vec<&'static str>,
    /// Regions out, by (address, length).
    live: HashMap<(usize, usize), Live>,
    /// Regions given back: (address, length, layout release was told).
    released: Vec<(usize, usize, Layout)>,
    /// Regions the memory controls were asked about: (address, length).
    controlled: Vec<(usize, usize)>,
    /// Broken promises of the slab, found by `release`.
    violations: Vec<String>,
}

/// A backing that does what its [`State`] says and records what the slab asks of it.
#[derive(Clone)]
struct Spy(Rc<RefCell<State>>);

impl Spy {
    fn new(gran: usize, give: Give) -> Self {
        Spy(Rc::new(RefCell::new(State {
            gran,
            give,
            granularity: Act::Ok,
            lock: Act::Ok,
            unlock: Act::Ok,
            collapse: Act::Ok,
            huge: Act::Ok,
            locked: Act::Ok,
            release: Act::Ok,
            calls: Vec::new(),
            live: HashMap::new(),
            released: Vec::new(),
            controlled: Vec::new(),
            violations: Vec::new(),
        })))
    }

    fn state(&self) -> std::cell::RefMut<'_, State> {
        self.0.borrow_mut()
    }

    fn count(&self, call: &str) -> usize {
        self.0.borrow().calls.iter().filter(|c| **c == call).count()
    }

    /// Every region handed out went back exactly once, and `release` found nothing wrong.
    fn assert_all_released(&self) {
        let s = self.0.borrow();
        assert!(s.violations.is_empty(), "{:?}", s.violations);
        assert!(
            s.live.is_empty(),
            "{} region(s) never released",
            s.live.len()
        );
        assert_eq!(
            s.calls.iter().filter(|c| **c == "allocate ok").count(),
            s.released.len(),
            "one release per region handed out: {:?}",
            s.calls
        );
    }

    /// Runs a memory control's configured act and records the region it was asked about.
    fn control(&self, what: &'static str, region: &Region) -> Result<(), Error> {
        let mut s = self.state();
        s.calls.push(what);
        s.controlled.push((region.as_ptr() as usize, region.len()));
        let mut act = match what {
            "lock" => s.lock,
            "unlock" => s.unlock,
            "collapse" => s.collapse,
            "huge_page_bytes" => s.huge,
            _ => s.locked,
        };
        // Never panic with the state borrowed: the slab must survive the panic, not the spy.
        let before = act;
        let result = if matches!(act, Act::Panic | Act::PanicOnce) {
            if act == Act::PanicOnce {
                act = Act::Ok;
            }
            Err(None)
        } else {
            act.run(what).map_err(Some)
        };
        if act != before {
            match what {
                "lock" => s.lock = act,
                "unlock" => s.unlock = act,
                "collapse" => s.collapse = act,
                "huge_page_bytes" => s.huge = act,
                _ => s.locked = act,
            }
        }
        drop(s);
        match result {
            Ok(()) => Ok(()),
            Err(Some(e)) => Err(e),
            Err(None) => panic!("the spy's {what} panics"),
        }
    }
}

/// A pointer with no provenance: an address to describe, never to dereference.
fn made_up(addr: usize) -> NonNull<u8> {
    // Offsetting null keeps it without provenance (`ptr::without_provenance_mut` needs 1.84).
    NonNull::new(std::ptr::null_mut::<u8>().wrapping_add(addr)).expect("non-zero address")
}

// SAFETY: an `Exact`, `Longer` region is a fresh heap block for the layout's alignment, at
// least as long as reported, used by nothing else until `release` frees it. The other kinds
// break the contract on purpose — short, misaligned, made up — and are what the slab must refuse
// before it writes a byte (`Short` and `Misaligned` still lie inside a real block, so a slab
// that wrote anyway would be caught by Miri rather than corrupt the heap silently).
unsafe impl Backing for Spy {
    fn granularity(&self) -> usize {
        let mut act = self.state().granularity;
        if act.run("granularity").is_err() {
            unreachable!()
        }
        self.state().gran
    }

    fn allocate(&mut self, layout: Layout) -> Result<Region, Error> {
        let (give, gran) = {
            let mut s = self.state();
            s.calls.push("allocate");
            (s.give, s.gran.max(1))
        };
        let exact = layout.size().checked_next_multiple_of(gran);
        let (len, offset) = match give {
            Give::Fail => return Err(Error::other("the spy's allocate was told to fail")),
            Give::Panic => panic!("the spy's allocate panics"),
            Give::At(addr, len) => {
                let mut s = self.state();
                s.calls.push("allocate ok");
                s.live.insert(
                    (addr, len),
                    Live {
                        asked: layout,
                        block: None,
                        page: 4096,
                    },
                );
                return Ok(Region::new(made_up(addr), len, 4096));
            }
            Give::Exact => (exact, 0),
            Give::Longer(extra) => (exact.and_then(|l| l.checked_add(extra)), 0),
            Give::Short(less) => (Some(layout.size().saturating_sub(less).max(1)), 0),
            Give::Misaligned(by) => (exact, by),
        };
        let too_big = || Error::other("more than the spy's allocate can allocate");
        let len = len.ok_or_else(too_big)?;
        let block = Layout::from_size_align(len + offset, layout.align().max(64))
            .ok()
            .filter(|b| b.size() <= 64 << 20)
            .ok_or_else(too_big)?;
        // SAFETY: `block` has a non-zero size.
        let base = NonNull::new(unsafe { std::alloc::alloc(block) }).ok_or_else(too_big)?;
        // SAFETY: `offset + len` is the block's size: the region lies inside it.
        let ptr = unsafe { base.add(offset) };
        let mut s = self.state();
        s.calls.push("allocate ok");
        s.live.insert(
            (ptr.as_ptr() as usize, len),
            Live {
                asked: layout,
                block: Some((base, block)),
                page: 4096,
            },
        );
        Ok(Region::new(ptr, len, 4096))
    }

    unsafe fn release(&mut self, region: Region, layout: Layout) {
        let key = (region.as_ptr() as usize, region.len());
        let mut s = self.state();
        s.calls.push("release");
        s.released.push((key.0, key.1, layout));
        let act = s.release;
        match s.live.remove(&key) {
            None => s
                .violations
                .push(format!("release of {region:?}, which is not out")),
            Some(live) => {
                let asked = live.asked;
                let refused = layout == asked;
                let within = layout.align() == asked.align()
                    && asked.size() <= layout.size()
                    && layout.size() <= region.len();
                if !(refused || within) {
                    s.violations.push(format!(
                        "release of {region:?} with {layout:?}; allocate was asked {asked:?}"
                    ));
                }
                if region.page_size() != live.page {
                    s.violations
                        .push(format!("release of {region:?} with another page size"));
                }
                if let Some((base, block)) = live.block {
                    // SAFETY: the block allocated for this region, freed once (removed above).
                    unsafe { std::alloc::dealloc(base.as_ptr(), block) };
                }
            }
        }
        drop(s);
        if matches!(act, Act::Panic | Act::PanicOnce) {
            panic!("the spy's release panics (after freeing)");
        }
    }

    fn lock(&mut self, region: &Region) -> Result<(), Error> {
        self.control("lock", region)
    }

    fn unlock(&mut self, region: &Region) -> Result<(), Error> {
        self.control("unlock", region)
    }

    fn collapse(&mut self, region: &Region) -> Result<(), Error> {
        self.control("collapse", region)
    }

    fn huge_page_bytes(&self, region: &Region) -> Result<usize, Error> {
        self.control("huge_page_bytes", region).map(|()| 0)
    }

    fn locked_bytes(&self, region: &Region) -> Result<usize, Error> {
        self.control("locked_bytes", region).map(|()| region.len())
    }
}

fn slab_on(spy: &Spy) -> Slab<u64, Spy> {
    Slab::new_in(spy.clone())
}

fn is_pristine<T, B: Backing>(s: &Slab<T, B>) -> bool {
    s.capacity() == 0 && s.memory_size() == 0 && s.is_empty()
}

/// Fills a slab, checks the values, and drops it.
fn use_and_drop(mut slab: Slab<u64, Spy>) {
    let cap = slab.capacity();
    assert!(cap >= 1);
    let n = cap.min(200);
    let keys: Vec<_> = (0..n as u64).map(|v| slab.insert(v).unwrap()).collect();
    for (v, k) in keys.iter().enumerate() {
        assert_eq!(slab[*k], v as u64);
    }
    drop(slab);
}

fn is_broken_backing(e: &Error, want: &str) -> bool {
    matches!(e, Error::BrokenBacking { .. }) && e.to_string().contains(want)
}

#[test]
fn an_exact_region_is_used_whole_and_released_once_with_its_layout() {
    let spy = Spy::new(4096, Give::Exact);
    let mut slab = slab_on(&spy);
    slab.alloc(100).unwrap();
    assert_eq!(slab.memory_size(), 4096);
    assert!(slab.capacity() >= 500, "slots fill the page");
    use_and_drop(slab);
    spy.assert_all_released();
    let s = spy.0.borrow();
    assert_eq!(s.released.len(), 1);
    let (_, len, layout) = s.released[0];
    assert_eq!((len, layout.size()), (4096, 4096));
}

#[test]
fn a_longer_region_is_filled_by_alloc_and_released_whole() {
    for extra in [8, 4096, 3 * 4096, 1 << 20] {
        let spy = Spy::new(4096, Give::Longer(extra));
        let mut slab = slab_on(&spy);
        slab.alloc(100).unwrap();
        assert_eq!(
            slab.memory_size(),
            4096 + extra,
            "alloc(n) uses all it gets"
        );
        assert!(slab.capacity() >= (4096 + extra) / 9);
        use_and_drop(slab);
        spy.assert_all_released();
        assert_eq!(spy.0.borrow().released[0].1, 4096 + extra);
    }
}

/// Regression (issue 9): with a backing that returns a longer region — as the trait's own
/// example did — `alloc_bytes(4096)` gave `memory_size() == 8192`.
#[test]
fn alloc_bytes_keeps_its_budget_whatever_region_the_backing_returns() {
    let budgets = [4096usize, 5000, 8191, 8192, 65_536 + 7];
    for extra in [4096usize, 1 << 20] {
        for &budget in &budgets {
            let spy = Spy::new(4096, Give::Longer(extra));
            let mut slab = slab_on(&spy);
            slab.alloc_bytes(budget).unwrap();
            let used = slab.memory_size();
            assert!(
                used <= budget,
                "budget {budget}, region +{extra}: memory_size {used}"
            );
            assert_eq!(used, budget - budget % 4096, "it uses its whole budget");
            let cap = slab.capacity();
            let mut plain = slab_on(&Spy::new(4096, Give::Exact));
            plain.alloc_bytes(budget).unwrap();
            assert_eq!(cap, plain.capacity(), "the capacity the budget buys");
            // The memory controls act on the part the slab uses.
            slab.mlock().unwrap();
            let region_len = spy.0.borrow().live.keys().next().unwrap().1;
            assert_eq!(region_len, used + extra);
            assert_eq!(spy.0.borrow().controlled.last().unwrap().1, used);
            use_and_drop(slab);
            spy.assert_all_released();
            let s = spy.0.borrow();
            let (_, len, layout) = s.released[0];
            assert_eq!(len, region_len, "the whole region goes back");
            assert!(layout.size() <= len);
        }
    }
}

#[test]
fn a_short_region_is_refused_with_a_typed_error_and_released() {
    for less in [1usize, 8, 4000] {
        let spy = Spy::new(4096, Give::Short(less));
        let mut slab = slab_on(&spy);
        let r = catch_unwind(AssertUnwindSafe(|| slab.alloc(100)));
        let err = r
            .expect("a broken region is an error, not a panic")
            .unwrap_err();
        assert!(is_broken_backing(&err, "shorter"), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains("contract") && msg.contains("release"), "{msg}");
        assert!(is_pristine(&slab));
        assert_eq!(spy.count("release"), 1, "the refused region went back");
        spy.state().give = Give::Exact;
        slab.alloc(100).unwrap();
        use_and_drop(slab);
        spy.assert_all_released();
        // The refused region went back with exactly the layout it was asked for.
        let s = spy.0.borrow();
        assert_eq!(
            s.released[0].2.size(),
            848,
            "100 slots of 8 bytes, to a line, and 2 words"
        );
    }
}

#[test]
fn a_misaligned_region_is_refused_with_a_typed_error_and_released() {
    for by in [1usize, 4, 8, 32] {
        let spy = Spy::new(4096, Give::Misaligned(by));
        // Values aligned to 64: a region 8 or 32 bytes off is still misaligned.
        #[repr(align(64))]
        struct Wide(#[allow(dead_code)] u8);
        let mut slab: Slab<Wide, Spy> = Slab::new_in(spy.clone());
        let r = catch_unwind(AssertUnwindSafe(|| slab.alloc(10)));
        let err = r.expect("an error, not a panic").unwrap_err();
        assert!(is_broken_backing(&err, "aligned"), "{by}: {err:?}");
        assert!(is_pristine(&slab));
        assert_eq!(spy.count("release"), 1);
        spy.state().give = Give::Exact;
        slab.alloc(10).unwrap();
        slab.insert(Wide(1)).ok().unwrap();
        drop(slab);
        spy.assert_all_released();
    }
}

#[test]
fn made_up_regions_at_odd_or_wrapping_addresses_are_refused_and_released() {
    let cases = [
        // next to null, and odd
        (1usize, 8192usize, "aligned"),
        (7, 4096, "aligned"),
        // aligned, but running past the end of the address space
        (usize::MAX - 4095, 8192, "address space"),
        (usize::MAX & !63, 4096, "address space"),
        // longer than any allocation may be
        (4096, isize::MAX as usize + 1, "isize::MAX"),
    ];
    for (addr, len, problem) in cases {
        let spy = Spy::new(4096, Give::At(addr, len));
        let mut slab = slab_on(&spy);
        let r = catch_unwind(AssertUnwindSafe(|| slab.alloc(100)));
        let err = r.expect("an error, not a panic").unwrap_err();
        assert!(is_broken_backing(&err, problem), "{addr:#x}+{len}: {err:?}");
        assert!(err.to_string().contains(&format!("{addr:#x}")), "{err}");
        assert!(is_pristine(&slab));
        assert_eq!(spy.count("release"), 1);
        spy.state().give = Give::Exact;
        use_and_drop({
            slab.alloc(1).unwrap();
            slab
        });
        spy.assert_all_released();
    }
}

#[test]
fn an_allocate_error_is_passed_on_and_changes_nothing() {
    let spy = Spy::new(4096, Give::Fail);
    let mut slab = slab_on(&spy);
    for _ in 0..3 {
        let err = slab.alloc(10).unwrap_err();
        // A custom backing's error comes through as it was made, with its message.
        assert!(matches!(err, Error::Other { .. }) && err.to_string().contains("spy"));
        let err = slab.alloc_bytes(1 << 16).unwrap_err();
        assert!(matches!(err, Error::Other { .. }));
        assert!(is_pristine(&slab));
        assert!(matches!(slab.mlock(), Err(Error::NotAllocated { .. })));
    }
    assert_eq!(spy.count("release"), 0);
    spy.state().give = Give::Exact;
    slab.alloc(10).unwrap();
    use_and_drop(slab);
    spy.assert_all_released();
}

#[test]
fn an_allocate_panic_leaves_the_slab_unallocated() {
    let spy = Spy::new(4096, Give::Panic);
    let mut slab = slab_on(&spy);
    assert!(catch_unwind(AssertUnwindSafe(|| slab.alloc(10))).is_err());
    assert!(catch_unwind(AssertUnwindSafe(|| slab.alloc_bytes(8192))).is_err());
    assert!(is_pristine(&slab));
    assert_eq!(spy.count("release"), 0);
    spy.state().give = Give::Exact;
    slab.alloc(10).unwrap();
    use_and_drop(slab);
    spy.assert_all_released();
}

#[test]
fn a_granularity_panic_leaves_the_slab_unallocated() {
    let spy = Spy::new(4096, Give::Exact);
    spy.state().granularity = Act::Panic;
    let mut slab = slab_on(&spy);
    assert!(catch_unwind(AssertUnwindSafe(|| slab.alloc_bytes(8192))).is_err());
    assert!(is_pristine(&slab));
    assert_eq!(spy.count("allocate"), 0);
    spy.state().granularity = Act::Ok;
    slab.alloc_bytes(8192).unwrap();
    use_and_drop(slab);
    spy.assert_all_released();
}

#[test]
fn every_granularity_keeps_the_budget_or_says_it_is_too_small() {
    let grans = [0usize, 1, 3, 3000, 4096, 5000, 1 << 21, 1 << 40, usize::MAX];
    let budgets = [0usize, 1, 71, 72, 100, 4096, 5000, 65_536, 1 << 22];
    for gran in grans {
        for budget in budgets {
            let spy = Spy::new(gran, Give::Exact);
            let mut slab = slab_on(&spy);
            match slab.alloc_bytes(budget) {
                Ok(()) => {
                    let g = gran.max(1);
                    assert!(slab.memory_size() <= budget, "gran {gran}, budget {budget}");
                    assert_eq!(slab.memory_size() % g, 0, "whole granules");
                    assert!(slab.capacity() >= 1);
                    use_and_drop(slab);
                }
                Err(Error::BudgetTooSmall {
                    budget: b,
                    minimum,
                    granularity,
                    ..
                }) => {
                    assert_eq!(b, budget);
                    assert!(minimum > budget, "gran {gran}: {minimum} <= {budget}");
                    assert_eq!(granularity, gran.max(1));
                    assert_eq!(spy.count("allocate"), 0, "refused before asking");
                }
                Err(e) => panic!("gran {gran}, budget {budget}: {e:?}"),
            }
            spy.assert_all_released();
        }
        // alloc(n) asks for the layout, whatever the granularity; a backing that cannot give
        // that much says so.
        let spy = Spy::new(gran, Give::Exact);
        let mut slab = slab_on(&spy);
        match slab.alloc(10) {
            Ok(()) => use_and_drop(slab),
            Err(e) => {
                assert!(matches!(e, Error::Other { .. }), "{e:?}");
                assert!(is_pristine(&slab));
            }
        }
        spy.assert_all_released();
    }
}

/// An allocated slab holding values 0..n, on a spy.
fn filled(spy: &Spy, n: u64) -> Slab<u64, Spy> {
    let mut slab = slab_on(spy);
    slab.alloc(100).unwrap();
    for v in 0..n {
        slab.insert(v).unwrap();
    }
    slab
}

fn intact(slab: &Slab<u64, Spy>, n: u64) {
    assert_eq!(slab.len() as u64, n);
    assert!(slab.iter().all(|(k, v)| k.index() as u64 == *v));
}

#[test]
fn memory_control_errors_leave_the_slab_as_it_was() {
    let spy = Spy::new(4096, Give::Exact);
    {
        let mut s = spy.state();
        s.lock = Act::Fail;
        s.unlock = Act::Fail;
        s.collapse = Act::Fail;
        s.huge = Act::Fail;
        s.locked = Act::Fail;
    }
    let mut slab = filled(&spy, 50);
    assert!(matches!(slab.mlock(), Err(Error::Other { .. })));
    assert!(matches!(slab.munlock(), Err(Error::Other { .. })));
    assert!(matches!(slab.try_collapse(), Err(Error::Other { .. })));
    assert!(matches!(slab.huge_page_bytes(), Err(Error::Other { .. })));
    assert!(matches!(slab.locked_bytes(), Err(Error::Other { .. })));
    intact(&slab, 50);
    slab.insert(50).unwrap();
    let unlocks = spy.count("unlock");
    drop(slab);
    assert_eq!(
        spy.count("unlock"),
        unlocks,
        "never locked: nothing to unlock"
    );
    spy.assert_all_released();
}

#[test]
fn memory_control_panics_leave_the_slab_consistent() {
    let spy = Spy::new(4096, Give::Exact);
    {
        let mut s = spy.state();
        s.lock = Act::Panic;
        s.collapse = Act::Panic;
        s.huge = Act::Panic;
        s.locked = Act::Panic;
    }
    let mut slab = filled(&spy, 50);
    assert!(catch_unwind(AssertUnwindSafe(|| slab.mlock())).is_err());
    assert!(catch_unwind(AssertUnwindSafe(|| slab.try_collapse())).is_err());
    assert!(catch_unwind(AssertUnwindSafe(|| slab.huge_page_bytes())).is_err());
    assert!(catch_unwind(AssertUnwindSafe(|| slab.locked_bytes())).is_err());
    intact(&slab, 50);
    assert_eq!(slab.remove(nexus_slab::Key::new_saturating(3)), Some(3));
    slab.insert(3).unwrap();
    let unlocks = spy.count("unlock");
    drop(slab);
    assert_eq!(
        spy.count("unlock"),
        unlocks,
        "the lock never took: nothing to unlock"
    );
    spy.assert_all_released();
}

#[test]
fn a_slab_unlocks_at_drop_exactly_what_it_locked() {
    // Locked and dropped: one unlock, of the region it locked, before the release.
    let spy = Spy::new(4096, Give::Exact);
    let mut slab = filled(&spy, 5);
    slab.mlock().unwrap();
    let locked_region = *spy.0.borrow().controlled.last().unwrap();
    drop(slab);
    {
        let s = spy.0.borrow();
        let tail: Vec<_> = s.calls.iter().rev().take(2).rev().copied().collect();
        assert_eq!(tail, ["unlock", "release"]);
        assert_eq!(*s.controlled.last().unwrap(), locked_region);
    }
    spy.assert_all_released();

    // Locked, unlocked, dropped: no unlock at drop.
    let spy = Spy::new(4096, Give::Exact);
    let mut slab = filled(&spy, 5);
    slab.mlock().unwrap();
    slab.munlock().unwrap();
    drop(slab);
    assert_eq!(spy.count("unlock"), 1);
    spy.assert_all_released();

    // Never locked: no unlock at all.
    let spy = Spy::new(4096, Give::Exact);
    drop(filled(&spy, 5));
    assert_eq!(spy.count("unlock"), 0);
    spy.assert_all_released();
}

#[test]
fn a_panicking_unlock_still_releases_once() {
    // munlock panics: the slab still counts itself locked, and unlocks again at drop.
    let spy = Spy::new(4096, Give::Exact);
    let mut slab = filled(&spy, 5);
    slab.mlock().unwrap();
    spy.state().unlock = Act::PanicOnce;
    assert!(catch_unwind(AssertUnwindSafe(|| slab.munlock())).is_err());
    intact(&slab, 5);
    drop(slab);
    assert_eq!(spy.count("unlock"), 2);
    spy.assert_all_released();

    // unlock panics during drop: the region is released all the same, once.
    let spy = Spy::new(4096, Give::Exact);
    let log = DropLog::new();
    let mut slab: Slab<common::Tracked, Spy> = Slab::new_in(spy.clone());
    slab.alloc(10).unwrap();
    for i in 0..5 {
        slab.insert(log.item(i)).unwrap();
    }
    slab.mlock().unwrap();
    spy.state().unlock = Act::Panic;
    assert!(catch_unwind(AssertUnwindSafe(|| drop(slab))).is_err());
    assert_eq!(log.drops(), 5, "the values were dropped first");
    log.assert_no_double_drop();
    spy.assert_all_released();
}

#[test]
fn a_panicking_release_is_not_retried() {
    let spy = Spy::new(4096, Give::Exact);
    let slab = filled(&spy, 5);
    spy.state().release = Act::Panic;
    assert!(catch_unwind(AssertUnwindSafe(|| drop(slab))).is_err());
    assert_eq!(spy.count("release"), 1);
    spy.assert_all_released();
}

#[test]
fn a_panicking_value_drop_still_releases_once() {
    let spy = Spy::new(4096, Give::Exact);
    let log = DropLog::new();
    let mut slab: Slab<common::Tracked, Spy> = Slab::new_in(spy.clone());
    slab.alloc(10).unwrap();
    for i in 0..6 {
        slab.insert(log.item(i)).unwrap();
    }
    slab.mlock().unwrap();
    log.panic_on_drop(2);
    assert!(catch_unwind(AssertUnwindSafe(|| drop(slab))).is_err());
    assert_eq!(log.drops(), 6);
    log.assert_no_double_drop();
    assert_eq!(spy.count("unlock"), 1);
    spy.assert_all_released();
}

#[test]
fn into_iter_and_drain_release_once() {
    let spy = Spy::new(4096, Give::Exact);
    let mut it = filled(&spy, 20).into_iter();
    assert_eq!(it.next().map(|(_, v)| v), Some(0));
    drop(it);
    spy.assert_all_released();

    let spy = Spy::new(4096, Give::Exact);
    let mut slab = filled(&spy, 20);
    assert_eq!(slab.drain().take(3).count(), 3);
    assert!(slab.is_empty());
    slab.insert(1).unwrap();
    drop(slab);
    spy.assert_all_released();
}

/// Regression (issue 9): `Locked<B>` leaked the region when the inner backing's `lock`
/// panicked during `alloc`.
#[test]
fn locked_releases_the_region_when_the_inner_lock_panics() {
    let spy = Spy::new(4096, Give::Exact);
    spy.state().lock = Act::PanicOnce;
    let mut slab: Slab<u64, Locked<Spy>> = Slab::new_in(Locked::new(spy.clone()));
    assert!(catch_unwind(AssertUnwindSafe(|| slab.alloc(10))).is_err());
    assert!(is_pristine(&slab));
    assert_eq!(spy.count("release"), 1, "the region went back");
    spy.assert_all_released();
    // The error path: the region goes back too, and the error comes through.
    spy.state().lock = Act::Fail;
    assert!(matches!(slab.alloc(10), Err(Error::Other { .. })));
    assert_eq!(spy.count("release"), 2);
    spy.assert_all_released();
    spy.state().lock = Act::Ok;
    slab.alloc(10).unwrap();
    slab.insert(1).unwrap();
    spy.state().unlock = Act::Panic;
    assert!(catch_unwind(AssertUnwindSafe(|| drop(slab))).is_err());
    assert_eq!(spy.count("release"), 3, "released although unlock panicked");
    spy.assert_all_released();
}

/// What a hostile `CloneBacking::clone_backing` hands back.
#[derive(Clone, Copy, Debug)]
enum CloneAct {
    /// A backing like the original (its own spy, exact regions).
    Same,
    /// A backing whose regions are much longer than asked.
    Longer,
    /// A backing whose allocation fails.
    Failing,
    /// A backing that breaks the contract: a region too short.
    Short,
    /// No backing: `clone_backing` panics.
    Panic,
}

/// A spy whose clone is what `act` says; every clone's spy is kept, to check its releases.
struct Twin {
    spy: Spy,
    act: CloneAct,
    clones: Rc<RefCell<Vec<Spy>>>,
}

// SAFETY: every method forwards to the spy, which keeps the contract for the regions it
// gives (`Exact`, `Longer`) and breaks it visibly (`Short`) only where the test expects the
// slab to refuse the region.
unsafe impl Backing for Twin {
    fn granularity(&self) -> usize {
        self.spy.granularity()
    }
    fn allocate(&mut self, layout: Layout) -> Result<Region, Error> {
        self.spy.allocate(layout)
    }
    unsafe fn release(&mut self, region: Region, layout: Layout) {
        // SAFETY: forwarded with the caller's promise.
        unsafe { self.spy.release(region, layout) }
    }
}

impl nexus_slab::backing::CloneBacking for Twin {
    fn clone_backing(&self) -> Self {
        let give = match self.act {
            CloneAct::Same => Give::Exact,
            CloneAct::Longer => Give::Longer(3 * 4096 + 8),
            CloneAct::Failing => Give::Fail,
            CloneAct::Short => Give::Short(64),
            CloneAct::Panic => panic!("the twin's clone_backing panics"),
        };
        let spy = Spy::new(4096, give);
        self.clones.borrow_mut().push(spy.clone());
        Twin {
            spy,
            act: self.act,
            clones: self.clones.clone(),
        }
    }
}

/// A tracked value whose clone is a new value (id + 10,000).
#[derive(Debug)]
struct Cl(common::Tracked);

impl Clone for Cl {
    fn clone(&self) -> Self {
        Cl(self.0.sibling(self.0.id + 10_000))
    }
}

/// `try_clone` against every kind of hostile `clone_backing`, on both key kinds: a copy with
/// the same capacity, keys and next keys, or a typed error, or the panic — and the original
/// unchanged either way, every value dropped once, every region released once.
fn try_clone_against<K: nexus_slab::SlabKey + std::fmt::Debug>() {
    for act in [
        CloneAct::Same,
        CloneAct::Longer,
        CloneAct::Failing,
        CloneAct::Short,
        CloneAct::Panic,
    ] {
        let log = DropLog::new();
        let spy = Spy::new(4096, Give::Exact);
        let clones = Rc::new(RefCell::new(Vec::new()));
        let twin = Twin {
            spy: spy.clone(),
            act,
            clones: clones.clone(),
        };
        let mut slab: Slab<Cl, Twin, K> = Slab::new_in(twin);
        slab.alloc(40).unwrap();
        let keys: Vec<K> = (0..30)
            .map(|i| slab.insert(Cl(log.item(i))).unwrap())
            .collect();
        for k in keys.iter().step_by(3) {
            slab.remove(*k);
        }
        let before: Vec<(K, u64)> = slab.iter().map(|(k, v)| (k, v.0.id % 10_000)).collect();
        let next = slab.vacant_key();
        let copied = catch_unwind(AssertUnwindSafe(|| slab.try_clone()));
        match (act, copied) {
            (CloneAct::Same | CloneAct::Longer, Ok(Ok(mut copy))) => {
                assert_eq!(copy.capacity(), slab.capacity(), "{act:?}");
                let got: Vec<(K, u64)> = copy.iter().map(|(k, v)| (k, v.0.id % 10_000)).collect();
                assert_eq!(got, before, "{act:?}: same keys, same values");
                assert_eq!(copy.vacant_key(), next, "{act:?}: same next key");
                let mut id = 20_000;
                while copy.insert(Cl(log.item(id))).is_ok() {
                    id += 1;
                }
                assert_eq!(copy.len(), copy.capacity());
            }
            (CloneAct::Failing, Ok(Err(Error::Other { .. }))) => {}
            (CloneAct::Short, Ok(Err(e))) => assert!(is_broken_backing(&e, "short"), "{e}"),
            (CloneAct::Panic, Err(_)) => {}
            (act, got) => panic!("{act:?}: unexpected {:?}", got.map(|r| r.map(|_| ()))),
        }
        let after: Vec<(K, u64)> = slab.iter().map(|(k, v)| (k, v.0.id % 10_000)).collect();
        assert_eq!(after, before, "{act:?}: the original is unchanged");
        assert_eq!(slab.vacant_key(), next);
        drop(slab);
        log.assert_no_double_drop();
        spy.assert_all_released();
        for c in clones.borrow().iter() {
            c.assert_all_released();
        }
    }
}

#[test]
fn hostile_clone_backings_leave_the_original_as_it_was() {
    try_clone_against::<nexus_slab::Key>();
    try_clone_against::<nexus_slab::GenKey>();
}
