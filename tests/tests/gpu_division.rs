//! GPU targets divide f32 values in f64 (`llvm/gpu_div.rs` in aqua-dsl: an approximate
//! reciprocal refined by Newton steps, a remainder correction, one rounding to f32), with
//! no slow path for ptxas to assemble. IEEE division is correctly rounded, so the result
//! must equal Rust's `a / b` bit for bit (NaN: any NaN) on every operand pair: zeros,
//! infinities, NaN, subnormals, the largest and smallest normals, quotients that are
//! exact, 3,600 quotients that land on a subnormal midpoint (by divisors whose reciprocal
//! is inexact), and 60,000 random bit patterns. They run through the SIMT emulation, which compiles the same code (with the exact
//! reciprocal cut to 12 bits standing in for the hardware's approximation), and through
//! f16, bf16 and `rsqrt`, which divide in f32 too; on a GPU, where one is present, with the
//! hardware's approximation.

use aqua_dsl::build::*;
use aqua_dsl::ir::{DType, Param, ParamKind};
use aqua_dsl::Kernel;
use aqua_runtime::{Arg, HostBuffer, Runtime};
use aqua_tests::floats::{decode, encode};
use aqua_tests::rng::xorshift;

/// Elements per program.
const N: u32 = 1024;

fn ptr(name: &str, dtype: DType, mutable: bool) -> Param {
    Param { name: name.into(), kind: ParamKind::Ptr { dtype, mutable } }
}

/// `q = x / y` and `r = rsqrt(x)` element-wise, in `dtype`.
fn divide(dtype: DType) -> Kernel {
    let params = vec![ptr("x", dtype, false), ptr("y", dtype, false), ptr("q", dtype, true), ptr("r", dtype, true)];
    build_kernel(&format!("divide_{dtype}"), params, |a| {
        let offs = program_id(0) * N + arange(N);
        let (x, y) = (load(a[0] + offs), load(a[1] + offs));
        store(a[2] + offs, x / y);
        store(a[3] + offs, x.rsqrt());
    })
    .unwrap()
}

/// f32 operand pairs: every pair of the special values, edge cases, and random bits.
fn operands() -> Vec<(f32, f32)> {
    let tiny = f32::from_bits(1);
    let specials = [
        0.0,
        -0.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        1.0,
        -3.0,
        3.0,
        7.0,
        0.1,
        tiny,
        -tiny,
        f32::from_bits(0x007f_ffff),
        f32::MIN_POSITIVE,
        f32::MAX,
        -f32::MAX,
        2f32.powi(-126),
        2f32.powi(24),
        1.5 * 2f32.powi(-148),
    ];
    let mut pairs: Vec<(f32, f32)> = specials.iter().flat_map(|&a| specials.iter().map(move |&b| (a, b))).collect();
    // Quotients on a subnormal midpoint (ties to even), also by divisors that are not
    // powers of two (whose reciprocal is inexact), and exact ones.
    pairs.extend([(2f32.powi(-126), 2f32.powi(24)), (3.0 * tiny, 2.0), (6.0, 3.0), (1.0, 3.0), (5.0 * tiny, 4.0)]);
    for m in (1..120).step_by(2) {
        for odd in (3..120).step_by(2) {
            // a / b = m * 2^-150 (a midpoint) for a = m * odd * 2^-149 and b = 2 * odd.
            pairs.push((f32::from_bits(m * odd), 2.0 * odd as f32));
        }
    }
    // Random bit patterns (a fixed xorshift), and random normal numbers of similar size.
    let mut s = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || xorshift(&mut s);
    for _ in 0..30_000 {
        let r = next();
        pairs.push((f32::from_bits(r as u32), f32::from_bits((r >> 32) as u32)));
        let r = next();
        let m =
            |bits: u32| f32::from_bits(0x3f80_0000 | (bits & 0x007f_ffff)) * if bits >> 31 == 1 { -1.0 } else { 1.0 };
        pairs.push((m(r as u32), m((r >> 32) as u32) * 0.75));
    }
    pairs.resize(pairs.len().next_multiple_of(N as usize), (1.0, 1.0));
    pairs
}

/// What the kernel must give for one element: the division and rsqrt rounded once to
/// f32 (IEEE), then to `dtype` (exact for these narrower types: f32 carries more than
/// twice their precision plus two bits, so rounding twice is harmless).
fn expected(dtype: DType, x: f32, y: f32) -> (f32, f32) {
    let (x, y) = (decode(dtype, &encode(dtype, x)), decode(dtype, &encode(dtype, y)));
    let narrow = |v: f32| decode(dtype, &encode(dtype, v));
    (narrow(x / y), narrow(1.0 / x.sqrt()))
}

fn same(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

aqua_tests::simt_and_cuda_tests! {
    check_division: simt_division_is_correctly_rounded_for_every_operand_pair,
    /// The same on a GPU, where the reciprocal's first approximation is the hardware's
    /// `rcp.approx.ftz.f64` (whose accuracy the emulation can only assume).
    cuda_division_is_correctly_rounded_for_every_operand_pair,
}

/// Divides every operand pair on `rt` in f32, f16 and bf16, and compares with Rust.
fn check_division(rt: &Runtime) {
    let pairs = operands();
    let n = pairs.len();
    let mut failures = Vec::new();
    for dtype in [DType::F32, DType::F16, DType::BF16] {
        let k = divide(dtype);
        let compiled = rt.compile_kernel(&k).unwrap_or_else(|e| panic!("{e}"));
        let bytes = |f: fn(&(f32, f32)) -> f32| pairs.iter().flat_map(|p| encode(dtype, f(p))).collect::<Vec<u8>>();
        let x = HostBuffer::from_bytes(dtype, &bytes(|p| p.0)).unwrap();
        let y = HostBuffer::from_bytes(dtype, &bytes(|p| p.1)).unwrap();
        let zeros = vec![0u8; n * dtype.size_bytes()];
        let (mut q, mut r) =
            (HostBuffer::from_bytes(dtype, &zeros).unwrap(), HostBuffer::from_bytes(dtype, &zeros).unwrap());
        let mut args = [Arg::Buf(&x), Arg::Buf(&y), Arg::BufMut(&mut q), Arg::BufMut(&mut r)];
        rt.launch(&compiled, [n as u32 / N, 1, 1], &mut args).unwrap_or_else(|e| panic!("{e}"));
        let size = dtype.size_bytes();
        for (i, &(a, b)) in pairs.iter().enumerate() {
            let got =
                (decode(dtype, &q.as_bytes()[i * size..][..size]), decode(dtype, &r.as_bytes()[i * size..][..size]));
            let want = expected(dtype, a, b);
            if !same(got.0, want.0) || !same(got.1, want.1) {
                failures.push(format!("{dtype} {a:e} / {b:e}: got {got:?}, want {want:?}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} wrong of {}:\n{}",
        failures.len(),
        3 * n,
        failures[..failures.len().min(20)].join("\n")
    );
}
