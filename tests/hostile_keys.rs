//! Key *types* a user writes: the most hostile implementations of [`SlabKey`] we could think
//! of, driven through every method that takes or returns a key, on both key kinds, plain and
//! split slabs. Natively and under Miri.
//!
//! `SlabKey` is an `unsafe trait` whose contract is that `from_raw` and `into_raw` round-trip.
//! These implementations break it on purpose (and panic, and answer differently on every
//! call): the safe API must stay sound anyway — the slab trusts only the raw key it is given,
//! whose every value is safe — and a panic in a conversion must leave the slab as it was.
//! Only `get_unchecked` (an `unsafe fn`) relies on the contract, and is not called here with a
//! lying key.
//!
//! A *safe* `impl SlabKey` no longer compiles (the `compile_fail` doc test on `SlabKey`); the
//! safe impl from the review (`from_raw` returning `Key::new_saturating(1_000_000)`) wrote a million
//! slots past the region through `VacantEntry::insert` (SIGSEGV in a release build, an
//! out-of-bounds assertion under Miri) before the fix.

mod common;

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};

use common::DropLog;
use nexus_slab::{backing::Heap, GenKey, Key, Slab, SlabKey};

/// How the hostile keys of this thread behave.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    /// Keeps the contract.
    Honest,
    /// `from_raw` ignores the raw key and makes a far, made-up one.
    FarFromRaw,
    /// `into_raw` answers a different raw key on every call (and never the stored one).
    Shifting,
    /// `from_raw` panics.
    PanicFromRaw,
    /// `into_raw` panics.
    PanicIntoRaw,
}

const MODES: [Mode; 5] = [
    Mode::Honest,
    Mode::FarFromRaw,
    Mode::Shifting,
    Mode::PanicFromRaw,
    Mode::PanicIntoRaw,
];

thread_local! {
    static MODE: Cell<Mode> = const { Cell::new(Mode::Honest) };
    static CALLS: Cell<u64> = const { Cell::new(0) };
}

fn mode() -> Mode {
    MODE.with(Cell::get)
}

fn set_mode(m: Mode) {
    MODE.with(|c| c.set(m));
}

/// A new made-up raw key on every call: indices around and far beyond any slot, generations
/// of every parity the constructors allow.
fn next_call() -> u64 {
    CALLS.with(|c| {
        c.set(c.get().wrapping_add(1));
        c.get()
    })
}

/// A value id never used before in this process.
fn fresh_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// What the hostile keys need of the raw key kinds: made-up values.
trait Forge: Copy {
    fn forge(n: u64) -> Self;
}

impl Forge for Key {
    fn forge(n: u64) -> Self {
        // In range, just past it, and far beyond.
        Key::new_saturating(match n % 4 {
            0 => (n / 4 % 8) as usize,
            1 => 1_000_000,
            2 => Key::MAX_INDEX,
            _ => usize::MAX,
        })
    }
}

impl Forge for GenKey {
    fn forge(n: u64) -> Self {
        let index = match n % 3 {
            0 => n / 3 % 8,
            1 => 1_000_000,
            _ => u64::from(u32::MAX),
        };
        let generation = [1u64, 3, 5, 0xffff_ffff][(n / 7 % 4) as usize];
        GenKey::from_bits(generation << 32 | index).expect("odd generation")
    }
}

/// A key type that breaks `SlabKey`'s contract as `MODE` says, and whose `index()` lies.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
struct Hostile<R>(R);

macro_rules! hostile_impl {
    ($raw:ty) => {
        // SAFETY: none — this impl breaks the contract on purpose, to show the safe API does
        // not depend on it. (The tests never pass these keys to `get_unchecked`.)
        unsafe impl SlabKey for Hostile<$raw> {
            type Raw = $raw;

            fn from_raw(raw: $raw) -> Self {
                match mode() {
                    Mode::FarFromRaw => Hostile(<$raw>::forge(next_call())),
                    Mode::PanicFromRaw => panic!("hostile from_raw"),
                    _ => Hostile(raw),
                }
            }

            fn into_raw(self) -> $raw {
                match mode() {
                    Mode::Shifting => <$raw>::forge(next_call()),
                    Mode::PanicIntoRaw => panic!("hostile into_raw"),
                    _ => self.0,
                }
            }

            fn index(self) -> usize {
                usize::MAX - 7
            }
        }
    };
}

hostile_impl!(Key);
hostile_impl!(GenKey);

/// Runs `f`, swallowing a panic (the hostile conversions panic on purpose).
fn attempt<R>(f: impl FnOnce() -> R) -> Option<R> {
    catch_unwind(AssertUnwindSafe(f)).ok()
}

/// With honest keys again: the slab's bookkeeping agrees with itself — `len` is what
/// iteration finds, every key iteration gives finds its value, and inserting until full takes
/// exactly the free slots.
fn assert_consistent<R, B>(slab: &mut Slab<common::Tracked, B, Hostile<R>>, log: &DropLog)
where
    Hostile<R>: SlabKey,
    B: nexus_slab::backing::Backing,
{
    set_mode(Mode::Honest);
    let n = slab.len();
    assert_eq!(slab.iter().count(), n, "len agrees with iteration");
    for (k, v) in slab.iter() {
        assert_eq!(
            slab.get(k).map(|t| t.id),
            Some(v.id),
            "{k:?} finds its value"
        );
    }
    let mut added = 0;
    while !slab.is_full() {
        let next = slab.vacant_key().expect("not full");
        let k = slab.insert(log.item(fresh_id())).expect("not full");
        assert_eq!(k, next, "vacant_key names the slot insert takes");
        added += 1;
    }
    assert!(slab.insert(log.item(fresh_id())).is_err());
    assert_eq!(slab.len(), n + added as usize);
    assert_eq!(slab.iter().count(), slab.len());
    log.assert_no_double_drop();
}

/// Every method that takes or returns a key, in one mode.
fn drive<R: Forge + std::fmt::Debug, B>(
    slab: &mut Slab<common::Tracked, B, Hostile<R>>,
    log: &DropLog,
) where
    Hostile<R>: SlabKey,
    B: nexus_slab::backing::Backing,
{
    let m = mode();
    let item = || log.item(fresh_id());
    let mut keys = Vec::new();
    for _ in 0..6 {
        if let Some(Ok(k)) = attempt(|| slab.insert(item())) {
            keys.push(k);
        }
    }
    let made_up: Vec<_> = (0..12).map(|n| Hostile(R::forge(n))).collect();
    for &k in keys.iter().chain(&made_up) {
        attempt(|| slab.get(k).map(|v| v.id));
        attempt(|| slab.get_mut(k).map(|v| v.id));
        attempt(|| slab.contains(k));
        attempt(|| slab.get_disjoint_mut([k, k]).is_ok());
        if let Some(&other) = keys.first() {
            attempt(|| {
                slab.get_disjoint_mut([k, other])
                    .map(|[a, b]| (a.id, b.id))
                    .ok()
            });
        }
        attempt(|| slab.insert_at(k, item()).is_ok());
    }
    if let Some(Ok(e)) = attempt(|| slab.vacant_entry()) {
        let k = e.key();
        let v = e.insert(item());
        v.id += 0;
        attempt(|| slab.get(k).map(|v| v.id));
    }
    // An entry made and not used changes nothing.
    let _ = attempt(|| slab.vacant_entry().map(|e| e.key()));
    attempt(|| slab.vacant_key());
    attempt(|| slab.iter().map(|(k, v)| (k, v.id)).collect::<Vec<_>>());
    attempt(|| slab.keys().count());
    attempt(|| slab.iter_mut().map(|(_, v)| v.id).sum::<u64>());
    attempt(|| slab.values().next().map(|v| slab.key_of(v)));
    attempt(|| slab.retain(|_, v| v.id % 2 == 0));
    for &k in keys.iter().rev().chain(&made_up) {
        attempt(|| slab.remove(k).map(|v| v.id));
    }
    if m != Mode::Honest {
        // A drain whose keys panic or lie, stopped half-way: the rest stays or is dropped.
        attempt(|| {
            let mut d = slab.drain();
            d.next().map(|(_, v)| v.id)
        });
    }
}

fn on_every_mode<R: Forge + std::fmt::Debug>()
where
    Hostile<R>: SlabKey,
{
    for m in MODES {
        let log = DropLog::new();
        {
            let mut slab: Slab<common::Tracked, Heap, Hostile<R>> = Slab::new_in(Heap::new());
            slab.alloc(8).unwrap();
            set_mode(m);
            drive(&mut slab, &log);
            assert_consistent(&mut slab, &log);
            // And again from the state the hostile round left, then teardown.
            set_mode(m);
            drive(&mut slab, &log);
            assert_consistent(&mut slab, &log);
            set_mode(m);
        }
        set_mode(Mode::Honest);
        log.assert_no_double_drop();
    }
}

#[test]
fn hostile_plain_key_types_cannot_reach_ub_or_lose_values() {
    on_every_mode::<Key>();
}

#[test]
fn hostile_generational_key_types_cannot_reach_ub_or_lose_values() {
    on_every_mode::<GenKey>();
}

/// The review's key: `from_raw` returns a key a million slots away. The entry's value goes
/// into the slot the slab chose (the one `vacant_key` named with honest keys), and the lying
/// key then finds nothing.
#[test]
fn vacant_entry_writes_where_the_slab_says_whatever_the_key_type_says() {
    let log = DropLog::new();
    let mut slab: Slab<common::Tracked, Heap, Hostile<Key>> = Slab::new_in(Heap::new());
    slab.alloc(4).unwrap();
    set_mode(Mode::FarFromRaw);
    let e = slab.vacant_entry().unwrap();
    let lie = e.key();
    assert_ne!(lie.0, Key::new_saturating(0), "the key type lied");
    let id = fresh_id();
    assert_eq!(e.insert(log.item(id)).id, id);
    set_mode(Mode::Honest);
    assert_eq!(
        slab.get(Hostile(Key::new_saturating(0))).map(|v| v.id),
        Some(id)
    );
    assert_eq!(slab.len(), 1);
    // The lie names a slot the slab does not have: nothing.
    assert!(slab.get(lie).is_none() || lie.0.index() < slab.capacity());
}

/// Split slabs: the owner's methods and lending with hostile conversions.
#[cfg(target_has_atomic = "64")]
#[test]
fn hostile_key_types_on_a_split_slab() {
    for m in MODES {
        let mut slab: Slab<u64, Heap, Hostile<GenKey>> = Slab::new_in(Heap::new());
        slab.alloc(8).unwrap();
        let (mut owner, remote) = slab.split();
        set_mode(m);
        let mut keys = Vec::new();
        for v in 0..3 {
            if let Some(Ok(k)) = attempt(|| owner.insert(v)) {
                keys.push(k);
            }
        }
        let lent = owner.lend(9).unwrap();
        for &k in &keys {
            attempt(|| owner.get(k).copied());
            attempt(|| owner.remove(k));
            attempt(|| owner.insert_at(k, 5).is_ok());
        }
        attempt(|| owner.vacant_key());
        attempt(|| owner.vacant_entry().map(|e| e.insert(3)).is_ok());
        remote.free(lent);
        set_mode(Mode::Honest);
        owner.reclaim();
        assert_eq!(owner.iter().count(), owner.len());
        assert_eq!(owner.lent(), 0);
        let mut n = owner.len();
        while owner.insert(1).is_ok() {
            n += 1;
        }
        assert_eq!(n, owner.capacity(), "no slot lost");
    }
}
