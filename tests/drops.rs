//! Every value is dropped exactly once, on every path, and a panicking `Drop` (or `retain`
//! closure) leaves the slab consistent: nothing dropped twice, `len()` truthful, inserts work.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};

use common::{DropLog, Tracked};
use nexus_slab::{backing::Backing, Key, Slab};

common::on_every_backing!(
    remove_drops_nothing_itself,
    clear_drops_each_once,
    drain_drops_each_once_even_partly_consumed,
    into_iter_drops_each_once_even_partly_consumed,
    retain_drops_exactly_the_rejected,
    slab_drop_drops_each_once,
    panic_in_clear_leaves_the_slab_consistent,
    panic_in_drain_leaves_the_slab_consistent,
    panic_in_retain_drop_leaves_the_slab_consistent,
    panic_in_retain_closure_leaves_the_slab_consistent,
    panic_in_slab_drop_drops_the_rest_once,
    panic_in_into_iter_drop_drops_the_rest_once,
    leaked_drain_leaves_the_rest_in_place,
);

/// A slab holding `n` tracked values with ids 0..n (key i holds id i).
fn filled<B: Backing + Default>(log: &DropLog, n: u64) -> Slab<Tracked, B> {
    let mut s: Slab<Tracked, B> = Slab::with_capacity(n as usize);
    for id in 0..n {
        assert_eq!(s.insert(log.item(id)).unwrap().index(), id as usize);
    }
    s
}

fn silently<R>(f: impl FnOnce() -> R) -> std::thread::Result<R> {
    catch_unwind(AssertUnwindSafe(f))
}

fn remove_drops_nothing_itself<B: Backing + Default>() {
    let log = DropLog::new();
    let mut s: Slab<Tracked, B> = filled(&log, 10);
    let v = s.remove(Key::new_saturating(3)).unwrap();
    assert_eq!(log.drops(), 0, "remove hands the value out");
    drop(v);
    assert_eq!(log.dropped(), [3]);
    drop(s);
    assert_eq!(log.drops(), 10);
    log.assert_no_double_drop();
}

fn clear_drops_each_once<B: Backing + Default>() {
    let log = DropLog::new();
    let mut s: Slab<Tracked, B> = filled(&log, 100);
    s.remove(Key::new_saturating(50));
    s.clear();
    assert_eq!(log.drops(), 100);
    drop(s);
    assert_eq!(log.drops(), 100);
    log.assert_no_double_drop();
}

fn drain_drops_each_once_even_partly_consumed<B: Backing + Default>() {
    let log = DropLog::new();
    let mut s: Slab<Tracked, B> = filled(&log, 100);
    {
        let mut d = s.drain();
        let first = d.next().unwrap();
        let last = d.next_back().unwrap();
        assert_eq!((first.0.index(), last.0.index()), (0, 99));
        assert_eq!(d.len(), 98);
    } // the rest drop here
    assert!(s.is_empty());
    assert_eq!(log.drops(), 100);
    assert_eq!(s.insert(log.item(1000)).unwrap(), Key::new_saturating(0));
    drop(s);
    assert_eq!(log.drops(), 101);
    log.assert_no_double_drop();
}

fn into_iter_drops_each_once_even_partly_consumed<B: Backing + Default>() {
    let log = DropLog::new();
    let s: Slab<Tracked, B> = filled(&log, 100);
    let mut it = s.into_iter();
    let taken: Vec<(Key, Tracked)> = it.by_ref().take(10).collect();
    assert_eq!(taken.last().unwrap().0, Key::new_saturating(9));
    assert_eq!(log.drops(), 0);
    drop(it);
    assert_eq!(log.drops(), 90);
    drop(taken);
    assert_eq!(log.drops(), 100);
    log.assert_no_double_drop();
}

fn retain_drops_exactly_the_rejected<B: Backing + Default>() {
    let log = DropLog::new();
    let mut s: Slab<Tracked, B> = filled(&log, 100);
    let mut visited = Vec::new();
    s.retain(|k, v| {
        visited.push(k.index());
        v.id % 3 == 0
    });
    assert_eq!(visited, (0..100).collect::<Vec<_>>());
    assert_eq!(s.len(), 34);
    let mut dropped = log.dropped();
    dropped.sort_unstable();
    assert_eq!(dropped, (0..100).filter(|i| i % 3 != 0).collect::<Vec<_>>());
    // Removed keys go back on the free list, last removed first.
    assert_eq!(s.insert(log.item(500)).unwrap(), Key::new_saturating(98));
    drop(s);
    assert_eq!(log.drops(), 101);
    log.assert_no_double_drop();
}

fn slab_drop_drops_each_once<B: Backing + Default>() {
    let log = DropLog::new();
    let s: Slab<Tracked, B> = filled(&log, 1000);
    drop(s);
    assert_eq!(log.drops(), 1000);
    log.assert_no_double_drop();
}

fn panic_in_clear_leaves_the_slab_consistent<B: Backing + Default>() {
    let log = DropLog::new();
    let mut s: Slab<Tracked, B> = filled(&log, 10);
    log.panic_on_drop(4); // id 3
    assert!(silently(|| s.clear()).is_err());
    assert_eq!(log.dropped(), [0, 1, 2, 3]);
    assert_eq!(s.len(), 6, "len counts what is still there");
    assert_eq!(
        s.iter().map(|(_, v)| v.id).collect::<Vec<_>>(),
        [4, 5, 6, 7, 8, 9]
    );
    assert!(!s.contains(Key::new_saturating(3)));
    let k = s.insert(log.item(77)).unwrap();
    assert_eq!(s[k].id, 77);
    s.clear();
    assert_eq!(log.drops(), 11);
    log.assert_no_double_drop();
}

fn panic_in_drain_leaves_the_slab_consistent<B: Backing + Default>() {
    let log = DropLog::new();
    let mut s: Slab<Tracked, B> = filled(&log, 10);
    log.panic_on_drop(3); // id 2, dropped by the Drain's own drop
    assert!(silently(|| drop(s.drain())).is_err());
    assert_eq!(log.dropped(), [0, 1, 2]);
    assert_eq!(s.len(), 7);
    assert!(s.insert(log.item(50)).is_ok());
    assert_eq!(s.len(), 8);
    drop(s);
    assert_eq!(log.drops(), 11);
    log.assert_no_double_drop();
}

fn panic_in_retain_drop_leaves_the_slab_consistent<B: Backing + Default>() {
    let log = DropLog::new();
    let mut s: Slab<Tracked, B> = filled(&log, 10);
    log.panic_on_drop(2); // the second rejected value
    assert!(silently(|| s.retain(|_, v| v.id >= 5)).is_err());
    assert_eq!(log.dropped(), [0, 1]);
    assert_eq!(s.len(), 8);
    assert!(s.insert(log.item(60)).is_ok());
    drop(s);
    assert_eq!(log.drops(), 11);
    log.assert_no_double_drop();
}

fn panic_in_retain_closure_leaves_the_slab_consistent<B: Backing + Default>() {
    let log = DropLog::new();
    let mut s: Slab<Tracked, B> = filled(&log, 10);
    let r = silently(|| {
        s.retain(|k, _| {
            assert!(k.index() < 6, "closure panics at key 6");
            k.index() % 2 == 0
        })
    });
    assert!(r.is_err());
    assert_eq!(log.dropped(), [1, 3, 5]);
    assert_eq!(s.len(), 7);
    assert_eq!(
        s.iter().map(|(k, _)| k.index()).collect::<Vec<_>>(),
        [0, 2, 4, 6, 7, 8, 9]
    );
    assert_eq!(s.insert(log.item(70)).unwrap(), Key::new_saturating(5));
    drop(s);
    assert_eq!(log.drops(), 11);
    log.assert_no_double_drop();
}

fn panic_in_slab_drop_drops_the_rest_once<B: Backing + Default>() {
    let log = DropLog::new();
    let s: Slab<Tracked, B> = filled(&log, 10);
    log.panic_on_drop(5);
    assert!(silently(|| drop(s)).is_err());
    // Like `Vec`: the others are still dropped, each once.
    assert_eq!(log.drops(), 10);
    log.assert_no_double_drop();
}

fn panic_in_into_iter_drop_drops_the_rest_once<B: Backing + Default>() {
    let log = DropLog::new();
    let s: Slab<Tracked, B> = filled(&log, 10);
    let mut it = s.into_iter();
    let first = it.next().unwrap();
    log.panic_on_drop(2);
    assert!(silently(|| drop(it)).is_err());
    assert_eq!(log.drops(), 9);
    drop(first);
    assert_eq!(log.drops(), 10);
    log.assert_no_double_drop();
}

fn leaked_drain_leaves_the_rest_in_place<B: Backing + Default>() {
    let log = DropLog::new();
    let mut s: Slab<Tracked, B> = filled(&log, 10);
    let mut d = s.drain();
    drop(d.next());
    std::mem::forget(d);
    assert_eq!(s.len(), 9);
    assert!(!s.contains(Key::new_saturating(0)));
    assert!(s.contains(Key::new_saturating(1)));
    assert_eq!(s.insert(log.item(80)).unwrap(), Key::new_saturating(0));
    drop(s);
    assert_eq!(log.drops(), 11);
    log.assert_no_double_drop();
}
