//! Building kernels from closures, typed buffers, and one-block op runners.

use std::fmt::Debug;

use aqua_dsl::build::*;
use aqua_dsl::interp::{run, ArgValue, InterpError};
use aqua_dsl::ir::{DType, Kernel, Param, ParamKind};
use aqua_dsl::Params;
use half::{bf16, f16};

type Body = Box<dyn Fn(&[Value]) + Sync>;

/// A kernel source whose body is a closure over the parameters' values.
struct Closure {
    name: &'static str,
    params: Vec<Param>,
    body: Body,
}

impl KernelSource for Closure {
    fn name(&self) -> &'static str {
        self.name
    }
    fn params(&self) -> Vec<Param> {
        self.params.clone()
    }
    fn comptime_params(&self) -> Vec<ComptimeParam> {
        vec![]
    }
    fn body(&self, args: &[Value], _: &Params) {
        (self.body)(args)
    }
}

/// Builds a kernel named `name` with `params` whose body is `body`.
pub fn build(
    name: &'static str,
    params: &[(&str, ParamKind)],
    body: impl Fn(&[Value]) + Sync + 'static,
) -> Kernel {
    let params = params
        .iter()
        .map(|(n, k)| Param {
            name: n.to_string(),
            kind: k.clone(),
        })
        .collect();
    Closure {
        name,
        params,
        body: Box::new(body),
    }
    .build(&Params::new())
    .unwrap_or_else(|e| panic!("{e}"))
}

pub fn input(d: DType) -> ParamKind {
    ParamKind::Ptr {
        dtype: d,
        mutable: false,
    }
}
pub fn output(d: DType) -> ParamKind {
    ParamKind::Ptr {
        dtype: d,
        mutable: true,
    }
}
pub fn scalar(d: DType) -> ParamKind {
    ParamKind::Scalar(d)
}

/// Rust element types as buffer contents.
pub trait Elt: Copy + Debug + 'static {
    const DTYPE: DType;
    fn put(self, out: &mut Vec<u8>);
    fn get(bytes: &[u8]) -> Self;
}
macro_rules! elt {
    ($($t:ty => $d:ident),*) => {$(
        impl Elt for $t {
            const DTYPE: DType = DType::$d;
            fn put(self, out: &mut Vec<u8>) { out.extend_from_slice(&self.to_ne_bytes()) }
            fn get(b: &[u8]) -> Self { <$t>::from_ne_bytes(b.try_into().unwrap()) }
        }
    )*};
}
elt!(i8 => I8, u8 => U8, i32 => I32, u32 => U32, i64 => I64, f32 => F32);
impl Elt for f16 {
    const DTYPE: DType = DType::F16;
    fn put(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_bits().to_ne_bytes())
    }
    fn get(b: &[u8]) -> Self {
        f16::from_bits(u16::from_ne_bytes(b.try_into().unwrap()))
    }
}
impl Elt for bf16 {
    const DTYPE: DType = DType::BF16;
    fn put(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_bits().to_ne_bytes())
    }
    fn get(b: &[u8]) -> Self {
        bf16::from_bits(u16::from_ne_bytes(b.try_into().unwrap()))
    }
}
impl Elt for bool {
    const DTYPE: DType = DType::Bool;
    fn put(self, out: &mut Vec<u8>) {
        out.push(self as u8)
    }
    fn get(b: &[u8]) -> Self {
        b[0] != 0
    }
}

pub fn bytes<T: Elt>(v: &[T]) -> Vec<u8> {
    let mut out = Vec::new();
    for &x in v {
        x.put(&mut out);
    }
    out
}

pub fn elems<T: Elt>(b: &[u8]) -> Vec<T> {
    b.chunks_exact(std::mem::size_of::<T>())
        .map(T::get)
        .collect()
}

/// A zeroed output buffer of `n` elements of `T`.
pub fn zeroed<T: Elt>(n: usize) -> Vec<u8> {
    vec![0u8; n * std::mem::size_of::<T>()]
}

/// Runs a kernel and panics with the error's message if it fails.
pub fn run_ok(k: &Kernel, grid: [u32; 3], args: &mut [ArgValue]) {
    run(k, grid, args).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs a kernel that must fail, returning the error.
pub fn run_err(k: &Kernel, grid: [u32; 3], args: &mut [ArgValue]) -> InterpError {
    run(k, grid, args).expect_err("the run should fail")
}

/// `f(x, y)` element-wise on one block (lengths padded to a power of two with masked
/// lanes), stored as `U`.
pub fn eval2<T: Elt, U: Elt>(
    x: &[T],
    y: &[T],
    f: impl Fn(Value, Value) -> Value + Sync + 'static,
) -> Vec<U> {
    assert_eq!(x.len(), y.len());
    let (n, len) = (x.len().next_power_of_two() as u32, x.len() as i32);
    let params = [
        ("x", input(T::DTYPE)),
        ("y", input(T::DTYPE)),
        ("out", output(U::DTYPE)),
    ];
    let k = build("eval2", &params, move |a| {
        let offs = arange(n);
        let m = lt(offs, len);
        let r = f(load_masked(a[0] + offs, m), load_masked(a[1] + offs, m));
        store_masked(a[2] + offs, r, m);
    });
    let (mut xb, mut yb, mut ob) = (bytes(x), bytes(y), zeroed::<U>(x.len()));
    run_ok(
        &k,
        [1, 1, 1],
        &mut [
            ArgValue::Buffer(&mut xb),
            ArgValue::Buffer(&mut yb),
            ArgValue::Buffer(&mut ob),
        ],
    );
    elems(&ob)
}

/// `f(x)` element-wise on one block, stored as `U`.
pub fn eval1<T: Elt, U: Elt>(x: &[T], f: impl Fn(Value) -> Value + Sync + 'static) -> Vec<U> {
    eval2::<T, U>(x, x, move |a, _| f(a))
}

/// Float results compared bit for bit, except that any NaN equals any NaN.
pub fn assert_same_f32(got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()),
            "lane {i}: got {g:?}, want {w:?}"
        );
    }
}
