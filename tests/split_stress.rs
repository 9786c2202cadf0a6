//! Two-thread stress of a split slab, small enough for Miri to run under many schedules:
//! `.ci/miri.sh` runs it with `-Zmiri-many-seeds` (a different thread interleaving and weak
//! memory outcome per seed), where the data-race detector checks every link and value the two
//! threads touch. Natively it runs more operations.
//!
//! The owner lends values (a slot index in each), inserts and removes its own, and takes slots
//! back when dry; the remote thread frees, takes and batches them as they come over a
//! bounded channel, so the owner runs dry and collects while the remote is still pushing.

use std::sync::mpsc;
use std::thread;

use nexus_slab::{backing::Heap, split::Lent, GenKey, Key, Slab, SlabKey};

const LENDS: u64 = if cfg!(miri) { 48 } else { 100_000 };

fn stress<K: SlabKey + Send + 'static>() {
    let mut slab: Slab<[u64; 2], Heap, K> = Slab::new_in(Heap::new());
    slab.alloc(4).unwrap(); // a few slots: the owner is dry most of the time
    let cap = slab.capacity();
    let (mut owner, remote) = slab.split();
    let (tx, rx) = mpsc::sync_channel::<Lent<[u64; 2]>>(2);
    let consumer = thread::spawn(move || {
        let mut batch = remote.batch();
        let mut sum = 0;
        for (i, mut lent) in rx.into_iter().enumerate() {
            assert_eq!(lent[0] * 3, lent[1], "a value written by the owner, whole");
            lent[1] = 0; // the remote thread owns it: writes are fine
            sum += lent[0];
            match i % 4 {
                0 => remote.free(lent),
                1 => assert_eq!(remote.take(lent)[1], 0),
                _ => {
                    batch.free(lent);
                    if batch.len() == 2 {
                        batch.flush();
                    }
                }
            }
        }
        sum
    });
    let mut own = Vec::new();
    for i in 0..LENDS {
        // Some values of its own, inserted and removed between lends.
        // (At most `cap - 2` of them: two slots stay for lending, one of which may wait in
        // the remote's batch for the other.)
        if i % 5 == 0 && own.len() + 2 < cap {
            if let Ok(k) = owner.insert([i, i]) {
                own.push((k, i));
            }
        }
        if i % 7 == 0 {
            if let Some((k, v)) = own.pop() {
                assert_eq!(owner.remove(k), Some([v, v]));
            }
        }
        let mut value = [i, 3 * i];
        let lent = loop {
            match owner.lend(value) {
                Ok(lent) => break lent,
                Err(full) => {
                    assert_eq!(owner.len() + owner.lent(), cap);
                    value = full.into_inner();
                    thread::yield_now();
                }
            }
        };
        tx.send(lent).unwrap();
    }
    drop(tx);
    assert_eq!(consumer.join().unwrap(), (0..LENDS).sum::<u64>());
    owner.reclaim();
    assert_eq!(owner.lent(), 0);
    assert_eq!(owner.len(), own.len());
    for (k, v) in own {
        assert_eq!(owner[k], [v, v]);
    }
}

#[test]
fn two_threads_plain_keys() {
    stress::<Key>();
}

#[test]
fn two_threads_generational_keys() {
    stress::<GenKey>();
}
