//! Pointer arithmetic, masked loads and stores, program order, and table gathers.

use aqua_dsl::build::*;
use aqua_dsl::interp::ArgValue;
use aqua_dsl::DType;

use super::harness::*;

#[test]
fn masked_loads_at_the_buffer_edge_take_other_or_zero() {
    let params = [
        ("x", input(DType::F32)),
        ("a", output(DType::F32)),
        ("b", output(DType::F32)),
        ("n", scalar(DType::I32)),
    ];
    let k = build("edge", &params, |p| {
        let offs = arange(8);
        let m = lt(offs, p[3]);
        store(p[1] + offs, load_masked_or(p[0] + offs, m, -1.0));
        store(p[2] + offs, load_masked(p[0] + offs, m));
    });
    // The input holds exactly 5 elements: lanes 5..8 would be out of bounds.
    let (mut x, mut a, mut b) = (
        bytes(&[1.0f32, 2.0, 3.0, 4.0, 5.0]),
        zeroed::<f32>(8),
        bytes(&[9.0f32; 8]),
    );
    let n = aqua_dsl::ir::Const::from_i64(DType::I32, 5);
    run_ok(
        &k,
        [1, 1, 1],
        &mut [
            ArgValue::Buffer(&mut x),
            ArgValue::Buffer(&mut a),
            ArgValue::Buffer(&mut b),
            ArgValue::Scalar(n),
        ],
    );
    assert_eq!(
        elems::<f32>(&a),
        vec![1.0, 2.0, 3.0, 4.0, 5.0, -1.0, -1.0, -1.0]
    );
    assert_eq!(
        elems::<f32>(&b),
        vec![1.0, 2.0, 3.0, 4.0, 5.0, 0.0, 0.0, 0.0]
    );
}

#[test]
fn a_grid_covers_a_tail_that_is_not_a_multiple_of_the_block() {
    let params = [
        ("x", input(DType::F32)),
        ("y", output(DType::F32)),
        ("n", scalar(DType::I32)),
    ];
    let k = build("axpy", &params, |p| {
        let offs = program_id(0) * 16 + arange(16);
        let m = lt(offs, p[2]);
        let x = load_masked(p[0] + offs, m);
        let y = load_masked(p[1] + offs, m);
        store_masked(p[1] + offs, x * 2.0 + y, m);
    });
    let x: Vec<f32> = (0..37).map(|i| i as f32 * 0.5).collect();
    let y: Vec<f32> = (0..37).map(|i| 100.0 - i as f32).collect();
    // One element more in y than n: the last must stay untouched.
    let mut yb = bytes(&[y.clone(), vec![-7.0]].concat());
    let mut xb = bytes(&x);
    let n = aqua_dsl::ir::Const::from_i64(DType::I32, 37);
    run_ok(
        &k,
        [3, 1, 1],
        &mut [
            ArgValue::Buffer(&mut xb),
            ArgValue::Buffer(&mut yb),
            ArgValue::Scalar(n),
        ],
    );
    let want: Vec<f32> = x
        .iter()
        .zip(&y)
        .map(|(a, b)| a * 2.0 + b)
        .chain([-7.0])
        .collect();
    assert_eq!(elems::<f32>(&yb), want);
}

#[test]
fn aliasing_stores_keep_the_highest_lane_and_the_last_program() {
    let k = build("alias", &[("out", output(DType::I32))], |p| {
        let lanes = arange(8);
        // Every lane writes element 0: lane 7 wins.
        store(
            p[0] + zeros::<i32>([8]),
            lanes + program_id(0) * 100 + program_id(1) * 1000,
        );
    });
    let mut out = zeroed::<i32>(1);
    run_ok(&k, [1, 1, 1], &mut [ArgValue::Buffer(&mut out)]);
    assert_eq!(elems::<i32>(&out), vec![7]);
    // Programs run in order p = x + gx * y: the last is (x=1, y=2).
    run_ok(&k, [2, 3, 1], &mut [ArgValue::Buffer(&mut out)]);
    assert_eq!(elems::<i32>(&out), vec![2107]);
}

#[test]
fn program_coordinates() {
    let k = build("coords", &[("out", output(DType::I32))], |p| {
        let (x, y, z) = (program_id(0), program_id(1), program_id(2));
        let (gx, gy) = (num_programs(0), num_programs(1));
        let linear = x + gx * (y + gy * z);
        let code = x + y * 10 + z * 100 + num_programs(2) * 1000;
        store(p[0] + linear, code);
    });
    let mut out = zeroed::<i32>(12);
    run_ok(&k, [3, 2, 2], &mut [ArgValue::Buffer(&mut out)]);
    let want: Vec<i32> = (0..2)
        .flat_map(|z| (0..2).flat_map(move |y| (0..3).map(move |x| x + y * 10 + z * 100 + 2000)))
        .collect();
    assert_eq!(elems::<i32>(&out), want);
    // A grid with an empty axis runs nothing.
    let mut untouched = bytes(&[5i32; 12]);
    run_ok(&k, [3, 0, 2], &mut [ArgValue::Buffer(&mut untouched)]);
    assert_eq!(elems::<i32>(&untouched), vec![5; 12]);
}

#[test]
fn offsets_of_any_integer_type_and_masked_negative_offsets() {
    let params = [("x", input(DType::I32)), ("out", output(DType::I32))];
    let k = build("offsets", &params, |p| {
        let lanes = arange(4);
        // u8 offsets zero-extend: 255 is element 255, not -1.
        let u = (lanes + 252).cast::<u8>();
        let a = load_masked_or(p[0] + u, lt(lanes, 4), 0);
        // i64 offsets, shifted down by 2: lanes 0 and 1 point before the buffer, masked.
        let s = lanes.cast::<i64>() - 2;
        let b = load_masked_or(p[0] + s, ge(s, 0i64), -9);
        store(p[1] + lanes, a);
        store(p[1] + (lanes + 4), b);
        store(p[1] + 8 - 0, load((p[0] + 258) - 3));
    });
    let x: Vec<i32> = (0..256).map(|i| i * 3).collect();
    let (mut xb, mut out) = (bytes(&x), zeroed::<i32>(9));
    run_ok(
        &k,
        [1, 1, 1],
        &mut [ArgValue::Buffer(&mut xb), ArgValue::Buffer(&mut out)],
    );
    assert_eq!(
        elems::<i32>(&out),
        vec![252 * 3, 253 * 3, 254 * 3, 255 * 3, -9, -9, 0, 3, 255 * 3]
    );
}

#[test]
fn bool_buffers_are_bytes() {
    let params = [("x", input(DType::Bool)), ("out", output(DType::Bool))];
    let k = build("bools", &params, |p| {
        let offs = arange(4);
        store(p[1] + offs, !load(p[0] + offs));
    });
    let (mut x, mut out) = (vec![1u8, 0, 1, 0], zeroed::<bool>(4));
    run_ok(
        &k,
        [1, 1, 1],
        &mut [ArgValue::Buffer(&mut x), ArgValue::Buffer(&mut out)],
    );
    assert_eq!(out, vec![0, 1, 0, 1]);
}

#[test]
fn gather_clamps_indices_into_the_table() {
    let r: Vec<f32> = eval1::<i32, f32>(&[-5, 0, 3, 7, 2, i32::MIN, i32::MAX], |i| {
        const_table::<f32, f32>(&[10.0, 20.0, 30.0, 40.0]).gather(i)
    });
    assert_eq!(r, vec![10.0, 10.0, 40.0, 40.0, 30.0, 10.0, 40.0]);
    // u8 indices zero-extend; an i8 table keeps its dtype.
    let r: Vec<i8> = eval1::<u8, i8>(&[0, 1, 255], |i| const_table::<i8, i8>(&[-3, 4]).gather(i));
    assert_eq!(r, vec![-3, 4, 4]);
}
