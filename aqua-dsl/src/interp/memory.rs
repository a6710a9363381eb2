//! Memory: pointer arithmetic, masked loads and stores on the argument buffers, and
//! gathers from constant tables.
//!
//! Buffers are the caller's bytes, read and written element by element in native byte
//! order (they need not be aligned). Masked-off lanes never touch memory. A store checks
//! every unmasked lane before writing any, then writes lanes in increasing index, so when
//! lanes alias the highest one wins.

use super::cast::table_data;
use super::error::OpError;
use super::numeric::Prim;
use super::value::{match_int, with_dtype, Data, PtrData, RtValue};
use crate::ir::Table;

/// The argument buffers, indexed by parameter (`None` for scalar parameters).
pub(crate) struct Memory<'m> {
    pub bufs: Vec<Option<&'m mut [u8]>>,
}

impl Memory<'_> {
    fn buffer(&self, param: usize) -> Result<&[u8], OpError> {
        match self.bufs.get(param) {
            Some(Some(b)) => Ok(b),
            _ => Err(OpError::Msg(format!("parameter {param} is not a buffer"))),
        }
    }
}

fn ptrs<'v>(p: &'v RtValue, what: &str) -> Result<&'v PtrData, String> {
    match &p.data {
        Data::Ptr(p) => Ok(p),
        _ => Err(format!("`{what}` needs pointers, got {}", p.ty())),
    }
}

/// `ptr + offset`: offsets of any integer dtype, sign- or zero-extended to i64.
pub(crate) fn ptr_add(p: &RtValue, off: &RtValue) -> Result<RtValue, String> {
    let base = ptrs(p, "ptr_add")?;
    if p.shape != off.shape {
        return Err(format!(
            "`ptr_add` of {} and offsets {}: shapes differ",
            p.ty(),
            off.ty()
        ));
    }
    fn add<T: Prim>(base: &[i64], off: &[T]) -> Vec<i64> {
        base.iter()
            .zip(off)
            .map(|(&b, &o)| b.wrapping_add(o.as_i64()))
            .collect()
    }
    let offsets = match_int!(&off.data, o => add(&base.offsets, o), else {
        return Err(format!("pointer offsets must be integers, got {}", off.ty()))
    });
    let data = Data::Ptr(PtrData {
        param: base.param,
        dtype: base.dtype,
        offsets,
    });
    Ok(RtValue {
        shape: p.shape.clone(),
        data,
    })
}

/// The element index `offset` addresses in a buffer of `len` elements, if in bounds.
fn in_bounds(offset: i64, len: usize) -> Option<usize> {
    usize::try_from(offset).ok().filter(|&o| o < len)
}

pub(crate) fn load(
    mem: &Memory,
    p: &RtValue,
    mask: Option<&RtValue>,
    other: Option<&RtValue>,
) -> Result<RtValue, OpError> {
    let ptr = ptrs(p, "load")?;
    let mask = mask.map(|m| m.bools("`load` mask", &p.shape)).transpose()?;
    if let Some(o) = other {
        if o.shape != p.shape {
            return Err(format!(
                "`load` fallback must have shape {}, got {}",
                p.shape,
                o.ty()
            )
            .into());
        }
    }
    let buf = mem.buffer(ptr.param)?;
    fn go<T: Prim>(
        buf: &[u8],
        ptr: &PtrData,
        mask: Option<&[bool]>,
        other: Option<&RtValue>,
    ) -> Result<Data, OpError> {
        let size = std::mem::size_of::<T>();
        let len = buf.len() / size;
        let other = match other {
            None => None,
            Some(o) => Some(T::view(&o.data).ok_or_else(|| {
                format!(
                    "`load` fallback is {}, but the pointers are to {}",
                    o.ty(),
                    T::DTYPE
                )
            })?),
        };
        let mut out = Vec::with_capacity(ptr.offsets.len());
        for (lane, &offset) in ptr.offsets.iter().enumerate() {
            if mask.is_some_and(|m| !m[lane]) {
                out.push(other.map_or_else(T::default, |o| o[lane]));
                continue;
            }
            let i = in_bounds(offset, len).ok_or(OpError::OutOfBounds {
                arg: ptr.param,
                offset,
                is_store: false,
            })?;
            out.push(T::read(&buf[i * size..(i + 1) * size]));
        }
        Ok(T::wrap(out))
    }
    let data = with_dtype!(ptr.dtype, T => go::<T>(buf, ptr, mask, other)?);
    Ok(RtValue {
        shape: p.shape.clone(),
        data,
    })
}

/// Writes `value` through `p` where `mask` holds. The caller checks the parameter is
/// mutable.
pub(crate) fn store(
    mem: &mut Memory,
    p: &RtValue,
    value: &RtValue,
    mask: Option<&RtValue>,
) -> Result<(), OpError> {
    let ptr = ptrs(p, "store")?;
    let mask = mask
        .map(|m| m.bools("`store` mask", &p.shape))
        .transpose()?;
    if value.shape != p.shape {
        return Err(format!(
            "`store` of {} through pointers {}: shapes differ",
            value.ty(),
            p.ty()
        )
        .into());
    }
    let buf = match mem.bufs.get_mut(ptr.param) {
        Some(Some(b)) => &mut **b,
        _ => return Err(format!("parameter {} is not a buffer", ptr.param).into()),
    };
    fn go<T: Prim>(
        buf: &mut [u8],
        ptr: &PtrData,
        mask: Option<&[bool]>,
        value: &RtValue,
    ) -> Result<(), OpError> {
        let vals = T::view(&value.data)
            .ok_or_else(|| format!("`store` of {} through pointers to {}", value.ty(), T::DTYPE))?;
        let size = std::mem::size_of::<T>();
        let len = buf.len() / size;
        let live = |lane: usize| mask.is_none_or(|m| m[lane]);
        for (lane, &offset) in ptr.offsets.iter().enumerate() {
            if live(lane) && in_bounds(offset, len).is_none() {
                return Err(OpError::OutOfBounds {
                    arg: ptr.param,
                    offset,
                    is_store: true,
                });
            }
        }
        for (lane, &offset) in ptr.offsets.iter().enumerate() {
            if let (true, Some(i)) = (live(lane), in_bounds(offset, len)) {
                vals[lane].write(&mut buf[i * size..(i + 1) * size]);
            }
        }
        Ok(())
    }
    with_dtype!(ptr.dtype, T => go::<T>(buf, ptr, mask, value))
}

/// `table[index]` element-wise, indices of any integer dtype clamped into the table.
pub(crate) fn gather(table: &Table, index: &RtValue) -> Result<RtValue, String> {
    if table.data.is_empty() {
        return Err("`gather` from an empty table".into());
    }
    let last = table.data.len() as i64 - 1;
    fn clamp<T: Prim>(idx: &[T], last: i64) -> Vec<usize> {
        idx.iter()
            .map(|&i| i.as_i64().clamp(0, last) as usize)
            .collect()
    }
    let idx = match_int!(&index.data, x => clamp(x, last), else {
        return Err(format!("`gather` indices must be integers, got {}", index.ty()))
    });
    Ok(RtValue {
        shape: index.shape.clone(),
        data: table_data(table).gather(&idx),
    })
}
