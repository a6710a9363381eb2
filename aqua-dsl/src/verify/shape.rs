//! Shape rules: what a valid block shape is, and the typing of `splat`, `broadcast`,
//! `expand_dims`, `reshape` and `trans` (all of which also move pointers around).

use crate::ir::{Shape, Type, ValueId};

use super::{Cx, Rule};

/// Blocks have at most this many dims.
pub(super) const MAX_RANK: usize = 3;
/// And at most this many elements (the builder's limit too).
pub(super) const MAX_NUMEL: u64 = 1 << 20;

/// Every dim a power of two, rank at most [`MAX_RANK`], at most [`MAX_NUMEL`] elements.
pub(super) fn check_shape(s: &Shape) -> Result<(), String> {
    if s.rank() > MAX_RANK {
        return Err(format!("blocks have at most {MAX_RANK} dims, got shape {s}"));
    }
    if s.dims().iter().any(|&d| !d.is_power_of_two()) {
        return Err(format!("block dims must be powers of two, got shape {s}"));
    }
    // At most 3 dims below 2^32 each: the product fits in u128.
    let numel: u128 = s.dims().iter().map(|&d| d as u128).product();
    if numel > MAX_NUMEL as u128 {
        return Err(format!("block of shape {s} has more than {MAX_NUMEL} elements"));
    }
    Ok(())
}

/// A valid type: its shape is valid.
pub(super) fn check_type(t: &Type) -> Result<(), String> {
    check_shape(&t.shape).map_err(|m| format!("type {t}: {m}"))
}

/// `splat %v to S`: a scalar (number or pointer) repeated to the valid shape `S`.
pub(super) fn splat(cx: &Cx, value: ValueId, shape: &Shape) -> Rule {
    let t = cx.ty(value);
    if !t.is_scalar() {
        return Err(format!("`splat` needs a scalar, got {} of type {t}", cx.v(value)));
    }
    check_shape(shape)?;
    Ok(vec![t.with_shape(shape.clone())])
}

/// `broadcast %v to S`: same rank; every dim of `%v` equals the one of `S` or is 1.
pub(super) fn broadcast(cx: &Cx, arg: ValueId, shape: &Shape) -> Rule {
    let t = cx.ty(arg);
    check_shape(shape)?;
    let fits =
        t.shape.rank() == shape.rank() && t.shape.dims().iter().zip(shape.dims()).all(|(&a, &b)| a == b || a == 1);
    if !fits {
        return Err(format!(
            "cannot broadcast {t} to {shape}: ranks must match and each dim must be equal or 1 (use expand_dims first)"
        ));
    }
    Ok(vec![t.with_shape(shape.clone())])
}

/// `expand_dims %v, axis A`: a dim of 1 inserted at `A <= rank`.
pub(super) fn expand_dims(cx: &Cx, arg: ValueId, axis: u8) -> Rule {
    let t = cx.ty(arg);
    if axis as usize > t.shape.rank() {
        return Err(format!(
            "axis {axis} is out of range for {t} (at most {})",
            t.shape.rank()
        ));
    }
    let mut s = t.shape.clone();
    s.0.insert(axis as usize, 1);
    check_shape(&s)?;
    Ok(vec![t.with_shape(s)])
}

/// `reshape %v to S`: same number of elements.
pub(super) fn reshape(cx: &Cx, arg: ValueId, shape: &Shape) -> Rule {
    let t = cx.ty(arg);
    check_shape(shape)?;
    if t.shape.numel() != shape.numel() {
        return Err(format!("cannot reshape {t} to {shape}: element counts differ"));
    }
    Ok(vec![t.with_shape(shape.clone())])
}

/// `xor_permute %v, axis A, mask M`: the same type; the dim along `A` a power of two above
/// `M >= 1`.
pub(super) fn xor_permute(cx: &Cx, arg: ValueId, axis: u8, mask: u32) -> Rule {
    let t = cx.ty(arg);
    match crate::ir::xor_permute_problem(&t.shape, axis as u32, mask) {
        Some(problem) => Err(format!("`xor_permute` of {t}: {problem}")),
        None => Ok(vec![t.clone()]),
    }
}

/// `trans %v`: a 2-D block with its dims swapped.
pub(super) fn trans(cx: &Cx, arg: ValueId) -> Rule {
    let t = cx.ty(arg);
    match t.shape.dims() {
        &[m, n] => Ok(vec![t.with_shape(Shape::new([n, m]))]),
        _ => Err(format!("`trans` needs a 2-D block, got {t}")),
    }
}
