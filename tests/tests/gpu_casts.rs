//! Casts on GPU targets that PTX does in one conversion where the generic form takes
//! several instructions. The SIMT emulation compiles for the host and keeps the generic
//! form, so the single conversions run only on a GPU: their results are checked there
//! against Rust, and here the PTX is checked for the single conversion and assembled by
//! ptxas.
//!
//! - Float to integer. The rule (`ir::Op::Cast`) is Rust's `as`: truncate toward zero,
//!   saturate at the destination's limits, NaN to 0. On NVPTX it is one
//!   `cvt.rzi.{s32,u32}.f32` (`llvm.nvvm.f2[u]i.rz`, whose clamping and NaN rule the PTX
//!   ISA states for f32 sources and destinations under 64 bits; `llvm/cast.rs` in
//!   aqua-dsl), plus an integer clamp for 8-bit results, in place of the seven
//!   instructions of the generic saturating conversion. Checked for specials, every
//!   limit and its neighbours, and random bit patterns.
//! - f32 to f16 of a value clamped to f16's finite range, the kernels' saturating
//!   narrowing: one `cvt.rn.satfinite.f16.f32` instead of a `max`, a `min` and a `cvt`
//!   (`llvm/satfinite.rs`). Checked for specials, the rounding boundaries at the top of
//!   the range, and random values across it.

use aqua_dsl::build::*;
use aqua_dsl::codegen::ptxas::Ptxas;
use aqua_dsl::codegen::{compile, CodegenOptions, Target};
use aqua_dsl::ir::{DType, Param, ParamKind};
use aqua_dsl::Kernel;
use aqua_runtime::{Arg, HostBuffer, Runtime};
use aqua_tests::floats::{decode, encode};
use aqua_tests::rng::xorshift;
use half::f16;

/// Elements per program.
const N: u32 = 1024;

/// The integer dtypes a float is cast to, in the kernel's output order.
const TO: [DType; 5] = [DType::I8, DType::U8, DType::I32, DType::U32, DType::I64];

fn ptr(name: &str, dtype: DType, mutable: bool) -> Param {
    Param { name: name.into(), kind: ParamKind::Ptr { dtype, mutable } }
}

/// `out_t = x as t` element-wise for every `t` of `to`, from `x` of float dtype `from`.
fn casts(from: DType, to: &[DType]) -> Kernel {
    let mut params = vec![ptr("x", from, false)];
    params.extend(to.iter().map(|&t| ptr(&format!("out_{t}"), t, true)));
    let to = to.to_vec();
    build_kernel(&format!("casts_{from}"), params, move |a| {
        let offs = program_id(0) * N + arange(N);
        let x = load(a[0] + offs);
        for (k, &t) in to.iter().enumerate() {
            store(a[k + 1] + offs, x.cast_to(t));
        }
    })
    .unwrap()
}

/// f32 inputs: specials, every limit of the destinations with its f32 neighbours and
/// halves around it, and random bit patterns.
fn inputs() -> Vec<f32> {
    let mut v = vec![0.0, -0.0, f32::NAN, -f32::NAN, f32::INFINITY, f32::NEG_INFINITY, f32::MAX, -f32::MAX];
    v.extend([f32::from_bits(1), -f32::from_bits(1), f32::MIN_POSITIVE, 0.5, -0.5, 0.999_999_9, -0.999_999_9]);
    for limit in [127.0f64, 128.0, -128.0, -129.0, 255.0, 256.0, 2f64.powi(31), -(2f64.powi(31)), 2f64.powi(32)] {
        let f = limit as f32;
        for x in [f, f32::from_bits(f.to_bits() + 1), f32::from_bits(f.to_bits() - 1), f + 0.5, f - 0.5] {
            v.extend([x, -x]);
        }
    }
    let mut s = 0x243f_6a88_85a3_08d3u64;
    for _ in 0..20_000 {
        xorshift(&mut s);
        // Half raw bits, half values of magnitude below 2^40 (where the limits are).
        v.push(f32::from_bits(s as u32));
        v.push(f32::from_bits((s >> 32) as u32 % 0x5400_0000) * if s & 1 == 0 { 1.0 } else { -1.0 });
    }
    v.resize(v.len().next_multiple_of(N as usize), 1.0);
    v
}

/// Rust's `as` of `x` to `t`, as the little-endian bytes of `t`.
fn expected(x: f32, t: DType) -> Vec<u8> {
    match t {
        DType::I8 => (x as i8).to_le_bytes().to_vec(),
        DType::U8 => (x as u8).to_le_bytes().to_vec(),
        DType::I32 => (x as i32).to_le_bytes().to_vec(),
        DType::U32 => (x as u32).to_le_bytes().to_vec(),
        _ => (x as i64).to_le_bytes().to_vec(),
    }
}

/// Casts every input, stored as f32, f16 and bf16, on `rt`; compares with Rust.
fn check_casts(rt: &Runtime) {
    let xs = inputs();
    let n = xs.len();
    let mut failures = Vec::new();
    for from in [DType::F32, DType::F16, DType::BF16] {
        let k = casts(from, &TO);
        let compiled = rt.compile_kernel(&k).unwrap_or_else(|e| panic!("{e}"));
        let x = HostBuffer::from_bytes(from, &xs.iter().flat_map(|&v| encode(from, v)).collect::<Vec<u8>>()).unwrap();
        let mut outs: Vec<HostBuffer> =
            TO.iter().map(|&t| HostBuffer::from_bytes(t, &vec![0xa5; n * t.size_bytes()]).unwrap()).collect();
        let mut args = vec![Arg::Buf(&x)];
        args.extend(outs.iter_mut().map(Arg::BufMut));
        rt.launch(&compiled, [n as u32 / N, 1, 1], &mut args).unwrap_or_else(|e| panic!("{e}"));
        for (i, v) in xs.iter().enumerate() {
            let v = decode(from, &encode(from, *v));
            for (out, &t) in outs.iter().zip(&TO) {
                let size = t.size_bytes();
                let got = &out.as_bytes()[i * size..][..size];
                if got != expected(v, t) {
                    failures.push(format!(
                        "{from} {v:e} ({:#x}) as {t}: got {got:?}, want {:?}",
                        v.to_bits(),
                        expected(v, t)
                    ));
                }
            }
        }
    }
    assert_none_wrong(&failures);
}

/// Fails with the number of `failures` and the first 20 of them, if any.
fn assert_none_wrong(failures: &[String]) {
    assert!(failures.is_empty(), "{} wrong:\n{}", failures.len(), failures[..failures.len().min(20)].join("\n"));
}

aqua_tests::simt_and_cuda_tests! {
    check_casts: simt_casts_follow_rusts_as,
    /// The same on a GPU, where the casts are PTX's own conversions.
    cuda_casts_follow_rusts_as,
}

/// Each cast to a type of at most 32 bits is one `cvt.rzi`, with no float clamp
/// or NaN test left (the 64-bit cast keeps the generic form: PTX turns NaN into
/// `i64::MIN` there); ptxas accepts the result.
#[test]
fn ptx_casts_are_single_conversions() {
    for from in [DType::F32, DType::F16, DType::BF16] {
        let k = casts(from, &TO[..4]);
        for (sm, text) in assembled_ptx(&k) {
            let count = |what: &str| text.matches(what).count();
            // From f16 LLVM converts straight from the half (`cvt.rzi.s32.f16`: exact
            // widening, the same rule). At least one conversion each for i8 and i32
            // (signed), u8 and u32 (unsigned); loops may be unrolled.
            let (signed, unsigned) = (count("cvt.rzi.s32.f"), count("cvt.rzi.u32.f"));
            assert!(signed >= 2 && unsigned >= 2, "{}: {signed} signed, {unsigned} unsigned conversions", k.name);
            for gone in ["setp.nan", "max.f32", "min.f32"] {
                assert_eq!(count(gone), 0, "{} on sm_{sm}: `{gone}` left in the casts:\n{text}", k.name);
            }
        }
    }
}

/// `k`'s PTX for `sm_80` and `sm_90` (4 warps), each accepted by ptxas.
fn assembled_ptx(k: &Kernel) -> Vec<(u32, String)> {
    let ptxas = Ptxas::require().unwrap_or_else(|e| panic!("{e}"));
    let assemble = |sm: u32| {
        let opts = CodegenOptions { target: Target::Nvptx { sm, num_warps: 4 }, ..Default::default() };
        let art = compile(k, &opts).unwrap_or_else(|e| panic!("{}: {e}", k.name));
        let text = String::from_utf8(art.object).expect("PTX is text");
        ptxas.assemble(&text, sm).unwrap_or_else(|e| panic!("{} on sm_{sm}: {e}", k.name));
        (sm, text)
    };
    vec![assemble(80), assemble(90)]
}

/// The largest finite f16.
const F16_MAX: f32 = 65504.0;

/// `out_a` and `out_b`: `x` clamped to `[-bound, bound]` and cast to f16, by the two
/// selects of the kernels' `narrow` (through which NaN passes), upper first in `out_a`
/// and lower first in `out_b`.
fn clamped_narrowing(bound: f32) -> Kernel {
    let params = vec![ptr("x", DType::F32, false), ptr("out_a", DType::F16, true), ptr("out_b", DType::F16, true)];
    build_kernel(&format!("narrow_below_{bound}"), params, move |a| {
        let offs = program_id(0) * N + arange(N);
        let x = load(a[0] + offs);
        let upper = |v: Value| where_(gt(v, bound), bound, v);
        let lower = |v: Value| where_(lt(v, -bound), -bound, v);
        store(a[1] + offs, lower(upper(x)).cast_to(DType::F16));
        store(a[2] + offs, upper(lower(x)).cast_to(DType::F16));
    })
    .unwrap()
}

/// f32 inputs for the narrowing: specials, the top of f16's range around where rounding
/// to nearest would overflow (65520), the subnormal range, and random values of every
/// magnitude an f16 holds and beyond.
fn narrowing_inputs() -> Vec<f32> {
    let mut v = vec![0.0, -0.0, f32::NAN, -f32::NAN, f32::INFINITY, f32::NEG_INFINITY, f32::MAX, -f32::MAX];
    for top in [F16_MAX, 65519.0, 65520.0, 65535.0, 65536.0, 1e6, 5.96e-8, 2.98e-8, 6.1e-5] {
        for x in [top, f32::from_bits(top.to_bits() + 1), f32::from_bits(top.to_bits() - 1)] {
            v.extend([x, -x]);
        }
    }
    let mut s = 0x1319_8a2e_0370_7344u64;
    for _ in 0..10_000 {
        xorshift(&mut s);
        // Magnitudes 2^-30 to 2^20, either sign.
        let exp = (s >> 40) % 50;
        let x = f32::from_bits((((exp + 97) as u32) << 23) | (s as u32 & 0x7f_ffff));
        v.push(if s & 1 == 0 { x } else { -x });
    }
    v.resize(v.len().next_multiple_of(N as usize), 1.0);
    v
}

/// Narrows every input on `rt`, both clamp orders; compares with Rust: NaN stays NaN,
/// every other value is clamped to f16's finite range and rounded to nearest-even.
fn check_narrowing(rt: &Runtime) {
    let xs = narrowing_inputs();
    let n = xs.len();
    let compiled = rt.compile_kernel(&clamped_narrowing(F16_MAX)).unwrap_or_else(|e| panic!("{e}"));
    let x = HostBuffer::from_bytes(DType::F32, &xs.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>()).unwrap();
    let mut outs: Vec<HostBuffer> =
        (0..2).map(|_| HostBuffer::from_bytes(DType::F16, &vec![0xa5; 2 * n]).unwrap()).collect();
    let mut args = vec![Arg::Buf(&x)];
    args.extend(outs.iter_mut().map(Arg::BufMut));
    rt.launch(&compiled, [n as u32 / N, 1, 1], &mut args).unwrap_or_else(|e| panic!("{e}"));
    let mut failures = Vec::new();
    for (out, order) in outs.iter().zip(["upper first", "lower first"]) {
        for (i, &v) in xs.iter().enumerate() {
            let got = f16::from_le_bytes([out.as_bytes()[2 * i], out.as_bytes()[2 * i + 1]]);
            let want = f16::from_f32(v.clamp(-F16_MAX, F16_MAX));
            let agree = if v.is_nan() { got.is_nan() } else { got.to_bits() == want.to_bits() };
            if !agree {
                failures.push(format!(
                    "{order}: {v:e} ({:#x}): got {got} ({:#x}), want {want}",
                    v.to_bits(),
                    got.to_bits()
                ));
            }
        }
    }
    assert_none_wrong(&failures);
}

aqua_tests::simt_and_cuda_tests! {
    check_narrowing: simt_saturating_narrowing_to_f16_clamps_and_rounds,
    /// The same on a GPU, where the narrowing is `cvt.rn.satfinite.f16.f32`.
    cuda_saturating_narrowing_to_f16_clamps_and_rounds,
}

/// A cast to f16 of a value clamped to f16's finite range is one
/// `cvt.rn.satfinite.f16.f32` a value, with no `max` or `min` left; a clamp to any other
/// bound keeps them (the conversion's saturation is at 65504 only). ptxas accepts both.
#[test]
fn ptx_saturating_narrowing_is_one_conversion() {
    for (bound, fused) in [(F16_MAX, true), (60000.0, false)] {
        let k = clamped_narrowing(bound);
        for (sm, text) in assembled_ptx(&k) {
            let count = |what: &str| text.matches(what).count();
            let satfinite = count("cvt.rn.satfinite.f16.f32");
            let clamps: usize = ["max.f32", "min.f32", "setp.gt.f32", "setp.lt.f32"].map(count).iter().sum();
            // Two outputs of 8 values a thread: each value one conversion, or a clamp of two.
            let expected = if fused { satfinite >= 16 && clamps == 0 } else { satfinite == 0 && clamps >= 32 };
            assert!(expected, "{} on sm_{sm}: {satfinite} conversions, {clamps} clamps:\n{text}", k.name);
        }
    }
}
