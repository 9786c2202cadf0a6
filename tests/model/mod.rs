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
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use nexus_slab::{
    backing::{Backing, CloneBacking},
    Error, GenKey, Key, KeyError, Slab, SlabKey,
};

/// The key kinds the model knows, made only through the public constructors (`Key::new`,
/// `GenKey::from_bits`), as a user's code would.
pub trait ModelKey: SlabKey {
    /// Whether keys carry a generation.
    const GENERATIONAL: bool;
    /// The key of slot `index` with generation `generation` (odd; ignored by plain keys).
    fn make(index: usize, generation: u32) -> Self;
    /// The key's generation (0 for plain keys).
    fn generation_bits(self) -> u32;
    /// A key forged from raw bits, as read from outside; `None` when the constructor refuses
    /// the bits (it must refuse exactly the bits no slab hands out).
    fn forge(bits: u64) -> Option<Self>;
}

impl ModelKey for Key {
    const GENERATIONAL: bool = false;
    fn make(index: usize, _: u32) -> Self {
        Key::new_saturating(index)
    }
    fn generation_bits(self) -> u32 {
        0
    }
    fn forge(bits: u64) -> Option<Self> {
        Some(Key::new_saturating(bits as usize))
    }
}

impl ModelKey for GenKey {
    const GENERATIONAL: bool = true;
    fn make(index: usize, generation: u32) -> Self {
        GenKey::from_bits(u64::from(generation) << 32 | index as u64)
            .expect("the model makes keys with odd generations")
    }
    fn generation_bits(self) -> u32 {
        self.generation()
    }
    fn forge(bits: u64) -> Option<Self> {
        let key = GenKey::from_bits(bits);
        let generation = (bits >> 32) as u32;
        assert_eq!(
            key.is_some(),
            generation % 2 == 1,
            "from_bits({bits:#x}) must refuse exactly the even generations"
        );
        key
    }
}

/// How an operation names a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeySel {
    /// The n-th live key (modulo how many there are); any slot when none is live.
    Live(u16),
    /// A raw index in `0..capacity + 8` (so vacant, never-used and out-of-range keys too).
    Raw(u32),
    /// One of a few extreme keys (`usize::MAX`, `u32::MAX`, the capacity, ...).
    Extreme(u8),
    /// The n-th of the keys handed out so far (modulo how many): stale ones included.
    Old(u16),
    /// A key forged from raw bits (`Key::new_saturating(bits as usize)`, `GenKey::from_bits(bits)`), as
    /// from a file or the network; the low bits are folded into a small range half the time
    /// (`Bits(b)` with bit 31 set), so forgeries land on real slots.
    Bits(u64),
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
    /// `insert_at` the key named (vacant, occupied, stale, forged, out of range).
    InsertAt(KeySel),
    /// `key_of` a live value (and of a copy, which must miss); `vacant_key`.
    KeyOf(KeySel),
    /// `keys`, `values` or `values_mut`, from the front, the back or both.
    Parts { mode: u8 },
    /// `try_clone`, going on with the copy (the original is dropped).
    TryClone,
    /// Serialise (postcard) and deserialise, going on with the copy (`serde` feature only;
    /// otherwise nothing).
    RoundTrip,
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
            match tag % 6 {
                0 | 1 => KeySel::Live((a << 8 | b) as u16),
                2 => KeySel::Raw(a << 8 | b),
                3 => KeySel::Old((a << 8 | b) as u16),
                4 => {
                    // Eight bytes of key bits (the fuzzer forges keys, not only replays them).
                    let mut bits = u64::from(a) << 8 | u64::from(b);
                    for _ in 0..6 {
                        bits = bits << 8 | u64::from(byte());
                    }
                    KeySel::Bits(bits)
                }
                _ => KeySel::Extreme(a as u8),
            }
        };
        let op = match code % 21 {
            16 => Op::InsertAt(key(&mut byte)),
            17 => Op::KeyOf(key(&mut byte)),
            18 => Op::Parts { mode: byte() },
            19 => Op::TryClone,
            20 => Op::RoundTrip,
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

impl<const PAD: usize> Clone for Val<PAD> {
    /// A new value (a new id) with the same contents.
    fn clone(&self) -> Self {
        Val {
            id: self.log.new_id(),
            val: self.val,
            log: self.log.clone(),
            _pad: self._pad,
        }
    }
}

#[cfg(feature = "serde")]
thread_local! {
    /// The log that deserialised values join (set by the runner around a round trip).
    static CURRENT_LOG: RefCell<Option<Rc<Log>>> = const { RefCell::new(None) };
}

#[cfg(feature = "serde")]
impl<const PAD: usize> serde::Serialize for Val<PAD> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.val)
    }
}

#[cfg(feature = "serde")]
impl<'de, const PAD: usize> serde::Deserialize<'de> for Val<PAD> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let val = <u64 as serde::Deserialize>::deserialize(d)?;
        let log = CURRENT_LOG
            .with(|l| l.borrow().clone())
            .expect("a runner's log");
        Ok(Val {
            id: log.new_id(),
            val,
            log,
            _pad: [0; PAD],
        })
    }
}

impl<const PAD: usize> Drop for Val<PAD> {
    fn drop(&mut self) {
        if self.id == u64::MAX {
            return; // a copy made to probe the slab, never inserted: not a counted value
        }
        let mut counts = self.log.counts.borrow_mut();
        let c = &mut counts[self.id as usize];
        *c += 1;
        if *c > 1 {
            self.log.double.set(true);
        }
        self.log.order.borrow_mut().push(self.id);
    }
}

/// The slab and its model. With generational keys (`K::GENERATIONAL`) the model also keeps
/// each slot's generation (+1 on every insert and every removal), checks that stale keys miss
/// (`StaleKey` from `get_disjoint_mut`), and that clear and drain keep the free list instead
/// of restarting at key 0.
pub struct Runner<const PAD: usize, B: Backing + Default + CloneBacking, K: ModelKey = Key> {
    slab: Slab<Val<PAD>, B, K>,
    requested: usize,
    /// Key index → (id, val) of the value the slab should hold there.
    map: BTreeMap<usize, (u64, u64)>,
    /// The expected free list, top last.
    free: Vec<usize>,
    /// Loose slots: vacant below the high-water mark, on no list (after an `insert_at` that
    /// skipped slots or took one that was not next in line). While `loosened`, inserts take
    /// the list's top, and when it is empty every loose slot, lowest first, before any
    /// never-used slot.
    loose: BTreeSet<usize>,
    loosened: bool,
    /// The expected high-water mark.
    hwm: usize,
    cap: usize,
    /// Each slot's generation (generational keys only).
    gens: Vec<u32>,
    /// Slots retired because their generation would have wrapped (generational keys only):
    /// vacant at generation 0, on no free list, refused by `insert_at`, never handed out again.
    retired: BTreeSet<usize>,
    /// Keys handed out so far (the most recent 1000), for stale-key lookups.
    issued: Vec<K>,
    log: Rc<Log>,
    /// Slab operations performed (an `InsertMany` counts each insert).
    pub ops: u64,
}

type Item = (usize, u64, u64);

impl<const PAD: usize, B: Backing + Default + CloneBacking, K: ModelKey> Runner<PAD, B, K> {
    /// A runner over a fresh slab allocated for `requested` values; its capacity (which page
    /// rounding may make larger) is read back from the slab.
    pub fn new(requested: usize) -> Self {
        let slab = Self::fresh(requested);
        let cap = slab.capacity();
        assert!(cap >= requested);
        Runner {
            slab,
            requested,
            map: BTreeMap::new(),
            free: Vec::new(),
            loose: BTreeSet::new(),
            loosened: false,
            hwm: 0,
            cap,
            gens: vec![0; if K::GENERATIONAL { cap } else { 0 }],
            retired: BTreeSet::new(),
            issued: Vec::new(),
            log: Rc::new(Log::default()),
            ops: 0,
        }
    }

    fn fresh(requested: usize) -> Slab<Val<PAD>, B, K> {
        let mut slab: Slab<Val<PAD>, B, K> = Slab::new();
        slab.alloc(requested).expect("allocation");
        slab
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
            .or_else(|| self.loosened.then(|| self.loose.first().copied()).flatten())
            .or((self.hwm < self.cap).then_some(self.hwm))
    }

    /// The slab found its list empty while slots were loose: they go on the list, lowest on
    /// top.
    fn settle(&mut self) {
        if self.loosened && self.free.is_empty() {
            self.free.extend(self.loose.iter().rev());
            self.loose.clear();
            self.loosened = false;
        }
    }

    /// The current generation of slot `i` (0 for plain keys and out-of-range slots).
    fn gen(&self, i: usize) -> u32 {
        if K::GENERATIONAL {
            self.gens.get(i).copied().unwrap_or(0)
        } else {
            0
        }
    }

    /// The key of slot `i` as it is now. For a vacant slot (even generation) this is the key
    /// its next occupant will get, which must match nothing yet; a generational key's index
    /// stops at `u32::MAX`.
    fn key_of(&self, i: usize) -> K {
        if !K::GENERATIONAL {
            return K::make(i, 0);
        }
        let i = i.min(u32::MAX as usize);
        let g = self.gen(i);
        K::make(i, if g % 2 == 1 { g } else { g + 1 })
    }

    /// The key the next insert should return.
    fn expected_key(&self) -> Option<K> {
        let i = self.expected_next()?;
        Some(K::make(
            i,
            if K::GENERATIONAL { self.gen(i) + 1 } else { 0 },
        ))
    }

    fn note_inserted(&mut self, key: K, id: u64, val: u64) {
        let k = key.index();
        self.settle();
        if self.free.last() == Some(&k) {
            self.free.pop();
        } else {
            assert_eq!(
                k, self.hwm,
                "insert took neither the free list's top nor the hwm"
            );
            self.hwm += 1;
        }
        if K::GENERATIONAL {
            self.gens[k] += 1;
        }
        assert_eq!(key, self.key_of(k), "the key's generation");
        assert!(
            self.map.insert(k, (id, val)).is_none(),
            "live slot handed out twice"
        );
        if self.issued.len() >= 1000 {
            self.issued.remove(0);
        }
        self.issued.push(key);
    }

    /// The slab took the value out of slot `k`: the slot goes on the free list under a new
    /// generation.
    fn note_removed(&mut self, k: usize) -> (u64, u64) {
        let v = self
            .map
            .remove(&k)
            .expect("removed a slot the model has vacant");
        if K::GENERATIONAL {
            if self.gens[k] == u32::MAX {
                // The next generation would wrap: the slab retires the slot for good.
                self.gens[k] = 0;
                self.retired.insert(k);
                return v;
            }
            self.gens[k] += 1;
        }
        self.free.push(k);
        v
    }

    /// After clear or a finished drain: plain keys restart at 0, generational ones keep their
    /// free list (so a key is never repeated).
    fn restart(&mut self) {
        assert!(self.map.is_empty());
        if !K::GENERATIONAL {
            self.free.clear();
            self.loose.clear();
            self.loosened = false;
            self.hwm = 0;
        }
    }

    /// Whether the model holds a value under `key` (index and, if generational, generation).
    fn hits(&self, key: K) -> bool {
        self.map.contains_key(&key.index())
            && (!K::GENERATIONAL || self.gen(key.index()) == key.generation_bits())
    }

    /// The key an operation names; `None` for forged bits the constructor refused.
    fn resolve(&self, sel: KeySel) -> Option<K> {
        let cap = self.cap;
        let i = match sel {
            KeySel::Old(n) if !self.issued.is_empty() => {
                return Some(self.issued[n as usize % self.issued.len()]);
            }
            KeySel::Bits(bits) => {
                let bits = if bits & (1 << 31) != 0 {
                    // Fold the index into the slab's range and a little beyond.
                    (bits & !0xffff_ffff) | ((bits & 0x7fff_ffff) % (cap as u64 + 8))
                } else {
                    bits
                };
                return K::forge(bits);
            }
            KeySel::Live(n) if !self.map.is_empty() => {
                *self.map.keys().nth(n as usize % self.map.len()).unwrap()
            }
            KeySel::Live(n) | KeySel::Old(n) => n as usize % (cap + 1),
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
        };
        Some(self.key_of(i))
    }

    fn sorted(&self) -> Vec<Item> {
        self.map.iter().map(|(&k, &(id, v))| (k, id, v)).collect()
    }

    /// An item the slab yielded, with its key checked against the model's.
    fn item(&self, key: K, v: &Val<PAD>) -> Item {
        assert_eq!(key, self.key_of(key.index()), "yielded key");
        (key.index(), v.id, v.val)
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
        assert_eq!(
            self.slab.is_full(),
            self.expected_next().is_none(),
            "is_full"
        );
        assert_eq!(self.slab.capacity(), self.cap);
        self.check_drops();
    }

    /// Checks every value against the model, by lookup and by iteration.
    pub fn check_all(&mut self) {
        self.check();
        let seen: Vec<Item> = self.slab.iter().map(|(k, v)| self.item(k, v)).collect();
        assert_eq!(seen, self.sorted(), "contents");
        for (&k, &(id, _)) in &self.map {
            assert_eq!(self.slab.get(self.key_of(k)).map(|v| v.id), Some(id));
        }
        let next = self.slab.vacant_entry().ok().map(|e| e.key());
        assert_eq!(next, self.expected_key(), "next key");
    }

    /// Ids dropped since `mark` (an index into the drop order).
    fn drops_since(&self, mark: usize) -> Vec<u64> {
        self.log.order.borrow()[mark..].to_vec()
    }

    fn insert_one(&mut self) -> bool {
        self.ops += 1;
        let expect = self.expected_key();
        let v = self.val();
        let id = v.id;
        match self.slab.insert(v) {
            Ok(k) => {
                assert_eq!(Some(k), expect, "wrong key for insert");
                self.note_inserted(k, id, 0);
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
                let Some(k) = self.resolve(sel) else { return };
                let want = self.hits(k).then(|| self.map[&k.index()]);
                let got = self.slab.remove(k).map(|v| (v.id, v.val));
                assert_eq!(got, want, "remove {k:?}");
                if want.is_some() {
                    self.note_removed(k.index());
                }
            }
            Op::Get(sel) => {
                self.ops += 1;
                let Some(k) = self.resolve(sel) else { return };
                let want = self.hits(k).then(|| self.map[&k.index()]);
                let got = self.slab.get(k).map(|v| (v.id, v.val));
                assert_eq!(got, want, "get {k:?}");
                assert_eq!(self.slab.contains(k), got.is_some(), "contains {k:?}");
            }
            Op::GetMut(sel) => {
                self.ops += 1;
                let Some(k) = self.resolve(sel) else { return };
                let hit = self.hits(k);
                match (self.slab.get_mut(k), hit) {
                    (Some(v), true) => {
                        let m = self.map.get_mut(&k.index()).unwrap();
                        assert_eq!((v.id, v.val), *m);
                        v.val += 1;
                        m.1 += 1;
                    }
                    (None, false) => {}
                    (got, _) => panic!(
                        "get_mut {k:?}: slab {:?}, model hit {hit}",
                        got.map(|v| v.id)
                    ),
                }
            }
            Op::VacantEntry { insert } => {
                self.ops += 1;
                let expect = self.expected_key();
                let v = self.val();
                let id = v.id;
                match self.slab.vacant_entry() {
                    Ok(entry) => {
                        let k = entry.key();
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
                    Err(full) => {
                        assert_eq!(expect, None, "vacant_entry: full while a slot was vacant");
                        assert_eq!(full.capacity(), self.cap);
                        drop(v);
                    }
                }
            }
            Op::Clear => {
                self.ops += 1;
                let mark = self.log.dropped();
                let ids: Vec<u64> = self.map.values().map(|&(id, _)| id).collect();
                self.slab.clear();
                assert_eq!(self.drops_since(mark), ids, "clear drops in key order");
                let keys: Vec<usize> = self.map.keys().copied().collect();
                for k in keys {
                    self.note_removed(k);
                }
                self.restart();
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
                let mut seen_keys = Vec::new();
                self.slab.retain(|k, v| {
                    seen_keys.push(k);
                    visited.push((k.index(), v.id, v.val));
                    v.val += 2;
                    keep(k.index())
                });
                for k in &seen_keys {
                    assert_eq!(*k, self.key_of(k.index()), "retain's key");
                }
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
                        self.note_removed(k);
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
                let want_keys: Vec<K> = want.iter().map(|&(k, _, _)| self.key_of(k)).collect();
                let mark = self.log.dropped();
                let mut d = self.slab.drain();
                assert_eq!(d.len(), want.len());
                let front = (front as usize).min(want.len());
                let back = (back as usize).min(want.len() - front);
                let mut got = Vec::new();
                for _ in 0..front {
                    got.push(d.next().map(|(k, v)| (k, (k.index(), v.id, v.val))));
                }
                let mut got_back = Vec::new();
                for _ in 0..back {
                    got_back.push(d.next_back().map(|(k, v)| (k, (k.index(), v.id, v.val))));
                }
                assert_eq!(d.len(), want.len() - front - back);
                drop(d);
                let want_front: Vec<_> =
                    (0..front).map(|n| Some((want_keys[n], want[n]))).collect();
                let want_back: Vec<_> = (want.len() - back..want.len())
                    .rev()
                    .map(|n| Some((want_keys[n], want[n])))
                    .collect();
                assert_eq!(got, want_front, "drain from the front");
                assert_eq!(got_back, want_back, "drain from the back");
                let mut dropped = self.drops_since(mark);
                dropped.sort_unstable();
                let mut all: Vec<u64> = want.iter().map(|&(_, id, _)| id).collect();
                all.sort_unstable();
                assert_eq!(dropped, all, "drain drops every value");
                // The slab took them out in this order: front, back, then the rest in key order.
                let order = (0..front)
                    .chain((want.len() - back..want.len()).rev())
                    .chain(front..want.len() - back);
                for n in order {
                    self.note_removed(want[n].0);
                }
                self.restart();
                self.check_all();
            }
            Op::Iter { mode } => {
                self.ops += 1;
                let want = self.sorted();
                let mut it = self.slab.iter();
                assert_eq!(it.len(), want.len());
                let item = |(k, v): (K, &Val<PAD>)| self.item(k, v);
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
                let mut keys = Vec::new();
                for (k, v) in self.slab.iter_mut() {
                    v.val = v.val.wrapping_mul(3).wrapping_add(k.index() as u64);
                    keys.push(k);
                }
                assert_eq!(keys.len(), self.map.len());
                for k in keys {
                    assert_eq!(k, self.key_of(k.index()), "iter_mut's key");
                }
                for (&k, m) in self.map.iter_mut() {
                    m.1 = m.1.wrapping_mul(3).wrapping_add(k as u64);
                }
                self.check_all();
            }
            Op::GetDisjointMut(sels) => {
                self.ops += 1;
                let Some(keys) = sels
                    .map(|s| self.resolve(s))
                    .into_iter()
                    .collect::<Option<Vec<K>>>()
                else {
                    return;
                };
                let keys: [K; 3] = keys.try_into().unwrap();
                let mut expected = Ok(());
                for (n, k) in keys.iter().enumerate() {
                    let i = k.index();
                    if !self.hits(*k) {
                        // Stale: the slot has moved past the key's generation (its value was
                        // removed, whether or not the slot was reused), or it is retired.
                        // Anything else in range names no value: vacant.
                        expected = Err(if i >= self.cap {
                            "out of range"
                        } else if K::GENERATIONAL
                            && (k.generation_bits() < self.gen(i) || self.retired.contains(&i))
                        {
                            "stale"
                        } else {
                            "vacant"
                        });
                        break;
                    }
                    if keys[..n].iter().any(|o| o.index() == i) {
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
                    (Err(KeyError::OutOfRange { capacity, .. }), Err("out of range")) => {
                        assert_eq!(capacity, self.cap)
                    }
                    (Err(KeyError::Vacant { .. }), Err("vacant")) => {}
                    (Err(KeyError::Stale { .. }), Err("stale")) => {}
                    (Err(KeyError::Duplicate { .. }), Err("duplicate")) => {}
                    (got, want) => panic!(
                        "get_disjoint_mut {keys:?}: got {:?}, want {want:?}",
                        got.map(|_| ())
                    ),
                }
            }
            Op::InsertAt(sel) => {
                self.ops += 1;
                let Some(k) = self.resolve(sel) else { return };
                let i = k.index();
                let expected = if i >= self.cap {
                    Err("out of range")
                } else if self.map.contains_key(&i) {
                    Err("occupied")
                } else if self.retired.contains(&i)
                    || K::GENERATIONAL
                        && (k.generation_bits() % 2 == 0 || k.generation_bits() <= self.gen(i))
                {
                    // A retired slot, or a generation that would revive a stale key.
                    Err("stale")
                } else {
                    Ok(())
                };
                let v = self.val();
                let id = v.id;
                match (self.slab.insert_at(k, v), expected) {
                    (Ok(()), Ok(())) => {
                        if i >= self.hwm {
                            // Skipped slots are loose.
                            self.loose.extend(self.hwm..i);
                            self.loosened |= i > self.hwm;
                            self.hwm = i + 1;
                        } else if self.free.last() == Some(&i) {
                            self.free.pop();
                        } else {
                            // Not next in line: the whole list turns loose, and the slot is
                            // taken from there.
                            assert!(
                                self.free.contains(&i) || self.loose.contains(&i),
                                "a vacant slot is listed or loose"
                            );
                            self.loose.extend(self.free.drain(..));
                            self.loosened = true;
                            self.loose.remove(&i);
                        }
                        if K::GENERATIONAL {
                            self.gens[i] = k.generation_bits();
                        }
                        assert!(self.map.insert(i, (id, 0)).is_none());
                        self.issued.push(k);
                        assert_eq!(self.slab.get(k).map(|v| v.id), Some(id));
                    }
                    (Err(e), Err(want)) => {
                        let ok = matches!(
                            (e.error(), want),
                            (KeyError::OutOfRange { .. }, "out of range")
                                | (KeyError::Occupied { .. }, "occupied")
                                | (KeyError::Stale { .. }, "stale")
                        );
                        assert!(ok, "insert_at {k:?}: {:?}, want {want}", e.error());
                        assert_eq!(e.into_inner().id, id, "insert_at handed back another value");
                    }
                    (got, want) => panic!(
                        "insert_at {k:?}: got {:?}, want {want:?}",
                        got.map_err(|e| e.into_parts().1)
                    ),
                }
                self.check_all();
            }
            Op::KeyOf(sel) => {
                self.ops += 1;
                assert_eq!(self.slab.vacant_key(), self.expected_key(), "vacant_key");
                let Some(k) = self.resolve(sel) else { return };
                if self.hits(k) {
                    let v = self.slab.get(k).unwrap();
                    assert_eq!(self.slab.key_of(v), Some(k), "key_of a live value");
                    let copy = Val::<PAD> {
                        id: u64::MAX,
                        val: v.val,
                        log: self.log.clone(),
                        _pad: [0; PAD],
                    };
                    assert_eq!(self.slab.key_of(&copy), None, "key_of a copy");
                    // Dropped, not forgotten: forgetting it leaked its share of the log (the
                    // fuzzer's leak sanitizer reports that).
                    drop(copy);
                }
            }
            Op::Parts { mode } => {
                self.ops += 1;
                let want = self.sorted();
                let keys: Vec<K> = want.iter().map(|&(k, _, _)| self.key_of(k)).collect();
                let ids: Vec<u64> = want.iter().map(|&(_, id, _)| id).collect();
                assert_eq!(self.slab.keys().len(), want.len());
                assert_eq!(self.slab.values().len(), want.len());
                match mode % 4 {
                    0 => assert_eq!(self.slab.keys().collect::<Vec<_>>(), keys),
                    1 => {
                        let mut rev: Vec<K> = self.slab.keys().rev().collect();
                        rev.reverse();
                        assert_eq!(rev, keys);
                    }
                    2 => {
                        let got: Vec<u64> = self.slab.values().map(|v| v.id).collect();
                        assert_eq!(got, ids);
                    }
                    _ => {
                        let mut it = self.slab.values_mut();
                        let mut got = Vec::new();
                        while let Some(v) = it.next_back() {
                            v.val += 5;
                            got.push(v.id);
                        }
                        got.reverse();
                        assert_eq!(got, ids);
                        for m in self.map.values_mut() {
                            m.1 += 5;
                        }
                    }
                }
            }
            Op::TryClone => {
                self.ops += 1;
                let copy = match self.slab.try_clone() {
                    Ok(copy) => copy,
                    // A second hugetlb slab needs pages the pool may not have (other tests
                    // hold some): the typed error, and the original unchanged.
                    Err(Error::HugePagesUnavailable { .. }) => return self.check_all(),
                    Err(e) => panic!("try_clone: {e}"),
                };
                // The copy holds new values (new ids), in key order; the original's go when it
                // is dropped.
                let mark = self.log.dropped();
                let old: Vec<u64> = self.map.values().map(|&(id, _)| id).collect();
                let ids: Vec<u64> = copy.values().map(|v| v.id).collect();
                drop(std::mem::replace(&mut self.slab, copy));
                assert_eq!(self.drops_since(mark), old, "the original drops its values");
                for (m, id) in self.map.values_mut().zip(ids) {
                    m.0 = id;
                }
                self.check_all();
            }
            #[cfg(feature = "serde")]
            Op::RoundTrip => {
                self.ops += 1;
                let bytes = postcard::to_allocvec(&self.slab).expect("serialise");
                CURRENT_LOG.with(|l| *l.borrow_mut() = Some(self.log.clone()));
                let copy: Result<Slab<Val<PAD>, B, K>, _> = postcard::from_bytes(&bytes);
                CURRENT_LOG.with(|l| *l.borrow_mut() = None);
                let copy = match copy {
                    Ok(copy) => copy,
                    // As for `TryClone`: a hugetlb pool too small for a second slab.
                    Err(e) => {
                        // postcard keeps no message: ask the backing itself whether a second
                        // slab of this capacity fits.
                        let mut probe: Slab<Val<PAD>, B, K> = Slab::new();
                        match probe.alloc(self.cap) {
                            Err(Error::HugePagesUnavailable { .. }) => return self.check_all(),
                            _ => panic!("deserialise: {e}"),
                        }
                    }
                };
                let mark = self.log.dropped();
                let old: Vec<u64> = self.map.values().map(|&(id, _)| id).collect();
                let ids: Vec<u64> = copy.values().map(|v| v.id).collect();
                drop(std::mem::replace(&mut self.slab, copy));
                assert_eq!(self.drops_since(mark), old);
                // A snapshot lists the vacant slots in the order inserts take them (the list,
                // then the loose slots lowest first): the copy has them all listed.
                let loose: Vec<usize> = self.loose.iter().rev().copied().collect();
                self.free.splice(0..0, loose);
                self.loose.clear();
                self.loosened = false;
                for (m, id) in self.map.values_mut().zip(ids) {
                    m.0 = id;
                }
                self.check_all();
            }
            #[cfg(not(feature = "serde"))]
            Op::RoundTrip => {}
            Op::IntoIter { front, back } => {
                self.ops += 1;
                let want = self.sorted();
                let mark = self.log.dropped();
                let slab = std::mem::replace(&mut self.slab, Self::fresh(self.requested));
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
                    got.push(self.item(k, &v));
                }
                let mut got_back = Vec::new();
                for _ in 0..back {
                    let (k, v) = it.next_back().unwrap();
                    got_back.push(self.item(k, &v));
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
                self.map.clear();
                self.free.clear();
                self.loose.clear();
                self.loosened = false;
                self.hwm = 0;
                self.gens.iter_mut().for_each(|g| *g = 0);
                self.retired.clear();
                self.issued.clear();
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
pub fn run<const PAD: usize, B: Backing + Default + CloneBacking>(
    requested: usize,
    ops: &[Op],
) -> u64 {
    run_keyed::<PAD, B, Key>(requested, ops)
}

/// As [`run`], with keys of type `K` (`Key` or `GenKey`).
pub fn run_keyed<const PAD: usize, B: Backing + Default + CloneBacking, K: ModelKey>(
    requested: usize,
    ops: &[Op],
) -> u64 {
    let mut r = Runner::<PAD, B, K>::new(requested);
    for op in ops {
        r.apply(op);
    }
    let n = r.ops;
    r.finish();
    n
}
