//! `dot` of f16 and bf16 tiles runs on tensor cores on the GPU targets
//! (`mma.sync.aligned.m16n8k16`, `llvm/mma.rs` and `llvm/reduce/dot_mma.rs` in aqua-dsl).
//!
//! - The SIMT emulation compiles the same fragment loads and stores and emulates the
//!   instruction in the interpreter's summation order, so its results must equal the
//!   interpreter's bit for bit: a fragment element loaded from the wrong row or column,
//!   a tile dealt to two warps or to none, or a k-chunk skipped, shows as a wrong value.
//!   Shapes cover one tile for four warps (three warps idle), several tiles per warp,
//!   an accumulator, and a transposed operand.
//! - The PTX for sm_80 and sm_90 holds the mma instructions (an f32 `dot` none), and
//!   ptxas accepts it.
//! - On a GPU, where one is present, the hardware sums a tile in its own order and
//!   rounding: each output must be within `docs/semantics.md`'s `dot` tolerance,
//!   `2 γ(k + 1) (|acc| + sum |a b|)` with `γ(j) = j u / (1 - j u)`, `u = 2^-24`: the bound
//!   of any summation order of the `k + 1` terms with roundings of at most `2u` (so
//!   truncation too); the products of f16 or bf16 values are exact in f32.

use aqua_dsl::build::*;
use aqua_dsl::codegen::ptxas::Ptxas;
use aqua_dsl::codegen::{compile, CodegenOptions, Target, SUPPORTED_SM};
use aqua_dsl::interp::{self, ArgValue};
use aqua_dsl::ir::{DType, Param, ParamKind};
use aqua_dsl::Kernel;
use aqua_runtime::{Arg, HostBuffer, Runtime};
use aqua_tests::reductions::encode;
use aqua_tests::rng::xorshift;
use aqua_tests::runtimes::{cuda, simt};

/// One case: `y = x [m, k] . w [k, n] (+ acc)`, `w` read transposed from `[n, k]`.
#[derive(Clone, Copy, Debug)]
struct Case {
    dtype: DType,
    m: u32,
    k: u32,
    n: u32,
    acc: bool,
    transposed: bool,
}

fn ptr(name: &str, dtype: DType, mutable: bool) -> Param {
    Param { name: name.into(), kind: ParamKind::Ptr { dtype, mutable } }
}

/// Each program multiplies its own `x` tile by the shared `w`; `acc` (f32, `[m, n]`) is
/// read per program too.
fn dot_kernel(c: Case) -> Kernel {
    let name = format!("dot_{}_{}x{}x{}_{}{}", c.dtype, c.m, c.k, c.n, c.acc as u8, c.transposed as u8);
    let params = vec![
        ptr("x", c.dtype, false),
        ptr("w", c.dtype, false),
        ptr("acc", DType::F32, false),
        ptr("y", DType::F32, true),
    ];
    build_kernel(&name, params, |a| {
        let pid = program_id(0);
        let grid = |rows: u32, cols: u32| arange(rows).expand_dims(1) * cols as i32 + arange(cols).expand_dims(0);
        let x = load(a[0] + (grid(c.m, c.k) + pid * (c.m * c.k) as i32));
        let w = if c.transposed { load(a[1] + grid(c.n, c.k)).trans() } else { load(a[1] + grid(c.k, c.n)) };
        let out = grid(c.m, c.n) + pid * (c.m * c.n) as i32;
        let y = if c.acc { dot_acc(x, w, load(a[2] + out)) } else { dot(x, w) };
        store(a[3] + out, y);
    })
    .unwrap_or_else(|e| panic!("{name}: {e}"))
}

const PROGRAMS: u32 = 2;

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    for dtype in [DType::F16, DType::BF16] {
        for (m, k, n, acc, transposed) in [
            (16, 16, 8, false, false),
            (16, 32, 16, true, false),
            (32, 64, 32, true, true),
            (64, 32, 64, false, false),
            (128, 16, 8, true, false),
        ] {
            out.push(Case { dtype, m, k, n, acc, transposed });
        }
    }
    out
}

/// Deterministic values of a few magnitudes, some exact zeros and negatives.
fn values(len: usize, seed: u64) -> Vec<f64> {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            xorshift(&mut s);
            let u = (s >> 11) as f64 / (1u64 << 53) as f64;
            if s.is_multiple_of(11) {
                0.0
            } else {
                (u - 0.5) * [0.01, 1.0, 30.0][(s % 3) as usize]
            }
        })
        .collect()
}

struct Inputs {
    x: Vec<u8>,
    w: Vec<u8>,
    acc: Vec<u8>,
}

fn inputs(c: Case) -> Inputs {
    let bytes = |d: DType, v: Vec<f64>| {
        let mut out = Vec::new();
        v.into_iter().for_each(|x| encode(d, x, &mut out));
        out
    };
    Inputs {
        x: bytes(c.dtype, values((PROGRAMS * c.m * c.k) as usize, 1)),
        w: bytes(c.dtype, values((c.k * c.n) as usize, 2)),
        acc: bytes(DType::F32, values((PROGRAMS * c.m * c.n) as usize, 3)),
    }
}

fn f32s(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect()
}

/// The interpreter's `y`, and `rt`'s.
fn run_both(rt: &Runtime, c: Case) -> (Vec<f32>, Vec<f32>) {
    let k = dot_kernel(c);
    let inp = inputs(c);
    let fresh = vec![0xa5u8; (PROGRAMS * c.m * c.n * 4) as usize];
    let (mut x, mut w, mut acc, mut y) = (inp.x.clone(), inp.w.clone(), inp.acc.clone(), fresh.clone());
    let mut args: Vec<ArgValue> = [&mut x, &mut w, &mut acc, &mut y].into_iter().map(|b| ArgValue::Buffer(b)).collect();
    interp::run(&k, [PROGRAMS, 1, 1], &mut args).unwrap_or_else(|e| panic!("{}: interpreter: {e}", k.name));
    let compiled = rt.compile_kernel(&k).unwrap_or_else(|e| panic!("{}: {e}", k.name));
    let buf = |d: DType, b: &[u8]| HostBuffer::from_bytes(d, b).expect("sized for the dtype");
    let (gx, gw, ga, mut gy) =
        (buf(c.dtype, &inp.x), buf(c.dtype, &inp.w), buf(DType::F32, &inp.acc), buf(DType::F32, &fresh));
    let mut launch = [Arg::Buf(&gx), Arg::Buf(&gw), Arg::Buf(&ga), Arg::BufMut(&mut gy)];
    rt.launch(&compiled, [PROGRAMS, 1, 1], &mut launch).unwrap_or_else(|e| panic!("{}: {e}", k.name));
    (f32s(&y), f32s(gy.as_bytes()))
}

#[test]
fn simt_mma_equals_the_interpreter_bit_for_bit() {
    for warps in [1, 4] {
        let rt = simt(warps);
        for c in cases() {
            let (want, got) = run_both(&rt, c);
            let bad: Vec<String> = want
                .iter()
                .zip(&got)
                .enumerate()
                .filter(|(_, (w, g))| w.to_bits() != g.to_bits())
                .take(5)
                .map(|(i, (w, g))| format!("y[{i}]: interpreter {w:e}, SIMT {g:e}"))
                .collect();
            assert!(bad.is_empty(), "{c:?} on {warps} warps:\n{}", bad.join("\n"));
        }
    }
}

/// The PTX of `k` for `sm_{sm}` on 4 warps, after ptxas accepted it.
fn ptx(ptxas: &Ptxas, k: &Kernel, sm: u32) -> String {
    let opts = CodegenOptions { target: Target::Nvptx { sm, num_warps: 4 }, ..Default::default() };
    let art = compile(k, &opts).unwrap_or_else(|e| panic!("{}: {e}", k.name));
    let text = String::from_utf8(art.object).expect("PTX is text");
    ptxas.assemble(&text, sm).unwrap_or_else(|e| panic!("{} for sm_{sm}: {e}", k.name));
    text
}

#[test]
fn gpu_targets_emit_mma_for_f16_and_bf16_tiles_only() {
    let ptxas = Ptxas::require().unwrap_or_else(|e| panic!("{e}"));
    let f32_dot = build_kernel("dot_f32", vec![ptr("x", DType::F32, false), ptr("y", DType::F32, true)], |a| {
        let r = arange(16).expand_dims(1) * 16 + arange(16).expand_dims(0);
        let x = load(a[0] + r);
        store(a[1] + r, dot(x, x));
    })
    .unwrap();
    for sm in SUPPORTED_SM {
        for c in cases() {
            let k = dot_kernel(c);
            let ty = if c.dtype == DType::F16 { "f16" } else { "bf16" };
            let want = format!("mma.sync.aligned.m16n8k16.row.col.f32.{ty}.{ty}.f32");
            let text = ptx(&ptxas, &k, sm);
            assert!(text.contains(&want), "{} for sm_{sm}: no {want}", k.name);
            // Runs of 8 or more elements a thread: operands, accumulator and result all
            // move 16 bytes at a time (unmasked fills and stores are unrolled in groups).
            if c.m * c.k >= 1024 && c.k * c.n >= 1024 && c.m * c.n >= 1024 {
                let scalar = text
                    .lines()
                    .filter(|l| (l.contains("ld.global") || l.contains("st.global")) && !l.contains(".v4."))
                    .count();
                assert_eq!(scalar, 0, "{} for sm_{sm}: global accesses narrower than 16 bytes", k.name);
            }
        }
        // An f32 dot keeps the FMA path.
        assert!(!ptx(&ptxas, &f32_dot, sm).contains("mma"));
    }
}

/// On a GPU: within the summation bound of the module docs.
#[test]
#[ignore = "needs a CUDA device: scripts/test.sh and scripts/gpu-check.sh run it where one is present"]
fn cuda_mma_is_within_the_summation_bound() {
    let rt = cuda();
    for c in cases() {
        let (want, got) = run_both(&rt, c);
        let bounds = bounds(c);
        for (i, ((w, g), b)) in want.iter().zip(&got).zip(&bounds).enumerate() {
            assert!((w - g).abs() <= *b, "{c:?} y[{i}]: interpreter {w:e}, GPU {g:e}, bound {b:e}");
        }
    }
}

/// `2 γ(k + 1) (|acc| + sum |a b|)` per output (module docs).
fn bounds(c: Case) -> Vec<f32> {
    let inp = inputs(c);
    let dec = |b: &[u8]| -> Vec<f64> {
        b.chunks_exact(2)
            .map(|h| match c.dtype {
                DType::F16 => half::f16::from_le_bytes([h[0], h[1]]).to_f64(),
                _ => half::bf16::from_le_bytes([h[0], h[1]]).to_f64(),
            })
            .collect()
    };
    let (x, w, acc) = (dec(&inp.x), dec(&inp.w), f32s(&inp.acc));
    let (m, k, n) = (c.m as usize, c.k as usize, c.n as usize);
    let mut out = Vec::new();
    for p in 0..PROGRAMS as usize {
        for r in 0..m {
            for col in 0..n {
                let wv = |kk: usize| if c.transposed { w[col * k + kk] } else { w[kk * n + col] };
                let terms: f64 = (0..k).map(|kk| (x[(p * m + r) * k + kk] * wv(kk)).abs()).sum();
                let a = if c.acc { acc[(p * m + r) * n + col].abs() as f64 } else { 0.0 };
                let ku = (k + 1) as f64 * 2f64.powi(-24);
                out.push((2.0 * ku / (1.0 - ku) * (a + terms)) as f32);
            }
        }
    }
    out
}
