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
//! The workload (argument `nexus`, `gen` (a `GenSlab`), `slab`, `012` or `slotmap`): fill 4096 slots, then `ROUNDS` rounds of
//! one random `get`, one `remove` of a random live key and one `insert`, all through the
//! wrappers. Every wrapper is called `ROUNDS` times (insert: `ROUNDS + 4096`), so
//! instructions per call = the wrapper's inclusive count / calls.
//!
//! Also: `replace-nexus`, `replace-gen`, `replace-slab`, `replace-slotmap` (and `-64b` after
//! each) run the order-cancel-replace loop of `benches/consumers.rs` over state reached through
//! references (`hpr_*`: ns per step, and instructions per step = `hpr_*`'s count / 1e6); `fill`
//! times 2000 fills of a fresh slab of `N` `u64`s through `hpf_nexus_u64` (min and median).

use std::hint::black_box;

use nexus_slab::{GenKey, GenSlab, Key, Slab};
use slotmap::{DefaultKey, SlotMap};

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
pub fn hp_gen_get(s: &GenSlab<u64>, k: GenKey) -> Option<&u64> {
    s.get(k)
}

#[no_mangle]
#[inline(never)]
pub fn hp_gen_insert(s: &mut GenSlab<u64>, v: u64) -> Result<GenKey, nexus_slab::Full<u64>> {
    s.insert(v)
}

#[no_mangle]
#[inline(never)]
pub fn hp_gen_remove(s: &mut GenSlab<u64>, k: GenKey) -> Option<u64> {
    s.remove(k)
}

#[no_mangle]
#[inline(never)]
pub fn hp_slotmap_get(s: &SlotMap<DefaultKey, u64>, k: DefaultKey) -> Option<&u64> {
    s.get(k)
}

#[no_mangle]
#[inline(never)]
pub fn hp_slotmap_insert(s: &mut SlotMap<DefaultKey, u64>, v: u64) -> DefaultKey {
    s.insert(v)
}

#[no_mangle]
#[inline(never)]
pub fn hp_slotmap_remove(s: &mut SlotMap<DefaultKey, u64>, k: DefaultKey) -> Option<u64> {
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

/// xorshift64 and a multiply-high reduction, as in `benches/consumers.rs`'s `replace_*`.
#[inline(always)]
fn below(x: &mut u64, n: usize) -> usize {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    ((u128::from(*x) * n as u128) >> 64) as usize
}

/// The order-cancel-replace loop of `benches/consumers.rs` (`replace_*`), `steps` times, as
/// one function per structure and value size for reading the inlined loop (`hpr_*`) and
/// counting its instructions per step under callgrind (argument `replace-nexus` etc.).
macro_rules! replace_loop {
    ($name:ident, $s:ty, $k:ty, $v:ty, |$sl:ident, $key:ident| $take:expr, |$sp:ident, $val:ident| $put:expr) => {
        /// The loop over state reached through references held in memory (the captures of
        /// divan's bench closure, or a user's structs): the compiler cannot keep the
        /// generator, the id or the slab's fields in registers unless it can tell that the
        /// slab's stores do not reach them.
        #[no_mangle]
        #[inline(never)]
        pub fn $name(env: &mut Env<'_, $s, $k>, steps: usize) -> u64 {
            let mut sum = 0u64;
            for _ in 0..steps {
                let j = below(env.x, env.live.len());
                let $key = env.live[j];
                let $sl = &mut *env.s;
                let removed: $v = $take;
                sum = sum.wrapping_add(removed[0]);
                *env.id += 1;
                let $sp = &mut *env.s;
                let $val: $v = [*env.id; core::mem::size_of::<$v>() / 8];
                env.live[j] = $put;
            }
            sum
        }
    };
}

/// What a replace loop reaches through references (see `replace_loop!`).
pub struct Env<'a, S, K> {
    s: &'a mut S,
    live: &'a mut Vec<K>,
    x: &'a mut u64,
    id: &'a mut u64,
}

type U = [u64; 1];
type B = [u64; 8];
replace_loop!(
    hpr_nexus_u64,
    Slab<U>,
    Key,
    U,
    |s, k| s.remove(k).unwrap(),
    |s, v| s.insert(v).unwrap()
);
replace_loop!(
    hpr_nexus_64b,
    Slab<B>,
    Key,
    B,
    |s, k| s.remove(k).unwrap(),
    |s, v| s.insert(v).unwrap()
);
replace_loop!(
    hpr_gen_u64,
    GenSlab<U>,
    GenKey,
    U,
    |s, k| s.remove(k).unwrap(),
    |s, v| s.insert(v).unwrap()
);
replace_loop!(
    hpr_gen_64b,
    GenSlab<B>,
    GenKey,
    B,
    |s, k| s.remove(k).unwrap(),
    |s, v| s.insert(v).unwrap()
);
replace_loop!(
    hpr_slab_u64,
    slab::Slab<U>,
    usize,
    U,
    |s, k| s.try_remove(k).unwrap(),
    |s, v| s.insert(v)
);
replace_loop!(
    hpr_slab_64b,
    slab::Slab<B>,
    usize,
    B,
    |s, k| s.try_remove(k).unwrap(),
    |s, v| s.insert(v)
);
replace_loop!(hpr_slotmap_u64, SlotMap<DefaultKey, U>, DefaultKey, U, |s, k| s.remove(k).unwrap(), |s, v| s.insert(v));
replace_loop!(hpr_slotmap_64b, SlotMap<DefaultKey, B>, DefaultKey, B, |s, k| s.remove(k).unwrap(), |s, v| s.insert(v));

/// Runs the replace loop of one structure (`replace-nexus`, `replace-gen`, `replace-slab`,
/// `replace-slotmap`, with `u64` values; `-64b` after the name: 64-byte values) at 50 %
/// occupancy of `N` slots, `REPLACE_STEPS` steps.
fn replace_main(which: &str) -> u64 {
    macro_rules! go {
        ($v:ty, $make:expr, $f:ident, $put:expr, $take:expr) => {{
            let mut s = $make;
            let mut live: Vec<_> = (0..N as u64)
                .map(|v| $put(&mut s, [v; core::mem::size_of::<$v>() / 8]))
                .collect();
            let mut x = 0x5eed_1234_abcd_ef01u64;
            while live.len() > N / 2 {
                let j = below(&mut x, live.len());
                $take(&mut s, live.swap_remove(j));
            }
            let (mut x, mut id) = (0x9e37_79b9_7f4a_7c15u64, 0u64);
            let mut env = Env {
                s: &mut s,
                live: &mut live,
                x: &mut x,
                id: &mut id,
            };
            let t = std::time::Instant::now();
            let sum = $f(black_box(&mut env), REPLACE_STEPS);
            eprintln!(
                "{which}: {:.2} ns/step",
                t.elapsed().as_nanos() as f64 / REPLACE_STEPS as f64
            );
            sum
        }};
    }
    macro_rules! each {
        ($($name:literal, $v:ty, $s:ty, $make:expr, $f:ident, $ins:ident $(.$unwrap:ident())?, $rem:ident;)*) => {
            match which {
                $($name => go!($v, $make, $f, |s: &mut $s, v| s.$ins(v)$(.$unwrap())?, |s: &mut $s, k| s.$rem(k)),)*
                other => panic!("unknown replace loop {other}"),
            }
        };
    }
    each! {
        "replace-nexus", U, Slab<U>, Slab::<U>::with_capacity(N), hpr_nexus_u64, insert.unwrap(), remove;
        "replace-nexus-64b", B, Slab<B>, Slab::<B>::with_capacity(N), hpr_nexus_64b, insert.unwrap(), remove;
        "replace-gen", U, GenSlab<U>, GenSlab::<U>::with_capacity(N), hpr_gen_u64, insert.unwrap(), remove;
        "replace-gen-64b", B, GenSlab<B>, GenSlab::<B>::with_capacity(N), hpr_gen_64b, insert.unwrap(), remove;
        "replace-slab", U, slab::Slab<U>, slab::Slab::<U>::with_capacity(N), hpr_slab_u64, insert, try_remove;
        "replace-slab-64b", B, slab::Slab<B>, slab::Slab::<B>::with_capacity(N), hpr_slab_64b, insert, try_remove;
        "replace-slotmap", U, SlotMap<DefaultKey, U>, SlotMap::<DefaultKey, U>::with_capacity(N), hpr_slotmap_u64, insert, remove;
        "replace-slotmap-64b", B, SlotMap<DefaultKey, B>, SlotMap::<DefaultKey, B>::with_capacity(N), hpr_slotmap_64b, insert, remove;
    }
}

const REPLACE_STEPS: usize = 1_000_000;

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
    if which == "fill" {
        // Rounds of N inserts into a fresh slab (cleared between rounds, untimed).
        let mut s = Slab::<u64>::with_capacity(N);
        let rounds = 2000;
        let mut all = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            s.clear();
            let t = std::time::Instant::now();
            hpf_nexus_u64(&mut s, N as u64);
            all.push(t.elapsed().as_nanos());
        }
        all.sort_unstable();
        let per = |x: u128| x as f64 / N as f64;
        eprintln!(
            "fill: min {:.2}, median {:.2} ns/insert",
            per(all[0]),
            per(all[rounds / 2])
        );
        return;
    }
    if which.starts_with("replace-") {
        println!("{which}: checksum {}", black_box(replace_main(&which)));
        return;
    }
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
        "gen" => {
            let mut s: GenSlab<u64> = GenSlab::try_with_capacity(N).expect("allocate");
            let mut live: Vec<GenKey> = (0..N as u64)
                .map(|v| hp_gen_insert(&mut s, v).expect("room"))
                .collect();
            for &(g, c) in &script {
                sum += hp_gen_get(&s, live[g as usize]).copied().unwrap_or(0);
                let v = hp_gen_remove(&mut s, live[c as usize]).expect("live");
                live[c as usize] = hp_gen_insert(&mut s, v + 1).expect("room");
            }
        }
        "slotmap" => {
            let mut s: SlotMap<DefaultKey, u64> = SlotMap::with_capacity(N);
            let mut live: Vec<DefaultKey> = (0..N as u64)
                .map(|v| hp_slotmap_insert(&mut s, v))
                .collect();
            for &(g, c) in &script {
                sum += hp_slotmap_get(&s, live[g as usize]).copied().unwrap_or(0);
                let v = hp_slotmap_remove(&mut s, live[c as usize]).expect("live");
                live[c as usize] = hp_slotmap_insert(&mut s, v + 1);
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
        other => panic!("unknown implementation {other}: nexus, gen, slab, 012 or slotmap"),
    }
    println!("{which}: checksum {}", black_box(sum));
}

/// A fill: `n` inserts into a fresh slab, each key to `black_box` (as `fill_*` in the consumers
/// bench), for reading the never-used-slot path in a loop.
#[no_mangle]
#[inline(never)]
pub fn hpf_nexus_u64(s: &mut Slab<u64>, n: u64) {
    for v in 0..n {
        black_box(s.insert(v).unwrap());
    }
}
