//! Kernel sources: what `#[kernel]` generates, and how one is specialized into IR.
//!
//! A [`KernelSource`] knows its runtime signature and comptime parameters and can run its
//! body under a builder. [`KernelSource::build`] specializes it on [`Params`] (defaults
//! filled in), verifies the result and returns a [`Kernel`].

use std::collections::BTreeMap;
use std::fmt;

use crate::error::KernelError;
use crate::ir::{ComptimeValue, Kernel, Loc, Param};

use super::context;
use super::value::Value;

/// The Rust type of a comptime parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ComptimeType {
    Bool,
    U32,
    I32,
    U64,
    I64,
    Usize,
    F32,
    F64,
}

impl ComptimeType {
    pub fn name(self) -> &'static str {
        match self {
            ComptimeType::Bool => "bool",
            ComptimeType::U32 => "u32",
            ComptimeType::I32 => "i32",
            ComptimeType::U64 => "u64",
            ComptimeType::I64 => "i64",
            ComptimeType::Usize => "usize",
            ComptimeType::F32 => "f32",
            ComptimeType::F64 => "f64",
        }
    }

    pub fn from_name(name: &str) -> Option<ComptimeType> {
        use ComptimeType::*;
        [Bool, U32, I32, U64, I64, Usize, F32, F64].into_iter().find(|t| t.name() == name)
    }

    /// Parses a command-line value (`--set bits=2`) of this type.
    pub fn parse(self, text: &str) -> Result<ComptimeValue, String> {
        let bad = || format!("`{text}` is not a valid {}", self.name());
        Ok(match self {
            ComptimeType::Bool => ComptimeValue::Bool(text.parse().map_err(|_| bad())?),
            ComptimeType::F32 | ComptimeType::F64 => ComptimeValue::Float(text.parse().map_err(|_| bad())?),
            _ => {
                let v: i64 = text.parse().map_err(|_| bad())?;
                let v = ComptimeValue::Int(v);
                self.check(v)?;
                v
            }
        })
    }

    /// Checks that `v` is a value of this type (kind and range).
    pub fn check(self, v: ComptimeValue) -> Result<(), String> {
        let ok = match (self, v) {
            (ComptimeType::Bool, ComptimeValue::Bool(_)) => true,
            (ComptimeType::F32 | ComptimeType::F64, ComptimeValue::Float(_) | ComptimeValue::Int(_)) => true,
            (ComptimeType::U32, ComptimeValue::Int(i)) => (0..=u32::MAX as i64).contains(&i),
            (ComptimeType::I32, ComptimeValue::Int(i)) => (i32::MIN as i64..=i32::MAX as i64).contains(&i),
            (ComptimeType::U64 | ComptimeType::Usize, ComptimeValue::Int(i)) => i >= 0,
            (ComptimeType::I64, ComptimeValue::Int(_)) => true,
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(format!("{v} is not a valid {}", self.name()))
        }
    }
}

/// A comptime parameter of a kernel source.
#[derive(Clone, Debug, PartialEq)]
pub struct ComptimeParam {
    pub name: &'static str,
    pub ty: ComptimeType,
    pub default: Option<ComptimeValue>,
}

/// Values for comptime parameters, by name.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Params(pub BTreeMap<String, ComptimeValue>);

impl Params {
    pub fn new() -> Params {
        Params::default()
    }

    /// Adds a value: `Params::new().with("bits", 2).with("group", 64)`.
    pub fn with(mut self, name: &str, value: impl Into<ComptimeValueArg>) -> Params {
        self.0.insert(name.to_string(), value.into().0);
        self
    }

    pub fn set(&mut self, name: &str, value: ComptimeValue) {
        self.0.insert(name.to_string(), value);
    }

    pub fn get(&self, name: &str) -> Option<ComptimeValue> {
        self.0.get(name).copied()
    }
}

impl fmt::Display for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{k}={v}")?;
        }
        Ok(())
    }
}

/// Anything that converts to a comptime value (Rust numbers and bools).
pub struct ComptimeValueArg(pub ComptimeValue);
macro_rules! ct_int {
    ($($t:ty),*) => {$( impl From<$t> for ComptimeValueArg { fn from(v: $t) -> Self { ComptimeValueArg(ComptimeValue::Int(v as i64)) } } )*};
}
ct_int!(i8, u8, i16, u16, i32, u32, i64, u64, usize, isize);
impl From<f32> for ComptimeValueArg {
    fn from(v: f32) -> Self {
        ComptimeValueArg(ComptimeValue::Float(v as f64))
    }
}
impl From<f64> for ComptimeValueArg {
    fn from(v: f64) -> Self {
        ComptimeValueArg(ComptimeValue::Float(v))
    }
}
impl From<bool> for ComptimeValueArg {
    fn from(v: bool) -> Self {
        ComptimeValueArg(ComptimeValue::Bool(v))
    }
}
impl From<ComptimeValue> for ComptimeValueArg {
    fn from(v: ComptimeValue) -> Self {
        ComptimeValueArg(v)
    }
}

/// Reading a comptime value as the Rust type the kernel declared.
pub trait FromComptime: Sized {
    fn from_comptime(v: ComptimeValue) -> Option<Self>;
}
macro_rules! from_ct_int {
    ($($t:ty),*) => {$( impl FromComptime for $t {
        fn from_comptime(v: ComptimeValue) -> Option<Self> {
            match v { ComptimeValue::Int(i) => <$t>::try_from(i).ok(), _ => None }
        }
    } )*};
}
from_ct_int!(u32, i32, u64, i64, usize);
impl FromComptime for f32 {
    fn from_comptime(v: ComptimeValue) -> Option<Self> {
        match v {
            ComptimeValue::Float(x) => Some(x as f32),
            ComptimeValue::Int(i) => Some(i as f32),
            _ => None,
        }
    }
}
impl FromComptime for f64 {
    fn from_comptime(v: ComptimeValue) -> Option<Self> {
        match v {
            ComptimeValue::Float(x) => Some(x),
            ComptimeValue::Int(i) => Some(i as f64),
            _ => None,
        }
    }
}
impl FromComptime for bool {
    fn from_comptime(v: ComptimeValue) -> Option<Self> {
        match v {
            ComptimeValue::Bool(b) => Some(b),
            _ => None,
        }
    }
}

/// A kernel written in Rust syntax (`#[kernel]` implements this) or by hand.
pub trait KernelSource: Sync {
    fn name(&self) -> &'static str;

    /// The runtime parameters, in order.
    fn params(&self) -> Vec<Param>;

    /// The compile-time parameters, in declaration order.
    fn comptime_params(&self) -> Vec<ComptimeParam>;

    /// Runs the body under the current builder, with `args` the parameters' values and
    /// `params` complete (every comptime parameter has a value of its declared type).
    fn body(&self, args: &[Value], params: &Params);

    /// A process-unique identity for sources without state: the same identity and the same
    /// comptime values always build the same kernel, so a runtime may serve a repeated
    /// request from its memory cache without building it again. `#[kernel]` returns the
    /// generated type's `TypeId`; sources holding data keep the default `None`.
    fn identity(&self) -> Option<std::any::TypeId> {
        None
    }

    /// Specializes the kernel: fills defaults, checks the comptime values, runs the body,
    /// verifies the IR. Never panics on a mistake in the kernel or the parameters.
    fn build(&self, params: &Params) -> Result<Kernel, KernelError> {
        let kernel = self.build_unverified(params)?;
        crate::verify::verify(&kernel)?;
        Ok(kernel)
    }

    /// [`KernelSource::build`] without the final verification (the runtime times the two
    /// phases apart and verifies itself).
    fn build_unverified(&self, params: &Params) -> Result<Kernel, KernelError> {
        let complete = complete_params(self.name(), &self.comptime_params(), params)?;
        build_body(self.name(), self.params(), complete.0.clone(), |args| self.body(args, &complete))
    }

    /// The canonical IR text of the kernel specialized on `params`.
    fn ir(&self, params: &Params) -> Result<String, KernelError> {
        Ok(self.build(params)?.to_string())
    }
}

/// Runs `body` under a new builder for a kernel `name(params)` and returns the kernel,
/// unverified; a panic in the body becomes an error, as a mistake there must not abort.
fn build_body(
    name: &str,
    params: Vec<Param>,
    comptime: BTreeMap<String, ComptimeValue>,
    body: impl FnOnce(&[Value]),
) -> Result<Kernel, KernelError> {
    let args = context::begin(name, params, comptime);
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(&args))) {
        Ok(()) => context::finish(),
        Err(panic) => {
            context::abandon();
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            Err(KernelError::new(name, Loc::UNKNOWN, format!("the kernel body panicked while building: {msg}")))
        }
    }
}

/// Builds and verifies a kernel whose body is a closure over its parameters' values: for
/// generated kernels and tests, where a `#[kernel]` or a [`KernelSource`] type would be
/// ceremony.
pub fn build_kernel(name: &str, params: Vec<Param>, body: impl FnOnce(&[Value])) -> Result<Kernel, KernelError> {
    let kernel = build_body(name, params, BTreeMap::new(), body)?;
    crate::verify::verify(&kernel)?;
    Ok(kernel)
}

/// Fills defaults and checks every comptime value against its declaration.
pub fn complete_params(kernel: &str, decls: &[ComptimeParam], given: &Params) -> Result<Params, KernelError> {
    let err = |m: String| KernelError::new(kernel, Loc::UNKNOWN, m);
    for name in given.0.keys() {
        if !decls.iter().any(|d| d.name == name) {
            let known: Vec<&str> = decls.iter().map(|d| d.name).collect();
            return Err(err(format!("unknown comptime parameter `{name}` (known: {})", known.join(", "))));
        }
    }
    let mut out = Params::new();
    for d in decls {
        let v = given.get(d.name).or(d.default).ok_or_else(|| {
            err(format!("comptime parameter `{}: {}` has no value and no default", d.name, d.ty.name()))
        })?;
        d.ty.check(v).map_err(|m| err(format!("comptime parameter `{}`: {m}", d.name)))?;
        out.set(d.name, v);
    }
    Ok(out)
}

/// Reads a complete comptime parameter as its declared Rust type (used by generated code).
pub fn comptime_arg<T: FromComptime>(params: &Params, name: &str) -> T {
    params
        .get(name)
        .and_then(T::from_comptime)
        .unwrap_or_else(|| panic!("comptime parameter `{name}` missing or of the wrong type"))
}
