//! Snapshot and restore with serde (the `serde` feature): keys as integers, and whole slabs
//! that come back with every key, every stale key and the next keys as they were.
//!
//! # Format
//!
//! - [`Key`]: its index, an unsigned integer. Any integer deserialises (as `Key::new` takes
//!   any `usize`).
//! - [`GenKey`]: [`to_bits`](GenKey::to_bits), a `u64` (generation in the high half). Bits
//!   that no slab hands out (generation 0 or even) are refused with an error.
//! - Typed keys ([`new_key_type!`](crate::new_key_type)): as the key they stand for.
//! - A [`Slab`]: a struct `Slab` of four fields, in this order:
//!   - `capacity`: slots (`u64`; 0 for a slab never allocated);
//!   - `high_water`: slots ever used since the last restart (`u64`); slots above it are
//!     fresh;
//!   - `entries`: `(key, value)` pairs in ascending key order, each key as a `u64` (a plain
//!     key's index, a generational key's bits);
//!   - `free`: the vacated slots in the order the next inserts will take them, each a `u64`:
//!     the index, or for generational slabs `generation << 32 | index` with the slot's (even)
//!     generation. Generational slots below `high_water` that are neither entries nor free
//!     are retired and stay so.
//!
//!   Self-describing formats (JSON) give it as a map whose keys must come in that order;
//!   others (postcard, bincode) as a sequence.
//!
//! A slab deserialises into a freshly allocated slab of exactly that capacity on a default
//! backing (or on the one given to [`Slab::deserialize_in`]): every key finds the value it
//! found before, every stale generational key stays stale, and the next inserts return the
//! keys they would have returned. Input no slab could have written — duplicate or
//! out-of-range keys, a slot both occupied and free, an even generation on an entry, slots
//! unaccounted for, a capacity beyond RAM, a truncated stream — is a typed error
//! ([`Error::Corrupt`] and the allocation errors, as the format's error), never undefined
//! behaviour: values restored before the error are dropped and the memory released.
//!
//! ```
//! use nexus_slab::{GenSlab, Heap, Slab};
//!
//! let mut slab: GenSlab<String> = GenSlab::with_capacity(64).unwrap();
//! let a = slab.insert("a".to_string()).unwrap();
//! let b = slab.insert("b".to_string()).unwrap();
//! slab.remove(a);
//!
//! let json = serde_json::to_string(&slab).unwrap();
//! let mut back: GenSlab<String> = serde_json::from_str(&json).unwrap();
//! assert_eq!(back[b], "b");
//! assert!(!back.contains(a)); // stale stays stale
//! assert_eq!(back.insert("c".into()).unwrap(), slab.insert("c".into()).unwrap());
//! ```

use core::fmt;
use core::marker::PhantomData;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, SerializeStruct, Serializer};
use serde::{Deserialize, Serialize};

use crate::key::sealed::RawKey;
use crate::{Backing, Error, GenKey, Key, Slab, SlabKey};

const FIELDS: &[&str] = &["capacity", "high_water", "entries", "free"];

impl Serialize for Key {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Every index fits: `Key::MAX_INDEX < u32::MAX`.
        s.serialize_u32(self.index() as u32)
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a slot index (an unsigned integer)")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Key, E> {
                Ok(Key::new(usize::try_from(v).unwrap_or(usize::MAX)))
            }
        }
        d.deserialize_u32(V)
    }
}

impl Serialize for GenKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.to_bits())
    }
}

impl<'de> Deserialize<'de> for GenKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bits = u64::deserialize(d)?;
        GenKey::from_bits(bits).ok_or_else(|| {
            de::Error::invalid_value(
                de::Unexpected::Unsigned(bits),
                &"generational key bits with an odd generation (no slab hands out others)",
            )
        })
    }
}

impl<T, B, K> Serialize for Slab<T, B, K>
where
    T: Serialize,
    B: Backing,
    K: SlabKey,
{
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Entries<'a, T, B: Backing, K: SlabKey>(&'a Slab<T, B, K>);
        impl<T: Serialize, B: Backing, K: SlabKey> Serialize for Entries<'_, T, B, K> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut seq = s.serialize_seq(Some(self.0.len()))?;
                for (k, v) in self.0.iter() {
                    seq.serialize_element(&(k.into_raw().to_wire(), v))?;
                }
                seq.end()
            }
        }
        struct Free<'a, T, B: Backing, K: SlabKey>(&'a Slab<T, B, K>);
        impl<T, B: Backing, K: SlabKey> Serialize for Free<'_, T, B, K> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let raw = self.0.raw();
                // A split slab's slots out on loan are saved as free, below the free list: the
                // restored slab holds no lent value.
                #[cfg(target_has_atomic = "64")]
                let out = raw.out_slots();
                #[cfg(not(target_has_atomic = "64"))]
                let out: Vec<usize> = Vec::new();
                // Formats without self-description need the length first.
                let mut seq = s.serialize_seq(Some(raw.free_slots().count() + out.len()))?;
                for i in raw.free_slots().chain(out) {
                    let g = u64::from(raw.generation_at(i));
                    seq.serialize_element(&(g << 32 | i as u64))?;
                }
                seq.end()
            }
        }
        let mut st = s.serialize_struct("Slab", 4)?;
        st.serialize_field("capacity", &(self.capacity() as u64))?;
        st.serialize_field("high_water", &(self.raw().high_water() as u64))?;
        st.serialize_field("entries", &Entries(self))?;
        st.serialize_field("free", &Free(self))?;
        st.end()
    }
}

impl<'de, T, B, K> Deserialize<'de> for Slab<T, B, K>
where
    T: Deserialize<'de>,
    B: Backing + Default,
    K: SlabKey,
{
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Slab::deserialize_in(B::default(), d)
    }
}

impl<T, B: Backing, K: SlabKey> Slab<T, B, K> {
    /// Deserialises a slab (see the [format](crate::serde)) into memory from `backing` — for
    /// a restore onto huge pages, locked memory or a NUMA node of your choice. `Deserialize`
    /// does the same on `B::default()`.
    ///
    /// # Errors
    ///
    /// The format's error, carrying [`Error::Corrupt`] or the backing's allocation error as
    /// its message.
    ///
    /// ```
    /// use nexus_slab::{Heap, Key, Slab};
    ///
    /// let mut slab: Slab<u32, Heap> = Slab::new_in(Heap::new());
    /// slab.alloc(100).unwrap();
    /// slab.insert_at(Key::new(42), 7).unwrap();
    /// let bytes = postcard::to_allocvec(&slab).unwrap();
    ///
    /// let mut de = postcard::Deserializer::from_bytes(&bytes);
    /// let back: Slab<u32, Heap> = Slab::deserialize_in(Heap::new(), &mut de).unwrap();
    /// assert_eq!(back[Key::new(42)], 7);
    /// assert_eq!(back.capacity(), slab.capacity());
    /// ```
    pub fn deserialize_in<'de, D>(backing: B, d: D) -> Result<Self, D::Error>
    where
        T: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        d.deserialize_struct(
            "Slab",
            FIELDS,
            SlabVisitor {
                backing,
                _slab: PhantomData,
            },
        )
    }
}

struct SlabVisitor<T, B, K> {
    backing: B,
    _slab: PhantomData<fn() -> (T, K)>,
}

fn corrupt<E: de::Error>(what: impl Into<String>) -> E {
    E::custom(Error::Corrupt { what: what.into() })
}

impl<'de, T, B, K> Visitor<'de> for SlabVisitor<T, B, K>
where
    T: Deserialize<'de>,
    B: Backing,
    K: SlabKey,
{
    type Value = Slab<T, B, K>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a nexus-slab Slab: capacity, high_water, entries, free")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let missing = |n: usize| de::Error::invalid_length(n, &"4 fields");
        let capacity: u64 = seq.next_element()?.ok_or_else(|| missing(0))?;
        let high_water: u64 = seq.next_element()?.ok_or_else(|| missing(1))?;
        let mut r = Restore::<T, B, K>::start(self.backing, capacity, high_water)?;
        seq.next_element_seed(EntriesSeed(&mut r))?
            .ok_or_else(|| missing(2))?;
        seq.next_element_seed(FreeSeed(&mut r))?
            .ok_or_else(|| missing(3))?;
        r.finish()
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        fn field<'de, A: MapAccess<'de>>(map: &mut A, want: &'static str) -> Result<(), A::Error> {
            match map.next_key::<&str>()? {
                Some(k) if k == want => Ok(()),
                Some(k) => Err(de::Error::custom(format_args!(
                    "field `{k}` where `{want}` was expected: the fields of a saved Slab \
                     come in the order capacity, high_water, entries, free"
                ))),
                None => Err(de::Error::missing_field(want)),
            }
        }
        field(&mut map, "capacity")?;
        let capacity: u64 = map.next_value()?;
        field(&mut map, "high_water")?;
        let high_water: u64 = map.next_value()?;
        let mut r = Restore::<T, B, K>::start(self.backing, capacity, high_water)?;
        field(&mut map, "entries")?;
        map.next_value_seed(EntriesSeed(&mut r))?;
        field(&mut map, "free")?;
        map.next_value_seed(FreeSeed(&mut r))?;
        if let Some(k) = map.next_key::<&str>()? {
            return Err(de::Error::unknown_field(k, FIELDS));
        }
        r.finish()
    }
}

/// A slab being restored, and the state of its free list.
struct Restore<T, B: Backing, K: SlabKey> {
    slab: Slab<T, B, K>,
    restoring: crate::raw::Restoring,
}

impl<T, B: Backing, K: SlabKey> Restore<T, B, K> {
    fn start<E: de::Error>(backing: B, capacity: u64, high_water: u64) -> Result<Self, E> {
        let mut slab = Slab::new_in(backing);
        let cap = usize::try_from(capacity).map_err(|_| corrupt::<E>("a capacity beyond usize"))?;
        let hwm =
            usize::try_from(high_water).map_err(|_| corrupt::<E>("a high water beyond usize"))?;
        if cap == 0 && hwm != 0 {
            return Err(corrupt(format!(
                "{hwm} slots in use in an unallocated slab"
            )));
        }
        if cap != 0 {
            slab.alloc_exact(cap).map_err(E::custom)?;
        }
        let restoring = slab.raw_mut().begin_restore(hwm).map_err(E::custom)?;
        Ok(Restore { slab, restoring })
    }

    fn finish<E: de::Error>(mut self) -> Result<Slab<T, B, K>, E> {
        self.slab
            .raw_mut()
            .finish_restore(self.restoring)
            .map_err(E::custom)?;
        Ok(self.slab)
    }
}

struct EntriesSeed<'a, T, B: Backing, K: SlabKey>(&'a mut Restore<T, B, K>);

impl<'de, T, B, K> DeserializeSeed<'de> for EntriesSeed<'_, T, B, K>
where
    T: Deserialize<'de>,
    B: Backing,
    K: SlabKey,
{
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, T, B, K> Visitor<'de> for EntriesSeed<'_, T, B, K>
where
    T: Deserialize<'de>,
    B: Backing,
    K: SlabKey,
{
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence of (key, value) pairs")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some((bits, value)) = seq.next_element::<(u64, T)>()? {
            let key = <K::Raw as RawKey>::from_wire(bits).ok_or_else(|| {
                corrupt::<A::Error>(format!(
                    "entry key {bits:#x} has generation 0 or an even one"
                ))
            })?;
            self.0
                .slab
                .raw_mut()
                .restore_entry(key, value)
                .map_err(de::Error::custom)?;
        }
        Ok(())
    }
}

struct FreeSeed<'a, T, B: Backing, K: SlabKey>(&'a mut Restore<T, B, K>);

impl<'de, T, B: Backing, K: SlabKey> DeserializeSeed<'de> for FreeSeed<'_, T, B, K> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, T, B: Backing, K: SlabKey> Visitor<'de> for FreeSeed<'_, T, B, K> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence of free slots")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let r = self.0;
        while let Some(bits) = seq.next_element::<u64>()? {
            let index = (bits & 0xffff_ffff) as usize;
            let generation = (bits >> 32) as u32;
            if !<K::Raw as RawKey>::GENERATIONAL && generation != 0 {
                return Err(corrupt(format!(
                    "free slot {bits:#x} of a plain-key slab carries a generation"
                )));
            }
            r.slab
                .raw_mut()
                .restore_free(&mut r.restoring, index, generation)
                .map_err(de::Error::custom)?;
        }
        Ok(())
    }
}
