//! A first program with nexus-slab: a quarter of a million orders of 32 bytes, locked in RAM.
//!
//! ```text
//! cargo run --example first_program
//! ```
//!
//! 2^18 slots of 32 bytes are 8 MiB, and the slab's bitmap takes 36 KiB more: just over the
//! 8 MiB `RLIMIT_MEMLOCK` most Linux distributions give an unprivileged process. There,
//! `main` returns the error and Rust prints its `Debug`, which says what happened and the
//! command that fixes it:
//!
//! ```text
//! Error: MemlockLimit { needed: 8425472, limit: Bytes(8388608), locked: 0 }: mlock of 8.04 MiB exceeds RLIMIT_MEMLOCK (8 MiB): run `sudo prlimit --memlock=unlimited --pid $$` in the shell that starts the program
//! ```
//!
//! `tests/memlock_limit.rs` runs this very `main` without `CAP_IPC_LOCK` under an 8 MiB limit
//! and checks that output.

use nexus_slab::LockedSlab;

/// An order: 32 bytes.
pub struct Order {
    pub id: u64,
    pub price: i64,
    pub time: u64,
    pub qty: u32,
    pub buy: bool,
}

// `pub`: tests/memlock_limit.rs runs it as a function of its own.
pub fn main() -> Result<(), Box<dyn std::error::Error>> {
    assert_eq!(size_of::<Order>(), 32);
    let mut orders: LockedSlab<Order> = LockedSlab::try_with_capacity(1 << 18)?;
    let key = orders.insert(Order {
        id: 1,
        price: 100,
        time: 0,
        qty: 10,
        buy: true,
    })?;
    let order = &orders[key];
    println!(
        "order {} at {key:?}: {} {} at {} (t={}); room for {} orders, {} bytes locked in RAM",
        order.id,
        if order.buy { "buy" } else { "sell" },
        order.qty,
        order.price,
        order.time,
        orders.capacity(),
        orders.memory_size()
    );
    Ok(())
}
