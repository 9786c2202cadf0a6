//! A `Drop` that panics on the k-th drop, for every k, inside every operation that drops
//! values — `clear`, `drain` (unconsumed and partly consumed), `retain`, `remove`, the drop of
//! a partly consumed `into_iter`, the slab's own drop — and a `retain` closure that panics at
//! the k-th value. After each panic the slab must be consistent: no value dropped twice,
//! `len()` equal to what iteration finds, every value either in the slab, dropped, or held by
//! the test, a working next insert, and in the end every value dropped exactly once.
//!
//! The slabs have holes (removed keys on the free list) and span several bitmap words. Every
//! test runs with plain keys and with generational ones; the generational slab also holds a
//! retired slot and a value at its slot's last generation, which the operation retires when
//! it takes the value: a panic must not put either slot back into use.

mod common;

use std::collections::HashSet;
use std::panic::{catch_unwind, AssertUnwindSafe};

use common::{DropLog, Tracked};
use nexus_slab::{backing::Backing, GenKey, Key, Slab, SlabKey};

common::on_every_backing!(
    panicking_drop_in_clear,
    panicking_drop_in_unconsumed_drain,
    panicking_drop_in_partly_consumed_drain,
    panicking_drop_in_retain,
    panicking_drop_after_remove,
    panicking_drop_in_into_iter_drop,
    panicking_drop_in_slab_drop,
    panicking_retain_closure,
);

/// Each test, with plain keys and then with generational ones.
macro_rules! with_both_keys {
    ($($test:ident => $body:ident),* $(,)?) => {
        $(
            fn $test<B: Backing + Default>() {
                $body::<B, Key>();
                $body::<B, GenKey>();
            }
        )*
    };
}

with_both_keys!(
    panicking_drop_in_clear => clear,
    panicking_drop_in_unconsumed_drain => unconsumed_drain,
    panicking_drop_in_partly_consumed_drain => partly_consumed_drain,
    panicking_drop_in_retain => retain,
    panicking_drop_after_remove => remove,
    panicking_drop_in_into_iter_drop => into_iter_drop,
    panicking_drop_in_slab_drop => slab_drop,
    panicking_retain_closure => retain_closure,
);

/// The two key kinds.
trait Kind: SlabKey {
    const GENERATIONAL: bool;
    /// The key of slot `index` at its last generation (`u32::MAX`), if keys have generations.
    fn last_generation(index: usize) -> Option<Self>;
}

impl Kind for Key {
    const GENERATIONAL: bool = false;
    fn last_generation(_: usize) -> Option<Self> {
        None
    }
}

impl Kind for GenKey {
    const GENERATIONAL: bool = true;
    fn last_generation(index: usize) -> Option<Self> {
        GenKey::from_bits(u64::from(u32::MAX) << 32 | index as u64)
    }
}

/// Generational slabs only: a slot retired before the test (restored at its last generation
/// and removed), and one holding a value at its last generation, so the operation under test
/// retires it when it takes the value. Both are among the removed slots (multiples of 5).
const RETIRED: usize = 5;
const LAST: usize = 10;

/// Values in the slab: keys 0..N, then every fifth removed (so the free list is not empty
/// and live keys span two bitmap words).
const N: u64 = if cfg!(miri) { 70 } else { 140 };

/// The k to try: every one natively; under Miri the first, one in the middle, the last and
/// none.
fn ks(live: usize) -> Vec<usize> {
    let mut ks: Vec<usize> = if cfg!(miri) {
        vec![1, live / 2, live, live + 1]
    } else {
        (1..=live + 1).collect()
    };
    ks.dedup();
    ks
}

struct Case<B: Backing, K: Kind> {
    slab: Slab<Tracked, B, K>,
    log: DropLog,
    /// Values made so far (ids 0..created).
    created: u64,
    /// Values the test holds outside the slab.
    held: Vec<Tracked>,
}

impl<B: Backing + Default, K: Kind> Case<B, K> {
    fn new() -> Self {
        let log = DropLog::new();
        let mut slab: Slab<Tracked, B, K> = Slab::with_capacity(N as usize);
        for id in 0..N {
            assert_eq!(slab.insert(log.item(id)).unwrap().index(), id as usize);
        }
        let keys: Vec<K> = slab.keys().collect();
        for &k in keys.iter().step_by(5) {
            drop(slab.remove(k).unwrap());
        }
        let mut created = N;
        if let (Some(retire), Some(last)) = (K::last_generation(RETIRED), K::last_generation(LAST))
        {
            slab.insert_at(retire, log.item(created)).unwrap();
            drop(slab.remove(retire).unwrap());
            slab.insert_at(last, log.item(created + 1)).unwrap();
            created += 2;
        }
        Case {
            slab,
            log,
            created,
            held: Vec::new(),
        }
    }

    /// The key of the value in slot `index`.
    fn key(&self, index: usize) -> K {
        self.slab.keys().find(|k| k.index() == index).unwrap()
    }

    /// Slots out of use for good: the one retired before the test, and the last-generation
    /// slot once its value has been taken.
    fn retired(&self) -> Vec<usize> {
        match K::last_generation(LAST) {
            Some(last) if self.slab.contains(last) => vec![RETIRED],
            Some(_) => vec![RETIRED, LAST],
            None => Vec::new(),
        }
    }

    fn live(&self) -> usize {
        self.slab.len()
    }

    /// Ids in the slab, in key order.
    fn ids(&self) -> Vec<u64> {
        self.slab.iter().map(|(_, v)| v.id).collect()
    }

    /// The slab is consistent and a next insert works.
    fn check(&mut self, what: &str) {
        let what = &format!("{what}, {}", std::any::type_name::<K>());
        self.log.assert_no_double_drop();
        let ids = self.ids();
        assert_eq!(
            ids.len(),
            self.slab.len(),
            "{what}: len() is what iteration finds"
        );
        assert_eq!(
            ids.len() + self.log.drops() + self.held.len(),
            self.created as usize,
            "{what}: every value is in the slab, dropped, or held"
        );
        let dropped: HashSet<u64> = self.log.dropped().into_iter().collect();
        assert!(
            ids.iter().all(|id| !dropped.contains(id)),
            "{what}: a dropped value is still in the slab"
        );
        for (k, v) in self.slab.iter() {
            assert!(self.slab.contains(k));
            assert_eq!(self.slab.get(k).map(|x| x.id), Some(v.id));
        }
        let retired = self.retired();
        assert!(
            self.slab.keys().all(|k| !retired.contains(&k.index())),
            "{what}: a retired slot holds a value"
        );
        assert_eq!(
            self.slab.is_full(),
            self.slab.vacant_key().is_none(),
            "{what}: is_full and vacant_key disagree"
        );
        let before = self.slab.len();
        let id = self.created;
        self.created += 1;
        let k = self
            .slab
            .insert(self.log.item(id))
            .unwrap_or_else(|_| panic!("{what}: insert after the panic failed"));
        assert_eq!(self.slab[k].id, id, "{what}");
        assert_eq!(self.slab.len(), before + 1, "{what}");
        assert!(
            !retired.contains(&k.index()),
            "{what}: a retired slot came back"
        );
    }

    /// Fills the slab: every slot but the retired ones takes a value (natively). Then drops
    /// everything and checks each value was dropped exactly once.
    fn finish(self, what: &str) {
        let what = &format!("{what}, {}", std::any::type_name::<K>());
        let retired = self.retired();
        let Case {
            mut slab,
            log,
            mut created,
            held,
        } = self;
        // (Not under Miri, where filling a page of slots for every case would take minutes;
        // the panicking operations above are what it is there to check.)
        if !cfg!(miri) {
            loop {
                created += 1; // the value, whether stored or handed back (and dropped) by Full
                match slab.insert(log.item(created - 1)) {
                    Ok(k) => assert!(!retired.contains(&k.index()), "{what}: slot {k:?}"),
                    Err(_) => break,
                }
            }
            assert!(slab.is_full(), "{what}");
            assert_eq!(
                slab.len(),
                slab.capacity() - retired.len(),
                "{what}: full with a value in every slot but the retired ones"
            );
        }
        drop(held);
        drop(slab);
        log.assert_no_double_drop();
        assert_eq!(
            log.drops() as u64,
            created,
            "{what}: dropped exactly once each"
        );
    }
}

/// Runs `f`, reporting whether it panicked, and disarms any `panic_on_drop` that did not fire.
fn panics(log: &DropLog, f: impl FnOnce()) -> bool {
    let panicked = catch_unwind(AssertUnwindSafe(f)).is_err();
    log.disarm();
    panicked
}

fn clear<B: Backing + Default, K: Kind>() {
    for k in ks(Case::<B, K>::new().live()) {
        let mut c = Case::<B, K>::new();
        let ids = c.ids();
        let mark = c.log.drops();
        c.log.panic_on_drop(k);
        let panicked = panics(&c.log, || c.slab.clear());
        assert_eq!(panicked, k <= ids.len(), "k = {k}");
        let what = format!("clear, k = {k}");
        let gone = k.min(ids.len());
        assert_eq!(c.log.dropped()[mark..], ids[..gone], "{what}: in key order");
        assert_eq!(c.ids(), ids[gone..], "{what}: the rest stay in place");
        c.check(&what);
        c.slab.clear();
        assert!(c.slab.is_empty());
        c.finish(&what);
    }
}

fn unconsumed_drain<B: Backing + Default, K: Kind>() {
    for k in ks(Case::<B, K>::new().live()) {
        let mut c = Case::<B, K>::new();
        let ids = c.ids();
        c.log.panic_on_drop(k);
        let panicked = panics(&c.log, || drop(c.slab.drain()));
        assert_eq!(panicked, k <= ids.len(), "k = {k}");
        let what = format!("drain, k = {k}");
        assert_eq!(c.ids(), ids[k.min(ids.len())..], "{what}");
        c.check(&what);
        if !panicked && !K::GENERATIONAL {
            // Emptied: plain keys start from 0 again (generational slots keep their order).
            assert_eq!(
                c.slab.iter().next().unwrap().0.index(),
                0,
                "{what}: renumbered"
            );
        }
        c.finish(&what);
    }
}

fn partly_consumed_drain<B: Backing + Default, K: Kind>() {
    for k in ks(Case::<B, K>::new().live()) {
        let mut c = Case::<B, K>::new();
        let ids = c.ids();
        let mut held = Vec::new();
        let log = c.log.clone();
        let panicked = panics(&log, || {
            let mut d = c.slab.drain();
            held.extend(d.next().map(|(_, v)| v));
            held.extend(d.next_back().map(|(_, v)| v));
            held.extend(d.next().map(|(_, v)| v));
            c.log.panic_on_drop(k);
            drop(d);
        });
        c.held = held;
        let remaining = ids.len() - 3;
        assert_eq!(panicked, k <= remaining, "k = {k}");
        let what = format!("partly consumed drain, k = {k}");
        assert_eq!(c.held.len(), 3);
        let left = &ids[2..ids.len() - 1];
        assert_eq!(c.ids(), left[k.min(remaining)..], "{what}");
        c.check(&what);
        c.finish(&what);
    }
}

fn retain<B: Backing + Default, K: Kind>() {
    for k in ks(Case::<B, K>::new().live() / 2) {
        let mut c = Case::<B, K>::new();
        let ids = c.ids();
        let rejected: Vec<u64> = ids.iter().copied().filter(|id| id % 2 == 1).collect();
        let mark = c.log.drops();
        c.log.panic_on_drop(k);
        let panicked = panics(&c.log, || c.slab.retain(|_, v| v.id % 2 == 0));
        assert_eq!(panicked, k <= rejected.len(), "k = {k}");
        let what = format!("retain, k = {k}");
        let gone = &rejected[..k.min(rejected.len())];
        assert_eq!(c.log.dropped()[mark..], *gone, "{what}");
        let want: Vec<u64> = ids
            .iter()
            .copied()
            .filter(|id| !gone.contains(id))
            .collect();
        assert_eq!(
            c.ids(),
            want,
            "{what}: rejected-but-not-reached values stay"
        );
        c.check(&what);
        c.finish(&what);
    }
}

fn remove<B: Backing + Default, K: Kind>() {
    for k in [1, 2] {
        let mut c = Case::<B, K>::new();
        let ids = c.ids();
        let (one, two) = (c.key(1), c.key(2));
        c.log.panic_on_drop(k);
        let log = c.log.clone();
        let panicked = panics(&log, || {
            let a = c.slab.remove(one).unwrap();
            let b = c.slab.remove(two).unwrap();
            drop(a);
            drop(b);
        });
        assert!(panicked);
        let what = format!("remove, k = {k}");
        assert_eq!(c.ids(), ids[2..], "{what}");
        assert!(!c.slab.contains(one) && !c.slab.contains(two));
        c.check(&what);
        // Key 2 was freed last, and the insert in `check` took it: key 1 is next.
        assert_eq!(c.slab.vacant_entry().unwrap().key().index(), 1, "{what}");
        c.finish(&what);
    }
}

fn into_iter_drop<B: Backing + Default, K: Kind>() {
    for k in ks(Case::<B, K>::new().live()) {
        let c = Case::<B, K>::new();
        let Case {
            slab, log, created, ..
        } = c;
        let live = slab.len();
        let mut it = slab.into_iter();
        let held: Vec<Tracked> = vec![it.next().unwrap().1, it.next_back().unwrap().1];
        log.panic_on_drop(k);
        let panicked = panics(&log, || drop(it));
        assert_eq!(panicked, k <= live - 2, "k = {k}");
        // Like `Vec`, the slab's drop goes on after the panic: everything else dropped once.
        log.assert_no_double_drop();
        assert_eq!(log.drops() as u64, created - 2, "into_iter, k = {k}");
        drop(held);
        assert_eq!(log.drops() as u64, created);
        log.assert_no_double_drop();
    }
}

fn slab_drop<B: Backing + Default, K: Kind>() {
    for k in ks(Case::<B, K>::new().live()) {
        let c = Case::<B, K>::new();
        let live = c.live();
        let Case {
            slab, log, created, ..
        } = c;
        log.panic_on_drop(k);
        assert_eq!(panics(&log, || drop(slab)), k <= live, "k = {k}");
        log.assert_no_double_drop();
        assert_eq!(log.drops() as u64, created, "slab drop, k = {k}");
    }
}

fn retain_closure<B: Backing + Default, K: Kind>() {
    for k in ks(Case::<B, K>::new().live()) {
        let mut c = Case::<B, K>::new();
        let ids = c.ids();
        let mut visits = 0;
        let log = c.log.clone();
        let panicked = panics(&log, || {
            c.slab.retain(|_, v| {
                visits += 1;
                assert!(visits != k, "the closure panics at visit {k}");
                v.id % 3 != 0
            })
        });
        assert_eq!(panicked, k <= ids.len(), "k = {k}");
        let what = format!("retain closure, k = {k}");
        // Values before the k-th were judged; from the k-th on all stay.
        let judged = (k - 1).min(ids.len());
        let want: Vec<u64> = ids[..judged]
            .iter()
            .copied()
            .filter(|id| id % 3 != 0)
            .chain(ids[judged..].iter().copied())
            .collect();
        assert_eq!(c.ids(), want, "{what}");
        c.check(&what);
        c.finish(&what);
    }
}
