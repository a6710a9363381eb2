//! Reductions along each axis, argmax/argmin ties and NaN, and `dot`.

use aqua_dsl::build::*;
use aqua_dsl::interp::ArgValue;
use aqua_dsl::DType;
use half::f16;

use super::harness::*;

const ROWS: usize = 4;
const COLS: usize = 8;

/// Loads `x` as a [4, 8] block, applies `f` and stores its 1-D result of `out_len` elements.
fn on_block<T: Elt, U: Elt>(
    x: &[T],
    out_len: u32,
    f: impl Fn(Value) -> Value + Sync + 'static,
) -> Vec<U> {
    assert_eq!(x.len(), ROWS * COLS);
    let k = build(
        "reduce2d",
        &[("x", input(T::DTYPE)), ("out", output(U::DTYPE))],
        move |p| {
            let offs = arange(ROWS as u32).expand_dims(1) * COLS as i32
                + arange(COLS as u32).expand_dims(0);
            let r = f(load(p[0] + offs));
            store(p[1] + arange(out_len), r);
        },
    );
    let (mut xb, mut out) = (bytes(x), zeroed::<U>(out_len as usize));
    run_ok(
        &k,
        [1, 1, 1],
        &mut [ArgValue::Buffer(&mut xb), ArgValue::Buffer(&mut out)],
    );
    elems(&out)
}

/// The lines of a row-major [4, 8] block along `axis`, in result order.
fn lines<T: Copy>(x: &[T], axis: usize) -> Vec<Vec<T>> {
    if axis == 0 {
        (0..COLS)
            .map(|c| (0..ROWS).map(|r| x[r * COLS + c]).collect())
            .collect()
    } else {
        (0..ROWS)
            .map(|r| x[r * COLS..(r + 1) * COLS].to_vec())
            .collect()
    }
}

fn first_index_of_best(line: &[i32], max: bool) -> i32 {
    let best = if max {
        line.iter().max()
    } else {
        line.iter().min()
    }
    .unwrap();
    line.iter().position(|v| v == best).unwrap() as i32
}

#[test]
fn integer_reductions_along_each_axis() {
    // Values with repeats, so argmax/argmin ties occur along both axes.
    let x: Vec<i32> = (0..32).map(|i| (i * 7 % 5) - 2).collect();
    for axis in [0u32, 1] {
        let n = if axis == 0 { COLS } else { ROWS } as u32;
        let l = lines(&x, axis as usize);
        let sum: Vec<i32> = on_block(&x, n, move |v| v.sum(axis));
        let max: Vec<i32> = on_block(&x, n, move |v| v.max(axis));
        let min: Vec<i32> = on_block(&x, n, move |v| v.min(axis));
        let amax: Vec<i32> = on_block(&x, n, move |v| v.argmax(axis));
        let amin: Vec<i32> = on_block(&x, n, move |v| v.argmin(axis));
        assert_eq!(
            sum,
            l.iter().map(|v| v.iter().sum()).collect::<Vec<i32>>(),
            "axis {axis}"
        );
        assert_eq!(
            max,
            l.iter()
                .map(|v| *v.iter().max().unwrap())
                .collect::<Vec<_>>(),
            "axis {axis}"
        );
        assert_eq!(
            min,
            l.iter()
                .map(|v| *v.iter().min().unwrap())
                .collect::<Vec<_>>(),
            "axis {axis}"
        );
        assert_eq!(
            amax,
            l.iter()
                .map(|v| first_index_of_best(v, true))
                .collect::<Vec<_>>(),
            "axis {axis}"
        );
        assert_eq!(
            amin,
            l.iter()
                .map(|v| first_index_of_best(v, false))
                .collect::<Vec<_>>(),
            "axis {axis}"
        );
    }
    // Integer sums wrap in their own type.
    let big = vec![100i8; 32];
    let s: Vec<i8> = on_block(&big, 4, |v| v.sum(1));
    assert_eq!(s, vec![800i32 as i8; 4]);
}

#[test]
fn float_reductions_along_each_axis() {
    let x: Vec<f32> = (0..32)
        .map(|i| ((i * 13 % 11) as f32 - 5.0) * 0.25)
        .collect();
    for axis in [0u32, 1] {
        let n = if axis == 0 { COLS } else { ROWS } as u32;
        let l = lines(&x, axis as usize);
        let sum: Vec<f32> = on_block(&x, n, move |v| v.sum(axis));
        let max: Vec<f32> = on_block(&x, n, move |v| v.max(axis));
        let amin: Vec<i32> = on_block(&x, n, move |v| v.argmin(axis));
        // Quarter-integers: every partial sum is exact, so any order gives these.
        assert_eq!(
            sum,
            l.iter().map(|v| v.iter().sum()).collect::<Vec<f32>>(),
            "axis {axis}"
        );
        assert_eq!(
            max,
            l.iter()
                .map(|v| v.iter().cloned().fold(f32::MIN, f32::max))
                .collect::<Vec<_>>()
        );
        let want: Vec<i32> = l
            .iter()
            .map(|v| {
                let m = v.iter().cloned().fold(f32::MAX, f32::min);
                v.iter().position(|&e| e == m).unwrap() as i32
            })
            .collect();
        assert_eq!(amin, want, "axis {axis}");
    }
}

#[test]
fn argmax_ties_and_nan() {
    let nan = f32::NAN;
    let mut x = vec![0.0f32; 32];
    x[..8].copy_from_slice(&[1.0, 3.0, 3.0, nan, 3.0, 0.0, -1.0, 2.0]); // tie: index 1
    x[8..16].copy_from_slice(&[nan, nan, -5.0, nan, -5.0, nan, nan, nan]); // NaN skipped: index 2
    x[16..24].copy_from_slice(&[nan; 8]); // all NaN: index 0, value NaN
    x[24..].copy_from_slice(&[-0.0, 0.0, 0.0, -0.0, 0.0, 0.0, 0.0, 0.0]); // zeros tie: index 0
    assert_eq!(
        on_block::<f32, i32>(&x, 4, |v| v.argmax(1)),
        vec![1, 2, 0, 0]
    );
    assert_eq!(
        on_block::<f32, i32>(&x, 4, |v| v.argmin(1)),
        vec![6, 2, 0, 0]
    );
    let max: Vec<f32> = on_block(&x, 4, |v| v.max(1));
    assert_eq!((max[0], max[1]), (3.0, -5.0));
    assert!(max[2].is_nan());
    let min: Vec<f32> = on_block(&x, 4, |v| v.min(1));
    assert_eq!((min[0], min[1]), (-1.0, -5.0));
    let flags: Vec<bool> = (0..32).map(|i| i % 8 == 5 || i % 8 == 6).collect();
    assert_eq!(
        on_block::<bool, i32>(&flags, 4, |v| v.argmax(1)),
        vec![5; 4]
    );
    assert_eq!(
        on_block::<bool, i32>(&flags, 4, |v| v.argmin(1)),
        vec![0; 4]
    );
}

#[test]
fn half_sums_accumulate_in_f32() {
    // In f16, 2048 + 1 rounds back to 2048 every time; in f32 the sum is 2055, which
    // rounds once to 2056 (a tie between 2054 and 2056, even wins).
    let mut x = vec![f16::ONE; 32];
    x[0] = f16::from_f32(2048.0);
    let s: Vec<f16> = on_block(&x, 4, |v| v.sum(1));
    assert_eq!(
        s.iter().map(|v| v.to_f32()).collect::<Vec<_>>(),
        vec![2056.0, 8.0, 8.0, 8.0]
    );
}

#[test]
fn three_d_reduction_removes_the_middle_axis() {
    let x: Vec<i32> = (0..32).collect();
    let r: Vec<i32> = on_block(&x, 8, |v| v.reshape([2, 4, 4]).sum(1).reshape([8]));
    // [2,4,4] summed over the middle axis: r[a][c] = sum_b x[a*16 + b*4 + c].
    let want: Vec<i32> = (0..2)
        .flat_map(|a| (0..4).map(move |c| (0..4).map(|b| a * 16 + b * 4 + c).sum::<i32>()))
        .collect();
    assert_eq!(r, want);
}

#[test]
fn dot_accumulates_in_f32_and_adds_acc() {
    let a: Vec<f32> = (0..8).map(|i| i as f32 * 0.5 - 1.0).collect(); // [2, 4]
    let b: Vec<f32> = (0..8).map(|i| 2.0 - i as f32).collect(); // [4, 2]
    let acc: Vec<f32> = vec![0.25, -0.5, 1.0, 100.0]; // [2, 2]
    let params = [
        ("a", input(DType::F32)),
        ("b", input(DType::F32)),
        ("c", input(DType::F32)),
        ("out", output(DType::F32)),
        ("h", output(DType::F32)),
    ];
    let k = build("dot", &params, |p| {
        let ra = arange(2).expand_dims(1) * 4 + arange(4).expand_dims(0);
        let rb = arange(4).expand_dims(1) * 2 + arange(2).expand_dims(0);
        let rc = arange(2).expand_dims(1) * 2 + arange(2).expand_dims(0);
        let (x, y) = (load(p[0] + ra), load(p[1] + rb));
        store(p[3] + rc, dot_acc(x, y, load(p[2] + rc)));
        // The same product from f16 operands (all values are exact in f16).
        store(p[4] + rc, dot(x.cast::<f16>(), y.cast::<f16>()));
    });
    let (mut ab, mut bb, mut cb, mut out, mut h) = (
        bytes(&a),
        bytes(&b),
        bytes(&acc),
        zeroed::<f32>(4),
        zeroed::<f32>(4),
    );
    run_ok(
        &k,
        [1, 1, 1],
        &mut [
            ArgValue::Buffer(&mut ab),
            ArgValue::Buffer(&mut bb),
            ArgValue::Buffer(&mut cb),
            ArgValue::Buffer(&mut out),
            ArgValue::Buffer(&mut h),
        ],
    );
    let mut want = vec![0.0f32; 4];
    let mut plain = vec![0.0f32; 4];
    for i in 0..2 {
        for j in 0..2 {
            want[i * 2 + j] = acc[i * 2 + j];
            for p in 0..4 {
                want[i * 2 + j] += a[i * 4 + p] * b[p * 2 + j];
                plain[i * 2 + j] += a[i * 4 + p] * b[p * 2 + j];
            }
        }
    }
    assert_eq!(elems::<f32>(&out), want);
    assert_eq!(elems::<f32>(&h), plain);
}
