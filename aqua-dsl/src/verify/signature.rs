//! Kernel-level checks: names, parameters and the values bound to them, comptime names,
//! and constant tables. These mistakes belong to no op, so their errors carry no location.

use crate::error::KernelError;
use crate::ir::Table;
use crate::text::is_ident;

use super::constant::fits;
use super::Cx;

pub(super) fn check(cx: &Cx) -> Result<(), KernelError> {
    let k = cx.k;
    // Names are printed bare in the text, so they must read back as identifiers.
    if !is_ident(&k.name) {
        return Err(cx.kernel_error(format!("the kernel name `{}` is not an identifier", k.name)));
    }
    for (i, p) in k.params.iter().enumerate() {
        if !is_ident(&p.name) {
            return Err(cx.kernel_error(format!("parameter name `{}` is not an identifier", p.name)));
        }
        if k.params[..i].iter().any(|q| q.name == p.name) {
            return Err(cx.kernel_error(format!("two parameters are named `{}`", p.name)));
        }
    }
    if k.body.args.len() != k.params.len() {
        return Err(cx.kernel_error(format!(
            "the kernel body has {} arguments for {} parameters",
            k.body.args.len(),
            k.params.len()
        )));
    }
    for (p, &arg) in k.params.iter().zip(&k.body.args) {
        if !cx.in_table(arg) {
            return Err(cx.kernel_error(format!("the value of parameter `{}` is not in the value table", p.name)));
        }
        let want = p.kind.value_type();
        if *cx.ty(arg) != want {
            return Err(cx.kernel_error(format!(
                "parameter `{}` is declared {} but its value {} has type {}",
                p.name,
                p.kind,
                cx.v(arg),
                cx.ty(arg)
            )));
        }
    }
    if let Some(name) = k.comptime.keys().find(|n| !is_ident(n)) {
        return Err(cx.kernel_error(format!("comptime parameter name `{name}` is not an identifier")));
    }
    for (i, t) in k.tables.iter().enumerate() {
        table(t).map_err(|m| cx.kernel_error(format!("table t{i}: {m}")))?;
    }
    Ok(())
}

fn table(t: &Table) -> Result<(), String> {
    if t.data.is_empty() {
        return Err("constant tables must not be empty".into());
    }
    if t.data.len() > u32::MAX as usize {
        return Err(format!("{} entries are more than gather can index", t.data.len()));
    }
    match t.data.iter().position(|&x| !fits(t.dtype, x)) {
        Some(j) => Err(format!("entry {j} ({:?}) is not a {} value", t.data[j], t.dtype)),
        None => Ok(()),
    }
}
