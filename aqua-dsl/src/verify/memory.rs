//! Memory: typing of `ptr_add`, `load`, `store` and `gather`, and the pointer rules that
//! need the whole kernel: every pointer derives from one parameter known statically
//! ([`pointer_bases`]), and stores go only through parameters declared `mut`.

use crate::analysis::pointer_bases;
use crate::error::KernelError;
use crate::ir::{DType, Elem, Kernel, Loc, Op, ParamKind, TableId, Type, ValueId};

use super::{Cx, Rule};

/// The pointer type of `ptr`, or an error naming `what`.
fn pointers<'c>(cx: &'c Cx, what: &str, ptr: ValueId) -> Result<&'c Type, String> {
    let t = cx.ty(ptr);
    if !t.is_ptr() {
        return Err(format!("`{what}` needs pointers, got {} ({t})", cx.v(ptr)));
    }
    Ok(t)
}

/// A mask: bool of the pointers' shape.
fn mask(cx: &Cx, what: &str, m: ValueId, pt: &Type) -> Result<(), String> {
    let want = pt.with_dtype(DType::Bool);
    if *cx.ty(m) != want {
        return Err(format!(
            "`{what}` mask must be {want} (the pointers' shape), got {} ({})",
            cx.v(m),
            cx.ty(m)
        ));
    }
    Ok(())
}

/// Pointers plus integer offsets of the same shape; the result has the pointers' type.
pub(super) fn ptr_add(cx: &Cx, ptr: ValueId, offset: ValueId) -> Rule {
    let pt = pointers(cx, "ptr_add", ptr)?;
    let ot = cx.ty(offset);
    if ot.is_ptr() || !ot.dtype().is_int() {
        return Err(format!(
            "`ptr_add` offsets must be integers, got {} ({ot})",
            cx.v(offset)
        ));
    }
    if ot.shape != pt.shape {
        return Err(format!("`ptr_add` of {pt} and offsets {ot}: shapes differ"));
    }
    Ok(vec![pt.clone()])
}

/// Values of the pointee dtype in the pointers' shape; `other` is exactly that type.
pub(super) fn load(cx: &Cx, ptr: ValueId, m: Option<ValueId>, other: Option<ValueId>) -> Rule {
    let pt = pointers(cx, "load", ptr)?;
    let out = pt.with_dtype(pt.dtype());
    if let Some(m) = m {
        mask(cx, "load", m, pt)?;
    }
    if let Some(o) = other {
        if *cx.ty(o) != out {
            return Err(format!("`load` fallback must be {out}, got {} ({})", cx.v(o), cx.ty(o)));
        }
    }
    Ok(vec![out])
}

/// A value of the pointee dtype in the pointers' shape; no result.
pub(super) fn store(cx: &Cx, ptr: ValueId, value: ValueId, m: Option<ValueId>) -> Rule {
    let pt = pointers(cx, "store", ptr)?;
    let want = pt.with_dtype(pt.dtype());
    if *cx.ty(value) != want {
        return Err(format!(
            "`store` through {pt} needs a {want} value, got {} ({})",
            cx.v(value),
            cx.ty(value)
        ));
    }
    if let Some(m) = m {
        mask(cx, "store", m, pt)?;
    }
    Ok(vec![])
}

/// An existing table read at integer indices; the table's dtype in the indices' shape.
pub(super) fn gather(cx: &Cx, table: TableId, index: ValueId) -> Rule {
    let t = cx.k.tables.get(table.0 as usize).ok_or_else(|| {
        format!(
            "table t{} does not exist (the kernel has {} tables)",
            table.0,
            cx.k.tables.len()
        )
    })?;
    let it = cx.ty(index);
    if it.is_ptr() || !it.dtype().is_int() {
        return Err(format!("`gather` indices must be integers, got {} ({it})", cx.v(index)));
    }
    Ok(vec![Type {
        elem: Elem::Val(t.dtype),
        shape: it.shape.clone(),
    }])
}

/// Pointer provenance and store permissions, on a kernel whose ops are well typed.
pub(super) fn check_pointers(cx: &Cx) -> Result<(), KernelError> {
    let bases = pointer_bases(cx.k).map_err(|(loc, message)| {
        let e = KernelError::new(cx.k.name.clone(), loc, message);
        match op_at(cx.k, loc) {
            Some(op) => e.with_op(op),
            None => e,
        }
    })?;
    let mut error = None;
    cx.k.walk(&mut |inst| {
        let Op::Store { ptr, .. } = &inst.op else { return };
        if error.is_some() {
            return;
        }
        let param = bases.get(ptr).and_then(|&i| cx.k.params.get(i));
        match param {
            Some(p) if matches!(p.kind, ParamKind::Ptr { mutable: true, .. }) => {}
            Some(p) => {
                error = Some(cx.op_error(
                    inst,
                    format!("stores through parameter `{}`, which is not declared `mut`", p.name),
                ))
            }
            None => error = Some(cx.op_error(inst, format!("the pointers {} derive from no parameter", cx.v(*ptr)))),
        }
    });
    error.map_or(Ok(()), Err)
}

/// The op a provenance error at `loc` is about: the `for`, `if` or `select` there (the
/// ops that merge pointers), else the first op at `loc`.
fn op_at(k: &Kernel, loc: Loc) -> Option<&'static str> {
    let (mut merge, mut any) = (None, None);
    k.walk(&mut |inst| {
        if inst.loc == loc {
            if merge.is_none() && matches!(inst.op, Op::For { .. } | Op::If { .. } | Op::Select { .. }) {
                merge = Some(inst.op.name());
            }
            any = any.or(Some(inst.op.name()));
        }
    });
    merge.or(any)
}
