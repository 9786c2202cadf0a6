//! Helpers shared by the integration tests.
#![allow(dead_code)]

#[cfg(target_os = "linux")]
pub mod kernel;
pub mod skip;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

/// A small deterministic PRNG (xorshift64*), so failures reproduce.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// Fisher-Yates.
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

/// Counts drops of its values; optionally panics on the k-th drop (counting from 1).
#[derive(Clone, Default)]
pub struct DropLog {
    dropped: Rc<RefCell<Vec<u64>>>,
    panic_on: Rc<Cell<usize>>,
}

impl DropLog {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn item(&self, id: u64) -> Tracked {
        Tracked {
            id,
            log: self.clone(),
        }
    }
    pub fn drops(&self) -> usize {
        self.dropped.borrow().len()
    }
    /// Ids dropped so far, in drop order.
    pub fn dropped(&self) -> Vec<u64> {
        self.dropped.borrow().clone()
    }
    /// Panics unless no id was dropped twice.
    pub fn assert_no_double_drop(&self) {
        let mut ids = self.dropped();
        ids.sort_unstable();
        let n = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), n, "a value was dropped twice");
    }
    /// Makes the `k`-th drop from now panic (once).
    pub fn panic_on_drop(&self, k: usize) {
        self.panic_on.set(self.drops() + k);
    }
    /// Cancels a `panic_on_drop` that has not fired yet.
    pub fn disarm(&self) {
        self.panic_on.set(0);
    }
}

#[derive(Debug)]
pub struct Tracked {
    pub id: u64,
    log: DropLog,
}

impl std::fmt::Debug for DropLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DropLog({})", self.drops())
    }
}

impl Tracked {
    /// A new value with `id` on the same log (what a `Clone` would make).
    pub fn sibling(&self, id: u64) -> Tracked {
        self.log.item(id)
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.log.dropped.borrow_mut().push(self.id);
        let n = self.log.drops();
        if self.log.panic_on.get() == n {
            self.log.panic_on.set(0);
            panic!("Tracked {} panics on drop #{n}", self.id);
        }
    }
}

/// Declares a module per backing, each running every listed generic test (`fn name<B>()`) with
/// that backing: `backing_tests!(mmap => Mmap, locked => Locked<Mmap> | "why Miri skips it";
/// [test_a, test_b])`. A `| "reason"` marks the module's tests ignored under Miri.
#[allow(unused_macros)] // each test binary uses some of these
macro_rules! backing_tests {
    ($($module:ident => $backing:ty $(| $why:literal)?),+ ; $names:tt) => {
        $( $crate::common::backing_module!($module => $backing $(| $why)?; $names); )+
    };
}

/// One module of [`backing_tests!`].
#[allow(unused_macros)]
macro_rules! backing_module {
    ($module:ident => $backing:ty; [$($name:ident),* $(,)?]) => {
        mod $module {
            $( #[test] fn $name() { super::$name::<$backing>(); } )*
        }
    };
    ($module:ident => $backing:ty | $why:literal; [$($name:ident),* $(,)?]) => {
        mod $module {
            $( #[test] #[cfg_attr(miri, ignore = $why)] fn $name() { super::$name::<$backing>(); } )*
        }
    };
}

/// The listed generic tests, on the Mmap and the Heap backing.
#[allow(unused_macros)]
macro_rules! on_every_backing {
    ($($name:ident),* $(,)?) => {
        $crate::common::backing_tests!(
            mmap => nexus_slab::backing::Mmap, heap => nexus_slab::backing::Heap; [$($name),*]
        );
    };
}

#[allow(unused_imports)]
pub(crate) use {backing_module, backing_tests, on_every_backing};
