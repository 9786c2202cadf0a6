//! A `Drop` that panics on the k-th drop, for every k, inside every operation that drops
//! values — `clear`, `drain` (unconsumed and partly consumed), `retain`, `remove`, the drop of
//! a partly consumed `into_iter`, the slab's own drop — and a `retain` closure that panics at
//! the k-th value. After each panic the slab must be consistent: no value dropped twice,
//! `len()` equal to what iteration finds, every value either in the slab, dropped, or held by
//! the test, a working next insert, and in the end every value dropped exactly once.
//!
//! The slabs have holes (removed keys on the free list) and span several bitmap words.

mod common;

use std::collections::HashSet;
use std::panic::{catch_unwind, AssertUnwindSafe};

use common::{DropLog, Tracked};
use nexus_slab::{Backing, Key, Slab};

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

/// Values in the slab: keys 0..N, then every fifth removed (so the free list is not empty
/// and live keys span two bitmap words).
const N: u64 = if cfg!(miri) { 70 } else { 140 };

/// The k to try: every one for small slabs, and all those around word boundaries.
fn ks(live: usize) -> Vec<usize> {
    let mut ks: Vec<usize> = if cfg!(miri) {
        vec![1, 2, live / 2, live, live + 1]
    } else {
        (1..=live + 1).collect()
    };
    ks.dedup();
    ks
}

struct Case<B: Backing> {
    slab: Slab<Tracked, B>,
    log: DropLog,
    /// Values made so far (ids 0..created).
    created: u64,
    /// Values the test holds outside the slab.
    held: Vec<Tracked>,
}

impl<B: Backing + Default> Case<B> {
    fn new() -> Self {
        let log = DropLog::new();
        let mut slab: Slab<Tracked, B> = Slab::with_capacity(N as usize).unwrap();
        for id in 0..N {
            assert_eq!(slab.insert(log.item(id)).unwrap().index(), id as usize);
        }
        for k in (0..N as usize).step_by(5) {
            drop(slab.remove(Key::new(k)).unwrap());
        }
        Case {
            slab,
            log,
            created: N,
            held: Vec::new(),
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
        let before = self.slab.len();
        let id = self.created;
        self.created += 1;
        let k = self
            .slab
            .insert(self.log.item(id))
            .unwrap_or_else(|_| panic!("{what}: insert after the panic failed"));
        assert_eq!(self.slab[k].id, id, "{what}");
        assert_eq!(self.slab.len(), before + 1, "{what}");
    }

    /// Drops everything and checks each value was dropped exactly once.
    fn finish(self, what: &str) {
        let Case {
            slab,
            log,
            created,
            held,
        } = self;
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

fn panicking_drop_in_clear<B: Backing + Default>() {
    for k in ks(Case::<B>::new().live()) {
        let mut c = Case::<B>::new();
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

fn panicking_drop_in_unconsumed_drain<B: Backing + Default>() {
    for k in ks(Case::<B>::new().live()) {
        let mut c = Case::<B>::new();
        let ids = c.ids();
        c.log.panic_on_drop(k);
        let panicked = panics(&c.log, || drop(c.slab.drain()));
        assert_eq!(panicked, k <= ids.len(), "k = {k}");
        let what = format!("drain, k = {k}");
        assert_eq!(c.ids(), ids[k.min(ids.len())..], "{what}");
        c.check(&what);
        if !panicked {
            assert_eq!(
                c.slab.iter().next().unwrap().0,
                Key::new(0),
                "{what}: renumbered"
            );
        }
        c.finish(&what);
    }
}

fn panicking_drop_in_partly_consumed_drain<B: Backing + Default>() {
    for k in ks(Case::<B>::new().live()) {
        let mut c = Case::<B>::new();
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

fn panicking_drop_in_retain<B: Backing + Default>() {
    for k in ks(Case::<B>::new().live() / 2) {
        let mut c = Case::<B>::new();
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

fn panicking_drop_after_remove<B: Backing + Default>() {
    for k in [1, 2] {
        let mut c = Case::<B>::new();
        let ids = c.ids();
        c.log.panic_on_drop(k);
        let log = c.log.clone();
        let panicked = panics(&log, || {
            let a = c.slab.remove(Key::new(1)).unwrap();
            let b = c.slab.remove(Key::new(2)).unwrap();
            drop(a);
            drop(b);
        });
        assert!(panicked);
        let what = format!("remove, k = {k}");
        assert_eq!(c.ids(), ids[2..], "{what}");
        assert!(!c.slab.contains(Key::new(1)) && !c.slab.contains(Key::new(2)));
        c.check(&what);
        // Key 2 was freed last, and the insert in `check` took it: key 1 is next.
        assert_eq!(c.slab.vacant_entry().unwrap().key(), Key::new(1), "{what}");
        c.finish(&what);
    }
}

fn panicking_drop_in_into_iter_drop<B: Backing + Default>() {
    for k in ks(Case::<B>::new().live()) {
        let c = Case::<B>::new();
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

fn panicking_drop_in_slab_drop<B: Backing + Default>() {
    for k in ks(Case::<B>::new().live()) {
        let c = Case::<B>::new();
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

fn panicking_retain_closure<B: Backing + Default>() {
    for k in ks(Case::<B>::new().live()) {
        let mut c = Case::<B>::new();
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
