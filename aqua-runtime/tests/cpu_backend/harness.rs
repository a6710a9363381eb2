//! Test harness: kernels from closures, typed byte buffers, and running one kernel both
//! through the CPU backend (compile, link, load, run) and the reference interpreter.

use std::ffi::c_void;

use aqua_dsl::build::*;
use aqua_dsl::codegen::abi::Fault;
use aqua_dsl::codegen::{compile, CodegenOptions};
use aqua_dsl::interp::{self, ArgValue, InterpError};
use aqua_dsl::ir::{Const, DType, Kernel, Param, ParamKind};
use aqua_runtime::backend::cpu::CpuModule;

pub fn ptr(dtype: DType) -> Param {
    Param { name: String::new(), kind: ParamKind::Ptr { dtype, mutable: false } }
}

pub fn ptr_mut(dtype: DType) -> Param {
    Param { name: String::new(), kind: ParamKind::Ptr { dtype, mutable: true } }
}

pub fn scalar(dtype: DType) -> Param {
    Param { name: String::new(), kind: ParamKind::Scalar(dtype) }
}

/// Builds a kernel; parameters are renamed `a0`, `a1`, ... (names must be unique).
pub fn kernel(name: &'static str, mut params: Vec<Param>, body: impl Fn(&[Value]) + Sync + 'static) -> Kernel {
    for (i, p) in params.iter_mut().enumerate() {
        p.name = format!("a{i}");
    }
    build_kernel(name, params, body).unwrap_or_else(|e| panic!("{e}"))
}

/// A compiled kernel linked into the process, and its main object.
pub struct Jit {
    pub module: CpuModule,
    pub object: Vec<u8>,
}

pub fn jit(k: &Kernel, checked: bool) -> Jit {
    assemble_for_gpus(k);
    let art = compile(k, &CodegenOptions { checked, ..Default::default() }).unwrap_or_else(|e| panic!("{e}"));
    let module = CpuModule::load(&art.objects()).unwrap_or_else(|e| panic!("{e}"));
    Jit { module, object: art.object }
}

/// Every kernel these tests compile for the CPU must also compile to PTX that ptxas
/// accepts for sm_80 and sm_90 (`scripts/setup.sh` installs ptxas; without it this fails).
fn assemble_for_gpus(k: &Kernel) {
    use aqua_dsl::codegen::ptxas::Ptxas;
    use aqua_dsl::codegen::{Target, SUPPORTED_SM};
    static PTXAS: std::sync::OnceLock<Result<Ptxas, String>> = std::sync::OnceLock::new();
    let ptxas = PTXAS.get_or_init(Ptxas::require).as_ref().unwrap_or_else(|e| panic!("{e}"));
    for sm in SUPPORTED_SM {
        let art = compile(k, &CodegenOptions { target: Target::nvptx(sm), ..Default::default() })
            .unwrap_or_else(|e| panic!("{e}"));
        let ptx = String::from_utf8_lossy(&art.object);
        ptxas.assemble(&ptx, sm).unwrap_or_else(|e| panic!("kernel `{}`: {e}", k.name));
    }
}

/// One argument: a buffer of elements (little-endian bytes) or a scalar.
#[derive(Clone, Debug)]
pub enum Arg {
    Buf(DType, Vec<u8>),
    Scalar(Const),
}

pub fn buf<T: Elem>(v: &[T]) -> Arg {
    Arg::Buf(T::DTYPE, v.iter().flat_map(|x| x.bytes()).collect())
}

pub fn empty(dtype: DType, n: usize) -> Arg {
    Arg::Buf(dtype, vec![0; n * dtype.size_bytes()])
}

pub fn int(dtype: DType, v: i64) -> Arg {
    Arg::Scalar(Const::from_i64(dtype, v))
}

/// Element types the tests read and write.
pub trait Elem: Copy {
    const DTYPE: DType;
    fn bytes(self) -> Vec<u8>;
    fn from_bytes(b: &[u8]) -> Self;
}

macro_rules! elem {
    ($($t:ty => $d:ident),*) => {$(
        impl Elem for $t {
            const DTYPE: DType = DType::$d;
            fn bytes(self) -> Vec<u8> { self.to_le_bytes().to_vec() }
            fn from_bytes(b: &[u8]) -> Self { <$t>::from_le_bytes(b.try_into().unwrap()) }
        }
    )*};
}
elem!(i8 => I8, u8 => U8, i32 => I32, u32 => U32, i64 => I64, f32 => F32, half::f16 => F16, half::bf16 => BF16);

impl Elem for bool {
    const DTYPE: DType = DType::Bool;
    fn bytes(self) -> Vec<u8> {
        vec![self as u8]
    }
    fn from_bytes(b: &[u8]) -> Self {
        b[0] != 0
    }
}

pub fn read<T: Elem>(a: &Arg) -> Vec<T> {
    match a {
        Arg::Buf(d, b) => b.chunks(d.size_bytes()).map(T::from_bytes).collect(),
        Arg::Scalar(_) => panic!("not a buffer"),
    }
}

fn scalar_bytes(c: &Const) -> Vec<u8> {
    match c.dtype {
        DType::Bool => vec![(c.as_i64() != 0) as u8],
        DType::F32 => (c.as_f64() as f32).to_le_bytes().to_vec(),
        DType::F16 => half::f16::from_f64(c.as_f64()).to_le_bytes().to_vec(),
        DType::BF16 => half::bf16::from_f64(c.as_f64()).to_le_bytes().to_vec(),
        d => c.as_i64().to_le_bytes()[..d.size_bytes()].to_vec(),
    }
}

/// Arguments laid out for a launch: buffers copied to 8-byte aligned storage (as the
/// runtime's are), scalars in slots, pointer and extent arrays.
pub struct Prepared {
    store: Vec<Vec<u64>>,
    ptrs: Vec<*mut c_void>,
    extents: Vec<u64>,
}

impl Prepared {
    pub fn new(args: &[Arg]) -> Prepared {
        let mut store: Vec<Vec<u64>> = args
            .iter()
            .map(|a| {
                let bytes = match a {
                    Arg::Buf(_, b) => b.clone(),
                    Arg::Scalar(c) => scalar_bytes(c),
                };
                let mut words = vec![0u64; bytes.len().div_ceil(8).max(1)];
                bytemuck::cast_slice_mut::<u64, u8>(&mut words)[..bytes.len()].copy_from_slice(&bytes);
                words
            })
            .collect();
        let ptrs = store.iter_mut().map(|w| w.as_mut_ptr().cast()).collect();
        let extents = args
            .iter()
            .map(|a| match a {
                Arg::Buf(d, b) => (b.len() / d.size_bytes()) as u64,
                Arg::Scalar(_) => 0,
            })
            .collect();
        Prepared { store, ptrs, extents }
    }

    pub fn launch(&mut self, j: &Jit, grid: [u32; 3], threads: usize) -> Option<Fault> {
        // SAFETY: one slot per parameter, each buffer as long as `extents` says; the
        // storage is owned by `self`, borrowed mutably for the launch.
        unsafe { j.module.run(&self.ptrs, &self.extents, grid, threads) }.err()
    }

    /// The arguments' values now (buffers as the kernel left them).
    pub fn outputs(&self, args: &[Arg]) -> Vec<Arg> {
        args.iter()
            .zip(&self.store)
            .map(|(a, w)| match a {
                Arg::Buf(d, b) => Arg::Buf(*d, bytemuck::cast_slice::<u64, u8>(w)[..b.len()].to_vec()),
                s => s.clone(),
            })
            .collect()
    }
}

/// Runs the compiled kernel on copies of `args`; returns the buffers afterwards and the
/// fault, if any.
pub fn run_jit(j: &Jit, grid: [u32; 3], args: &[Arg], threads: usize) -> (Vec<Arg>, Option<Fault>) {
    let mut p = Prepared::new(args);
    let fault = p.launch(j, grid, threads);
    (p.outputs(args), fault)
}

pub fn run_interp(k: &Kernel, grid: [u32; 3], args: &[Arg]) -> (Vec<Arg>, Option<InterpError>) {
    let mut bufs: Vec<Arg> = args.to_vec();
    let mut vals: Vec<ArgValue> = bufs
        .iter_mut()
        .map(|a| match a {
            Arg::Buf(_, b) => ArgValue::Buffer(b),
            Arg::Scalar(c) => ArgValue::Scalar(*c),
        })
        .collect();
    let err = interp::run(k, grid, &mut vals).err();
    drop(vals);
    (bufs, err)
}

/// Whether two buffers are equal element by element, every NaN equal to every NaN.
pub fn same_bits(d: DType, a: &[u8], b: &[u8]) -> Result<(), String> {
    if a.len() != b.len() {
        return Err(format!("lengths differ: {} vs {}", a.len(), b.len()));
    }
    let size = d.size_bytes();
    for (i, (x, y)) in a.chunks(size).zip(b.chunks(size)).enumerate() {
        if x == y {
            continue;
        }
        let nan = |c: &[u8]| match d {
            DType::F32 => f32::from_le_bytes(c.try_into().unwrap()).is_nan(),
            DType::F16 => half::f16::from_le_bytes(c.try_into().unwrap()).is_nan(),
            DType::BF16 => half::bf16::from_le_bytes(c.try_into().unwrap()).is_nan(),
            _ => false,
        };
        if nan(x) && nan(y) {
            continue;
        }
        return Err(format!("element {i} differs: jit {x:?} vs interpreter {y:?}"));
    }
    Ok(())
}

/// Runs `k` through both and asserts every buffer matches bit for bit (NaN as NaN) and
/// both agree on success.
pub fn check_exact(k: &Kernel, grid: [u32; 3], args: &[Arg]) -> Vec<Arg> {
    let j = jit(k, true);
    let (got, fault) = run_jit(&j, grid, args, 3);
    let (want, err) = run_interp(k, grid, args);
    assert!(fault.is_none() && err.is_none(), "{}: jit fault {fault:?}, interpreter {err:?}", k.name);
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        if let (Arg::Buf(d, g), Arg::Buf(_, w)) = (g, w) {
            if let Err(e) = same_bits(*d, g, w) {
                panic!("kernel `{}`, argument {i} ({d}): {e}", k.name);
            }
        }
    }
    got
}

/// A small deterministic generator (xorshift64*), so failures reproduce.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A uniform float in [-scale, scale).
    pub fn float(&mut self, scale: f32) -> f32 {
        ((self.next() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
    }
}
