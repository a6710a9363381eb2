//! Runtime `for` loops (carried values, trip counts at the edges) and `if`/`else`.

use aqua_dsl::build::*;
use aqua_dsl::interp::ArgValue;
use aqua_dsl::ir::{Const, Kernel};
use aqua_dsl::DType;

use super::harness::*;

/// for (i = lo; i < hi; i += step) { sum += i; count += 1; v += i } with i32 bounds.
fn loop_kernel() -> Kernel {
    let params = [
        ("lo", scalar(DType::I32)),
        ("hi", scalar(DType::I32)),
        ("step", scalar(DType::I32)),
        ("out", output(DType::I32)),
        ("v", output(DType::F32)),
    ];
    build("loop", &params, |p| {
        let init = [lift(0), lift(0), zeros::<f32>([4])];
        let r = for_range(p[0], p[1], p[2], &init, |i, c| {
            vec![
                c[0] + i,
                c[1] + 1,
                c[2] + (i % 100).cast::<f32>() + arange(4).cast::<f32>(),
            ]
        });
        store(p[3], r[0]);
        store(p[3] + 1, r[1]);
        store(p[4] + arange(4), r[2]);
    })
}

fn run_loop(k: &Kernel, lo: i32, hi: i32, step: i32) -> (i32, i32, Vec<f32>) {
    let (mut out, mut v) = (zeroed::<i32>(2), zeroed::<f32>(4));
    let c = |x| ArgValue::Scalar(Const::from_i64(DType::I32, x as i64));
    run_ok(
        k,
        [1, 1, 1],
        &mut [
            c(lo),
            c(hi),
            c(step),
            ArgValue::Buffer(&mut out),
            ArgValue::Buffer(&mut v),
        ],
    );
    let out = elems::<i32>(&out);
    (out[0], out[1], elems(&v))
}

#[test]
fn for_loops_run_the_exact_trip_count_and_carry_values() {
    let k = loop_kernel();
    let cases = [
        (0, 10, 3),
        (-7, 7, 2),
        (5, 5, 1),                   // empty range
        (10, 0, 1),                  // hi < lo
        (0, 10, 0),                  // step 0: no iteration
        (0, 10, -1),                 // negative step: no iteration
        (i32::MAX - 5, i32::MAX, 2), // would overflow if i += step were checked past hi
        (i32::MIN, i32::MIN + 3, 1),
        (0, 10, i32::MAX),
        (i32::MIN, i32::MAX, 1 << 30),
    ];
    for (lo, hi, step) in cases {
        let (mut sum, mut count, mut v) = (0i32, 0i32, vec![0.0f32; 4]);
        let mut i = lo as i64;
        while step > 0 && i < hi as i64 {
            sum = sum.wrapping_add(i as i32);
            count += 1;
            for (j, e) in v.iter_mut().enumerate() {
                *e += (i as i32 % 100) as f32 + j as f32;
            }
            i += step as i64;
        }
        assert_eq!(
            run_loop(&k, lo, hi, step),
            (sum, count, v),
            "lo {lo}, hi {hi}, step {step}"
        );
    }
    // Spelled out: ceil(10 / 3) = 4 iterations, 0 + 3 + 6 + 9 = 18; zero trips keep init.
    assert_eq!(run_loop(&k, 0, 10, 3).0, 18);
    assert_eq!(run_loop(&k, 0, 10, 3).1, 4);
    assert_eq!(run_loop(&k, 0, 10, 0), (0, 0, vec![0.0; 4]));
    assert_eq!(run_loop(&k, i32::MAX - 5, i32::MAX, 2).1, 3);
}

#[test]
fn unsigned_loop_bounds_near_the_top() {
    let params = [
        ("lo", scalar(DType::U32)),
        ("hi", scalar(DType::U32)),
        ("out", output(DType::U32)),
    ];
    let k = build("uloop", &params, |p| {
        let r = for_range(p[0], p[1], 1u32, &[constant::<u32>(0)], |i, c| {
            vec![c[0] + (i & 0xff)]
        });
        store(p[2], r[0]);
    });
    let mut out = zeroed::<u32>(1);
    let c = |x: u32| ArgValue::Scalar(Const::from_i64(DType::U32, x as i64));
    run_ok(
        &k,
        [1, 1, 1],
        &mut [c(u32::MAX - 3), c(u32::MAX), ArgValue::Buffer(&mut out)],
    );
    assert_eq!(elems::<u32>(&out), vec![0xfc + 0xfd + 0xfe]);
}

#[test]
fn loops_with_stores_and_nested_loops() {
    let params = [("n", scalar(DType::I32)), ("out", output(DType::I32))];
    let k = build("nested", &params, |p| {
        for_range(0, p[0], 1, &[], |i, _| {
            let r = for_range(0, i + 1, 1, &[lift(0)], |j, c| vec![c[0] + j]);
            store(p[1] + i, r[0]);
            vec![]
        });
    });
    let mut out = bytes(&[-1i32; 6]);
    run_ok(
        &k,
        [1, 1, 1],
        &mut [
            ArgValue::Scalar(Const::from_i64(DType::I32, 5)),
            ArgValue::Buffer(&mut out),
        ],
    );
    assert_eq!(elems::<i32>(&out), vec![0, 1, 3, 6, 10, -1]);
}

#[test]
fn if_else_picks_a_branch_and_its_results() {
    let params = [
        ("x", scalar(DType::F32)),
        ("out", output(DType::F32)),
        ("flag", output(DType::I32)),
    ];
    let k = build("branch", &params, |p| {
        let x = p[0];
        let r = if_else(gt(x, 0.0), || vec![x * 2.0, lift(1)], || vec![-x, lift(-1)]);
        store(p[1], r[0]);
        store(p[2], r[1]);
        // A branch with a side effect only: runs only when taken.
        if_then(lt(x, -100.0), || store(p[2], 99));
    });
    for (x, want, flag) in [
        (3.0f32, 6.0f32, 1i32),
        (-2.0, 2.0, -1),
        (0.0, -0.0, -1),
        (f32::NAN, f32::NAN, -1),
        (-500.0, 500.0, 99),
    ] {
        let (mut out, mut f) = (zeroed::<f32>(1), zeroed::<i32>(1));
        let c = ArgValue::Scalar(Const::from_f64(DType::F32, x as f64));
        run_ok(
            &k,
            [1, 1, 1],
            &mut [c, ArgValue::Buffer(&mut out), ArgValue::Buffer(&mut f)],
        );
        assert_same_f32(&elems::<f32>(&out), &[want]);
        assert_eq!(elems::<i32>(&f), vec![flag], "x = {x}");
    }
}

#[test]
fn pointers_can_be_carried_through_loops() {
    let params = [("x", input(DType::I32)), ("out", output(DType::I32)), ("n", scalar(DType::I32))];
    let k = build("walk", &params, |p| {
        let init = [p[0] + arange(4), zeros::<i32>([4])];
        let r = for_range(0, p[2], 1, &init, |_, c| vec![c[0] + 4, c[1] + load(c[0])]);
        store(p[1] + arange(4), r[1]);
    });
    let x: Vec<i32> = (0..12).collect();
    let (mut xb, mut out) = (bytes(&x), zeroed::<i32>(4));
    let n = ArgValue::Scalar(Const::from_i64(DType::I32, 3));
    run_ok(&k, [1, 1, 1], &mut [ArgValue::Buffer(&mut xb), ArgValue::Buffer(&mut out), n]);
    // Column sums of x viewed as [3, 4].
    assert_eq!(elems::<i32>(&out), vec![12, 15, 18, 21]);
}
