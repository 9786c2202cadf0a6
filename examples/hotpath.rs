//! The hot path in isolation: `get`, `insert` and `remove` of a `u64` slab behind
//! `#[inline(never)]` wrappers with fixed symbol names, for reading the generated code and for
//! counting instructions per operation under callgrind.
//!
//! ```text
//! cargo build --release --example hotpath
//! objdump -d --no-show-raw-insn target/release/examples/hotpath | less   # look for hp_
//! valgrind --tool=callgrind --callgrind-out-file=cg.nexus \
//!     target/release/examples/hotpath nexus
//! callgrind_annotate cg.nexus | grep hp_
//! ```
//!
//! The workload (argument `nexus`, `slab` or `012`): fill 4096 slots, then `ROUNDS` rounds of
//! one random `get`, one `remove` of a random live key and one `insert`, all through the
//! wrappers. Every wrapper is called `ROUNDS` times (insert: `ROUNDS + 4096`), so
//! instructions per call = the wrapper's inclusive count / calls.

use std::hint::black_box;

use nexus_slab::{Key, Slab};

const N: usize = 4096;
const ROUNDS: usize = 1_000_000;

#[no_mangle]
#[inline(never)]
pub fn hp_nexus_get(s: &Slab<u64>, k: Key) -> Option<&u64> {
    s.get(k)
}

#[no_mangle]
#[inline(never)]
pub fn hp_nexus_insert(s: &mut Slab<u64>, v: u64) -> Result<Key, nexus_slab::Full<u64>> {
    s.insert(v)
}

#[no_mangle]
#[inline(never)]
pub fn hp_nexus_remove(s: &mut Slab<u64>, k: Key) -> Option<u64> {
    s.remove(k)
}

#[no_mangle]
#[inline(never)]
pub fn hp_slab_get(s: &slab::Slab<u64>, k: usize) -> Option<&u64> {
    s.get(k)
}

#[no_mangle]
#[inline(never)]
pub fn hp_slab_insert(s: &mut slab::Slab<u64>, v: u64) -> usize {
    s.insert(v)
}

#[no_mangle]
#[inline(never)]
pub fn hp_slab_remove(s: &mut slab::Slab<u64>, k: usize) -> Option<u64> {
    s.try_remove(k)
}

#[no_mangle]
#[inline(never)]
pub fn hp_012_get(s: &nexus_slab_012::Slab<u64>, k: nexus_slab_012::Key) -> Option<&u64> {
    s.get(k)
}

#[no_mangle]
#[inline(never)]
pub fn hp_012_insert(
    s: &mut nexus_slab_012::Slab<u64>,
    v: u64,
) -> Result<nexus_slab_012::Key, nexus_slab_012::Full<u64>> {
    s.insert(v)
}

#[no_mangle]
#[inline(never)]
pub fn hp_012_remove(s: &mut nexus_slab_012::Slab<u64>, k: nexus_slab_012::Key) -> Option<u64> {
    s.remove(k)
}

/// The same random sequence for every crate: (key to get, index into `live` to churn).
fn script() -> Vec<(u32, u32)> {
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    (0..ROUNDS)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ((x % N as u64) as u32, ((x >> 32) % N as u64) as u32)
        })
        .collect()
}

fn main() {
    let which = std::env::args().nth(1).unwrap_or_else(|| "nexus".into());
    let script = script();
    let mut sum = 0u64;
    match which.as_str() {
        "nexus" => {
            let mut s: Slab<u64> = Slab::try_with_capacity(N).expect("allocate");
            let mut live: Vec<Key> = (0..N as u64)
                .map(|v| hp_nexus_insert(&mut s, v).expect("room"))
                .collect();
            for &(g, c) in &script {
                sum += hp_nexus_get(&s, live[g as usize]).copied().unwrap_or(0);
                let v = hp_nexus_remove(&mut s, live[c as usize]).expect("live");
                live[c as usize] = hp_nexus_insert(&mut s, v + 1).expect("room");
            }
        }
        "slab" => {
            let mut s: slab::Slab<u64> = slab::Slab::with_capacity(N);
            let mut live: Vec<usize> = (0..N as u64).map(|v| hp_slab_insert(&mut s, v)).collect();
            for &(g, c) in &script {
                sum += hp_slab_get(&s, live[g as usize]).copied().unwrap_or(0);
                let v = hp_slab_remove(&mut s, live[c as usize]).expect("live");
                live[c as usize] = hp_slab_insert(&mut s, v + 1);
            }
        }
        "012" => {
            let mut s = nexus_slab_012::Slab::<u64>::with_capacity(N).expect("allocate");
            let mut live: Vec<nexus_slab_012::Key> = (0..N as u64)
                .map(|v| hp_012_insert(&mut s, v).expect("room"))
                .collect();
            for &(g, c) in &script {
                sum += hp_012_get(&s, live[g as usize]).copied().unwrap_or(0);
                let v = hp_012_remove(&mut s, live[c as usize]).expect("live");
                live[c as usize] = hp_012_insert(&mut s, v + 1).expect("room");
            }
        }
        other => panic!("unknown implementation {other}: nexus, slab or 012"),
    }
    println!("{which}: checksum {}", black_box(sum));
}
