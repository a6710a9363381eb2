//! The SIMT emulation backend (`Runtime::simt_with`): the GPU's thread-level program run
//! on host threads, compared with the CPU backend and the interpreter on kernels whose
//! data moves between threads, and the GPU's own `exp`, `log` and `fmod` routines (the
//! GPU has no libm) compared with the host's libm on edge and random values.

use aqua_dsl::build::*;
use aqua_dsl::ir::{DType, Kernel, Param, ParamKind};
use aqua_runtime::{Arg, BackendKind, HostBuffer, Runtime, RuntimeOptions};

fn kernel(body: fn(&[Value]), params: Vec<Param>) -> Result<Kernel, aqua_dsl::KernelError> {
    build_kernel("simt_test", params, body)
}

fn io() -> Vec<Param> {
    let p = |n: &str, kind| Param { name: n.into(), kind };
    vec![
        p("x", ParamKind::Ptr { dtype: DType::F32, mutable: false }),
        p("y", ParamKind::Ptr { dtype: DType::F32, mutable: true }),
    ]
}

fn options() -> RuntimeOptions {
    RuntimeOptions { cache_dir: None, dump_dir: None, ..RuntimeOptions::default() }
}

/// Runs `k` on `x` (y starts as zeros) with `programs` programs.
fn run(rt: &Runtime, k: &Kernel, x: &[f32], programs: u32) -> Vec<f32> {
    let c = rt.compile_kernel(k).unwrap_or_else(|e| panic!("{e}"));
    let xb = HostBuffer::from_slice(x);
    let mut y = HostBuffer::zeros(DType::F32, x.len());
    rt.launch(&c, [programs, 1, 1], &mut [Arg::Buf(&xb), Arg::BufMut(&mut y)]).unwrap_or_else(|e| panic!("{e}"));
    y.to_vec().unwrap()
}

/// Deterministic values: edge cases first, then a wide spread of magnitudes and signs.
fn values(n: usize) -> Vec<f32> {
    let edges = [
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.5,
        2.5,
        -7.25,
        1e-3,
        88.7,
        89.0,
        -87.3,
        -103.9,
        -150.0,
        1e30,
        3e38,
        1e-40,
        f32::MIN_POSITIVE,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        65504.0,
        1e-6,
        100.0,
        2049.0,
    ];
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    (0..n)
        .map(|i| {
            if i < edges.len() {
                return edges[i];
            }
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let mant = (state >> 40) as f32 / (1u64 << 24) as f32 + 0.5;
            let exp = ((state >> 8) % 80) as i32 - 40;
            let sign = if state & 1 == 0 { 1.0 } else { -1.0 };
            sign * mant * 2f32.powi(exp)
        })
        .collect()
}

/// Distance in ulps between two f32 (NaN equals NaN).
fn ulps(a: f32, b: f32) -> u32 {
    if a.is_nan() && b.is_nan() || a == b {
        return 0;
    }
    let key = |v: f32| {
        let i = v.to_bits() as i32;
        if i < 0 {
            i32::MIN - i
        } else {
            i
        }
    };
    key(a).abs_diff(key(b))
}

#[test]
fn a_simt_runtime_says_what_it_is() {
    let rt = Runtime::simt_with(options(), 2);
    assert_eq!(rt.backend(), BackendKind::Simt);
    assert!(rt.describe().contains("64 host threads per CTA"), "{}", rt.describe());
}

/// `with_num_warps`: one kept runtime per CTA size, with its own memory cache and cache
/// keys; its kernels launch through the runtime it came from with their own CTA size.
#[test]
fn a_runtime_for_another_cta_size_is_kept_and_its_kernels_launch_anywhere() {
    let rt = Runtime::simt_with(options(), 4);
    let two = rt.with_num_warps(2);
    assert!(std::sync::Arc::ptr_eq(&two, &rt.with_num_warps(2)));
    assert_eq!((rt.num_warps(), two.num_warps()), (4, 2));
    assert!(two.describe().contains("64 host threads per CTA"), "{}", two.describe());
    // Each thread keeps its element: 128 threads would cover a block of 128 once, 64 twice.
    let k = kernel(
        |a| {
            let offs = program_id(0) * 128 + arange(128);
            store(a[1] + offs, load(a[0] + offs) * 2.0);
        },
        io(),
    )
    .unwrap();
    let (in_two, report) = two.compile_with_report(aqua_runtime::Input::Kernel(&k), two.mode()).unwrap();
    let (_, own) = rt.compile_with_report(aqua_runtime::Input::Kernel(&k), rt.mode()).unwrap();
    assert_ne!(report.key, own.key, "the CTA size is part of the key");
    two.compile_kernel(&k).unwrap();
    assert_eq!(two.cache_stats().memory_hits, 1, "{:?}", two.cache_stats());
    let x = values(256);
    let xb = HostBuffer::from_slice(&x);
    let mut y = HostBuffer::zeros(DType::F32, 256);
    rt.launch(&in_two, [2, 1, 1], &mut [Arg::Buf(&xb), Arg::BufMut(&mut y)]).unwrap();
    let y: Vec<f32> = y.to_vec().unwrap();
    for (i, (&a, &b)) in x.iter().zip(&y).enumerate() {
        assert_eq!((a * 2.0).to_bits(), b.to_bits(), "element {i}");
    }
}

#[test]
fn gpu_math_matches_the_host_libm() {
    const N: u32 = 4096;
    let k = kernel(
        |a| {
            let offs = program_id(0) * N + arange(N);
            let x = load(a[0] + offs);
            // The three routines on the same lanes, in three quarters of the output.
            let q = offs & 3;
            let e = x.exp();
            let l = x.log();
            let m = x % (x.abs().sqrt() * 0.37 + 1e-3);
            let wide = x % 1.5e-3;
            let r = where_(q.eq(0), e, where_(q.eq(1), l, where_(q.eq(2), m, wide)));
            store(a[1] + offs, r);
        },
        io(),
    )
    .unwrap();
    let x = values(N as usize * 4);
    let cpu = run(&Runtime::cpu_with(options()), &k, &x, 4);
    let simt = run(&Runtime::simt_with(options(), 4), &k, &x, 4);
    let (mut inexact, mut worst) = (0, 0);
    for (i, (&c, &s)) in cpu.iter().zip(&simt).enumerate() {
        let d = ulps(c, s);
        if i % 4 >= 2 {
            // fmod is exact on every target.
            assert_eq!(d, 0, "fmod lane {i}: x = {:e}: cpu {c:e}, simt {s:e}", x[i]);
        } else if d > 0 {
            // exp and log round an f64 result to f32 on both sides: they differ only where
            // the f64 results straddle a rounding boundary, by one ulp (tolerance: 2 ulp).
            inexact += 1;
            worst = worst.max(d);
        }
    }
    assert!(worst <= 1, "exp/log differ by {worst} ulp");
    // Not vacuous: the values reach every routine's interesting ranges.
    assert!(simt.iter().step_by(4).any(|v| v.is_infinite()) && simt.iter().skip(1).step_by(4).any(|v| v.is_nan()));
    assert!(inexact * 1000 < cpu.len(), "{inexact} of {} exp/log lanes differ", cpu.len());
}

#[test]
fn shape_moves_match_the_interpreter_on_several_cta_sizes() {
    // Rows of 64 reduced (sum, max), broadcast back, transposed through shared memory.
    let k = kernel(
        |a| {
            let r = arange(32).expand_dims(1) * 64 + arange(64).expand_dims(0);
            let base = program_id(0) * 2048;
            let x = load(a[0] + (r + base));
            let mx = x.max(1).expand_dims(1).broadcast_to([32, 64]);
            let s = x.sum(1).expand_dims(1).broadcast_to([32, 64]);
            let col = x.min(0).expand_dims(0).broadcast_to([32, 64]);
            let y = (x - mx + col) * s.abs().sqrt();
            let t = y.trans();
            let rt = arange(64).expand_dims(1) * 32 + arange(32).expand_dims(0);
            store(a[1] + (rt + base), t);
        },
        io(),
    )
    .unwrap();
    let x: Vec<f32> =
        values(2048 * 3).into_iter().map(|v| if v.is_finite() { v.clamp(-1e3, 1e3) } else { 1.0 }).collect();
    // Each line is reduced by one thread in the CPU's order, so the SIMT result equals
    // the CPU's bit for bit; the CPU itself agrees with the interpreter within the sum
    // tolerance (checked here loosely, as a guard against comparing garbage).
    let cpu = run(&Runtime::cpu_with(options()), &k, &x, 3);
    let reference = run(&Runtime::interpreter(), &k, &x, 3);
    for (&c, &r) in cpu.iter().zip(&reference) {
        assert!((c - r).abs() <= 1e-3 * r.abs().max(1.0), "cpu {c}, interpreter {r}");
    }
    for warps in [1, 4, 8] {
        let got = run(&Runtime::simt_with(options(), warps), &k, &x, 3);
        for (i, (&c, &g)) in cpu.iter().zip(&got).enumerate() {
            assert_eq!(ulps(c, g), 0, "{warps} warps, element {i}: cpu {c}, simt {g}");
        }
    }
}

#[test]
fn a_partial_last_block_reads_only_unmasked_lanes() {
    // The masked load is materialized (read twice: directly and transposed), so each
    // thread's run is versioned on its masks: the run across `n` takes the masked path.
    let k = kernel(
        |a| {
            let r = arange(16).expand_dims(1) * 64 + arange(64).expand_dims(0);
            let offs = r + program_id(0) * 1024;
            let n = 5000i32;
            let x = load_masked_or(a[0] + offs, offs.lt(n), 0.0f32);
            let t = x.trans();
            let s = (t * t).sum(0).expand_dims(1).broadcast_to([16, 64]);
            // A transposed masked load read by two sinks is a buffer filled through the
            // transpose: its lanes' masks are not the sink's, so it is not versioned.
            let y = load_masked_or(a[0] + offs, offs.lt(n), 1.0f32).trans();
            let z = (y.max(1).expand_dims(1).broadcast_to([64, 16]) - y).trans();
            store_masked(a[1] + offs, x + s + z, offs.lt(n));
        },
        io(),
    )
    .unwrap();
    let x = values(5 * 1024)
        .into_iter()
        .map(|v| if v.is_finite() { v.clamp(-10.0, 10.0) } else { 0.5 })
        .collect::<Vec<_>>();
    let cpu = run(&Runtime::cpu_with(options()), &k, &x, 5);
    for warps in [1, 4] {
        let got = run(&Runtime::simt_with(options(), warps), &k, &x, 5);
        for (i, (&c, &g)) in cpu.iter().zip(&got).enumerate() {
            assert_eq!(ulps(c, g), 0, "{warps} warps, element {i}: cpu {c}, simt {g}");
        }
    }
}
