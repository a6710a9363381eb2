//! The kernel cache: a key for every compile ([`key`]), an in-process level that
//! compiles each key once ([`memory`]), and an on-disk level shared by processes
//! ([`disk`]). The runtime consults memory, then disk, then compiles.

pub mod disk;
pub mod key;
pub mod memory;

pub use disk::{DiskCache, Lookup};
pub use key::{CacheKey, KeyInputs};
pub use memory::MemoryCache;
