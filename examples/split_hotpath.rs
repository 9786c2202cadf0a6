//! The split slab's hot paths behind `#[inline(never)]` wrappers with fixed symbol names, for
//! reading the generated code: the owner's `insert`, `get`, `remove` and `lend` (and the plain
//! slab's, for comparison) must hold no `lock`-prefixed instruction and no `xchg` — no atomic
//! read-modify-write; a remote free holds exactly one `lock cmpxchg`, a batched free none and
//! a batch's flush one. `.ci/split_asm.sh` checks all of that in CI.
//!
//! ```text
//! cargo build --release --example split_hotpath
//! objdump -d --no-show-raw-insn -M intel target/release/examples/split_hotpath | grep -A40 '<sp_'
//! ```
//!
//! The owner's fast paths call out of line only when no slot is free (`claim_after`,
//! `claim_out_after`: one swap, then the same slot-taking code again; the value stays
//! where it is).

use std::hint::black_box;

use nexus_slab::{
    split::{FreeBatch, Lent, Owner, RemoteFree},
    Full, GenKey, Key, Slab,
};

#[no_mangle]
#[inline(never)]
pub fn sp_slab_insert(s: &mut Slab<u64>, v: u64) -> Result<Key, Full<u64>> {
    s.insert(v)
}

#[no_mangle]
#[inline(never)]
pub fn sp_slab_get(s: &Slab<u64>, k: Key) -> Option<&u64> {
    s.get(k)
}

#[no_mangle]
#[inline(never)]
pub fn sp_slab_remove(s: &mut Slab<u64>, k: Key) -> Option<u64> {
    s.remove(k)
}

#[no_mangle]
#[inline(never)]
pub fn sp_owner_insert(o: &mut Owner<u64>, v: u64) -> Result<Key, Full<u64>> {
    o.insert(v)
}

#[no_mangle]
#[inline(never)]
pub fn sp_owner_get(o: &Owner<u64>, k: Key) -> Option<&u64> {
    o.get(k)
}

#[no_mangle]
#[inline(never)]
pub fn sp_owner_remove(o: &mut Owner<u64>, k: Key) -> Option<u64> {
    o.remove(k)
}

#[no_mangle]
#[inline(never)]
pub fn sp_owner_lend(o: &mut Owner<u64>, v: u64) -> Result<Lent<u64>, Full<u64>> {
    o.lend(v)
}

#[no_mangle]
#[inline(never)]
pub fn sp_gen_owner_insert(
    o: &mut Owner<u64, nexus_slab::backing::Mmap, GenKey>,
    v: u64,
) -> Result<GenKey, Full<u64>> {
    o.insert(v)
}

#[no_mangle]
#[inline(never)]
pub fn sp_gen_owner_get(
    o: &Owner<u64, nexus_slab::backing::Mmap, GenKey>,
    k: GenKey,
) -> Option<&u64> {
    o.get(k)
}

#[no_mangle]
#[inline(never)]
pub fn sp_gen_owner_remove(
    o: &mut Owner<u64, nexus_slab::backing::Mmap, GenKey>,
    k: GenKey,
) -> Option<u64> {
    o.remove(k)
}

#[no_mangle]
#[inline(never)]
pub fn sp_gen_owner_lend(
    o: &mut Owner<u64, nexus_slab::backing::Mmap, GenKey>,
    v: u64,
) -> Result<Lent<u64>, Full<u64>> {
    o.lend(v)
}

#[no_mangle]
#[inline(never)]
pub fn sp_remote_free(r: &RemoteFree<u64>, l: Lent<u64>) {
    r.free(l)
}

#[no_mangle]
#[inline(never)]
pub fn sp_batch_free(b: &mut FreeBatch<'_, u64>, l: Lent<u64>) {
    b.free(l)
}

#[no_mangle]
#[inline(never)]
pub fn sp_batch_flush(b: &mut FreeBatch<'_, u64>) {
    b.flush()
}

fn main() {
    let mut slab: Slab<u64> = Slab::with_capacity(64);
    let k = sp_slab_insert(&mut slab, 1).unwrap();
    assert_eq!(sp_slab_get(&slab, k), Some(&1));
    assert_eq!(sp_slab_remove(&mut slab, k), Some(1));

    let (mut owner, remote) = slab.split();
    let k = sp_owner_insert(&mut owner, 2).unwrap();
    assert_eq!(sp_owner_get(&owner, k), Some(&2));
    assert_eq!(sp_owner_remove(&mut owner, k), Some(2));
    let lent = sp_owner_lend(&mut owner, 3).unwrap();
    sp_remote_free(&remote, lent);
    let mut batch = remote.batch();
    sp_batch_free(&mut batch, sp_owner_lend(&mut owner, 4).unwrap());
    sp_batch_flush(&mut batch);
    drop(batch);
    assert_eq!(owner.reclaim(), 2);

    let gen: Slab<u64, nexus_slab::backing::Mmap, GenKey> = Slab::with_capacity(64);
    let (mut owner, remote) = gen.split();
    let k = sp_gen_owner_insert(&mut owner, 5).unwrap();
    assert_eq!(sp_gen_owner_get(&owner, k), Some(&5));
    assert_eq!(sp_gen_owner_remove(&mut owner, k), Some(5));
    remote.free(sp_gen_owner_lend(&mut owner, 6).unwrap());
    black_box(owner.reclaim());
    println!("ok");
}
