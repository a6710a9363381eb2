//! Launch arguments and the checks that make a launch safe.
//!
//! Before any backend runs a kernel, [`check_launch`] compares every argument with the
//! kernel's signature (count, pointer vs scalar, dtype, mutability, aliasing of mutable
//! buffers) and the grid with what the ABI can address, and [`check_memory`] checks that
//! the backend can reach every buffer (host buffers everywhere, device buffers on the CUDA
//! backend only). A mismatch is a [`LaunchError`] naming the kernel and the parameter;
//! nothing reaches compiled code unchecked. Host and device buffers are checked alike.
//!
//! [`LaunchMode`] says whether kernels are compiled with bounds checks: in checked mode
//! an unmasked access outside its buffer comes back as [`LaunchError::OutOfBounds`].

use std::fmt;

use aqua_dsl::ir::{Const, Lit, Loc, Param, ParamKind};
use aqua_dsl::{DType, Kernel};
use half::{bf16, f16};

use crate::backend::cuda::DeviceBuffer;
use crate::buffer::HostBuffer;
use crate::compiled::BackendKind;

/// One launch argument, matched by position to the kernel's parameters.
#[derive(Debug)]
pub enum Arg<'a> {
    /// A buffer the kernel may only read (for a `ptr<T>` parameter).
    Buf(&'a HostBuffer),
    /// A buffer the kernel may write (for a `ptr<T> mut` or `ptr<T>` parameter).
    BufMut(&'a mut HostBuffer),
    /// A device buffer the kernel may only read (CUDA runtime only; passed without a copy).
    DevBuf(&'a DeviceBuffer),
    /// A device buffer the kernel may write (CUDA runtime only; passed without a copy).
    DevBufMut(&'a mut DeviceBuffer),
    /// A scalar passed by value; its dtype must be the parameter's.
    Scalar(Const),
}

macro_rules! int_arg {
    ($($f:ident: $t:ty => $d:ident),*) => {$(
        #[doc = concat!("A `", stringify!($t), "` scalar argument.")]
        pub fn $f(v: $t) -> Arg<'a> {
            Arg::Scalar(Const { dtype: DType::$d, lit: Lit::Int(v as i64) })
        }
    )*};
}

impl<'a> Arg<'a> {
    int_arg!(i8: i8 => I8, u8: u8 => U8, i32: i32 => I32, u32: u32 => U32, i64: i64 => I64);

    pub fn bool(v: bool) -> Arg<'a> {
        Arg::Scalar(Const { dtype: DType::Bool, lit: Lit::Bool(v) })
    }

    pub fn f32(v: f32) -> Arg<'a> {
        Arg::Scalar(Const { dtype: DType::F32, lit: Lit::Float(v as f64) })
    }

    pub fn f16(v: f16) -> Arg<'a> {
        Arg::Scalar(Const { dtype: DType::F16, lit: Lit::Float(v.to_f64()) })
    }

    pub fn bf16(v: bf16) -> Arg<'a> {
        Arg::Scalar(Const { dtype: DType::BF16, lit: Lit::Float(v.to_f64()) })
    }

    /// A buffer's length in elements (host or device); `None` for a scalar.
    pub fn buffer_len(&self) -> Option<usize> {
        match self {
            Arg::Buf(b) => Some(b.len()),
            Arg::BufMut(b) => Some(b.len()),
            Arg::DevBuf(d) => Some(d.len()),
            Arg::DevBufMut(d) => Some(d.len()),
            Arg::Scalar(_) => None,
        }
    }

    /// What this argument is, for error messages.
    pub fn given(&self) -> Given {
        self.view().given
    }

    /// What the checks need to know of this argument.
    fn view(&self) -> ArgView {
        let buffer = |dtype, mutable, memory, start: u64, bytes| ArgView {
            given: Given::Buffer { dtype, mutable, memory },
            start: start as usize,
            bytes,
        };
        match self {
            Arg::Buf(b) => buffer(b.dtype(), false, Memory::Host, b.as_ptr() as u64, b.size_bytes()),
            Arg::BufMut(b) => buffer(b.dtype(), true, Memory::Host, b.as_ptr() as u64, b.size_bytes()),
            Arg::DevBuf(d) => buffer(d.dtype(), false, Memory::Device, d.address(), d.size_bytes()),
            Arg::DevBufMut(d) => buffer(d.dtype(), true, Memory::Device, d.address(), d.size_bytes()),
            Arg::Scalar(c) => ArgView { given: Given::Scalar(c.dtype), start: 0, bytes: 0 },
        }
    }
}

/// Where a buffer's elements live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Memory {
    /// A [`HostBuffer`].
    Host,
    /// A [`DeviceBuffer`] in GPU memory.
    Device,
}

/// The kind of a given argument, as error messages describe it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Given {
    Buffer { dtype: DType, mutable: bool, memory: Memory },
    Scalar(DType),
}

impl fmt::Display for Given {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Given::Buffer { dtype, mutable, memory } => {
                let access = if *mutable { "mutable" } else { "read-only" };
                let place = if *memory == Memory::Device { "device " } else { "" };
                write!(f, "a {access} {dtype} {place}buffer")
            }
            Given::Scalar(d) => write!(f, "a {d} scalar"),
        }
    }
}

/// One argument as the checks see it: its kind, and for a buffer where it lies (an
/// address in its memory, and its size in bytes).
#[derive(Clone, Copy, Debug)]
struct ArgView {
    given: Given,
    start: usize,
    bytes: usize,
}

/// Whether kernels are compiled with bounds checks on every unmasked access.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LaunchMode {
    /// Every unmasked load and store is checked against its buffer's length; a fault is
    /// returned as [`LaunchError::OutOfBounds`]. A separate compile (and cache key).
    Checked,
    /// No checks: the kernel runs at full speed and the checks cost nothing.
    Unchecked,
}

impl LaunchMode {
    /// `AQUA_CHECKED=1` (checked) or `AQUA_CHECKED=0` (unchecked) when set, else checked
    /// in builds with debug assertions (debug builds and tests) and unchecked otherwise.
    pub fn from_env() -> LaunchMode {
        match std::env::var("AQUA_CHECKED").as_deref() {
            Ok("1") => LaunchMode::Checked,
            Ok("0") => LaunchMode::Unchecked,
            _ if cfg!(debug_assertions) => LaunchMode::Checked,
            _ => LaunchMode::Unchecked,
        }
    }

    pub fn is_checked(self) -> bool {
        self == LaunchMode::Checked
    }
}

impl Default for LaunchMode {
    fn default() -> LaunchMode {
        LaunchMode::from_env()
    }
}

impl fmt::Display for LaunchMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.is_checked() { "checked" } else { "unchecked" })
    }
}

/// Why a launch did not run, or how it failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LaunchError {
    #[error("kernel `{kernel}` takes {expected} arguments ({signature}), {given} given")]
    ArgCount { kernel: String, expected: usize, given: usize, signature: String },
    #[error("kernel `{kernel}`, argument `{param}`: expects {expected}, got {given}")]
    Kind { kernel: String, param: String, expected: ParamKind, given: Given },
    #[error("kernel `{kernel}`, argument `{param}`: expects {expected}, got {given}")]
    DType { kernel: String, param: String, expected: ParamKind, given: Given },
    #[error("kernel `{kernel}`, argument `{param}`: the kernel writes it ({expected}), so pass it as `Arg::{}`, not a read-only buffer", if *.memory == Memory::Device { "DevBufMut" } else { "BufMut" })]
    ReadOnly { kernel: String, param: String, expected: ParamKind, memory: Memory },
    /// A device buffer given to a backend that runs on host memory.
    #[error("kernel `{kernel}`, argument `{param}`: got {given}, but the {backend} backend runs on host memory (pass a HostBuffer; `Runtime::download` copies a device buffer to one)")]
    Memory { kernel: String, param: String, given: Given, backend: BackendKind },
    #[error("kernel `{kernel}`: arguments `{first}` and `{second}` are the same buffer, and the kernel may write one of them")]
    Aliased { kernel: String, first: String, second: String },
    #[error("kernel `{kernel}`: grid {grid:?} has an empty axis (every axis needs at least one program)")]
    EmptyGrid { kernel: String, grid: [u32; 3] },
    #[error("kernel `{kernel}`: grid {grid:?} is too large (each axis at most 2^31 - 1 programs, since program ids are i32, and at most 2^64 - 1 in all)")]
    GridTooLarge { kernel: String, grid: [u32; 3] },
    /// An unmasked access outside its buffer (checked mode, or the interpreter, which
    /// also knows the op's source location).
    #[error("kernel `{kernel}`, argument `{arg}`: out-of-bounds {} at element offset {offset} (the buffer has {len} elements) in program {program:?}{}", if *.is_store { "store" } else { "load" }, .loc.map(|l| format!(", op at {l}")).unwrap_or_default())]
    OutOfBounds {
        kernel: String,
        arg: String,
        offset: i64,
        len: u64,
        program: [u32; 3],
        is_store: bool,
        loc: Option<Loc>,
    },
    #[error("kernel `{kernel}`: the interpreter failed: {message}")]
    Interpreter { kernel: String, message: String },
    #[error("kernel `{kernel}`: the backend reported unknown status {status}")]
    Status { kernel: String, status: u32 },
    /// The GPU driver failed a copy or the launch (names the kernel, variant and call).
    #[error(transparent)]
    Cuda(#[from] crate::backend::cuda::CudaError),
}

fn signature(params: &[Param]) -> String {
    params.iter().map(|p| format!("{}: {}", p.name, p.kind)).collect::<Vec<_>>().join(", ")
}

/// Checks `args` and `grid` against `kernel`'s signature. After it succeeds, every buffer
/// argument has the parameter's dtype, every written buffer is mutable and unaliased, and
/// every scalar has the parameter's dtype.
pub fn check_launch(kernel: &Kernel, grid: [u32; 3], args: &[Arg]) -> Result<(), LaunchError> {
    check_views(kernel, grid, &args.iter().map(Arg::view).collect::<Vec<_>>())
}

/// Checks that `backend` can reach every buffer of `args`: the CUDA backend takes host
/// buffers (through copies) and device buffers, the others host buffers only.
pub fn check_memory(kernel: &Kernel, args: &[Arg], backend: BackendKind) -> Result<(), LaunchError> {
    check_memory_of(kernel, args.iter().map(Arg::given), backend)
}

fn check_memory_of(
    kernel: &Kernel,
    given: impl Iterator<Item = Given>,
    backend: BackendKind,
) -> Result<(), LaunchError> {
    if backend == BackendKind::Cuda {
        return Ok(());
    }
    match given.enumerate().find(|(_, g)| matches!(g, Given::Buffer { memory: Memory::Device, .. })) {
        Some((index, g)) => Err(device_memory_error(kernel, index, g, backend)),
        None => Ok(()),
    }
}

/// The error for a device buffer at `index` on a host backend.
pub(crate) fn device_memory_error(kernel: &Kernel, index: usize, given: Given, backend: BackendKind) -> LaunchError {
    LaunchError::Memory {
        kernel: kernel.name.clone(),
        param: kernel.params.get(index).map_or_else(|| format!("#{index}"), |p| p.name.clone()),
        given,
        backend,
    }
}

fn check_views(kernel: &Kernel, grid: [u32; 3], args: &[ArgView]) -> Result<(), LaunchError> {
    let name = || kernel.name.clone();
    if grid.contains(&0) {
        return Err(LaunchError::EmptyGrid { kernel: name(), grid });
    }
    let total = grid.iter().try_fold(1u64, |n, &g| n.checked_mul(g as u64));
    if grid.iter().any(|&g| g > i32::MAX as u32) || total.is_none() {
        return Err(LaunchError::GridTooLarge { kernel: name(), grid });
    }
    if args.len() != kernel.params.len() {
        return Err(LaunchError::ArgCount {
            kernel: name(),
            expected: kernel.params.len(),
            given: args.len(),
            signature: signature(&kernel.params),
        });
    }
    for (param, arg) in kernel.params.iter().zip(args) {
        check_arg(kernel, param, arg.given)?;
    }
    let spans = args.iter().enumerate().filter_map(|(i, a)| match a.given {
        Given::Buffer { mutable, memory, .. } => {
            Some(BufferSpan { param: i, start: a.start, bytes: a.bytes, mutable, memory })
        }
        Given::Scalar(_) => None,
    });
    check_aliasing(kernel, &spans.collect::<Vec<_>>())
}

fn check_arg(kernel: &Kernel, param: &Param, given: Given) -> Result<(), LaunchError> {
    let kind_err = || LaunchError::Kind {
        kernel: kernel.name.clone(),
        param: param.name.clone(),
        expected: param.kind.clone(),
        given,
    };
    let dtype_err = || LaunchError::DType {
        kernel: kernel.name.clone(),
        param: param.name.clone(),
        expected: param.kind.clone(),
        given,
    };
    match (&param.kind, given) {
        (ParamKind::Ptr { dtype, mutable }, Given::Buffer { dtype: d, mutable: m, memory }) => {
            if *dtype != d {
                Err(dtype_err())
            } else if *mutable && !m {
                Err(LaunchError::ReadOnly {
                    kernel: kernel.name.clone(),
                    param: param.name.clone(),
                    expected: param.kind.clone(),
                    memory,
                })
            } else {
                Ok(())
            }
        }
        (ParamKind::Scalar(dtype), Given::Scalar(d)) if *dtype != d => Err(dtype_err()),
        (ParamKind::Scalar(_), Given::Scalar(_)) => Ok(()),
        _ => Err(kind_err()),
    }
}

/// Where one buffer argument lies in memory.
#[derive(Clone, Copy, Debug)]
struct BufferSpan {
    param: usize,
    start: usize,
    bytes: usize,
    mutable: bool,
    memory: Memory,
}

/// Rejects two buffer arguments in the same memory that overlap when either is mutable.
/// Safe Rust cannot build such a list (two `&mut` to one buffer), but a launch must not
/// rely on the caller's unsafe code being right.
fn check_aliasing(kernel: &Kernel, spans: &[BufferSpan]) -> Result<(), LaunchError> {
    for (i, a) in spans.iter().enumerate() {
        for b in &spans[i + 1..] {
            let overlap = a.memory == b.memory && a.start < b.start + b.bytes && b.start < a.start + a.bytes;
            if overlap && (a.mutable || b.mutable) {
                return Err(LaunchError::Aliased {
                    kernel: kernel.name.clone(),
                    first: kernel.params[a.param].name.clone(),
                    second: kernel.params[b.param].name.clone(),
                });
            }
        }
    }
    Ok(())
}

/// A scalar's value as the ABI passes it: its dtype's bytes in native endianness, in an
/// 8-byte slot. Integer values wrap into the dtype; floats round to it.
pub(crate) fn scalar_slot(c: &Const) -> u64 {
    let i = || c.as_i64();
    let mut slot = [0u8; 8];
    match c.dtype {
        DType::Bool => slot[0] = (c.as_f64() != 0.0) as u8,
        DType::I8 | DType::U8 => slot[0] = i() as u8,
        DType::I32 | DType::U32 => slot[..4].copy_from_slice(&(i() as u32).to_ne_bytes()),
        DType::I64 => slot.copy_from_slice(&i().to_ne_bytes()),
        DType::F16 => slot[..2].copy_from_slice(&f16::from_f64(c.as_f64()).to_ne_bytes()),
        DType::BF16 => slot[..2].copy_from_slice(&bf16::from_f64(c.as_f64()).to_ne_bytes()),
        DType::F32 => slot[..4].copy_from_slice(&(c.as_f64() as f32).to_ne_bytes()),
    }
    u64::from_ne_bytes(slot)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aqua_dsl::ir::{Region, Type};
    use std::collections::BTreeMap;

    fn kernel(params: Vec<(&str, ParamKind)>) -> Kernel {
        Kernel {
            name: "k".into(),
            params: params.into_iter().map(|(n, kind)| Param { name: n.into(), kind }).collect(),
            comptime: BTreeMap::new(),
            values: Vec::<Type>::new(),
            tables: vec![],
            body: Region::default(),
        }
    }

    #[test]
    fn overlapping_spans_with_a_writer_are_rejected() {
        let ptr = |mutable| ParamKind::Ptr { dtype: DType::F32, mutable };
        let k = kernel(vec![("a", ptr(true)), ("b", ptr(false)), ("c", ptr(false))]);
        for memory in [Memory::Host, Memory::Device] {
            let span = |param, start, bytes, mutable| BufferSpan { param, start, bytes, mutable, memory };
            let e = check_aliasing(&k, &[span(0, 64, 128, true), span(1, 128, 64, false)]).unwrap_err();
            assert!(matches!(&e, LaunchError::Aliased { first, second, .. } if first == "a" && second == "b"), "{e}");
            // Two readers may share a buffer; adjacent and empty buffers never overlap.
            check_aliasing(&k, &[span(1, 64, 128, false), span(2, 64, 128, false)]).unwrap();
            check_aliasing(&k, &[span(0, 64, 64, true), span(1, 128, 64, false)]).unwrap();
            check_aliasing(&k, &[span(0, 64, 0, true), span(1, 64, 0, false)]).unwrap();
        }
        // Host and device addresses are different memories, whatever their values.
        let host = BufferSpan { param: 0, start: 64, bytes: 128, mutable: true, memory: Memory::Host };
        check_aliasing(&k, &[host, BufferSpan { param: 1, memory: Memory::Device, ..host }]).unwrap();
    }

    /// `axpy(x: ptr<f32>, y: ptr<f32> mut, a: f32)` and views of device buffers (which
    /// need a GPU to allocate): the checks see device buffers exactly as host ones.
    fn axpy() -> Kernel {
        let ptr = |mutable| ParamKind::Ptr { dtype: DType::F32, mutable };
        kernel(vec![("x", ptr(false)), ("y", ptr(true)), ("a", ParamKind::Scalar(DType::F32))])
    }

    fn device(dtype: DType, mutable: bool, start: usize) -> ArgView {
        ArgView { given: Given::Buffer { dtype, mutable, memory: Memory::Device }, start, bytes: 256 }
    }

    fn scalar(dtype: DType) -> ArgView {
        ArgView { given: Given::Scalar(dtype), start: 0, bytes: 0 }
    }

    #[test]
    fn device_buffers_pass_the_same_checks_as_host_buffers() {
        let k = axpy();
        let grid = [1, 1, 1];
        let good = [device(DType::F32, false, 0), device(DType::F32, true, 256), scalar(DType::F32)];
        check_views(&k, grid, &good).unwrap();
        // A read-only parameter also takes a mutable device buffer.
        check_views(&k, grid, &[device(DType::F32, true, 512), good[1], good[2]]).unwrap();

        let e = check_views(&k, grid, &good[..2]).unwrap_err();
        assert!(matches!(e, LaunchError::ArgCount { expected: 3, given: 2, .. }), "{e:?}");

        let e = check_views(&k, grid, &[device(DType::F16, false, 0), good[1], good[2]]).unwrap_err();
        assert_eq!(e.to_string(), "kernel `k`, argument `x`: expects ptr<f32>, got a read-only f16 device buffer");

        let e = check_views(&k, grid, &[good[0], device(DType::F32, false, 256), good[2]]).unwrap_err();
        assert!(matches!(&e, LaunchError::ReadOnly { param, memory: Memory::Device, .. } if param == "y"), "{e:?}");
        assert!(e.to_string().contains("`Arg::DevBufMut`"), "{e}");

        let e = check_views(&k, grid, &[good[0], good[1], device(DType::F32, false, 512)]).unwrap_err();
        assert_eq!(e.to_string(), "kernel `k`, argument `a`: expects f32, got a read-only f32 device buffer");

        let e = check_views(&k, grid, &[good[0], device(DType::F32, true, 128), good[2]]).unwrap_err();
        assert!(matches!(&e, LaunchError::Aliased { first, second, .. } if first == "x" && second == "y"), "{e:?}");

        let e = check_views(&k, [0, 1, 1], &good).unwrap_err();
        assert!(matches!(e, LaunchError::EmptyGrid { .. }), "{e:?}");
    }

    #[test]
    fn only_the_cuda_backend_takes_device_buffers() {
        let k = axpy();
        let host = Given::Buffer { dtype: DType::F32, mutable: true, memory: Memory::Host };
        let givens = [host, device(DType::F32, true, 0).given, Given::Scalar(DType::F32)];
        check_memory_of(&k, givens.into_iter(), BackendKind::Cuda).unwrap();
        for backend in [BackendKind::Cpu, BackendKind::Simt, BackendKind::Interpreter] {
            let e = check_memory_of(&k, givens.into_iter(), backend).unwrap_err();
            assert!(matches!(&e, LaunchError::Memory { param, backend: b, .. } if param == "y" && *b == backend));
            assert_eq!(
                e.to_string(),
                format!(
                    "kernel `k`, argument `y`: got a mutable f32 device buffer, but the {backend} backend runs on \
                     host memory (pass a HostBuffer; `Runtime::download` copies a device buffer to one)"
                )
            );
            check_memory_of(&k, [host, host, Given::Scalar(DType::F32)].into_iter(), backend).unwrap();
        }
    }

    #[test]
    fn scalar_slots_hold_native_bytes() {
        assert_eq!(scalar_slot(&Const::from_i64(DType::I32, -1)), u32::MAX as u64);
        assert_eq!(scalar_slot(&Const::from_f64(DType::F32, 1.5)), 1.5f32.to_bits() as u64);
        assert_eq!(scalar_slot(&Const::from_f64(DType::F16, 1.0)), f16::ONE.to_bits() as u64);
        assert_eq!(scalar_slot(&Const::from_i64(DType::Bool, 1)), 1);
        assert_eq!(scalar_slot(&Const::from_i64(DType::I64, -2)), (-2i64) as u64);
    }
}
