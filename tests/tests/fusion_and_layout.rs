//! The CPU code generator's fused short-axis reductions, strip-wise outer-axis
//! reductions and tiled transposes against the reference interpreter, on the CPU and on
//! the SIMT emulation: every reduction op on every dtype along the first, a middle and
//! the last axis, with axes of 2 and 4 elements (computed element-wise where they are
//! used) and of 8 to 128 (outer axes in strips of 64 outputs, states in registers), on
//! inputs full of ties, NaN, infinities and signed zeros (lines of NaN and +inf only take
//! the rescan that finds the first number); transposes of every dtype at sizes that tile
//! by 8 x 8 and one that does not; and a butterfly (pair sums interleaved by a select),
//! whose pairs the code generator reads once per output pair; and a fused reduction of a
//! masked load (the SIMT emulation's unmasked fast path must see its masks); and, in the
//! CPU's optimized IR, integer line states stored without their identity where each lane
//! takes one element.

use aqua_dsl::build::*;
use aqua_dsl::codegen::{compile, CodegenOptions};
use aqua_dsl::interp::{self, ArgValue};
use aqua_dsl::ir::{Const, DType, Lit, Param, ParamKind};
use aqua_dsl::Kernel;
use aqua_runtime::{Arg, HostBuffer, LaunchMode, Runtime, RuntimeOptions};
use aqua_tests::reductions::{agree, encode, op_sets, out_dtype, reduce, run_both};
use aqua_tests::rng::xorshift;

/// Programs per launch (each reads its own block).
const PROGRAMS: u32 = 3;

fn ptr(name: &str, dtype: DType, mutable: bool) -> Param {
    Param { name: name.into(), kind: ParamKind::Ptr { dtype, mutable } }
}

/// The op sets a suite runs on `dtype`, one kernel each: those of [`op_sets`], or
/// (`joint_only`) ops whose lanes may merge in any order (one group, merged jointly along
/// the last axis): integer sum, max and min; f32 max and min together (a range, no
/// rescans) and each alone (rescans); none on other dtypes.
fn suite_ops(dtype: DType, joint_only: bool) -> Vec<Vec<&'static str>> {
    match joint_only {
        false => op_sets(dtype, true),
        true if dtype == DType::F32 => vec![vec!["max", "min"], vec!["max"], vec!["min"]],
        true if dtype.is_float() || dtype == DType::Bool => vec![],
        true => vec![vec!["max", "min", "sum"]],
    }
}

/// What a reduction kernel reduces.
#[derive(Clone, Copy, PartialEq)]
enum Operand {
    /// The loaded block.
    Loaded,
    /// The loaded block plus its index along the last axis, broadcast over the others
    /// (as a packing's shift amounts are): a loop over more than a line must split its
    /// variable to index it.
    PlusLane,
}

/// Reduces each program's block `x: [shape]` (or `operand` of it) along `axis` with every
/// op of `ops`.
fn reduce_kernel(dtype: DType, shape: [u32; 3], axis: u32, ops: &[&str], operand: Operand) -> Kernel {
    let mut params = vec![ptr("x", dtype, false)];
    params.extend(ops.iter().map(|op| ptr(&format!("o_{op}"), out_dtype(dtype, op), true)));
    let n: u32 = shape.iter().product();
    let m = n / shape[axis as usize];
    let lane = if operand == Operand::PlusLane { "_plus_lane" } else { "" };
    let name = format!("reduce_{dtype}_{}x{}x{}_axis{axis}{lane}_{}", shape[0], shape[1], shape[2], ops.join("_"));
    build_kernel(&name, params, |a| {
        let pid = program_id(0);
        let mut x = load(a[0] + (pid * n + arange(n))).reshape(shape);
        if operand == Operand::PlusLane {
            x += arange(shape[2]).cast_to(dtype).reshape([1, 1, shape[2]]).broadcast_to(shape);
        }
        for (k, op) in ops.iter().enumerate() {
            let r = reduce(x, op, axis);
            let r = r.reshape([m]);
            store(a[k + 1] + (pid * m + arange(m)), r);
        }
    })
    .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Transposes each program's block `[rows, cols]`.
fn trans_kernel(dtype: DType, rows: u32, cols: u32) -> Kernel {
    let n = rows * cols;
    let name = format!("trans_{dtype}_{rows}x{cols}");
    build_kernel(&name, vec![ptr("x", dtype, false), ptr("y", dtype, true)], |a| {
        let offs = program_id(0) * n + arange(n);
        let x = load(a[0] + offs).reshape([rows, cols]);
        store(a[1] + offs, x.trans().reshape([n]));
    })
    .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// One butterfly stage on `[h, lanes]` (pairs `h / 2` rows apart), then the sum of every
/// row pair: `(a + b, a - b)` interleaved by a select, as `kernels::fwht` does.
fn butterfly_kernel(h: u32, lanes: u32) -> Kernel {
    let n = h * lanes;
    build_kernel("butterfly", vec![ptr("x", DType::F32, false), ptr("y", DType::F32, true)], |a| {
        let offs = program_id(0) * n + arange(n);
        let u = load(a[0] + offs).reshape([1, 2, n / 2]);
        let sign = (arange(2) * -2 + 1).cast::<f32>().reshape([1, 2, 1]);
        let (s, d) = (u.sum(1), (u * sign).sum(1));
        let first = eq(arange(2), 0).reshape([1, 2, 1]);
        let v = where_(first, s.expand_dims(1), d.expand_dims(1)).reshape([h / 2, 2, lanes]);
        store(a[1] + offs, v.sum(1).expand_dims(1).broadcast_to([h / 2, 2, lanes]).reshape([n]));
    })
    .unwrap_or_else(|e| panic!("butterfly: {e}"))
}

/// Values drawn for inputs, ties everywhere; floats lead with NaN and infinities.
fn pool(dtype: DType) -> Vec<f64> {
    match dtype {
        DType::Bool => vec![0.0, 1.0],
        d if d.is_float() => vec![f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -0.0, 0.0, 1.5, -2.0, 3.0, -65504.0],
        DType::U8 => vec![0.0, 255.0, 1.0, 7.0, 200.0],
        DType::U32 => vec![0.0, u32::MAX as f64, 1.0, 7.0, 4e9],
        DType::I8 => vec![-128.0, 127.0, 0.0, -1.0, 7.0],
        DType::I32 => vec![i32::MIN as f64, i32::MAX as f64, 0.0, -1.0, 7.0],
        _ => vec![i64::MIN as f64, i64::MAX as f64, 0.0, -1.0, 1.0, 4294967297.0],
    }
}
/// `n` elements of `dtype`; `pattern(i)` gives element `i`'s pattern, one of NaN only, NaN
/// then +inf (the first number late: `true` from there on), -inf and NaN, and the whole
/// pool at random (taken modulo 5, the last two patterns alike).
fn patterned(dtype: DType, n: usize, seed: u64, pattern: impl Fn(usize) -> (usize, bool)) -> Vec<u8> {
    let pool = pool(dtype);
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut next = move || (xorshift(&mut state) >> 8) as usize;
    let mut bytes = Vec::new();
    for i in 0..n {
        let r = next();
        let (k, late) = pattern(i);
        let v = match k % 5 {
            0 => pool[0],
            1 => [pool[0], pool[1 % pool.len()]][usize::from(late)],
            2 => [pool[2 % pool.len()], pool[0]][r % 2],
            _ => pool[r % pool.len()],
        };
        encode(dtype, v, &mut bytes);
    }
    bytes
}

/// `n` elements: runs of 8 cycle through the patterns of [`patterned`].
fn input(dtype: DType, n: usize, seed: u64) -> Vec<u8> {
    patterned(dtype, n, seed, |i| (i / 8, i % 8 >= 5))
}

/// The blocks `[shape]` of `programs` programs, each line along `axis` one of the
/// patterns of [`patterned`] by its index (+inf in the last 3/8 of the line), so that
/// lines along any axis meet each.
fn line_input(dtype: DType, shape: [u32; 3], axis: u32, programs: u32, seed: u64) -> Vec<u8> {
    let [d0, d1, d2] = shape.map(|d| d as usize);
    let len = shape[axis as usize] as usize;
    patterned(dtype, programs as usize * d0 * d1 * d2, seed, |i| {
        let (p, c) = (i / (d0 * d1 * d2), [i / (d1 * d2) % d0, i / d2 % d1, i % d2]);
        let others: Vec<usize> = (0..3).filter(|&a| a != axis as usize).map(|a| c[a]).collect();
        (p * 7 + others[0] * 3 + others[1], c[axis as usize] * 8 >= len * 5)
    })
}

fn runtimes() -> Vec<(&'static str, Runtime)> {
    let options =
        || RuntimeOptions { cache_dir: None, dump_dir: None, mode: LaunchMode::Checked, ..RuntimeOptions::default() };
    vec![("cpu", Runtime::cpu_with(options())), ("simt", Runtime::simt_with(options(), 2))]
}

fn check_reductions(shapes: &[([u32; 3], u32)], joint_only: bool, operand: Operand) {
    let mut failures = Vec::new();
    for (backend, rt) in runtimes() {
        for &(shape, axis) in shapes {
            let suites = DType::ALL.into_iter().flat_map(|d| suite_ops(d, joint_only).into_iter().map(move |s| (d, s)));
            for (dtype, ops) in suites {
                let k = reduce_kernel(dtype, shape, axis, &ops, operand);
                let n: u32 = shape.iter().product();
                let m = (n / shape[axis as usize]) as usize;
                let x = line_input(dtype, shape, axis, PROGRAMS, u64::from(n + axis));
                let outs: Vec<(DType, usize)> =
                    ops.iter().map(|op| (out_dtype(dtype, op), m * PROGRAMS as usize)).collect();
                let (want, got) = run_both(&rt, &k, PROGRAMS, dtype, &x, &outs);
                for (op, ((d, _), (w, g))) in ops.iter().zip(outs.iter().zip(want.iter().zip(&got))) {
                    if let Err(e) = agree(*d, op, shape[axis as usize], w, g) {
                        failures.push(format!("{backend} {} `{op}`: {e}", k.name));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}

/// Axes of 2 and 4 elements, first, middle and last: computed where they are used.
#[test]
fn fused_short_axis_reductions_match_the_interpreter() {
    let shapes = [([2, 8, 16], 0), ([4, 4, 8], 0), ([8, 2, 16], 1), ([4, 4, 16], 1), ([16, 8, 2], 2), ([8, 16, 4], 2)];
    check_reductions(&shapes, false, Operand::Loaded);
}

/// Outer axes of 8 to 128 elements over 16 to 256 outputs: strips of up to 64 outputs
/// (four vectors of 16), narrower where the outputs below the axis are fewer.
#[test]
fn strip_reductions_along_outer_axes_match_the_interpreter() {
    check_reductions(
        &[([16, 16, 16], 0), ([128, 2, 4], 0), ([8, 32, 8], 1), ([2, 8, 64], 1), ([64, 4, 1], 0)],
        false,
        Operand::Loaded,
    );
}

/// Integer sums, max and min, and f32 max and min, along the last axis over at least 16
/// lines: groups of 16 lines merged in one shuffle tree (lines of 8 two to a vector);
/// lines of exactly the lanes and of more; a group spread over two dims (its loop cut
/// inside the group); and too few lines (the tree per line). The inputs' runs of NaN and
/// infinities give f32 lines that are NaN only or whose one number is an infinity: the
/// group's rescans.
#[test]
fn jointly_merged_line_reductions_match_the_interpreter() {
    let last_axis = [[1, 16, 16], [4, 16, 16], [2, 32, 8], [1, 16, 64], [4, 4, 16], [2, 2, 32], [1, 8, 16], [2, 8, 8]];
    check_reductions(&last_axis.map(|shape| (shape, 2)), true, Operand::Loaded);
}

/// Lines of 8 merged jointly when the operand takes a per-lane value broadcast over the
/// lines: the loop over a group's whole lines runs 16 lanes wide, over two lines, and
/// indexes the broadcast by splitting its variable (`i & 7`); a group in one dim, over
/// two, and a block of many groups.
#[test]
fn jointly_merged_lines_of_eight_with_a_lane_operand_match_the_interpreter() {
    let last_axis = [[1, 16, 8], [4, 4, 8], [2, 64, 8], [1, 32, 16]];
    check_reductions(&last_axis.map(|shape| (shape, 2)), true, Operand::PlusLane);
}

/// Lines of exactly the lanes give each state slot one element: an integer sum's state
/// is stored as that element, without the identity stored first, which LLVM cannot
/// remove once its loop vectorizer has made the lane loop one vector store (packing a
/// code word: one 64-byte store of two). The results are checked above.
#[test]
fn lines_of_one_element_a_lane_store_no_identity_first() {
    for (shape, joint) in [([1, 16, 16], true), ([1, 8, 16], false)] {
        let k = reduce_kernel(DType::U32, shape, 2, &["sum", "max"], Operand::Loaded);
        let ir = compile(&k, &CodegenOptions { emit_text: true, ..Default::default() }).unwrap().llvm_ir;
        let identities = ir.matches("store <16 x i32> zeroinitializer").count();
        assert_eq!(identities, 0, "{} ({}): identity stores\n{ir}", k.name, if joint { "joint" } else { "per line" });
    }
}

#[test]
fn tiled_transposes_match_the_interpreter() {
    let mut failures = Vec::new();
    for (backend, rt) in runtimes() {
        for (rows, cols) in [(8, 8), (16, 64), (64, 16), (8, 32), (4, 32)] {
            for dtype in DType::ALL {
                let k = trans_kernel(dtype, rows, cols);
                let n = (PROGRAMS * rows * cols) as usize;
                let x = input(dtype, n, u64::from(rows * cols));
                let (want, got) = run_both(&rt, &k, PROGRAMS, dtype, &x, &[(dtype, n)]);
                if want[0] != got[0] {
                    failures.push(format!("{backend} {}: transposes differ", k.name));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_butterfly_with_interleaved_pairs_matches_the_interpreter() {
    for (backend, rt) in runtimes() {
        for (h, lanes) in [(8, 16), (64, 16), (2, 32)] {
            let k = butterfly_kernel(h, lanes);
            let n = (PROGRAMS * h * lanes) as usize;
            let x = input(DType::F32, n, 7);
            let (want, got) = run_both(&rt, &k, PROGRAMS, DType::F32, &x, &[(DType::F32, n)]);
            if let Err(e) = agree(DType::F32, "sum", 2, &want[0], &got[0]) {
                panic!("{backend} butterfly {h}x{lanes}: {e}");
            }
        }
    }
}

/// A fused reduction of a masked load whose masked-off lanes all lie in the reduced
/// axis's second row: the sink's own lanes are all valid, the loads behind them are not
/// (the SIMT emulation's unmasked fast path, taken by a thread whose several lanes are
/// all valid, must not read them).
#[test]
fn fused_reductions_of_masked_loads_match_the_interpreter() {
    let (rows, cols) = (2u32, 512u32);
    let block = rows * cols;
    let n = (PROGRAMS * block - cols / 2) as i32;
    let n_param = Param { name: "n".into(), kind: ParamKind::Scalar(DType::I32) };
    let params = vec![ptr("x", DType::F32, false), ptr("y", DType::F32, true), n_param];
    let k = build_kernel("masked_pairs", params, |a| {
        let offs = program_id(0) * block + arange(block);
        let x = load_masked(a[0] + offs, lt(offs, a[2])).reshape([rows, cols]);
        store(a[1] + (program_id(0) * cols + arange(cols)), x.sum(0));
    })
    .unwrap();
    let x: Vec<f32> = (0..PROGRAMS * block).map(|i| i as f32 * 0.5 - 7.0).collect();
    let mut want_x: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
    let mut want = vec![0u8; (PROGRAMS * cols) as usize * 4];
    let n_const = Const { dtype: DType::I32, lit: Lit::Int(i64::from(n)) };
    let mut args = vec![ArgValue::Buffer(&mut want_x), ArgValue::Buffer(&mut want), ArgValue::Scalar(n_const)];
    interp::run(&k, [PROGRAMS, 1, 1], &mut args).unwrap();
    for (backend, rt) in runtimes() {
        let compiled = rt.compile_kernel(&k).unwrap();
        let xb = HostBuffer::from_slice(&x);
        let mut y = HostBuffer::zeros(DType::F32, (PROGRAMS * cols) as usize);
        rt.launch(&compiled, [PROGRAMS, 1, 1], &mut [Arg::Buf(&xb), Arg::BufMut(&mut y), Arg::i32(n)])
            .unwrap_or_else(|e| panic!("{backend}: {e}"));
        let first_diff = y.as_bytes().chunks_exact(4).zip(want.chunks_exact(4)).position(|(g, w)| g != w);
        assert_eq!(first_diff, None, "{backend}: first differing element");
    }
}
