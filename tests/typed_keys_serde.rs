//! Typed keys and serde: the user opts in per key type, and the crate's `serde` feature never
//! adds impls to a type the user declared.
//!
//! Before the fix, `new_key_type!` emitted `Serialize`/`Deserialize` for every key type
//! whenever nexus-slab's own `serde` feature was on, so this file (which implements serde by
//! hand for `TicketKey`) failed to compile under `--all-features` with E0119 (conflicting
//! implementations) — as any crate would once another crate in its build enabled the feature.
#![cfg(feature = "serde")]

use nexus_slab::{backing::Heap, new_key_type, GenKey, Key, Slab};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

new_key_type! {
    /// Saved exactly as the key it stands for: opted in with serde's own derive.
    #[derive(Serialize, Deserialize)]
    #[serde(transparent)]
    pub struct OrderKey(Key);
    /// The same, generational.
    #[derive(Serialize, Deserialize)]
    #[serde(transparent)]
    pub struct ConnKey(GenKey);
    /// Serialised by hand, in a format of the user's choosing ("T-<index>").
    pub struct TicketKey(Key);
}

impl Serialize for TicketKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("T-{}", self.index()))
    }
}

impl<'de> Deserialize<'de> for TicketKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let n = s
            .strip_prefix("T-")
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| serde::de::Error::custom("not a ticket"))?;
        Ok(TicketKey::from(Key::new_saturating(n)))
    }
}

#[test]
fn a_key_type_with_its_own_serde_impls_compiles_and_uses_them() {
    let mut slab: Slab<&str, Heap, TicketKey> = Slab::new_in(Heap::new());
    slab.alloc(8).unwrap();
    slab.insert("a").unwrap();
    let t = slab.insert("b").unwrap();
    let json = serde_json::to_string(&t).unwrap();
    assert_eq!(json, "\"T-1\"");
    let back: TicketKey = serde_json::from_str(&json).unwrap();
    assert_eq!(slab[back], "b");
}

#[test]
fn derived_typed_keys_are_saved_as_their_key() {
    let o = OrderKey::from(Key::new_saturating(41));
    assert_eq!(
        serde_json::to_string(&o).unwrap(),
        serde_json::to_string(&Key::new_saturating(41)).unwrap()
    );
    assert_eq!(serde_json::from_str::<OrderKey>("41").unwrap(), o);

    let g = GenKey::from_bits(5 << 32 | 3).unwrap();
    let c = ConnKey::from(g);
    assert_eq!(
        serde_json::to_string(&c).unwrap(),
        serde_json::to_string(&g).unwrap()
    );
    assert_eq!(
        postcard::from_bytes::<ConnKey>(&postcard::to_allocvec(&c).unwrap()).unwrap(),
        c
    );
    // GenKey's checks still apply through the derive: an even generation is refused.
    assert!(serde_json::from_str::<ConnKey>(&(2u64 << 32 | 3).to_string()).is_err());
}
