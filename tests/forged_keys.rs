//! Keys from outside: every value the public key constructors can produce (`Key::new`,
//! `From<usize>`, `GenKey::from_bits`) — as a user gets them from disk, the network or epoll
//! data — driven against slots in every state (never used, occupied, vacant on the free list,
//! reused, after `clear`, `drain`, `retain`, full, unallocated), on every backing.
//!
//! The rule checked: a key finds a value only if the slab handed out that key for the value now
//! in its slot (plain keys: only if the slot holds a value). Every other key finds nothing,
//! removes nothing and changes nothing; the slab's bookkeeping (`len`, iteration, the keys the
//! next inserts get, drops) stays exactly that of a model. Values are drop-tracked, so a double
//! drop is caught natively and a use after free by Miri.

mod common;

use std::collections::HashMap;
use std::hash::Hash;
use std::panic::{catch_unwind, AssertUnwindSafe};

use common::{DropLog, Rng, Tracked};
use nexus_slab::{backing::Backing, GenKey, Key, KeyError, Slab, SlabKey};

common::backing_tests!(
    mmap => nexus_slab::backing::Mmap,
    heap => nexus_slab::backing::Heap,
    locked => nexus_slab::backing::Locked<nexus_slab::backing::Mmap> | "Miri does not model mlock";
    [
    plain_keys_from_anywhere_in_usize,
    gen_keys_from_any_bits,
    gen_keys_of_every_generation_class,
    every_u64_pattern_of_a_stale_gen_key_misses,
]
);

/// How each key kind is forged from outside.
trait Forge: SlabKey + Hash {
    /// Keys naming slot `index` (or beyond) as a user could make them; `history` lists the keys
    /// the slab ever handed out, so forgeries near real generations are tried too.
    fn forged(index: u64, history: &[Self], rng: &mut Rng) -> Vec<Self>;
}

impl Forge for Key {
    fn forged(index: u64, _: &[Self], _: &mut Rng) -> Vec<Self> {
        match usize::try_from(index) {
            Ok(i) => Key::try_from(i)
                .into_iter()
                .chain([Key::new_saturating(i)])
                .collect(),
            Err(_) => vec![],
        }
    }
}

impl Forge for GenKey {
    fn forged(index: u64, history: &[Self], rng: &mut Rng) -> Vec<Self> {
        let Ok(index) = u32::try_from(index) else {
            return vec![];
        };
        let mut gens: Vec<u32> = if cfg!(miri) {
            vec![0, 1, 2, u32::MAX]
        } else {
            vec![
                0,
                1,
                2,
                3,
                4,
                5,
                1 << 31,
                (1 << 31) + 1,
                u32::MAX - 2,
                u32::MAX - 1,
                u32::MAX,
                rng.next() as u32,
            ]
        };
        for k in history.iter().filter(|k| k.index() == index as usize) {
            let g = k.generation();
            gens.extend([
                g.wrapping_sub(2),
                g.wrapping_sub(1),
                g,
                g.wrapping_add(1),
                g.wrapping_add(2),
            ]);
        }
        gens.into_iter()
            .filter_map(|g| {
                let key = GenKey::from_bits(u64::from(g) << 32 | u64::from(index));
                // No slab ever hands out generation 0 or an even one: such bits are refused.
                assert_eq!(key.is_some(), g % 2 == 1, "from_bits with generation {g}");
                key
            })
            .collect()
    }
}

/// A slab in a known state, its model, and every key it ever handed out.
struct Scene<K: Forge, B: Backing> {
    name: &'static str,
    slab: Slab<Tracked, B, K>,
    live: HashMap<K, u64>,
    history: Vec<K>,
    log: DropLog,
    next_id: u64,
}

impl<K: Forge, B: Backing + Default> Scene<K, B> {
    fn new(name: &'static str, n: usize) -> Self {
        let slab = if n == 0 {
            Slab::new()
        } else {
            Slab::with_capacity(n)
        };
        Scene {
            name,
            slab,
            live: HashMap::new(),
            history: Vec::new(),
            log: DropLog::new(),
            next_id: 0,
        }
    }

    fn insert(&mut self) -> K {
        let id = self.next_id;
        self.next_id += 1;
        let k = self.slab.insert(self.log.item(id)).unwrap();
        assert!(
            self.live.insert(k, id).is_none(),
            "{}: {k:?} twice",
            self.name
        );
        self.history.push(k);
        k
    }

    fn remove(&mut self, k: K) {
        let id = self.live.remove(&k).unwrap();
        assert_eq!(self.slab.remove(k).map(|v| v.id), Some(id));
    }

    fn forget_all(&mut self) {
        self.live.clear();
    }

    /// The slab agrees with the model: length, iteration (both ways), every live key.
    fn check(&self) {
        let s = &self.slab;
        assert_eq!(s.len(), self.live.len(), "{}: len", self.name);
        let mut seen: Vec<(K, u64)> = s.iter().map(|(k, v)| (k, v.id)).collect();
        let back: Vec<(K, u64)> = s.iter().rev().map(|(k, v)| (k, v.id)).collect();
        assert_eq!(seen.len(), s.len(), "{}: iter length", self.name);
        assert!(seen.iter().eq(back.iter().rev()), "{}: iter.rev", self.name);
        let mut want: Vec<(K, u64)> = self.live.iter().map(|(k, v)| (*k, *v)).collect();
        want.sort();
        seen.sort();
        assert_eq!(seen, want, "{}: iteration vs model", self.name);
        for (k, id) in &self.live {
            assert_eq!(s.get(*k).map(|v| v.id), Some(*id), "{}: {k:?}", self.name);
        }
    }

    /// Every forged key near every interesting index: found exactly when the model says so.
    fn probe(&mut self, rng: &mut Rng) {
        let cap = self.slab.capacity() as u64;
        // Natively every slot of the first 200; under Miri (slow) the interesting ones.
        let mut indices: Vec<u64> = if cfg!(miri) {
            vec![0, 1, 6, 10, 11, 39, 40]
        } else {
            (0..cap.min(200)).collect()
        };
        indices.extend([
            cap.saturating_sub(1),
            cap,
            cap + 1,
            cap.next_multiple_of(64),
            cap.next_multiple_of(64) + 1,
            1 << 31,
            u64::from(u32::MAX) - 1,
            u64::from(u32::MAX),
            u64::from(u32::MAX) + 1,
            1 << 63,
            u64::MAX - 1,
            u64::MAX,
        ]);
        let randoms = if cfg!(miri) { 1 } else { 64 };
        for _ in 0..randoms {
            indices.push(rng.next());
            indices.push(rng.next() >> 32);
        }
        let mut keys: Vec<K> = Vec::new();
        for i in indices {
            keys.extend(K::forged(i, &self.history, rng));
        }
        keys.sort();
        keys.dedup();
        let live_before = self.live.len();
        for &k in &keys {
            self.probe_one(k);
        }
        assert_eq!(
            self.slab.len(),
            live_before,
            "{}: probing changed len",
            self.name
        );
        self.check();
        // Removing with every forged key that is not live removes nothing.
        for &k in &keys {
            if !self.live.contains_key(&k) {
                assert!(
                    self.slab.remove(k).is_none(),
                    "{}: {k:?} removed",
                    self.name
                );
            }
        }
        self.check();
        // Then the live ones, through the forged copies: each exactly once.
        for &k in &keys {
            if let Some(id) = self.live.remove(&k) {
                assert_eq!(self.slab.remove(k).map(|v| v.id), Some(id), "{}", self.name);
                assert!(
                    self.slab.remove(k).is_none(),
                    "{}: removed twice",
                    self.name
                );
            }
        }
        self.check();
        // The free list is intact: the slab fills to capacity with distinct keys, each found.
        while !self.slab.is_full() {
            self.insert();
        }
        assert_eq!(self.slab.len(), self.slab.capacity());
        self.check();
        self.log.assert_no_double_drop();
    }

    fn probe_one(&mut self, k: K) {
        let name = self.name;
        let want = self.live.get(&k).copied();
        let s = &mut self.slab;
        assert_eq!(s.get(k).map(|v| v.id), want, "{name}: get {k:?}");
        assert_eq!(s.get_mut(k).map(|v| v.id), want, "{name}: get_mut {k:?}");
        assert_eq!(s.contains(k), want.is_some(), "{name}: contains {k:?}");
        match want {
            Some(id) => {
                assert_eq!(s[k].id, id);
                assert_eq!(s.get_disjoint_mut([k]).unwrap()[0].id, id);
                assert!(matches!(
                    s.get_disjoint_mut([k, k]),
                    Err(KeyError::Duplicate { .. })
                ));
            }
            // Unwinding is slow under Miri: there, every 16th missing key checks `Index`.
            None if cfg!(miri) && k.index() % 16 != 0 => {
                assert!(s.get_disjoint_mut([k]).is_err(), "{name}: {k:?}");
            }
            None => {
                let r = catch_unwind(AssertUnwindSafe(|| s[k].id));
                assert!(r.is_err(), "{name}: slab[{k:?}] must panic");
                let r = catch_unwind(AssertUnwindSafe(|| s[k].id = 0));
                assert!(r.is_err(), "{name}: slab[{k:?}] = .. must panic");
                let err = s.get_disjoint_mut([k]).err();
                assert!(
                    matches!(
                        err,
                        Some(
                            KeyError::Vacant { .. }
                                | KeyError::Stale { .. }
                                | KeyError::OutOfRange { .. }
                        )
                    ),
                    "{name}: get_disjoint_mut({k:?}) gave {err:?}"
                );
            }
        }
    }
}

/// Every slot state a user can produce, each as its own scene.
fn scenes<K: Forge, B: Backing + Default>() -> Vec<Scene<K, B>> {
    let mut all = Vec::new();

    // Occupied, vacant (on the free list), reused, never used.
    let mut s = Scene::new("mixed", 70);
    let keys: Vec<K> = (0..40).map(|_| s.insert()).collect();
    for i in [1, 3, 5, 7, 20, 39] {
        s.remove(keys[i]);
    }
    s.remove(keys[6]);
    s.insert(); // slot 6 again
    s.remove(keys[10]);
    s.insert(); // slot 10 again
    s.remove(keys[11]);
    all.push(s);

    let mut s = Scene::new("after clear", 70);
    let keys: Vec<K> = (0..20).map(|_| s.insert()).collect();
    s.remove(keys[2]);
    s.slab.clear();
    s.forget_all();
    for _ in 0..3 {
        s.insert();
    }
    all.push(s);

    let mut s = Scene::new("after a partly consumed drain", 70);
    for _ in 0..20 {
        s.insert();
    }
    {
        let mut d = s.slab.drain();
        d.next();
        d.next_back();
    }
    s.forget_all();
    for _ in 0..4 {
        s.insert();
    }
    all.push(s);

    let mut s = Scene::new("after retain", 70);
    for _ in 0..30 {
        s.insert();
    }
    s.slab.retain(|_, v| v.id % 3 == 0);
    s.live.retain(|_, id| *id % 3 == 0);
    s.insert();
    s.insert();
    all.push(s);

    let mut s = Scene::new("full", 1);
    while !s.slab.is_full() {
        s.insert();
    }
    let some: Vec<K> = s.live.keys().copied().take(3).collect();
    s.remove(some[0]);
    s.insert();
    all.push(s);

    all.push(Scene::new("unallocated", 0));
    all
}

fn run_every_scene<K: Forge, B: Backing + Default>(seed: u64) {
    let mut rng = Rng::new(seed);
    for mut scene in scenes::<K, B>() {
        scene.check();
        scene.probe(&mut rng);
        let log = scene.log.clone();
        let made = scene.next_id as usize;
        drop(scene);
        assert_eq!(log.drops(), made, "every value dropped exactly once");
        log.assert_no_double_drop();
    }
}

fn plain_keys_from_anywhere_in_usize<B: Backing + Default>() {
    run_every_scene::<Key, B>(1);
}

fn gen_keys_of_every_generation_class<B: Backing + Default>() {
    run_every_scene::<GenKey, B>(2);
}

/// Raw `u64` bits, as read from a file or a socket: a key or `None`, never a wrong value.
fn gen_keys_from_any_bits<B: Backing + Default>() {
    let mut s: Scene<GenKey, B> = Scene::new("bits", 64);
    let keys: Vec<GenKey> = (0..40).map(|_| s.insert()).collect();
    for k in keys.iter().step_by(3) {
        s.remove(*k);
    }
    for _ in 0..5 {
        s.insert();
    }
    let mut rng = Rng::new(3);
    let n = if cfg!(miri) { 200 } else { 20_000 };
    for step in 0..n {
        // Half with a small index, so they land on real slots.
        let mut bits = rng.next();
        if step % 2 == 0 {
            bits &= 0xffff_ffff_0000_003f;
        }
        if let Some(k) = GenKey::from_bits(bits) {
            assert_eq!(k.to_bits(), bits, "from_bits keeps the bits it accepts");
            assert_eq!(k.generation() % 2, 1);
            s.probe_one(k);
        } else {
            let gen = (bits >> 32) as u32;
            assert!(gen % 2 == 0, "{bits:#x} refused with an odd generation");
        }
    }
    s.check();
}

/// A stale key (its value removed, its slot vacant or reused), with every single bit of its
/// `u64` form flipped: no flip reaches a value it was not handed out for.
fn every_u64_pattern_of_a_stale_gen_key_misses<B: Backing + Default>() {
    let mut s: Scene<GenKey, B> = Scene::new("bit flips", 64);
    let keys: Vec<GenKey> = (0..10).map(|_| s.insert()).collect();
    s.remove(keys[4]);
    s.remove(keys[7]);
    s.insert(); // reuses slot 7
    for stale in [keys[4], keys[7]] {
        assert!(!s.slab.contains(stale));
        for bit in 0..64 {
            let bits = stale.to_bits() ^ (1 << bit);
            if let Some(k) = GenKey::from_bits(bits) {
                s.probe_one(k);
            }
        }
    }
    s.check();
}
