//! The CPU backend end to end: kernels built with the builder API, compiled by
//! `aqua_dsl::codegen`, linked and loaded by `aqua_runtime::backend::cpu`, and compared
//! with the reference interpreter (bit for bit, NaN as NaN, except float sums) and with
//! values computed here in plain Rust.

#[path = "cpu_backend/harness.rs"]
mod harness;
#[path = "cpu_backend/loads.rs"]
mod loads;
#[path = "cpu_backend/perf.rs"]
mod perf;
#[path = "cpu_backend/stores.rs"]
mod stores;

use aqua_dsl::build::*;
use aqua_dsl::ir::{BinOp, CmpPred, DType, UnOp};
use half::{bf16, f16};
use harness::*;

const ALL: [DType; 9] = DType::ALL;

/// Edge values of every dtype (as f64 or i64), then random ones.
fn values(d: DType, n: usize, rng: &mut Rng) -> Arg {
    let mut out = Vec::with_capacity(n);
    if d.is_float() {
        let edges = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.5,
            2.5,
            3.5,
            -2.5,
            7.25,
            -7.25,
            1e-3,
            65504.0,
            1e30,
            -1e30,
            3e38,
            1e-40,
            1e-6,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            100.0,
            -0.4,
            2049.0,
            1.0e5,
        ];
        for i in 0..n {
            let v = if i < edges.len() { edges[i] } else { rng.float(300.0) as f64 };
            out.push(aqua_dsl::ir::Const::from_f64(d, v));
        }
    } else {
        let (lo, hi) = d.int_range().unwrap();
        let edges = [0, 1, -1, lo, hi, 2, -2, 7, 8, 31, 32, 33, 63, 64, 100, -100, lo + 1, hi - 1];
        for i in 0..n {
            let v = if i < edges.len() { edges[i] } else { rng.next() as i64 };
            let v = if d == DType::Bool { v & 1 } else { v };
            out.push(aqua_dsl::ir::Const::from_i64(d, v.clamp(lo, hi).max(lo)));
        }
    }
    let bytes = out
        .iter()
        .flat_map(|c| match d {
            DType::Bool => vec![(c.as_i64() != 0) as u8],
            DType::F32 => (c.as_f64() as f32).to_le_bytes().to_vec(),
            DType::F16 => f16::from_f64(c.as_f64()).to_le_bytes().to_vec(),
            DType::BF16 => bf16::from_f64(c.as_f64()).to_le_bytes().to_vec(),
            _ => c.as_i64().to_le_bytes()[..d.size_bytes()].to_vec(),
        })
        .collect();
    Arg::Buf(d, bytes)
}

/// A permutation of `a`'s elements (so binary ops see many pairs).
fn shuffled(a: &Arg, rng: &mut Rng) -> Arg {
    let Arg::Buf(d, b) = a else { unreachable!() };
    let size = d.size_bytes();
    let mut chunks: Vec<&[u8]> = b.chunks(size).collect();
    for i in (1..chunks.len()).rev() {
        chunks.swap(i, (rng.next() % (i as u64 + 1)) as usize);
    }
    Arg::Buf(*d, chunks.concat())
}

/// Programs of `BLOCK` elements over `N` elements (not a multiple: the last is masked).
const BLOCK: u32 = 64;
const N: usize = 150;
const GRID: [u32; 3] = [3, 1, 1];

fn binary_ops(d: DType) -> Vec<BinOp> {
    BinOp::ALL
        .into_iter()
        .filter(|op| match d {
            DType::Bool => matches!(op, BinOp::And | BinOp::Or | BinOp::Xor | BinOp::Min | BinOp::Max),
            d if d.is_float() => !op.is_bitwise(),
            _ => true,
        })
        .collect()
}

fn unary_ops(d: DType) -> Vec<UnOp> {
    UnOp::ALL
        .into_iter()
        .filter(|op| match d {
            DType::Bool => *op == UnOp::Not,
            d if d.is_float() => *op != UnOp::Not,
            _ => matches!(op, UnOp::Neg | UnOp::Not | UnOp::Abs),
        })
        .collect()
}

fn apply_binary(op: BinOp, a: Value, b: Value) -> Value {
    match op {
        BinOp::Add => a + b,
        BinOp::Sub => a - b,
        BinOp::Mul => a * b,
        BinOp::Div => a / b,
        BinOp::Rem => a % b,
        BinOp::Min => minimum(a, b),
        BinOp::Max => maximum(a, b),
        BinOp::And => bit_and(a, b),
        BinOp::Or => bit_or(a, b),
        BinOp::Xor => bit_xor(a, b),
        BinOp::Shl => shl(a, b),
        BinOp::Shr => shr(a, b),
    }
}

fn apply_unary(op: UnOp, a: Value) -> Value {
    match op {
        UnOp::Neg => neg(a),
        UnOp::Not => not(a),
        UnOp::Abs => abs(a),
        UnOp::Sqrt => sqrt(a),
        UnOp::Rsqrt => rsqrt(a),
        UnOp::Exp => exp(a),
        UnOp::Log => log(a),
        UnOp::Floor => floor(a),
        UnOp::Ceil => ceil(a),
        UnOp::Round => round(a),
    }
}

fn apply_cmp(p: CmpPred, a: Value, b: Value) -> Value {
    match p {
        CmpPred::Eq => eq(a, b),
        CmpPred::Ne => ne(a, b),
        CmpPred::Lt => lt(a, b),
        CmpPred::Le => le(a, b),
        CmpPred::Gt => gt(a, b),
        CmpPred::Ge => ge(a, b),
    }
}

/// `offs` of this program and the mask `offs < n` (`n` the last argument).
fn lanes(n: Value) -> (Value, Value) {
    let offs = program_id(0) * BLOCK + arange(BLOCK);
    (offs, offs.lt(n))
}

#[test]
fn elementwise_ops_match_the_interpreter() {
    let mut rng = Rng(7);
    for d in ALL {
        let (bins, uns) = (binary_ops(d), unary_ops(d));
        let outputs = bins.len() + uns.len() + CmpPred::ALL.len() + 1 + d.is_float() as usize;
        let k = kernel(
            "elementwise",
            vec![ptr(d), ptr(d), ptr(d), ptr_mut(d), ptr_mut(DType::Bool), scalar(DType::I32)],
            {
                let (bins, uns) = (bins.clone(), uns.clone());
                move |a| {
                    let (offs, m) = lanes(a[5]);
                    let x = load_masked(a[0] + offs, m);
                    let y = load_masked(a[1] + offs, m);
                    let z = load_masked(a[2] + offs, m);
                    let mut slot = 0;
                    let mut out = |v: Value| {
                        store_masked(a[3] + (offs + slot * N as i32), v, m);
                        slot += 1;
                    };
                    for op in &bins {
                        out(apply_binary(*op, x, y));
                    }
                    for op in &uns {
                        out(apply_unary(*op, x));
                    }
                    out(where_(lt(x, y), x, z));
                    if x.dtype().is_float() {
                        out(fma(x, y, z));
                    }
                    for (i, p) in CmpPred::ALL.into_iter().enumerate() {
                        store_masked(a[4] + (offs + i as i32 * N as i32), apply_cmp(p, x, y), m);
                    }
                }
            },
        );
        let x = values(d, N, &mut rng);
        let (y, z) = (shuffled(&x, &mut rng), shuffled(&x, &mut rng));
        let cmp_n = CmpPred::ALL.len() * N;
        let args = [
            x,
            y,
            z,
            empty(d, (outputs - CmpPred::ALL.len()) * N),
            empty(DType::Bool, cmp_n),
            int(DType::I32, N as i64),
        ];
        check_exact(&k, GRID, &args);
    }
}

#[test]
fn casts_and_bitcasts_match_the_interpreter() {
    let mut rng = Rng(11);
    for from in ALL {
        let mut params = vec![ptr(from)];
        params.extend(ALL.iter().map(|&d| ptr_mut(d)));
        params.push(scalar(DType::I32));
        let k = kernel("casts", params, move |a| {
            let (offs, m) = lanes(a[10]);
            let x = load_masked(a[0] + offs, m);
            for (i, to) in ALL.into_iter().enumerate() {
                store_masked(a[1 + i] + offs, x.cast_to(to), m);
            }
        });
        let mut args = vec![values(from, N, &mut rng)];
        args.extend(ALL.iter().map(|&d| empty(d, N)));
        args.push(int(DType::I32, N as i64));
        check_exact(&k, GRID, &args);
    }
    // Integers that round differently when converted through f32 first.
    let big: Vec<i64> = vec![
        (1 << 62) + (1 << 54),
        (1 << 62) + (1 << 54) + 1,
        (1 << 30) + (1 << 22) + 1,
        -((1 << 40) + 1),
        i64::MIN,
        i64::MAX,
    ];
    let k = kernel("int_to_bf16", vec![ptr(DType::I64), ptr_mut(DType::BF16), ptr_mut(DType::F16)], |a| {
        let offs = arange(8);
        let m = offs.lt(6);
        let x = load_masked(a[0] + offs, m);
        store_masked(a[1] + offs, x.cast::<bf16>(), m);
        store_masked(a[2] + offs, x.cast::<f16>(), m);
    });
    let out = check_exact(&k, [1, 1, 1], &[buf(&big), empty(DType::BF16, 6), empty(DType::F16, 6)]);
    assert_eq!(read::<bf16>(&out[1])[1].to_f64(), 2f64.powi(62) + 2f64.powi(55));

    let k =
        kernel("bitcasts", vec![ptr(DType::F32), ptr(DType::F16), ptr_mut(DType::U32), ptr_mut(DType::BF16)], |a| {
            let offs = arange(4);
            store(a[2] + offs, load(a[0] + offs).bitcast::<u32>());
            store(a[3] + offs, load(a[1] + offs).bitcast::<bf16>());
        });
    let f = [1.5f32, -0.0, f32::NAN, f32::INFINITY];
    let h = [f16::from_f32(1.5), f16::NEG_ZERO, f16::NAN, f16::MAX];
    let out = check_exact(&k, [1, 1, 1], &[buf(&f), buf(&h), empty(DType::U32, 4), empty(DType::BF16, 4)]);
    assert_eq!(read::<u32>(&out[2]), f.map(f32::to_bits).to_vec());
    assert_eq!(read::<bf16>(&out[3]).iter().map(|b| b.to_bits()).collect::<Vec<_>>(), h.map(f16::to_bits).to_vec());
}

#[test]
fn shape_ops_move_elements_like_the_interpreter() {
    let k =
        kernel("shapes", vec![ptr(DType::I32), ptr_mut(DType::I32), ptr_mut(DType::I32), ptr_mut(DType::I32)], |a| {
            let x = load(a[0] + arange(128)); // [128]
            let m = x.reshape([8, 16]);
            let t = m.trans(); // [16, 8]
                               // A row vector broadcast down the rows of the transpose, and a column across.
            let row = x.reshape([16, 8]).max(0).expand_dims(0); // [1, 8]
            let col = t.min(1).expand_dims(1); // [16, 1]
            let mixed = t * 3 + row - col;
            store((a[1] + arange(128)).reshape([16, 8]), mixed);
            // Reshape across a transpose: elements in the transposed order.
            store(a[2] + arange(128), t.reshape([128]));
            // Broadcast a scalar and a [4, 1] column to [4, 32], then trans twice.
            let c = (x.reshape([4, 32]).sum(1).expand_dims(1) + program_id(0)).broadcast_to([4, 32]);
            store((a[3] + arange(128)).reshape([32, 4]), c.trans());
        });
    let mut rng = Rng(3);
    let x: Vec<i32> = (0..128).map(|_| (rng.next() % 1000) as i32 - 500).collect();
    let out =
        check_exact(&k, [1, 1, 1], &[buf(&x), empty(DType::I32, 128), empty(DType::I32, 128), empty(DType::I32, 128)]);
    // Plain Rust for the transpose.
    let t: Vec<i32> = (0..128).map(|i| x[(i % 8) * 16 + i / 8]).collect();
    assert_eq!(read::<i32>(&out[2]), t);
}

#[test]
fn reductions_match_the_interpreter() {
    let mut rng = Rng(5);
    for d in [DType::F32, DType::F16, DType::BF16, DType::I32, DType::U8, DType::I64] {
        for axis in [0u32, 1] {
            let k = kernel(
                "reduce",
                vec![ptr(d), ptr_mut(d), ptr_mut(d), ptr_mut(DType::I32), ptr_mut(DType::I32)],
                move |a| {
                    let x = load(a[0] + arange(512)).reshape([16, 32]);
                    let n = if axis == 0 { 32 } else { 16 };
                    store(a[1] + arange(n), x.max(axis));
                    store(a[2] + arange(n), x.min(axis));
                    store(a[3] + arange(n), x.argmax(axis));
                    store(a[4] + arange(n), x.argmin(axis));
                },
            );
            let x = values(d, 512, &mut rng);
            let n = if axis == 0 { 32 } else { 16 };
            check_exact(&k, [1, 1, 1], &[x, empty(d, n), empty(d, n), empty(DType::I32, n), empty(DType::I32, n)]);
        }
    }
    // Arg reductions over lines of NaN, ties and a NaN first element.
    let k = kernel(
        "argmax_nan",
        vec![ptr(DType::F32), ptr_mut(DType::I32), ptr_mut(DType::I32), ptr_mut(DType::F32)],
        |a| {
            let x = load(a[0] + arange(64)).reshape([4, 16]);
            store(a[1] + arange(4), x.argmax(1));
            store(a[2] + arange(4), x.argmin(1));
            store(a[3] + arange(4), x.max(1));
        },
    );
    let mut x = vec![f32::NAN; 64];
    x[16 + 3] = 2.0; // row 1: one number among NaNs
    x[16 + 9] = 2.0; // a tie: the lower index wins
    for (i, v) in x[32..48].iter_mut().enumerate() {
        *v = (i % 5) as f32; // row 2: max 4 first at 4, min 0 first at 0
    }
    x[48] = f32::NAN; // row 3: NaN first, then numbers
    for (i, v) in x[49..64].iter_mut().enumerate() {
        *v = -(i as f32);
    }
    let out = check_exact(&k, [1, 1, 1], &[buf(&x), empty(DType::I32, 4), empty(DType::I32, 4), empty(DType::F32, 4)]);
    assert_eq!(read::<i32>(&out[1]), vec![0, 3, 4, 1]);
    assert_eq!(read::<i32>(&out[2]), vec![0, 3, 0, 15]);
}

/// Float sums may be ordered differently from the interpreter: within `n` ulps of the
/// sum of magnitudes (each of the n - 1 additions errs by half an ulp of its result).
#[test]
fn float_sums_are_close_and_integer_sums_exact() {
    let mut rng = Rng(9);
    for (rows, cols, axis) in [(1u32, 1024u32, 1u32), (16, 64, 1), (64, 4, 1), (8, 32, 0), (1, 8, 1), (4, 2, 1)] {
        let k =
            kernel("sum", vec![ptr(DType::F32), ptr_mut(DType::F32), ptr(DType::I32), ptr_mut(DType::I32)], move |a| {
                let n = rows * cols;
                let x = load(a[0] + arange(n)).reshape([rows, cols]);
                let i = load(a[2] + arange(n)).reshape([rows, cols]);
                let m = if axis == 0 { cols } else { rows };
                store(a[1] + arange(m), x.sum(axis));
                store(a[3] + arange(m), i.sum(axis));
            });
        let n = (rows * cols) as usize;
        let x: Vec<f32> = (0..n).map(|_| rng.float(100.0)).collect();
        let xi: Vec<i32> = (0..n).map(|_| rng.next() as i32).collect();
        let m = if axis == 0 { cols } else { rows } as usize;
        let j = jit(&k, false);
        let (out, fault) = run_jit(&j, [1, 1, 1], &[buf(&x), empty(DType::F32, m), buf(&xi), empty(DType::I32, m)], 1);
        assert!(fault.is_none());
        let (sums, isums) = (read::<f32>(&out[1]), read::<i32>(&out[3]));
        for o in 0..m {
            let line: Vec<usize> = if axis == 0 {
                (0..rows as usize).map(|r| r * cols as usize + o).collect()
            } else {
                (0..cols as usize).map(|c| o * cols as usize + c).collect()
            };
            let exact: f64 = line.iter().map(|&i| x[i] as f64).sum();
            let mag: f64 = line.iter().map(|&i| x[i].abs() as f64).sum();
            let tol = mag * f32::EPSILON as f64 * line.len() as f64;
            assert!(
                (sums[o] as f64 - exact).abs() <= tol,
                "[{rows},{cols}] axis {axis} line {o}: {} vs {exact}",
                sums[o]
            );
            assert_eq!(isums[o], line.iter().fold(0i32, |s, &i| s.wrapping_add(xi[i])));
        }
    }
}

#[test]
fn dot_matches_the_interpreter() {
    let mut rng = Rng(13);
    for d in [DType::F32, DType::F16, DType::BF16] {
        let k = kernel("dot", vec![ptr(d), ptr(d), ptr(DType::F32), ptr_mut(DType::F32), ptr_mut(DType::F32)], |a| {
            let x = load(a[0] + arange(8 * 16)).reshape([8, 16]);
            let y = load(a[1] + arange(16 * 4)).reshape([16, 4]);
            let c = load(a[2] + arange(32)).reshape([4, 8]);
            store((a[3] + arange(32)).reshape([8, 4]), dot(x, y));
            // Transposed (lazy) operands and an accumulator.
            store((a[4] + arange(32)).reshape([8, 4]), dot_acc(y.trans(), x.trans(), c).trans());
        });
        let x = values(d, 128, &mut rng);
        let y = values(d, 64, &mut rng);
        let c: Vec<f32> = (0..32).map(|_| rng.float(4.0)).collect();
        check_exact(&k, [1, 1, 1], &[x, y, buf(&c), empty(DType::F32, 32), empty(DType::F32, 32)]);
    }
}

#[test]
fn masked_loads_stores_and_gathers() {
    // y[i] = table[x[i]] for i < n, with indices outside the table (clamped), lanes past
    // n untouched, a masked load whose masked lanes would be far out of bounds, and one
    // of x[i - 1], whose first element (masked off) is before the buffer: a block that is
    // one run is addressed from its first element (`llvm/runs.rs`).
    let params =
        vec![ptr(DType::I32), ptr_mut(DType::F32), ptr_mut(DType::I8), ptr_mut(DType::I32), scalar(DType::I32)];
    let k = kernel("gather", params, |a| {
        let (offs, m) = lanes(a[4]);
        let t = const_table::<f32, f32>(&[0.5, -1.0, 2.0, f32::NAN]);
        let i = load_masked_or(a[0] + offs, m, 0);
        store_masked(a[1] + offs, t.gather(i), m);
        let far = load_masked_or(a[0] + (offs * 1000), offs.lt(1), 7);
        store_masked(a[2] + offs, far.cast::<i8>(), m);
        let before = load_masked_or(a[0] + (offs - 1), logical_and(m, offs.ge(1)), 5);
        store_masked(a[3] + offs, before, m);
    });
    let x: Vec<i32> = (0..N as i32).map(|i| i % 7 - 2).collect();
    let y = vec![9.0f32; N + 10];
    let args = [buf(&x), buf(&y), empty(DType::I8, N), empty(DType::I32, N), int(DType::I32, N as i64)];
    let out = check_exact(&k, GRID, &args);
    let got = read::<f32>(&out[1]);
    let table = [0.5, -1.0, 2.0, f32::NAN];
    for (i, &v) in got.iter().enumerate() {
        let want = if i < N { table[(x[i].clamp(0, 3)) as usize] } else { 9.0 };
        assert!(v == want || (v.is_nan() && want.is_nan()), "{i}: {v} vs {want}");
    }
    let far = read::<i8>(&out[2]);
    assert_eq!((far[0], far[1], far[64]), (-2, 7, 7));
    let before = read::<i32>(&out[3]);
    assert_eq!((before[0], before[1], before[N - 1]), (5, x[0], x[N - 2]));
}

#[test]
fn stores_to_aliasing_lanes_keep_the_highest_lane() {
    let k = kernel("alias", vec![ptr_mut(DType::I32)], |a| {
        let offs = arange(16);
        store(a[0] + offs / 4, offs); // lanes 4k..4k+3 all write element k
    });
    let out = check_exact(&k, [1, 1, 1], &[empty(DType::I32, 4)]);
    assert_eq!(read::<i32>(&out[0]), vec![3, 7, 11, 15]);
}

#[test]
fn loops_and_branches_match_the_interpreter() {
    let k = kernel(
        "control",
        vec![ptr(DType::F32), ptr_mut(DType::F32), ptr_mut(DType::I32), scalar(DType::I32), scalar(DType::I32)],
        |a| {
            let (x, y, z, lo, step) = (a[0], a[1], a[2], a[3], a[4]);
            let offs = arange(32);
            let v = load(x + offs).reshape([4, 8]);
            // Carried: a scalar count, a block accumulator, and a pair swapped every step.
            let out = for_range(lo, 10, step, &[lift(0), v, v * 2.0, v.trans()], |i, c| {
                let acc = c[1] + c[0].cast::<f32>() * v;
                let t = c[3].trans() + 1.0; // reads the carried transpose
                vec![c[0] + i, acc, c[2].max(1).expand_dims(1).broadcast_to([4, 8]) + t, c[1].trans()]
            });
            let r = if_else(
                out[0].gt(20),
                || vec![out[1] - out[2], out[0] * 2],
                || vec![out[2] + out[3].trans(), out[0] - 1],
            );
            store((y + arange(32)).reshape([4, 8]), r[0]);
            store(z + offs.min(0), r[1]);
            // A loop that runs no iteration (step <= 0 or lo >= hi) and one near i32::MAX.
            let none = for_range(lo, lo, 1, &[lift(5)], |i, c| vec![c[0] + i]);
            let edge = for_range(2147483600i32, 2147483647i32, 20, &[lift(0)], |_, c| vec![c[0] + 1]);
            store(z + 1, none[0]);
            store(z + 2, edge[0]);
        },
    );
    let mut rng = Rng(17);
    let x: Vec<f32> = (0..32).map(|_| rng.float(3.0)).collect();
    for (lo, step) in [(0, 1), (3, 2), (0, 0), (12, 1), (-5, 3), (0, -1)] {
        let out = check_exact(
            &k,
            [1, 1, 1],
            &[buf(&x), empty(DType::F32, 32), empty(DType::I32, 3), int(DType::I32, lo), int(DType::I32, step)],
        );
        assert_eq!(read::<i32>(&out[2])[1..], [5, 3]);
    }
}

#[test]
fn checked_mode_reports_the_first_out_of_bounds_access() {
    // Program p reads x[p * 16 + i]; the store is masked to lanes below `n`.
    let k = kernel("oob", vec![ptr(DType::F32), ptr_mut(DType::F32), scalar(DType::I32)], |a| {
        let offs = program_id(0) * 16 + arange(16);
        let v = load(a[0] + offs);
        store_masked(a[1] + offs - 3, v, offs.lt(a[2]));
    });
    let checked = jit(&k, true);
    let x = vec![1.0f32; 40]; // programs 0, 1 read in bounds; program 2 reads 32..48
    let args = [buf(&x), empty(DType::F32, 64), int(DType::I32, 40)];
    // Store lanes 0..3 of program 0 write offsets -3..-1: the store faults first.
    let (_, fault) = run_jit(&checked, [4, 1, 1], &args, 2);
    let f = fault.expect("a fault");
    assert_eq!((f.arg, f.is_store, f.offset, f.program), (1, 1, -3, [0, 0, 0]));
    let (_, err) = run_interp(&k, [4, 1, 1], &args);
    assert!(
        matches!(err, Some(aqua_dsl::interp::InterpError::OutOfBounds { arg: 1, offset: -3, is_store: true, .. })),
        "{err:?}"
    );
    // With the store in bounds (programs 1..), the load of program 2 faults at 40.
    let k2 = kernel("oob_load", vec![ptr(DType::F32), ptr_mut(DType::F32)], |a| {
        let offs = program_id(0) * 16 + arange(16);
        let v = load(a[0] + offs);
        store_masked(a[1] + offs, v, offs.lt(40));
    });
    let (_, fault) = run_jit(&jit(&k2, true), [4, 1, 1], &[buf(&x), empty(DType::F32, 64)], 3);
    let f = fault.expect("a fault");
    assert_eq!((f.arg, f.is_store, f.offset, f.program), (0, 0, 40, [2, 0, 0]));
    // Masked lanes never fault, and unchecked code has no checks (nor faults).
    let (out, fault) = run_jit(&jit(&k2, false), [2, 1, 1], &[buf(&x), empty(DType::F32, 64)], 1);
    assert!(fault.is_none());
    assert_eq!(read::<f32>(&out[1])[..32], [1.0; 32]);
}

#[test]
fn multi_program_grids_run_on_several_threads() {
    // out[p] = p + 1000 * (x + y * gx + z * gx * gy) computed from program ids, 3-D grid.
    let k = kernel("grid", vec![ptr_mut(DType::I32)], |a| {
        let (x, y, z) = (program_id(0), program_id(1), program_id(2));
        let (gx, gy) = (num_programs(0), num_programs(1));
        let p = x + (y + z * gy) * gx;
        let offs = p * 4 + arange(4);
        store(a[0] + offs, offs * 10 + num_programs(2));
    });
    let grid = [7, 5, 3];
    let n = 7 * 5 * 3 * 4;
    let j = jit(&k, false);
    for threads in [1, 2, 3, 8] {
        let (out, fault) = run_jit(&j, grid, &[empty(DType::I32, n)], threads);
        assert!(fault.is_none());
        assert_eq!(read::<i32>(&out[0]), (0..n as i32).map(|i| i * 10 + 3).collect::<Vec<_>>(), "{threads} threads");
    }
    check_exact(&k, grid, &[empty(DType::I32, n)]);
}

#[test]
fn objects_only_call_libm() {
    let k = kernel("math", vec![ptr(DType::F32), ptr(DType::F16), ptr(DType::BF16), ptr_mut(DType::F32)], |a| {
        let offs = arange(64);
        let x = load(a[0] + offs);
        let h = load(a[1] + offs);
        let b = load(a[2] + offs);
        let r =
            x.exp() + x.log() + x % 3.0 + h.exp().cast::<f32>() + b.log().cast::<f32>() + fma(h, h, h).cast::<f32>();
        let r = r + (b * b).cast::<f32>() + x.cast::<bf16>().cast::<f32>() + x.cast::<f16>().cast::<f32>() + x.round();
        store(a[3] + offs, r + x.sqrt() + x.rsqrt() + x.floor() + x.ceil());
    });
    let j = jit(&k, true);
    let dir = tempfile::tempdir().unwrap();
    let obj = dir.path().join("k.o");
    std::fs::write(&obj, &j.object).unwrap();
    let nm = std::process::Command::new("nm").arg("-u").arg(&obj).output().expect("nm (binutils) runs");
    let undefined: Vec<String> = String::from_utf8_lossy(&nm.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().last().map(str::to_string))
        .collect();
    let libm = ["exp", "log", "expf", "logf", "fmodf", "fmod", "floorf", "ceilf", "roundevenf", "sqrtf"];
    // The kernel calls exp (nm's output is parsed), and nothing outside libm.
    assert!(undefined.iter().any(|s| s == "exp"), "{undefined:?}");
    for s in &undefined {
        assert!(libm.contains(&s.as_str()), "undefined symbol `{s}` outside libm (all: {undefined:?})");
    }
}

#[test]
fn kernels_with_large_blocks_get_large_stacks() {
    // A 512 KiB stack buffer per program: more than a caller's thread may spare.
    const BIG: u32 = 1 << 17;
    let k = kernel("big", vec![ptr(DType::F32), ptr_mut(DType::F32)], |a| {
        let offs = program_id(0) * BIG + arange(BIG);
        let e = load(a[0] + offs).exp();
        let m = e.max(0);
        store(a[1] + offs, e / m);
    });
    let j = jit(&k, false);
    assert!(j.module.frame_bytes() >= 4 * BIG as u64, "{}", j.module.frame_bytes());
    let x: Vec<f32> = (0..3 * BIG).map(|i| (i % 7) as f32).collect();
    for (grid, threads) in [(1, 1), (3, 1), (3, 2)] {
        let n = (grid * BIG) as usize;
        let (out, fault) = run_jit(&j, [grid, 1, 1], &[buf(&x[..n]), empty(DType::F32, n)], threads);
        assert!(fault.is_none());
        let y = read::<f32>(&out[1]);
        let want = ((x[0] as f64).exp() / 6f64.exp()) as f32;
        assert!((y[0] - want).abs() <= want * 1e-6, "{} vs {want}", y[0]);
    }
}
