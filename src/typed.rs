//! Typed keys: [`new_key_type!`](crate::new_key_type) declares key types of one's own, so a key
//! of one slab cannot index another by mistake.

use core::fmt;

use crate::key::sealed::RawKey;
use crate::SlabKey;

/// Declares key types of your own, each standing for a [`Key`](crate::Key) or a
/// [`GenKey`](crate::GenKey), so that a key of one slab does not type-check as the key of
/// another.
///
/// `struct Name(Key);` declares a plain key, `struct Name(GenKey);` a generational one; the
/// kind is always written out (slotmap's `new_key_type! { struct K; }` is generational, so a
/// unit form here would silently lose stale-key detection in code copied from it, and does not
/// compile). Several declarations may share one invocation; attributes and doc comments
/// go on each as usual. A typed key is the slab's third type parameter —
/// `Slab<Order, Locked<Mmap>, OrderKey>`, or `LockedSlab<Order, OrderKey>` with the aliases —
/// and then that slab takes and returns only that key type.
///
/// Each type has the size and niche of the key it stands for (4 bytes for plain keys, 8 for
/// generational ones, and the same for its `Option`), is `Copy + Eq + Ord + Hash + Debug`,
/// converts both ways with its underlying key (`From`; `GenKey::from(k).generation()` reads
/// a generation) and has `index()`.
///
/// Serde is yours to opt into, per key type: attributes go on the struct as written, and
/// [`Key`](crate::Key) and [`GenKey`](crate::GenKey) implement `Serialize`/`Deserialize`
/// with the crate's `serde` feature, so `#[derive(Serialize, Deserialize)]
/// #[serde(transparent)]` saves a typed key exactly as the key it stands for. The macro
/// itself writes no serde impl, so your own impls never clash with it whichever features
/// other crates in the build turn on.
///
/// ```
/// use nexus_slab::{new_key_type, GenKey, Key, Slab, backing::Heap};
///
/// new_key_type! {
///     /// Orders in the book.
///     pub struct OrderKey(Key);
///     /// Connections; generational, because they outlive their sessions.
///     pub struct ConnKey(GenKey);
/// }
///
/// let mut orders: Slab<u64, Heap, OrderKey> = Slab::new_in(Heap::new());
/// orders.alloc(16).unwrap();
/// let o: OrderKey = orders.insert(100).unwrap();
/// assert_eq!(orders[o], 100);
/// assert_eq!(o.index(), 0);
/// assert_eq!(Key::from(o), Key::new_saturating(0));
/// assert_eq!(format!("{o:?}"), "OrderKey(0)");
///
/// let mut conns: Slab<&str, Heap, ConnKey> = Slab::new_in(Heap::new());
/// conns.alloc(16).unwrap();
/// let c = conns.insert("10.0.0.1:443").unwrap();
/// assert_eq!(format!("{c:?}"), "ConnKey(0v1)");
/// assert_eq!(std::mem::size_of::<Option<OrderKey>>(), 4);
/// assert_eq!(std::mem::size_of::<Option<ConnKey>>(), 8);
/// ```
///
/// A key of one type is refused by a slab of another at compile time:
///
/// ```compile_fail,E0308
/// use nexus_slab::{new_key_type, Key, Slab};
/// new_key_type! { struct OrderKey(Key); struct LevelKey(Key); }
/// let mut orders: Slab<u64, nexus_slab::backing::Mmap, OrderKey> = Slab::with_capacity(4);
/// let levels: Slab<u64, nexus_slab::backing::Mmap, LevelKey> = Slab::with_capacity(4);
/// let o = orders.insert(1).unwrap();
/// let _ = levels.get(o); // expected `LevelKey`, found `OrderKey`
/// ```
///
/// The kind must be written out:
///
/// ```compile_fail
/// nexus_slab::new_key_type! { struct OrderKey; } // `struct OrderKey(Key);` or `(GenKey)`
/// ```
#[macro_export]
macro_rules! new_key_type {
    () => {};
    ($(#[$attr:meta])* $vis:vis struct $name:ident; $($rest:tt)*) => {
        ::core::compile_error!(::core::concat!(
            "new_key_type!: say which key `",
            ::core::stringify!($name),
            "` stands for: `struct ",
            ::core::stringify!($name),
            "(Key);` (plain) or `struct ",
            ::core::stringify!($name),
            "(GenKey);` (generational)"
        ));
    };
    ($(#[$attr:meta])* $vis:vis struct $name:ident($raw:ty); $($rest:tt)*) => {
        $crate::new_key_type!(@declare [$(#[$attr])*] $vis $name $raw);
        $crate::new_key_type!($($rest)*);
    };
    (@declare [$($attr:tt)*] $vis:vis $name:ident $raw:ty) => {
        $($attr)*
        #[derive(
            ::core::clone::Clone,
            ::core::marker::Copy,
            ::core::cmp::PartialEq,
            ::core::cmp::Eq,
            ::core::cmp::PartialOrd,
            ::core::cmp::Ord,
            ::core::hash::Hash,
        )]
        #[repr(transparent)]
        $vis struct $name($raw);

        // SAFETY: `from_raw` wraps and `into_raw` unwraps the one field: they are inverse.
        unsafe impl $crate::SlabKey for $name {
            type Raw = $raw;

            #[inline]
            fn from_raw(raw: $raw) -> Self {
                $name(raw)
            }

            #[inline]
            fn into_raw(self) -> $raw {
                self.0
            }
        }

        impl $name {
            /// The slot index this key names.
            #[inline]
            #[allow(dead_code)]
            $vis fn index(self) -> usize {
                <Self as $crate::SlabKey>::index(self)
            }
        }

        impl ::core::convert::From<$raw> for $name {
            #[inline]
            fn from(raw: $raw) -> Self {
                $name(raw)
            }
        }

        impl ::core::convert::From<$name> for $raw {
            #[inline]
            fn from(key: $name) -> Self {
                key.0
            }
        }

        impl ::core::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                $crate::__private::fmt_key(::core::stringify!($name), *self, f)
            }
        }
    };
}

/// Support for the macros; not part of the API.
#[doc(hidden)]
pub mod __private {
    use super::*;

    /// Formats a typed key as `Name(index)` or, generational, `Name(index v generation)`.
    pub fn fmt_key<K: SlabKey>(name: &str, key: K, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let raw = key.into_raw();
        if <K::Raw as RawKey>::GENERATIONAL {
            write!(f, "{name}({}v{})", raw.slot(), raw.generation_bits())
        } else {
            write!(f, "{name}({})", raw.slot())
        }
    }
}
