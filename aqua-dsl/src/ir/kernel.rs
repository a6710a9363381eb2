//! Kernels, regions and instructions: the containers of the IR.

use std::collections::BTreeMap;
use std::fmt;

use crate::ir::{DType, Loc, Op, Table, Type};

/// An SSA value: an index into [`Kernel::values`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ValueId(pub u32);

impl fmt::Display for ValueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "%{}", self.0)
    }
}

/// One op with its results and the author's source location.
#[derive(Clone, Debug, PartialEq)]
pub struct Inst {
    pub op: Op,
    pub results: Vec<ValueId>,
    pub loc: Loc,
}

/// A straight-line list of instructions with block arguments (the kernel's parameters,
/// a loop's induction variable and carried values).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Region {
    pub args: Vec<ValueId>,
    pub insts: Vec<Inst>,
}

/// A runtime kernel argument.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ParamKind {
    /// A pointer to global memory; `mutable` pointers may be stored to.
    Ptr { dtype: DType, mutable: bool },
    /// A scalar passed by value.
    Scalar(DType),
}

impl ParamKind {
    pub fn dtype(&self) -> DType {
        match self {
            ParamKind::Ptr { dtype, .. } | ParamKind::Scalar(dtype) => *dtype,
        }
    }

    /// The IR type of the parameter's value in the kernel body.
    pub fn value_type(&self) -> Type {
        match self {
            ParamKind::Ptr { dtype, .. } => Type::ptr(*dtype),
            ParamKind::Scalar(d) => Type::scalar(*d),
        }
    }
}

impl fmt::Display for ParamKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamKind::Ptr { dtype, mutable: false } => write!(f, "ptr<{dtype}>"),
            ParamKind::Ptr { dtype, mutable: true } => write!(f, "ptr<{dtype}> mut"),
            ParamKind::Scalar(d) => write!(f, "{d}"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Param {
    pub name: String,
    pub kind: ParamKind,
}

/// A compile-time parameter value, as given by `--set name=value` or a sweep.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ComptimeValue {
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl fmt::Display for ComptimeValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ComptimeValue::Int(i) => write!(f, "{i}"),
            ComptimeValue::Float(x) => write!(f, "{x:?}"),
            ComptimeValue::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// A specialized kernel: the output of building a kernel source with its comptime values.
#[derive(Clone, Debug, PartialEq)]
pub struct Kernel {
    pub name: String,
    pub params: Vec<Param>,
    /// The comptime values this kernel was specialized with (printed as a header comment,
    /// and part of the canonical text so variants never share a cache key by accident).
    pub comptime: BTreeMap<String, ComptimeValue>,
    /// Type of every value, indexed by [`ValueId`].
    pub values: Vec<Type>,
    pub tables: Vec<Table>,
    /// The kernel body; its args are the parameters' values, in order.
    pub body: Region,
}

impl Kernel {
    pub fn ty(&self, v: ValueId) -> &Type {
        &self.values[v.0 as usize]
    }

    /// Calls `f` on every instruction, depth first, in program order.
    pub fn walk<'a>(&'a self, f: &mut impl FnMut(&'a Inst)) {
        fn go<'a>(r: &'a Region, f: &mut impl FnMut(&'a Inst)) {
            for inst in &r.insts {
                f(inst);
                for sub in inst.op.regions() {
                    go(sub, f);
                }
            }
        }
        go(&self.body, f);
    }
}
