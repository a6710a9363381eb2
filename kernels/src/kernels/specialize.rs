//! Running one tile body in two forms, chosen at run time: the unmasked form for tiles
//! inside the tensor and the masked form for the last one (the way Triton kernels
//! specialize on even sizes). Masks on every access cost about as much as a quantizer's
//! arithmetic, so this makes the common tile about 1.5x faster, for a kernel about twice
//! as large to compile.

use aqua_dsl::build::*;

/// `if full { inside() } else { edge() }` as an IR branch without results.
#[track_caller]
pub fn specialize(full: Value, inside: impl FnOnce(), edge: impl FnOnce()) {
    if_else(
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
