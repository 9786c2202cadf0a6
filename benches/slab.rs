//! Benchmarks (divan): run with `cargo bench`.

fn main() {
    divan::main();
}

#[divan::bench]
fn insert_get_remove_4ki() -> u64 {
    let mut s: nexus_slab::Slab<u64> = nexus_slab::Slab::with_capacity(4096).unwrap();
    let mut sum = 0;
    for i in 0..4096 {
        let k = s.insert(i).unwrap();
        sum += s[k];
    }
    sum
}
