//! The ops of the block IR, one file per op family for the family's own enums and rules;
//! [`Op`] gathers them. Every op's result types are stored in the kernel's value table;
//! the verifier (`crate::verify`) states the typing rule of each op.

mod arith;
mod constant;
mod reduce;

pub use arith::{BinOp, CmpPred, UnOp};
pub use constant::{f64_to_f32_odd, Const, Lit, Table, TableId};
pub use reduce::ReduceOp;

use crate::ir::{DType, Region, Shape, ValueId};

/// One operation. Operands are values defined earlier in the same region or an enclosing
/// one; results are listed on the [`crate::ir::Inst`] that holds the op.
/// Only `Splat`, the shape ops, `Select`, `PtrAdd` and `For`/`If` yield pointers (`Load`/`Store` read them).
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    // ---- constants and program coordinates ----
    /// A scalar constant.
    Const(Const),
    /// This program's index along grid axis 0, 1 or 2 (`i32`).
    ProgramId(u8),
    /// The grid's size along axis 0, 1 or 2 (`i32`).
    NumPrograms(u8),
    /// `i32[end - start]` holding `start, start + 1, ..., end - 1`.
    Arange { start: i32, end: i32 },
    /// A block of `shape` with every element equal to the scalar `value` (also `full`).
    Splat { value: ValueId, shape: Shape },

    // ---- element-wise (operands of identical type; scalars broadcast by the builder) ----
    Binary { op: BinOp, lhs: ValueId, rhs: ValueId },
    Unary { op: UnOp, arg: ValueId },
    /// Result is `bool` of the operands' shape.
    Cmp { pred: CmpPred, lhs: ValueId, rhs: ValueId },
    /// `where_(cond, a, b)`: element-wise choice; `cond` is bool of the same shape.
    Select { cond: ValueId, on_true: ValueId, on_false: ValueId },
    /// `a * b + c` with one rounding (floats only).
    Fma { a: ValueId, b: ValueId, c: ValueId },
    /// Numeric conversion. Float to int truncates toward zero and saturates (NaN gives 0);
    /// int to float and float to narrower float round to nearest-even; to bool is `!= 0`;
    /// int to int wraps (two's complement, sign- or zero-extends by the source type).
    Cast { arg: ValueId, to: DType },
    /// Reinterpret the bits as another dtype of the same width.
    Bitcast { arg: ValueId, to: DType },

    // ---- shape ----
    /// Same rank; dims of size 1 are repeated to `shape`.
    Broadcast { arg: ValueId, shape: Shape },
    /// Insert a dim of size 1 at `axis` (0..=rank).
    ExpandDims { arg: ValueId, axis: u8 },
    /// Same number of elements, row-major order.
    Reshape { arg: ValueId, shape: Shape },
    /// Transpose of a 2-D block.
    Trans { arg: ValueId },
    /// Same shape; element `i` along `axis` takes the operand's element `i ^ mask` (the
    /// partner of a butterfly step, which a GPU exchanges with a warp shuffle). The dim
    /// along `axis` is a power of two above `mask`, and `mask >= 1`.
    XorPermute { arg: ValueId, axis: u8, mask: u32 },

    // ---- reductions and contractions ----
    /// Reduce along `axis`, which is removed from the shape.
    Reduce { op: ReduceOp, arg: ValueId, axis: u8 },
    /// `[M,K] x [K,N] -> f32[M,N]`, operands widened to f32, accumulated in f32,
    /// plus `acc` (`f32[M,N]`) when present.
    Dot { a: ValueId, b: ValueId, acc: Option<ValueId> },

    // ---- memory ----
    /// `ptr + offset`: pointer (scalar or block) plus integer offsets in elements, with
    /// matching shapes (the builder broadcasts). The result has the pointer's element type.
    PtrAdd { ptr: ValueId, offset: ValueId },
    /// Read every unmasked lane; masked lanes take `other` (zero when absent) and never
    /// touch memory.
    Load { ptr: ValueId, mask: Option<ValueId>, other: Option<ValueId> },
    /// Write every unmasked lane. When lanes alias, the highest lane index wins (on GPU
    /// targets only among lanes one thread stores: which thread wins is unspecified).
    /// `streaming`: the values will not be read again soon, so the CPU writes them around
    /// its caches where it can (non-temporal stores of whole vectors); the same values
    /// land in memory either way.
    Store { ptr: ValueId, value: ValueId, mask: Option<ValueId>, streaming: bool },
    /// Read a constant table at integer indices (any integer dtype); indices outside the
    /// table are clamped to its ends. The result has the table's dtype and the index shape.
    Gather { table: TableId, index: ValueId },

    // ---- structured control flow ----
    /// `for (i = lo; i < hi; i += step)` over scalar integers of one dtype; a step `<= 0`
    /// runs no iteration, else `ceil((hi - lo) / step)` of them (`i` never wraps).
    /// `body.args` are the induction variable followed by the carried values (initialized
    /// from `init`); the body ends in `Yield` of the next carried values; the op's results
    /// are the carried values after the last iteration.
    For { lo: ValueId, hi: ValueId, step: ValueId, init: Vec<ValueId>, body: Region },
    /// Runtime branch on a scalar `bool`. Both regions have no args and end in `Yield` of
    /// values of the op's result types.
    ///
    /// `specialized`: the author promises that `else_body` is correct whatever `cond` is,
    /// and that `then_body` is a faster form of it for when `cond` holds (same stores, same
    /// results), like a kernel's unmasked body for tiles inside the tensor next to its
    /// masked body for the last one. The interpreter branches as usual; a backend may
    /// compile the general form for size, outline it, or run it always (`docs/semantics.md`).
    If { cond: ValueId, then_body: Region, else_body: Region, specialized: bool },
    /// Ends a `For` body or an `If` branch.
    Yield(Vec<ValueId>),
}

impl Op {
    /// The mnemonic used in IR text and error messages.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Const(_) => "const",
            Op::ProgramId(_) => "program_id",
            Op::NumPrograms(_) => "num_programs",
            Op::Arange { .. } => "arange",
            Op::Splat { .. } => "splat",
            Op::Binary { op, .. } => op.name(),
            Op::Unary { op, .. } => op.name(),
            Op::Cmp { .. } => "cmp",
            Op::Select { .. } => "select",
            Op::Fma { .. } => "fma",
            Op::Cast { .. } => "cast",
            Op::Bitcast { .. } => "bitcast",
            Op::Broadcast { .. } => "broadcast",
            Op::ExpandDims { .. } => "expand_dims",
            Op::Reshape { .. } => "reshape",
            Op::Trans { .. } => "trans",
            Op::XorPermute { .. } => "xor_permute",
            Op::Reduce { op, .. } => op.name(),
            Op::Dot { .. } => "dot",
            Op::PtrAdd { .. } => "ptr_add",
            Op::Load { .. } => "load",
            Op::Store { streaming: false, .. } => "store",
            Op::Store { streaming: true, .. } => "store_streaming",
            Op::Gather { .. } => "gather",
            Op::For { .. } => "for",
            Op::If { .. } => "if",
            Op::Yield(_) => "yield",
        }
    }

    /// Value operands, in a fixed order (nested regions not included).
    pub fn operands(&self) -> Vec<ValueId> {
        match self {
            Op::Const(_) | Op::ProgramId(_) | Op::NumPrograms(_) | Op::Arange { .. } => vec![],
            Op::Splat { value, .. } => vec![*value],
            Op::Binary { lhs, rhs, .. } | Op::Cmp { lhs, rhs, .. } => vec![*lhs, *rhs],
            Op::Unary { arg, .. }
            | Op::Cast { arg, .. }
            | Op::Bitcast { arg, .. }
            | Op::Broadcast { arg, .. }
            | Op::ExpandDims { arg, .. }
            | Op::Reshape { arg, .. }
            | Op::Trans { arg }
            | Op::XorPermute { arg, .. }
            | Op::Reduce { arg, .. } => vec![*arg],
            Op::Select { cond, on_true, on_false } => vec![*cond, *on_true, *on_false],
            Op::Fma { a, b, c } => vec![*a, *b, *c],
            Op::Dot { a, b, acc } => [Some(*a), Some(*b), *acc].into_iter().flatten().collect(),
            Op::PtrAdd { ptr, offset } => vec![*ptr, *offset],
            Op::Load { ptr, mask, other } => {
                [Some(*ptr), *mask, *other].into_iter().flatten().collect()
            }
            Op::Store { ptr, value, mask, .. } => {
                [Some(*ptr), Some(*value), *mask].into_iter().flatten().collect()
            }
            Op::Gather { index, .. } => vec![*index],
            Op::For { lo, hi, step, init, .. } => {
                let mut v = vec![*lo, *hi, *step];
                v.extend(init.iter().copied());
                v
            }
            Op::If { cond, .. } => vec![*cond],
            Op::Yield(vals) => vals.clone(),
        }
    }

    /// Nested regions (loop body, branches).
    pub fn regions(&self) -> Vec<&Region> {
        match self {
            Op::For { body, .. } => vec![body],
            Op::If { then_body, else_body, .. } => vec![then_body, else_body],
            _ => vec![],
        }
    }

    /// Whether the op computes each element from its operands' elements at the same
    /// index alone: arithmetic, compares, selects and casts (no memory, no data moved).
    pub fn is_arithmetic(&self) -> bool {
        matches!(
            self,
            Op::Binary { .. }
                | Op::Unary { .. }
                | Op::Cmp { .. }
                | Op::Select { .. }
                | Op::Fma { .. }
                | Op::Cast { .. }
                | Op::Bitcast { .. }
        )
    }

    /// Whether the op writes memory (and so must not be removed or reordered).
    pub fn has_side_effects(&self) -> bool {
        matches!(self, Op::Store { .. } | Op::For { .. } | Op::If { .. } | Op::Yield(_))
    }
}

/// Why `xor_permute(axis, mask)` does not apply to a block of `shape`, if it does not
/// (shared with the verifier).
pub(crate) fn xor_permute_problem(shape: &Shape, axis: u32, mask: u32) -> Option<String> {
    let Some(&dim) = shape.dims().get(axis as usize) else {
        return Some(format!("axis {axis} is out of range (rank {})", shape.rank()));
    };
    if mask == 0 || mask >= dim {
        Some(format!("mask {mask} must be at least 1 and below the dim {dim} along axis {axis}"))
    } else if !dim.is_power_of_two() {
        Some(format!("the dim {dim} along axis {axis} is not a power of two"))
    } else {
        None
    }
}
