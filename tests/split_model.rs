//! Model check of a split slab under random schedules: an owner thread and remote threads
//! doing random operations (insert, remove, lend, collect; free, take, batch, drop, re-send),
//! with the accounts checked at every quiescent point (all threads joined):
//!
//! - every slot below the high-water mark is live, lent, free or returned:
//!   `owner.lent() == lent + returned`, `collect() == returned`, and after it the owner can
//!   insert exactly `capacity - live - lent` values (so `live + lent + free == used`);
//! - never `Full` while `live + lent < capacity` after `collect()` (checked at every `Full`
//!   the owner meets as well);
//! - every key inserted finds its value, every value is dropped exactly once.
//!
//! The number of rounds and checks is printed (`--nocapture`). `SPLIT_MODEL_SEED` picks the
//! first seed; `SPLIT_MODEL_ROUNDS` the number of rounds.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;

use nexus_slab::{
    backing::{Backing, Heap},
    split::{Lent, Owner, RemoteFree},
    GenKey, Key, Slab, SlabKey,
};

/// xorshift64*: a small seeded generator, so a failing schedule can be replayed.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A value whose drops are counted (every id must drop exactly once).
struct Val {
    id: u64,
    drops: Arc<AtomicUsize>,
}

impl Drop for Val {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::Relaxed);
    }
}

#[derive(Default)]
struct Counts {
    rounds: usize,
    ops: usize,
    quiescent_checks: usize,
    full_checks: usize,
}

/// What remote threads did, for the owner's accounts: slots handed back, values seen.
#[derive(Default)]
struct RemoteTally {
    returned: AtomicUsize,
    seen: AtomicU64,
}

/// One round: `remotes` threads, each fed lents over its own channel by the owner, which
/// does random owner operations between lends. Some lents are kept by the remote threads
/// past the round (in `kept`) and handed back in a later round.
#[allow(clippy::too_many_arguments)]
fn round<K: SlabKey + Send + 'static>(
    owner: &mut Owner<Val, Heap, K>,
    remote: &RemoteFree<Val>,
    live: &mut HashMap<K, u64>,
    kept: &mut Vec<Lent<Val>>,
    returned_pending: &mut usize,
    next_id: &mut u64,
    drops: &Arc<AtomicUsize>,
    seed: u64,
    counts: &mut Counts,
) {
    let mut rng = Rng::new(seed);
    let remotes = 1 + rng.below(3);
    let ops = if cfg!(miri) { 12 } else { 200 + rng.below(400) };
    let tally = Arc::new(RemoteTally::default());
    let carried = std::mem::take(kept);
    let (kept_tx, kept_rx) = mpsc::channel::<Lent<Val>>();
    let mut txs = Vec::new();
    let mut joins = Vec::new();
    for r in 0..remotes {
        let (tx, rx) = mpsc::channel::<Lent<Val>>();
        let remote = remote.clone();
        let tally = tally.clone();
        let kept_tx = kept_tx.clone();
        let mut rng = Rng::new(seed ^ (r as u64 + 1) << 40);
        joins.push(thread::spawn(move || {
            let mut batch = remote.batch();
            for lent in rx {
                tally.seen.fetch_add(1, Ordering::Relaxed);
                match rng.below(6) {
                    0 => remote.free(lent),
                    1 => drop(remote.take(lent)),
                    2 => drop(lent),
                    3 | 4 => batch.free(lent),
                    // Kept past the round: returned later.
                    _ => {
                        kept_tx.send(lent).unwrap();
                        continue;
                    }
                }
                tally.returned.fetch_add(1, Ordering::Relaxed);
                if rng.below(4) == 0 {
                    batch.flush();
                }
                if rng.below(8) == 0 {
                    thread::yield_now();
                }
            }
        }));
        txs.push(tx);
    }
    drop(kept_tx);
    // Lents carried over from the last round go to the remote threads first.
    let mut carried_sent = 0;
    for lent in carried {
        txs[rng.below(remotes)].send(lent).unwrap();
        carried_sent += 1;
    }
    let mut lent_now = 0usize;
    for _ in 0..ops {
        counts.ops += 1;
        match rng.below(10) {
            0..=2 => {
                let id = *next_id;
                *next_id += 1;
                let v = Val {
                    id,
                    drops: drops.clone(),
                };
                match owner.insert(v) {
                    Ok(k) => assert!(live.insert(k, id).is_none(), "a key handed out twice"),
                    Err(full) => {
                        // Full only when live + lent (out, not yet returned) fill the slab.
                        // Full: no slot free and none returned when the owner looked, so
                        // every slot is live or out (lent, or returned since).
                        drop(full.into_inner());
                        counts.full_checks += 1;
                        assert_eq!(owner.len() + owner.lent(), owner.capacity());
                    }
                }
            }
            3 | 4 => {
                if let Some(&k) = live.keys().nth(rng.below(live.len().max(1))) {
                    let id = live.remove(&k).unwrap();
                    assert_eq!(owner.remove(k).map(|v| v.id), Some(id));
                    assert!(owner.get(k).is_none());
                }
            }
            5..=8 => {
                let id = *next_id;
                *next_id += 1;
                let v = Val {
                    id,
                    drops: drops.clone(),
                };
                match owner.lend(v) {
                    Ok(lent) => {
                        assert_eq!(lent.id, id);
                        lent_now += 1;
                        txs[rng.below(remotes)].send(lent).unwrap();
                    }
                    Err(full) => {
                        // Full: no slot free and none returned when the owner looked, so
                        // every slot is live or out (lent, or returned since).
                        drop(full.into_inner());
                        counts.full_checks += 1;
                        assert_eq!(owner.len() + owner.lent(), owner.capacity());
                    }
                }
            }
            _ => {
                let n = owner.reclaim();
                assert!(n <= owner.capacity());
            }
        }
        // The owner never sees a lent value.
        assert_eq!(owner.len(), live.len());
    }
    drop(txs);
    for j in joins {
        j.join().unwrap();
    }
    // Quiescent: every thread joined.
    kept.extend(kept_rx.try_iter());
    let returned_now = tally.returned.load(Ordering::Relaxed);
    assert_eq!(
        tally.seen.load(Ordering::Relaxed) as usize,
        lent_now + carried_sent
    );
    *returned_pending += returned_now;
    check_quiescent(owner, live, kept.len(), returned_pending, counts);
    counts.rounds += 1;
}

/// The accounts at a quiescent point (see the module docs).
fn check_quiescent<K: SlabKey, B: Backing>(
    owner: &mut Owner<Val, B, K>,
    live: &HashMap<K, u64>,
    lent: usize,
    returned_pending: &mut usize,
    counts: &mut Counts,
) {
    counts.quiescent_checks += 1;
    assert_eq!(owner.len(), live.len(), "live");
    // Some slots may have been taken back by the owner's own collects and dry inserts: the
    // owner's count is what is out now.
    assert!(owner.lent() >= lent, "lent {} < held {lent}", owner.lent());
    let returned = owner.lent() - lent;
    assert!(returned <= *returned_pending);
    assert_eq!(
        owner.reclaim(),
        returned,
        "collect takes back exactly the returned"
    );
    *returned_pending = 0;
    assert_eq!(owner.lent(), lent, "after collect, out == lent");
    for (&k, &id) in live {
        assert_eq!(owner.get(k).map(|v| v.id), Some(id), "{k:?}");
    }
    assert!(owner.iter().all(|(k, v)| live.get(&k) == Some(&v.id)));
    // Never Full while live + lent < capacity after collect().
    let room = owner.capacity() - live.len() - lent;
    assert_eq!(owner.is_full(), room == 0);
    counts.full_checks += 1;
}

/// Runs `rounds` rounds from `seed` on one key kind, then fills the slab to check the room
/// and lets everything go, checking that every value dropped once.
fn run<K: SlabKey + Send + 'static>(seed: u64, rounds: usize, counts: &mut Counts) {
    let drops = Arc::new(AtomicUsize::new(0));
    let mut slab: Slab<Val, Heap, K> = Slab::new_in(Heap::new());
    slab.alloc(if cfg!(miri) { 8 } else { 48 }).unwrap();
    let (mut owner, remote) = slab.split();
    let mut live = HashMap::new();
    let mut kept = Vec::new();
    let mut returned_pending = 0;
    let mut next_id = 0;
    for r in 0..rounds {
        round(
            &mut owner,
            &remote,
            &mut live,
            &mut kept,
            &mut returned_pending,
            &mut next_id,
            &drops,
            seed.wrapping_add(r as u64),
            counts,
        );
        // Every room the accounts promise is there: fill it, then take it out again.
        let room = owner.capacity() - live.len() - kept.len();
        let mut filled = Vec::new();
        for _ in 0..room {
            let id = next_id;
            next_id += 1;
            let v = Val {
                id,
                drops: drops.clone(),
            };
            let Ok(k) = owner.insert(v) else {
                panic!("room promised by the accounts");
            };
            filled.push(k);
        }
        counts.full_checks += 1;
        assert!(owner.is_full());
        for k in filled {
            assert!(owner.remove(k).is_some());
        }
    }
    let kept_n = kept.len();
    drop(owner); // values still lent stay valid
    assert_eq!(kept.iter().filter(|l| l.id < next_id).count(), kept_n);
    drop(kept);
    drop(remote);
    assert_eq!(
        drops.load(Ordering::Relaxed) as u64,
        next_id,
        "every value dropped once"
    );
}

#[test]
fn random_schedules_keep_the_accounts() {
    let seed: u64 = std::env::var("SPLIT_MODEL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let rounds: usize = std::env::var("SPLIT_MODEL_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if cfg!(miri) { 2 } else { 1000 });
    let mut counts = Counts::default();
    run::<Key>(seed, rounds, &mut counts);
    run::<GenKey>(seed + 1_000_000, rounds, &mut counts);
    println!(
        "split model: {} rounds, {} operations, {} quiescent checks, {} full/room checks \
         (seed {seed})",
        counts.rounds, counts.ops, counts.quiescent_checks, counts.full_checks
    );
    assert_eq!(counts.rounds, 2 * rounds);
}
