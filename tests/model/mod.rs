//! A reference model of a slab, and an interpreter that runs a sequence of operations on a
//! real slab and on the model side by side, checking every answer.
//!
//! Shared by `tests/proptest_model.rs` (operations from proptest strategies, shrunk on failure)
//! and `fuzz/fuzz_targets/model.rs` (operations decoded from the fuzzer's bytes by [`decode`]).
//! It depends on nothing but `nexus-slab` and std.
//!
//! The model predicts everything observable: the map from key to value, the key of the next
//! insert (the LIFO free list of vacated slots, then the high-water mark of never-used ones),
//! `len`, fullness, iteration order from both ends, `get_disjoint_mut`'s first error, and the
//! drops: every value is counted as it drops, and must drop exactly once, in key order where
//! the slab drops several.
#![allow(dead_code)]

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;

use nexus_slab::{Backing, Error, Key, Slab};

/// How an operation names a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeySel {
    /// The n-th live key (modulo how many there are); any slot when none is live.
    Live(u16),
    /// A raw index in `0..capacity + 8` (so vacant, never-used and out-of-range keys too).
    Raw(u32),
    /// One of a few extreme keys (`usize::MAX`, `u32::MAX`, the capacity, ...).
    Extreme(u8),
}

/// One step of a test sequence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// `insert` one value.
    Insert,
    /// `insert` up to n values (stops early when full), to reach fullness on big slabs.
    InsertMany(u16),
    /// `remove`.
    Remove(KeySel),
    /// `get` and `contains`.
    Get(KeySel),
    /// `get_mut`, bumping the value.
    GetMut(KeySel),
    /// `vacant_entry`, then insert through it or drop it unused.
    VacantEntry { insert: bool },
    /// `clear`.
    Clear,
    /// `retain`, keeping key k when `(k + salt) % 3 != 0` (salt 255: keep none; 254: all).
    Retain { salt: u8 },
    /// `drain`, taking `front` items from the front and `back` from the back, then dropping it.
    Drain { front: u16, back: u16 },
    /// `iter` forwards, backwards, or from both ends alternately, with exact `len()`.
    Iter { mode: u8 },
    /// `iter_mut`, changing every value.
    IterMut,
    /// `get_disjoint_mut` on three keys.
    GetDisjointMut([KeySel; 3]),
    /// `into_iter`, taking some items from each end and dropping the rest; then a new slab
    /// of the same requested capacity on a fresh backing.
    IntoIter { front: u16, back: u16 },
}

/// Decodes fuzzer bytes into operations: one opcode byte, then the operands it needs (zero
/// when the bytes run out). Every byte string is a valid program.
pub fn decode(data: &[u8]) -> Vec<Op> {
    let mut bytes = data.iter().copied();
    let mut next = move || bytes.next();
    let mut ops = Vec::new();
    while let Some(code) = next() {
        let mut byte = || next().unwrap_or(0);
        let key = |byte: &mut dyn FnMut() -> u8| {
            let tag = byte();
            let a = byte() as u32;
            let b = byte() as u32;
            match tag % 4 {
                0 | 1 => KeySel::Live((a << 8 | b) as u16),
                2 => KeySel::Raw(a << 8 | b),
                _ => KeySel::Extreme(a as u8),
            }
        };
        let op = match code % 16 {
            0..=3 => Op::Insert,
            4 => Op::InsertMany(byte() as u16 * 20),
            5 | 6 => Op::Remove(key(&mut byte)),
            7 => Op::Get(key(&mut byte)),
            8 => Op::GetMut(key(&mut byte)),
            9 => Op::VacantEntry {
                insert: byte() % 2 == 0,
            },
            10 => Op::Clear,
            11 => Op::Retain { salt: byte() },
            12 => Op::Drain {
                front: byte() as u16,
                back: byte() as u16,
            },
            13 => match byte() % 4 {
                3 => Op::IterMut,
                mode => Op::Iter { mode },
            },
            14 => Op::GetDisjointMut([key(&mut byte), key(&mut byte), key(&mut byte)]),
            _ => Op::IntoIter {
                front: byte() as u16,
                back: byte() as u16,
            },
        };
        ops.push(op);
    }
    ops
}

/// Drop bookkeeping shared by all values of one run.
#[derive(Default)]
pub struct Log {
    /// Drops per value id.
    counts: RefCell<Vec<u8>>,
    /// Ids in the order they were dropped.
    order: RefCell<Vec<u64>>,
    /// Set when some value dropped twice.
    double: Cell<bool>,
}

impl Log {
    fn new_id(&self) -> u64 {
        let mut c = self.counts.borrow_mut();
        c.push(0);
        c.len() as u64 - 1
    }
    fn created(&self) -> usize {
        self.counts.borrow().len()
    }
    fn dropped(&self) -> usize {
        self.order.borrow().len()
    }
}

/// A value whose drops are counted; `PAD` bytes of padding set its size (and so how many
/// slots fit in a page).
pub struct Val<const PAD: usize> {
    id: u64,
    val: u64,
    log: Rc<Log>,
    _pad: [u8; PAD],
}

impl<const PAD: usize> Drop for Val<PAD> {
    fn drop(&mut self) {
        let mut counts = self.log.counts.borrow_mut();
        let c = &mut counts[self.id as usize];
        *c += 1;
        if *c > 1 {
            self.log.double.set(true);
        }
        self.log.order.borrow_mut().push(self.id);
    }
}

/// The slab and its model.
pub struct Runner<const PAD: usize, B: Backing + Default> {
    slab: Slab<Val<PAD>, B>,
    requested: usize,
    /// Key index → (id, val) of the value the slab should hold there.
    map: BTreeMap<usize, (u64, u64)>,
    /// The expected free list, top last.
    free: Vec<usize>,
    /// The expected high-water mark.
    hwm: usize,
    cap: usize,
    log: Rc<Log>,
    /// Slab operations performed (an `InsertMany` counts each insert).
    pub ops: u64,
}

impl<const PAD: usize, B: Backing + Default> Runner<PAD, B> {
    /// A runner over a fresh slab allocated for `requested` values; its capacity (which page
    /// rounding may make larger) is read back from the slab.
    pub fn new(requested: usize) -> Self {
        let mut slab: Slab<Val<PAD>, B> = Slab::new();
        slab.alloc(requested).expect("allocation");
        let cap = slab.capacity();
        assert!(cap >= requested);
        Runner {
            slab,
            requested,
            map: BTreeMap::new(),
            free: Vec::new(),
            hwm: 0,
            cap,
            log: Rc::new(Log::default()),
            ops: 0,
        }
    }

    /// The slab's capacity.
    pub fn capacity(&self) -> usize {
        self.cap
    }

    fn val(&self) -> Val<PAD> {
        Val {
            id: self.log.new_id(),
            val: 0,
            log: self.log.clone(),
            _pad: [0; PAD],
        }
    }

    fn expected_next(&self) -> Option<usize> {
        self.free
            .last()
            .copied()
            .or((self.hwm < self.cap).then_some(self.hwm))
    }

    fn note_inserted(&mut self, k: usize, id: u64, val: u64) {
        if self.free.last() == Some(&k) {
            self.free.pop();
        } else {
            assert_eq!(
                k, self.hwm,
                "insert took neither the free list's top nor the hwm"
            );
            self.hwm += 1;
        }
        assert!(
            self.map.insert(k, (id, val)).is_none(),
            "live slot handed out twice"
        );
    }

    fn reset_model(&mut self) {
        self.map.clear();
        self.free.clear();
        self.hwm = 0;
    }

    fn resolve(&self, sel: KeySel) -> Key {
        let cap = self.cap;
        Key::new(match sel {
            KeySel::Live(n) if !self.map.is_empty() => {
                *self.map.keys().nth(n as usize % self.map.len()).unwrap()
            }
            KeySel::Live(n) => n as usize % (cap + 1),
            KeySel::Raw(r) => r as usize % (cap + 8),
            KeySel::Extreme(e) => [
                usize::MAX,
                u32::MAX as usize,
                u32::MAX as usize - 1,
                cap,
                cap - 1,
                0,
                isize::MAX as usize,
                1 << 32,
            ][e as usize % 8],
        })
    }

    fn sorted(&self) -> Vec<(usize, u64, u64)> {
        self.map.iter().map(|(&k, &(id, v))| (k, id, v)).collect()
    }

    /// Checks the drop log: nothing dropped twice, and everything created is either in the
    /// slab or dropped (values handed out are dropped before this is called).
    fn check_drops(&self) {
        assert!(!self.log.double.get(), "a value was dropped twice");
        assert_eq!(
            self.log.created() - self.log.dropped(),
            self.map.len(),
            "values leaked or dropped too early"
        );
    }

    /// Checks the cheap observables after every operation.
    fn check(&self) {
        assert_eq!(self.slab.len(), self.map.len(), "len");
        assert_eq!(self.slab.is_empty(), self.map.is_empty());
        assert_eq!(self.slab.is_full(), self.map.len() == self.cap, "is_full");
        assert_eq!(self.slab.capacity(), self.cap);
        self.check_drops();
    }

    /// Checks every value against the model, by lookup and by iteration.
    pub fn check_all(&mut self) {
        self.check();
        let seen: Vec<(usize, u64, u64)> = self
            .slab
            .iter()
            .map(|(k, v)| (k.index(), v.id, v.val))
            .collect();
        assert_eq!(seen, self.sorted(), "contents");
        for (&k, &(id, _)) in &self.map {
            assert_eq!(self.slab.get(Key::new(k)).map(|v| v.id), Some(id));
        }
        assert_eq!(
            self.slab.vacant_entry().ok().map(|e| e.key().index()),
            self.expected_next(),
            "next key"
        );
    }

    /// Ids dropped since `mark` (an index into the drop order).
    fn drops_since(&self, mark: usize) -> Vec<u64> {
        self.log.order.borrow()[mark..].to_vec()
    }

    fn insert_one(&mut self) -> bool {
        self.ops += 1;
        let expect = self.expected_next();
        let v = self.val();
        let id = v.id;
        match self.slab.insert(v) {
            Ok(k) => {
                assert_eq!(Some(k.index()), expect, "wrong key for insert");
                self.note_inserted(k.index(), id, 0);
                true
            }
            Err(full) => {
                assert_eq!(expect, None, "full while a slot was vacant");
                let back = full.into_inner();
                assert_eq!(back.id, id, "Full gave back another value");
                false
            }
        }
    }

    /// Runs one operation on both the slab and the model, and checks the answers.
    pub fn apply(&mut self, op: &Op) {
        match *op {
            Op::Insert => {
                self.insert_one();
            }
            Op::InsertMany(n) => {
                for _ in 0..n {
                    if !self.insert_one() {
                        break;
                    }
                }
            }
            Op::Remove(sel) => {
                self.ops += 1;
                let k = self.resolve(sel);
                let got = self.slab.remove(k).map(|v| (v.id, v.val));
                let want = self.map.remove(&k.index());
                assert_eq!(got, want, "remove {k:?}");
                if want.is_some() {
                    self.free.push(k.index());
                }
            }
            Op::Get(sel) => {
                self.ops += 1;
                let k = self.resolve(sel);
                let got = self.slab.get(k).map(|v| (v.id, v.val));
                assert_eq!(got, self.map.get(&k.index()).copied(), "get {k:?}");
                assert_eq!(self.slab.contains(k), got.is_some(), "contains {k:?}");
            }
            Op::GetMut(sel) => {
                self.ops += 1;
                let k = self.resolve(sel);
                match (self.slab.get_mut(k), self.map.get_mut(&k.index())) {
                    (Some(v), Some(m)) => {
                        assert_eq!((v.id, v.val), *m);
                        v.val += 1;
                        m.1 += 1;
                    }
                    (None, None) => {}
                    (got, want) => panic!(
                        "get_mut {k:?}: slab {:?}, model {want:?}",
                        got.map(|v| v.id)
                    ),
                }
            }
            Op::VacantEntry { insert } => {
                self.ops += 1;
                let expect = self.expected_next();
                let v = self.val();
                let id = v.id;
                match self.slab.vacant_entry() {
                    Ok(entry) => {
                        let k = entry.key().index();
                        assert_eq!(Some(k), expect, "vacant_entry key");
                        if insert {
                            let r = entry.insert(v);
                            assert_eq!(r.id, id);
                            r.val = 7;
                            self.note_inserted(k, id, 7);
                        } else {
                            let _unused = entry; // dropped unused: must change nothing
                            drop(v);
                        }
                    }
                    Err(Error::Full { capacity }) => {
                        assert_eq!(expect, None, "vacant_entry: full while a slot was vacant");
                        assert_eq!(capacity, self.cap);
                        drop(v);
                    }
                    Err(e) => panic!("vacant_entry: {e}"),
                }
            }
            Op::Clear => {
                self.ops += 1;
                let mark = self.log.dropped();
                let ids: Vec<u64> = self.map.values().map(|&(id, _)| id).collect();
                self.slab.clear();
                assert_eq!(self.drops_since(mark), ids, "clear drops in key order");
                self.reset_model();
                self.check_all();
            }
            Op::Retain { salt } => {
                self.ops += 1;
                let keep = |k: usize| match salt {
                    255 => false,
                    254 => true,
                    s => (k + s as usize) % 3 != 0,
                };
                let mark = self.log.dropped();
                let mut visited = Vec::new();
                self.slab.retain(|k, v| {
                    visited.push((k.index(), v.id, v.val));
                    v.val += 2;
                    keep(k.index())
                });
                assert_eq!(
                    visited,
                    self.sorted(),
                    "retain visits every value in key order"
                );
                let mut rejected = Vec::new();
                for (k, id, _) in visited {
                    if keep(k) {
                        self.map.get_mut(&k).unwrap().1 += 2;
                    } else {
                        self.map.remove(&k);
                        self.free.push(k);
                        rejected.push(id);
                    }
                }
                assert_eq!(
                    self.drops_since(mark),
                    rejected,
                    "retain drops the rejected"
                );
                self.check_all();
            }
            Op::Drain { front, back } => {
                self.ops += 1;
                let want = self.sorted();
                let mark = self.log.dropped();
                let mut d = self.slab.drain();
                assert_eq!(d.len(), want.len());
                let front = (front as usize).min(want.len());
                let back = (back as usize).min(want.len() - front);
                let mut got = Vec::new();
                for _ in 0..front {
                    got.push(d.next().map(|(k, v)| (k.index(), v.id, v.val)));
                }
                let mut got_back = Vec::new();
                for _ in 0..back {
                    got_back.push(d.next_back().map(|(k, v)| (k.index(), v.id, v.val)));
                }
                assert_eq!(d.len(), want.len() - front - back);
                drop(d);
                let want_front: Vec<_> = want[..front].iter().copied().map(Some).collect();
                let want_back: Vec<_> = want[want.len() - back..]
                    .iter()
                    .rev()
                    .copied()
                    .map(Some)
                    .collect();
                assert_eq!(got, want_front, "drain from the front");
                assert_eq!(got_back, want_back, "drain from the back");
                let mut dropped = self.drops_since(mark);
                dropped.sort_unstable();
                let mut all: Vec<u64> = want.iter().map(|&(_, id, _)| id).collect();
                all.sort_unstable();
                assert_eq!(dropped, all, "drain drops every value");
                self.reset_model();
                self.check_all();
            }
            Op::Iter { mode } => {
                self.ops += 1;
                let want = self.sorted();
                let mut it = self.slab.iter();
                assert_eq!(it.len(), want.len());
                let item = |(k, v): (Key, &Val<PAD>)| (k.index(), v.id, v.val);
                match mode % 3 {
                    0 => assert_eq!(it.map(item).collect::<Vec<_>>(), want),
                    1 => {
                        let mut rev = want.clone();
                        rev.reverse();
                        assert_eq!(it.rev().map(item).collect::<Vec<_>>(), rev);
                    }
                    _ => {
                        let (mut front, mut back) = (Vec::new(), Vec::new());
                        loop {
                            assert_eq!(it.len(), want.len() - front.len() - back.len());
                            match it.next() {
                                Some(x) => front.push(item(x)),
                                None => break,
                            }
                            match it.next_back() {
                                Some(x) => back.push(item(x)),
                                None => break,
                            }
                        }
                        assert!(it.next().is_none() && it.next_back().is_none(), "fused");
                        back.reverse();
                        front.extend(back);
                        assert_eq!(front, want);
                    }
                }
            }
            Op::IterMut => {
                self.ops += 1;
                let mut n = 0;
                for (k, v) in self.slab.iter_mut() {
                    v.val = v.val.wrapping_mul(3).wrapping_add(k.index() as u64);
                    n += 1;
                }
                assert_eq!(n, self.map.len());
                for (&k, m) in self.map.iter_mut() {
                    m.1 = m.1.wrapping_mul(3).wrapping_add(k as u64);
                }
                self.check_all();
            }
            Op::GetDisjointMut(sels) => {
                self.ops += 1;
                let keys = sels.map(|s| self.resolve(s));
                let mut expected = Ok(());
                for (n, k) in keys.iter().enumerate() {
                    let i = k.index();
                    if !self.map.contains_key(&i) {
                        expected = Err(if i >= self.cap {
                            "out of range"
                        } else {
                            "vacant"
                        });
                        break;
                    }
                    if keys[..n].contains(k) {
                        expected = Err("duplicate");
                        break;
                    }
                }
                match (self.slab.get_disjoint_mut(keys), expected) {
                    (Ok(refs), Ok(())) => {
                        for (n, r) in refs.into_iter().enumerate() {
                            r.val += n as u64 + 1;
                        }
                        for (n, k) in keys.iter().enumerate() {
                            self.map.get_mut(&k.index()).unwrap().1 += n as u64 + 1;
                        }
                    }
                    (Err(Error::KeyOutOfRange { capacity, .. }), Err("out of range")) => {
                        assert_eq!(capacity, self.cap)
                    }
                    (Err(Error::VacantKey { .. }), Err("vacant")) => {}
                    (Err(Error::DuplicateKey { .. }), Err("duplicate")) => {}
                    (got, want) => panic!(
                        "get_disjoint_mut {keys:?}: got {:?}, want {want:?}",
                        got.map(|_| ())
                    ),
                }
            }
            Op::IntoIter { front, back } => {
                self.ops += 1;
                let want = self.sorted();
                let mark = self.log.dropped();
                let fresh = {
                    let mut s: Slab<Val<PAD>, B> = Slab::new();
                    s.alloc(self.requested).expect("allocation after a drop");
                    s
                };
                let slab = std::mem::replace(&mut self.slab, fresh);
                assert_eq!(
                    self.slab.capacity(),
                    self.cap,
                    "same request, same capacity"
                );
                let mut it = slab.into_iter();
                assert_eq!(it.len(), want.len());
                let front = (front as usize).min(want.len());
                let back = (back as usize).min(want.len() - front);
                let mut got = Vec::new();
                for _ in 0..front {
                    let (k, v) = it.next().unwrap();
                    got.push((k.index(), v.id, v.val));
                }
                let mut got_back = Vec::new();
                for _ in 0..back {
                    let (k, v) = it.next_back().unwrap();
                    got_back.push((k.index(), v.id, v.val));
                }
                assert_eq!(got, want[..front]);
                got_back.reverse();
                assert_eq!(got_back, want[want.len() - back..]);
                let yielded = self.drops_since(mark);
                let mark = self.log.dropped();
                drop(it);
                let rest: Vec<u64> = want[front..want.len() - back]
                    .iter()
                    .map(|&(_, id, _)| id)
                    .collect();
                assert_eq!(
                    self.drops_since(mark),
                    rest,
                    "into_iter drops the rest in order"
                );
                assert_eq!(yielded.len(), front + back);
                self.reset_model();
                self.check_all();
            }
        }
        self.check();
    }

    /// Drops the slab and checks that every value created was dropped exactly once, the ones
    /// still in the slab in key order.
    pub fn finish(mut self) {
        self.check_all();
        let log = self.log.clone();
        let mark = log.dropped();
        let ids: Vec<u64> = self.map.values().map(|&(id, _)| id).collect();
        drop(self.slab);
        assert_eq!(
            log.order.borrow()[mark..],
            ids[..],
            "slab drop, in key order"
        );
        assert!(!log.double.get(), "a value was dropped twice");
        assert!(
            log.counts.borrow().iter().all(|&c| c == 1),
            "every value dropped exactly once"
        );
    }
}

/// Runs `ops` on a fresh slab of `requested` capacity and returns the operation count.
pub fn run<const PAD: usize, B: Backing + Default>(requested: usize, ops: &[Op]) -> u64 {
    let mut r = Runner::<PAD, B>::new(requested);
    for op in ops {
        r.apply(op);
    }
    let n = r.ops;
    r.finish();
    n
}
