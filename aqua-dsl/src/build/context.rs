//! The builder context the kernel body runs in.
//!
//! Kernel bodies are ordinary Rust (written by hand or expanded from `#[kernel]`); every
//! op they call appends an instruction to the innermost open region of the builder on this
//! thread. Mistakes do not panic: the first one is recorded with the author's location,
//! later ops return placeholder values, and [`finish`] returns the error.

use std::cell::RefCell;
use std::collections::BTreeMap;

use crate::error::KernelError;
use crate::ir::{ComptimeValue, Inst, Kernel, Loc, Op, Param, Region, Table, TableId, Type, ValueId};

use super::Value;

pub(crate) struct Builder {
    name: String,
    params: Vec<Param>,
    comptime: BTreeMap<String, ComptimeValue>,
    values: Vec<Type>,
    tables: Vec<Table>,
    /// Open regions, innermost last; the first is the kernel body.
    regions: Vec<Region>,
    error: Option<KernelError>,
}

thread_local! {
    static STACK: RefCell<Vec<Builder>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on the innermost builder of this thread.
///
/// Panics when no kernel is being built: calling an op outside a kernel body is a bug
/// in the caller's program, not a kernel mistake.
pub(crate) fn with<R>(f: impl FnOnce(&mut Builder) -> R) -> R {
    STACK.with(|s| {
        let mut s = s.borrow_mut();
        let b = s.last_mut().expect("aqua op called outside of a kernel being built");
        f(b)
    })
}

/// Opens a new kernel on this thread and returns the values of its parameters.
pub fn begin(
    name: &str,
    params: Vec<Param>,
    comptime: BTreeMap<String, ComptimeValue>,
) -> Vec<Value> {
    let mut b = Builder {
        name: name.to_string(),
        params: params.clone(),
        comptime,
        values: Vec::new(),
        tables: Vec::new(),
        regions: vec![Region::default()],
        error: None,
    };
    let args: Vec<Value> = params.iter().map(|p| b.new_value(p.kind.value_type())).collect();
    b.regions[0].args = args.iter().map(|v| v.id).collect();
    STACK.with(|s| s.borrow_mut().push(b));
    args
}

/// Closes the kernel opened by the matching [`begin`] and returns it, or the first error.
pub fn finish() -> Result<Kernel, KernelError> {
    let b = STACK.with(|s| s.borrow_mut().pop()).expect("aqua: finish without begin");
    if let Some(e) = b.error {
        return Err(e);
    }
    let mut regions = b.regions;
    assert_eq!(regions.len(), 1, "aqua: unbalanced regions at the end of a kernel");
    Ok(Kernel {
        name: b.name,
        params: b.params,
        comptime: b.comptime,
        values: b.values,
        tables: b.tables,
        body: regions.pop().unwrap(),
    })
}

/// Drops the kernel being built (after a panic in the body).
pub fn abandon() {
    STACK.with(|s| s.borrow_mut().pop());
}

/// Records an error at `loc` unless one is recorded already.
pub fn report(loc: Loc, message: impl Into<String>) {
    with(|b| b.fail(loc, message.into()));
}

impl Builder {
    pub(crate) fn fail(&mut self, loc: Loc, message: impl Into<String>) {
        if self.error.is_none() {
            self.error = Some(KernelError::new(self.name.clone(), loc, message.into()));
        }
    }

    pub(crate) fn ty(&self, v: Value) -> &Type {
        &self.values[v.id.0 as usize]
    }

    pub(crate) fn new_value(&mut self, ty: Type) -> Value {
        let id = ValueId(self.values.len() as u32);
        self.values.push(ty);
        Value { id }
    }

    /// Appends `op` with one result of type `ty`.
    pub(crate) fn emit(&mut self, op: Op, ty: Type, loc: Loc) -> Value {
        let v = self.new_value(ty);
        self.push(Inst { op, results: vec![v.id], loc });
        v
    }

    /// Appends `op` with no result.
    pub(crate) fn emit_void(&mut self, op: Op, loc: Loc) {
        self.push(Inst { op, results: vec![], loc });
    }

    pub(crate) fn push(&mut self, inst: Inst) {
        self.regions.last_mut().unwrap().insts.push(inst);
    }

    pub(crate) fn open_region(&mut self, args: Vec<ValueId>) {
        self.regions.push(Region { args, insts: Vec::new() });
    }

    pub(crate) fn close_region(&mut self) -> Region {
        assert!(self.regions.len() > 1, "aqua: closing the kernel body region");
        self.regions.pop().unwrap()
    }

    pub(crate) fn add_table(&mut self, table: Table) -> TableId {
        if let Some(i) = self.tables.iter().position(|t| *t == table) {
            return TableId(i as u32);
        }
        self.tables.push(table);
        TableId(self.tables.len() as u32 - 1)
    }

    pub(crate) fn table(&self, id: TableId) -> &Table {
        &self.tables[id.0 as usize]
    }
}
