//! Block creation and shape ops: `arange`, `splat`, `broadcast`, `expand_dims`, `reshape`,
//! `trans` and `xor_permute`. Each computes, for every result element, the index of its
//! source element and gathers; pointers move like any other element.

use super::value::{checked_numel, Data, RtValue};
use crate::ir::Shape;

pub(crate) fn arange(start: i32, end: i32) -> Result<RtValue, String> {
    let n = end as i64 - start as i64;
    if n <= 0 {
        return Err(format!("arange({start}, {end}) is empty"));
    }
    let shape = Shape::new([n as u32]);
    checked_numel(&shape)?;
    Ok(RtValue {
        shape,
        data: Data::I32((start..end).collect()),
    })
}

pub(crate) fn splat(v: &RtValue, shape: &Shape) -> Result<RtValue, String> {
    if !v.shape.is_scalar() {
        return Err(format!("`splat` needs a scalar, got {}", v.ty()));
    }
    let n = checked_numel(shape)?;
    Ok(RtValue {
        shape: shape.clone(),
        data: v.data.gather(&vec![0; n]),
    })
}

/// Same rank; every source dim equals the target dim or is 1 (then repeated).
pub(crate) fn broadcast(v: &RtValue, shape: &Shape) -> Result<RtValue, String> {
    let (src, dst) = (v.shape.dims(), shape.dims());
    let fits = src.len() == dst.len() && src.iter().zip(dst).all(|(&s, &d)| s == d || s == 1);
    if !fits {
        return Err(format!("cannot broadcast {} to shape {shape}", v.ty()));
    }
    let n = checked_numel(shape)?;
    // Source strides, 0 along repeated dims.
    let mut strides = vec![0usize; src.len()];
    let mut acc = 1usize;
    for i in (0..src.len()).rev() {
        strides[i] = if src[i] == 1 { 0 } else { acc };
        acc *= src[i] as usize;
    }
    let mut idx = Vec::with_capacity(n);
    let mut counter = vec![0u32; dst.len()];
    let mut at = 0usize;
    for _ in 0..n {
        idx.push(at);
        // Row-major increment of the multi-index, keeping `at` in step.
        for d in (0..dst.len()).rev() {
            counter[d] += 1;
            at += strides[d];
            if counter[d] < dst[d] {
                break;
            }
            at -= strides[d] * dst[d] as usize;
            counter[d] = 0;
        }
    }
    Ok(RtValue {
        shape: shape.clone(),
        data: v.data.gather(&idx),
    })
}

pub(crate) fn expand_dims(v: &RtValue, axis: u8) -> Result<RtValue, String> {
    let axis = axis as usize;
    if axis > v.shape.rank() {
        return Err(format!("cannot insert a dim at axis {axis} of {}", v.ty()));
    }
    let mut shape = v.shape.clone();
    shape.0.insert(axis, 1);
    Ok(RtValue {
        shape,
        data: v.data.clone(),
    })
}

pub(crate) fn reshape(v: &RtValue, shape: &Shape) -> Result<RtValue, String> {
    if checked_numel(shape)? != v.data.len() {
        return Err(format!(
            "cannot reshape {} to {shape}: element counts differ",
            v.ty()
        ));
    }
    Ok(RtValue {
        shape: shape.clone(),
        data: v.data.clone(),
    })
}

pub(crate) fn xor_permute(v: &RtValue, axis: u8, mask: u32) -> Result<RtValue, String> {
    if let Some(problem) = crate::ir::xor_permute_problem(&v.shape, axis as u32, mask) {
        return Err(format!("`xor_permute` of {}: {problem}", v.ty()));
    }
    let dims = v.shape.dims();
    let inner: usize = dims[axis as usize + 1..]
        .iter()
        .map(|&d| d as usize)
        .product();
    let flat_mask = mask as usize * inner;
    let idx: Vec<usize> = (0..v.data.len()).map(|i| i ^ flat_mask).collect();
    Ok(RtValue {
        shape: v.shape.clone(),
        data: v.data.gather(&idx),
    })
}

pub(crate) fn trans(v: &RtValue) -> Result<RtValue, String> {
    let &[rows, cols] = v.shape.dims() else {
        return Err(format!("`trans` needs a 2-D block, got {}", v.ty()));
    };
    let (rows, cols) = (rows as usize, cols as usize);
    let idx: Vec<usize> = (0..cols)
        .flat_map(|j| (0..rows).map(move |i| i * cols + j))
        .collect();
    Ok(RtValue {
        shape: Shape::new([cols as u32, rows as u32]),
        data: v.data.gather(&idx),
    })
}
