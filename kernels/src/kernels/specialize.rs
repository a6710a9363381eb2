//! Running one tile body in two forms, chosen at run time: the unmasked form for tiles
//! inside the tensor and the masked form for the last one (the way Triton kernels
//! specialize on even sizes). Masks on every access cost about as much as a quantizer's
//! arithmetic, so this makes the common tile about 1.5x faster. It is an IR
//! `if specialized`: the CPU compiles the masked form in a second module on a second
//! thread, and GPU targets, whose masks are cheap, keep only the masked form
//! (`docs/codegen.md`). Also the loads and stores that take either form.

use aqua_dsl::build::*;

/// `inside()` when `full` holds, else `edge()`, as a specialized IR branch
/// ([`aqua_dsl::build::specialize`]): `edge` is the masked body, correct on any tile.
#[track_caller]
pub fn specialize(full: Value, inside: impl FnOnce(), edge: impl FnOnce()) {
    aqua_dsl::build::specialize(
        full,
        || {
            inside();
            vec![]
        },
        || {
            edge();
            vec![]
        },
    );
}

/// The values at `ptrs`, zero where `mask` (when given) is false.
#[track_caller]
pub fn load_where(ptrs: Value, mask: Option<Value>) -> Value {
    load_where_or(ptrs, mask, 0)
}

/// The values at `ptrs`, `pad` where `mask` (when given) is false.
#[track_caller]
pub fn load_where_or(ptrs: Value, mask: Option<Value>, pad: impl IntoOperand) -> Value {
    match mask {
        Some(m) => load_masked_or(ptrs, m, pad),
        None => load(ptrs),
    }
}

/// Stores `v` at `ptrs` where `mask` (when given) holds.
#[track_caller]
pub fn store_where(ptrs: Value, v: Value, mask: Option<Value>) {
    match mask {
        Some(m) => store_masked(ptrs, v, m),
        None => store(ptrs, v),
    }
}
