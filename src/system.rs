//! What this machine allows, and what it did: the facts that decide which backings work here
//! and what adds latency jitter ([`SystemInfo::probe`], [`SystemInfo::preflight`]), the huge
//! page pools ([`HugePagePool`], per NUMA node [`NodeHugePool`]), and where a slab's pages
//! are ([`NumaBytes`], from `Slab::numa_bytes`).
//!
//! ```
//! use nexus_slab::system::SystemInfo;
//!
//! let info = SystemInfo::probe();
//! println!("{info}"); // the report `cargo run --release` prints
//! for risk in info.preflight().iter().filter(|p| p.at_risk) {
//!     eprintln!("{}: {} -> {}", risk.setting, risk.risk, risk.fix);
//! }
//! ```

pub use crate::info::{HugePagePool, Limit, Preflight, SystemInfo, ThpMode};
pub use crate::numa::{NodeHugePool, NumaBytes, NumaNode, NumaPolicy};
