//! Split reductions on the SIMT emulation vs the reference interpreter: every reduction
//! op on every dtype, over line shapes that split a line over S = 2 to 32 threads (merged
//! by warp shuffles alone), S = 64 to 256 (shuffles within each warp, then shared memory
//! across warps), lines of fewer threads than the CTA (idle threads), reductions to a
//! scalar (which every thread needs) and one unsplit shape. Inputs are full of ties, NaN,
//! infinities, signed zeros and each dtype's extremes, so the merge's NaN handling and
//! tie rules (`semantics.md`: NaN skipped, an all-NaN line gives NaN and index 0, ties
//! to the lowest index) are checked across threads and warps. Float `sum`, whose order is
//! fixed (the CPU's 8 lanes and their halving tree, `docs/gpu.md`), is split by lanes: its
//! results must equal the CPU's bit for bit (the last tests).

use aqua_dsl::build::*;
use aqua_dsl::codegen::{compile, CodegenOptions, Target};
use aqua_dsl::ir::{DType, Param, ParamKind};
use aqua_dsl::Kernel;
use aqua_runtime::{Arg, HostBuffer, Runtime};
use aqua_tests::reductions::{agree, encode, op_sets, out_dtype, reduce, run_both};
use aqua_tests::rng::xorshift;
use aqua_tests::runtimes::simt;

/// Programs per launch: enough for every input pattern of `input` on a one-line block
/// (and later programs reuse the CTA's shared memory).
const PROGRAMS: u32 = 8;
/// Elements a scalar result is broadcast to, so that every thread stores some.
const WIDE: u32 = 256;

/// A kernel reducing each program's `[lines, n]` block of `dtype` along its lines with
/// every op of [`ops`], one output buffer each; `lines == 0` reduces a `[n]` block to a
/// scalar and stores it `WIDE` times.
fn line_kernel(dtype: DType, ops: &[&str], lines: u32, n: u32) -> Kernel {
    let mut params = vec![Param { name: "x".into(), kind: ParamKind::Ptr { dtype, mutable: false } }];
    for op in ops {
        params.push(Param {
            name: format!("o_{op}"),
            kind: ParamKind::Ptr { dtype: out_dtype(dtype, op), mutable: true },
        });
    }
    let name = format!("split_{dtype}_{lines}x{n}_{}", ops.join("_"));
    build_kernel(&name, params, |a| {
        let pid = program_id(0);
        if lines == 0 {
            let x = load(a[0] + (pid * n + arange(n)));
            for (k, op) in ops.iter().enumerate() {
                store(a[k + 1] + (pid * WIDE + arange(WIDE)), full([WIDE], reduce(x, op, 0)));
            }
        } else {
            let r = arange(lines).expand_dims(1) * n + arange(n).expand_dims(0);
            let x = load(a[0] + (r + pid * (lines * n)));
            for (k, op) in ops.iter().enumerate() {
                store(a[k + 1] + (pid * lines + arange(lines)), reduce(x, op, 1));
            }
        }
    })
    .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The values inputs are drawn from, the "worst" first (NaN, or the type's minimum):
/// few, so ties are everywhere. 64-bit values share a low or a high word, so both halves
/// of a shuffled state matter.
fn pool(dtype: DType) -> Vec<f64> {
    match dtype {
        DType::Bool => vec![0.0, 1.0],
        d if d.is_float() => vec![f64::NAN, f64::NEG_INFINITY, f64::INFINITY, -0.0, 0.0, 1.5, -2.0, 3.0, -65504.0],
        DType::U8 => vec![0.0, 255.0, 1.0, 7.0, 200.0],
        DType::U32 => vec![0.0, u32::MAX as f64, 1.0, 7.0, 4e9],
        DType::I8 => vec![-128.0, 127.0, 0.0, -1.0, 7.0],
        DType::I32 => vec![i32::MIN as f64, i32::MAX as f64, 0.0, -1.0, 7.0],
        _ => vec![i64::MIN as f64, i64::MAX as f64, 0.0, -1.0, 1.0, 4294967297.0, 8589934593.0, -4294967297.0],
    }
}

/// Lines cycle through patterns: all the first pool value (for floats an all-NaN line),
/// the first two mixed (NaN and -inf: max and min rescan), the first and third (NaN and
/// +inf), the pool's values not above zero (ties of -0 and +0), the whole pool, and the
/// pool's largest and smallest values planted once or twice at random places among the
/// others (a merge that loses a thread's state, or takes a later tie, shows).
fn input(dtype: DType, lines: usize, n: usize, seed: u64) -> Vec<u8> {
    let pool = pool(dtype);
    let numbers = pool.iter().copied().filter(|v| !v.is_nan());
    let (lo, hi) = (numbers.clone().fold(f64::INFINITY, f64::min), numbers.fold(f64::NEG_INFINITY, f64::max));
    let low: Vec<f64> = pool.iter().copied().filter(|v| v.is_nan() || *v <= 0.0).collect();
    let mid: Vec<f64> = pool.iter().copied().filter(|&v| v != lo && v != hi).collect();
    let mid = if mid.is_empty() { vec![lo] } else { mid };
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut next = move || (xorshift(&mut state) >> 8) as usize;
    let mut bytes = Vec::new();
    for line in 0..lines {
        let mut values: Vec<f64> = (0..n)
            .map(|_| {
                let r = next();
                match line % 7 {
                    0 => pool[0],
                    1 => pool[r % 2],
                    2 => [pool[0], pool[2 % pool.len()]][r % 2],
                    3 => low[r % low.len()],
                    4 => pool[r % pool.len()],
                    _ => mid[r % mid.len()],
                }
            })
            .collect();
        if line % 7 >= 5 {
            for _ in 0..line % 7 - 4 {
                values[next() % n] = hi;
                values[next() % n] = lo;
            }
        }
        for v in values {
            encode(dtype, v, &mut bytes);
        }
    }
    bytes
}

/// Runs the kernel for `(lines, n)` on every dtype, on the interpreter and on `rt`;
/// returns the disagreements.
fn check(rt: &Runtime, lines: u32, n: u32) -> Vec<String> {
    let mut failures = Vec::new();
    for (dtype, ops) in DType::ALL.into_iter().flat_map(|d| op_sets(d, false).into_iter().map(move |s| (d, s))) {
        let k = line_kernel(dtype, &ops, lines, n);
        let total = (PROGRAMS * lines.max(1) * n) as usize;
        let x = input(dtype, (PROGRAMS * lines.max(1)) as usize, n as usize, (lines * 131 + n) as u64);
        let outs: Vec<DType> = ops.iter().map(|op| out_dtype(dtype, op)).collect();
        let per_program = if lines == 0 { WIDE } else { lines };
        assert_eq!(x.len(), total * dtype.size_bytes());
        let sized: Vec<(DType, usize)> = outs.iter().map(|&d| (d, (PROGRAMS * per_program) as usize)).collect();
        let (want, got) = run_both(rt, &k, PROGRAMS, dtype, &x, &sized);
        for ((op, &d), (w, g)) in ops.iter().zip(&outs).zip(want.iter().zip(&got)) {
            // No float sums here (the last tests): every comparison is exact but for NaN and
            // the sign of a zero.
            if let Err(e) = agree(d, op, n, w, g) {
                failures.push(format!("{} `{op}`: {e}", k.name));
            }
        }
    }
    failures
}

/// Checks every `(lines, n)` of `shapes` on `num_warps` warps.
fn check_all(num_warps: u32, shapes: &[(u32, u32)]) {
    let rt = simt(num_warps);
    let failures: Vec<String> = shapes.iter().flat_map(|&(lines, n)| check(&rt, lines, n)).collect();
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}

/// One warp: S = 2, 4, 8, 16 and 32 threads a line (4 lanes a thread), all merged by
/// shuffles; a scalar over the whole warp, and one over 8 threads (the rest idle, so it
/// goes through shared memory to reach them).
#[test]
fn splits_within_one_warp_match_the_interpreter() {
    check_all(1, &[(16, 64), (8, 64), (4, 32), (2, 256), (1, 128), (0, 128), (0, 32)]);
}

/// Four warps: a line per warp (S = 32), S = 64 and 128 (shuffles, then shared memory
/// across warps), scalars over the CTA and over one warp (which the other warps need),
/// 4 threads a line on 8 of the 128 threads (the rest idle) and one thread a line (no
/// split).
#[test]
fn splits_across_warps_match_the_interpreter() {
    check_all(4, &[(4, 256), (2, 256), (1, 1024), (0, 512), (0, 128), (2, 16), (32, 16), (256, 8)]);
}

/// Eight warps: one line over all 256 threads (8 warps' states merged in order).
#[test]
fn a_line_over_eight_warps_matches_the_interpreter() {
    check_all(8, &[(1, 2048)]);
}

/// A kernel summing each program's `[lines, n]` block of `dtype` along its lines, and the
/// squares of its values too (a HIGGS norm); `lines == 0` sums a `[n]` block to a scalar
/// and stores it `WIDE` times.
fn sum_kernel(dtype: DType, lines: u32, n: u32) -> Kernel {
    let p = |name: &str, mutable| Param { name: name.into(), kind: ParamKind::Ptr { dtype, mutable } };
    let name = format!("sum_{dtype}_{lines}x{n}");
    build_kernel(&name, vec![p("x", false), p("sum", true), p("squares", true)], |a| {
        let pid = program_id(0);
        if lines == 0 {
            let x = load(a[0] + (pid * n + arange(n)));
            store(a[1] + (pid * WIDE + arange(WIDE)), full([WIDE], x.sum(0)));
            store(a[2] + (pid * WIDE + arange(WIDE)), full([WIDE], (x * x).sum(0)));
        } else {
            let r = arange(lines).expand_dims(1) * n + arange(n).expand_dims(0);
            let x = load(a[0] + (r + pid * (lines * n)));
            store(a[1] + (pid * lines + arange(lines)), x.sum(1));
            store(a[2] + (pid * lines + arange(lines)), (x * x).sum(1));
        }
    })
    .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Values of every magnitude and sign (and the pool's NaN and infinities on some lines),
/// so that a sum's order shows in its last bits.
fn sum_input(dtype: DType, lines: usize, n: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut bytes = Vec::new();
    for line in 0..lines {
        for _ in 0..n {
            xorshift(&mut state);
            let r = state >> 11;
            let v = match (line % 9, r % 61) {
                (0, 0) => f64::NAN,
                (1, 1) => f64::INFINITY,
                _ => {
                    let mantissa = (r % 100_000) as f64 / 1e5 - 0.5;
                    mantissa * 2f64.powi((r / 100_000 % 24) as i32 - 12)
                }
            };
            encode(dtype, v, &mut bytes);
        }
    }
    bytes
}

/// The outputs of `k` on `x` (`outs` elements each) on `rt`.
fn run_sums(rt: &Runtime, k: &Kernel, dtype: DType, x: &[u8], outs: usize) -> Vec<Vec<u8>> {
    let compiled = rt.compile_kernel(k).unwrap_or_else(|e| panic!("{}: {e}", k.name));
    let xb = HostBuffer::from_bytes(dtype, x).expect("sized for the dtype");
    let mut out = [HostBuffer::zeros(dtype, outs), HostBuffer::zeros(dtype, outs)];
    let [a, b] = &mut out;
    rt.launch(&compiled, [PROGRAMS, 1, 1], &mut [Arg::Buf(&xb), Arg::BufMut(a), Arg::BufMut(b)])
        .unwrap_or_else(|e| panic!("{}: {e}", k.name));
    out.iter().map(|b| b.as_bytes().to_vec()).collect()
}

/// Float sums split by lanes on `num_warps` warps equal the CPU's bit for bit.
fn check_sums(num_warps: u32, shapes: &[(u32, u32)]) {
    let (gpu, cpu) = (simt(num_warps), Runtime::cpu_with(aqua_tests::runtimes::options()));
    let mut failures = Vec::new();
    for &(lines, n) in shapes {
        for dtype in [DType::F32, DType::F16, DType::BF16] {
            let k = sum_kernel(dtype, lines, n);
            let x = sum_input(dtype, (PROGRAMS * lines.max(1)) as usize, n as usize, (lines * 7 + n) as u64);
            let outs = (PROGRAMS * if lines == 0 { WIDE } else { lines }) as usize;
            let (want, got) = (run_sums(&cpu, &k, dtype, &x, outs), run_sums(&gpu, &k, dtype, &x, outs));
            for (what, (w, g)) in ["sum", "sum of squares"].iter().zip(want.iter().zip(&got)) {
                let size = dtype.size_bytes();
                if let Some(i) = (0..outs).find(|&i| w[i * size..(i + 1) * size] != g[i * size..(i + 1) * size]) {
                    failures.push(format!(
                        "{} {what}, element {i}: cpu {:?}, simt {:?}",
                        k.name,
                        &w[i * size..(i + 1) * size],
                        &g[i * size..(i + 1) * size]
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}

/// One warp: 8 threads a line (a lane each: a HIGGS tile's 16 groups of 64 on 4 warps
/// has the same split), 4 and 2 (two and four lanes a thread, merged in the thread
/// first), lines of 8 and of 2 values, a scalar over 8 threads (the rest idle).
#[test]
fn float_sums_split_by_lanes_equal_the_cpu_on_one_warp() {
    check_sums(1, &[(4, 64), (8, 64), (16, 64), (32, 8), (16, 2), (0, 256)]);
}

/// Four warps: the HIGGS norm's shape (16 lines of 64: 8 threads a line on 128 threads),
/// 64 lines of 32 (2 threads a line), lines of 1024, a scalar, and one thread a line.
#[test]
fn float_sums_split_by_lanes_equal_the_cpu_on_four_warps() {
    check_sums(4, &[(16, 64), (64, 32), (2, 1024), (0, 512), (128, 16)]);
}

/// The HIGGS norm's shape on 4 warps is split: the PTX merges each sum's 8 lanes with
/// three butterfly shuffles (two sums: six); one thread a line (lines of 16 on 128
/// threads, 128 lines) has none.
#[test]
fn a_split_float_sum_merges_its_lanes_by_shuffles() {
    let ptx = |lines, n| {
        let opts = CodegenOptions { target: Target::Nvptx { sm: 90, num_warps: 4 }, ..Default::default() };
        let art = compile(&sum_kernel(DType::F32, lines, n), &opts).unwrap_or_else(|e| panic!("{e}"));
        String::from_utf8(art.object).expect("PTX is text")
    };
    assert_eq!(ptx(16, 64).matches("shfl.sync.bfly").count(), 6);
    assert_eq!(ptx(128, 16).matches("shfl.sync.bfly").count(), 0);
}
