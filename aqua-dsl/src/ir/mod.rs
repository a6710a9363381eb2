//! The typed block IR: element types and shapes, ops (one file per family), and the
//! kernel that holds them. Nothing here knows about KV caches.

mod kernel;
mod loc;
mod ops;
mod types;

pub use kernel::{ComptimeValue, Inst, Kernel, Param, ParamKind, Region, ValueId};
pub use loc::Loc;
pub use ops::*;
pub use types::{DType, Elem, Shape, Type};
