//! Element-wise arithmetic, logic, comparisons, math and select.

use aqua_dsl::build::*;
use aqua_dsl::interp::ArgValue;
use aqua_dsl::DType;
use half::{bf16, f16};

use super::harness::*;

#[test]
fn integer_arithmetic_wraps_and_division_is_total() {
    let x: Vec<i32> = vec![i32::MAX, i32::MIN, i32::MIN, -7, -7, 7, 5, i32::MIN, 3];
    let y: Vec<i32> = vec![1, -1, -1, 2, 2, -2, 0, 0, 0];
    let add: Vec<i32> = eval2(&x, &y, |a, b| a + b);
    let sub: Vec<i32> = eval2(&x, &y, |a, b| a - b);
    let mul: Vec<i32> = eval2(&x, &y, |a, b| a * b);
    let div: Vec<i32> = eval2(&x, &y, |a, b| a / b);
    let rem: Vec<i32> = eval2(&x, &y, |a, b| a % b);
    for i in 0..x.len() {
        let (a, b) = (x[i], y[i]);
        assert_eq!(add[i], a.wrapping_add(b), "add lane {i}");
        assert_eq!(sub[i], a.wrapping_sub(b), "sub lane {i}");
        assert_eq!(mul[i], a.wrapping_mul(b), "mul lane {i}");
        assert_eq!(
            div[i],
            if b == 0 { 0 } else { a.wrapping_div(b) },
            "div lane {i}"
        );
        assert_eq!(
            rem[i],
            if b == 0 { a } else { a.wrapping_rem(b) },
            "rem lane {i}"
        );
    }
    // The edge cases spelled out: MIN / -1 wraps, truncation toward zero, x / 0 = 0.
    assert_eq!(&div[1..7], &[i32::MIN, i32::MIN, -3, -3, -3, 0]);
    assert_eq!(&rem[1..7], &[0, 0, -1, -1, 1, 5]);

    let a8: Vec<i8> = vec![127, -128, 16, -128];
    let b8: Vec<i8> = vec![1, -1, 16, 0];
    assert_eq!(
        eval2::<i8, i8>(&a8, &b8, |a, b| a + b),
        vec![-128, 127, 32, -128]
    );
    assert_eq!(
        eval2::<i8, i8>(&a8, &b8, |a, b| a * b),
        vec![127, -128, 0, 0]
    );
    let u: Vec<u8> = vec![200, 0, 255, 7];
    let v: Vec<u8> = vec![100, 1, 255, 0];
    assert_eq!(eval2::<u8, u8>(&u, &v, |a, b| a + b), vec![44, 1, 254, 7]);
    assert_eq!(eval2::<u8, u8>(&u, &v, |a, b| a - b), vec![100, 255, 0, 7]);
    assert_eq!(eval2::<u8, u8>(&u, &v, |a, b| a % b), vec![0, 0, 0, 7]);
    let big: Vec<i64> = vec![i64::MAX, i64::MIN];
    assert_eq!(
        eval2::<i64, i64>(&big, &[1, -1], |a, b| a + b),
        vec![i64::MIN, i64::MAX]
    );
    assert_eq!(
        eval2::<u32, u32>(&[0, 5], &[1, 6], |a, b| a - b),
        vec![u32::MAX, u32::MAX]
    );
}

#[test]
fn negation_and_abs_wrap_at_min() {
    let x: Vec<i32> = vec![i32::MIN, -5, 0, 5, i32::MAX];
    assert_eq!(
        eval1::<i32, i32>(&x, |a| -a),
        vec![i32::MIN, 5, 0, -5, -i32::MAX]
    );
    assert_eq!(
        eval1::<i32, i32>(&x, abs),
        vec![i32::MIN, 5, 0, 5, i32::MAX]
    );
    assert_eq!(eval1::<u8, u8>(&[0, 1, 255], |a| -a), vec![0, 255, 1]);
    assert_eq!(eval1::<u8, u8>(&[0, 1, 255], abs), vec![0, 1, 255]);
    assert_eq!(eval1::<i8, i8>(&[-128, -1, 3], |a| !a), vec![127, 0, -4]);
}

#[test]
fn shifts_past_the_width_give_zero_or_the_sign() {
    let x: Vec<i32> = vec![1, 1, 1, 1, -8, -8, -8, 8, 8, -8];
    let s: Vec<i32> = vec![31, 32, 33, -1, 1, 32, 40, 32, -1, -1];
    let left: Vec<i32> = eval2(&x, &s, shl);
    let right: Vec<i32> = eval2(&x, &s, shr);
    assert_eq!(left, vec![i32::MIN, 0, 0, 0, -16, 0, 0, 0, 0, 0]);
    assert_eq!(right, vec![0, 0, 0, 0, -4, -1, -1, 0, 0, -1]);
    // Unsigned: logical shifts; the amount is an unsigned value.
    let u: Vec<u32> = vec![0x8000_0000, 0x8000_0000, 1, 0xffff_ffff];
    let t: Vec<u32> = vec![31, 32, 31, u32::MAX];
    assert_eq!(eval2::<u32, u32>(&u, &t, shr), vec![1, 0, 0, 0]);
    assert_eq!(eval2::<u32, u32>(&u, &t, shl), vec![0, 0, 0x8000_0000, 0]);
    assert_eq!(
        eval2::<u8, u8>(&[1, 1, 0x81], &[7, 8, 1], shl),
        vec![128, 0, 2]
    );
    assert_eq!(
        eval2::<i8, i8>(&[-128, -128, 64], &[7, 8, 7], shr),
        vec![-1, -1, 0]
    );
    assert_eq!(
        eval2::<i64, i64>(&[1, -1], &[63, 64], shl),
        vec![i64::MIN, 0]
    );
}

#[test]
fn bitwise_and_logic() {
    let (x, y): (Vec<u8>, Vec<u8>) = (vec![0b1100, 0xff, 0], vec![0b1010, 0x0f, 0]);
    assert_eq!(eval2::<u8, u8>(&x, &y, |a, b| a & b), vec![0b1000, 0x0f, 0]);
    assert_eq!(eval2::<u8, u8>(&x, &y, |a, b| a | b), vec![0b1110, 0xff, 0]);
    assert_eq!(eval2::<u8, u8>(&x, &y, |a, b| a ^ b), vec![0b0110, 0xf0, 0]);
    assert_eq!(eval1::<u8, u8>(&x, |a| !a), vec![0xf3, 0, 0xff]);
    let (p, q) = (
        vec![true, true, false, false],
        vec![true, false, true, false],
    );
    assert_eq!(
        eval2::<bool, bool>(&p, &q, logical_and),
        vec![true, false, false, false]
    );
    assert_eq!(
        eval2::<bool, bool>(&p, &q, logical_or),
        vec![true, true, true, false]
    );
    assert_eq!(
        eval2::<bool, bool>(&p, &q, bit_xor),
        vec![false, true, true, false]
    );
    assert_eq!(
        eval2::<bool, bool>(&p, &q, minimum),
        vec![true, false, false, false]
    );
    assert_eq!(
        eval2::<bool, bool>(&p, &q, maximum),
        vec![true, true, true, false]
    );
    assert_eq!(eval1::<bool, bool>(&p[1..3], |a| !a), vec![false, true]);
}

#[test]
fn float_arithmetic_is_ieee() {
    let inf = f32::INFINITY;
    let x = vec![1.5, 1.0, 0.0, inf, inf, -1.0, 5.5, -5.5, 5.5, 1e38];
    let y = vec![2.25, 0.0, 0.0, inf, 1.0, -0.0, 2.0, 2.0, 0.0, 10.0];
    let add: Vec<f32> = eval2(&x, &y, |a, b| a + b);
    let sub: Vec<f32> = eval2(&x, &y, |a, b| a - b);
    let mul: Vec<f32> = eval2(&x, &y, |a, b| a * b);
    let div: Vec<f32> = eval2(&x, &y, |a, b| a / b);
    let rem: Vec<f32> = eval2(&x, &y, |a, b| a % b);
    let want =
        |f: fn(f32, f32) -> f32| x.iter().zip(&y).map(|(&a, &b)| f(a, b)).collect::<Vec<_>>();
    assert_same_f32(&add, &want(|a, b| a + b));
    assert_same_f32(&sub, &want(|a, b| a - b));
    assert_same_f32(&mul, &want(|a, b| a * b));
    assert_same_f32(&div, &want(|a, b| a / b));
    assert_same_f32(&rem, &want(|a, b| a % b));
    // Spelled out: x/0 is inf, 0/0 and inf-inf are NaN, -1/-0 is +inf, fmod keeps the
    // dividend's sign, fmod by 0 is NaN, overflow gives inf.
    assert_eq!(div[1], inf);
    assert!(div[2].is_nan() && sub[3].is_nan() && rem[8].is_nan());
    assert_eq!(div[5], inf);
    assert_eq!((rem[6], rem[7]), (1.5, -1.5));
    assert_eq!(mul[9], inf);
}

#[test]
fn min_and_max_ignore_nan() {
    let nan = f32::NAN;
    let x = vec![nan, 1.0, nan, -0.5, f32::NEG_INFINITY];
    let y = vec![1.0, nan, nan, 2.0, 3.0];
    let mn: Vec<f32> = eval2(&x, &y, minimum);
    let mx: Vec<f32> = eval2(&x, &y, maximum);
    assert_same_f32(&mn, &[1.0, 1.0, nan, -0.5, f32::NEG_INFINITY]);
    assert_same_f32(&mx, &[1.0, 1.0, nan, 2.0, 3.0]);
    let h = |v: &[f32]| v.iter().map(|&a| f16::from_f32(a)).collect::<Vec<_>>();
    let mn16: Vec<f16> = eval2(&h(&x), &h(&y), minimum);
    assert_eq!(mn16[0], f16::ONE);
    assert_eq!(mn16[1], f16::ONE);
    assert!(mn16[2].is_nan());
    let clamped: Vec<f32> = eval1(&[nan, -3.0, 0.25, 9.0], |a| clamp(a, 0.0, 1.0));
    // clamp is max then min, so NaN clamps to the lower bound.
    assert_eq!(clamped, vec![0.0, 0.0, 0.25, 1.0]);
}

#[test]
fn comparisons_are_ordered_except_ne() {
    let nan = f32::NAN;
    let x = vec![nan, 1.0, 1.0, f32::NEG_INFINITY, -0.0];
    let y = vec![1.0, nan, 1.0, -1e38, 0.0];
    let cmp = |f: fn(Value, Value) -> Value| eval2::<f32, bool>(&x, &y, f);
    assert_eq!(cmp(lt), vec![false, false, false, true, false]);
    assert_eq!(cmp(le), vec![false, false, true, true, true]);
    assert_eq!(cmp(gt), vec![false, false, false, false, false]);
    assert_eq!(cmp(ge), vec![false, false, true, false, true]);
    assert_eq!(cmp(eq), vec![false, false, true, false, true]);
    assert_eq!(cmp(ne), vec![true, true, false, true, false]);
    // Signed vs unsigned order of the same bits.
    assert_eq!(eval2::<i8, bool>(&[-1, 3], &[0, 3], lt), vec![true, false]);
    assert_eq!(
        eval2::<u8, bool>(&[255, 3], &[0, 3], lt),
        vec![false, false]
    );
    assert_eq!(
        eval2::<bool, bool>(&[false, true], &[true, true], lt),
        vec![true, false]
    );
}

#[test]
fn rounding_ops_round_half_to_even() {
    let x = vec![0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4999998, -2.7, 3.0];
    let r: Vec<f32> = eval1(&x, round);
    assert_same_f32(&r, &[0.0, 2.0, 2.0, -0.0, -2.0, -2.0, 2.0, -3.0, 3.0]);
    assert_same_f32(
        &eval1::<f32, f32>(&x, floor),
        &x.iter().map(|v| v.floor()).collect::<Vec<_>>(),
    );
    assert_same_f32(
        &eval1::<f32, f32>(&x, ceil),
        &x.iter().map(|v| v.ceil()).collect::<Vec<_>>(),
    );
    let h: Vec<f16> = x.iter().map(|&v| f16::from_f32(v)).collect();
    let r16: Vec<f16> = eval1(&h, round);
    assert_eq!(
        r16.iter().map(|v| v.to_f32()).collect::<Vec<_>>()[..6],
        [0.0, 2.0, 2.0, -0.0, -2.0, -2.0]
    );
}

#[test]
fn half_precision_rounds_once_to_nearest_even() {
    let one = f16::ONE;
    let ulp = f16::from_f32(2f32.powi(-10));
    let half_ulp = f16::from_f32(2f32.powi(-11));
    // 1 + half an ulp is a tie: even (1.0) wins; (1 + ulp) + half an ulp rounds up.
    let x = vec![
        one,
        one + ulp,
        f16::from_f32(65504.0),
        f16::from_f32(2048.0),
    ];
    let y = vec![half_ulp, half_ulp, f16::from_f32(16.0), one];
    let sum: Vec<f16> = eval2(&x, &y, |a, b| a + b);
    assert_eq!(sum[0], one);
    assert_eq!(sum[1].to_f32(), 1.0 + 2f32.powi(-9));
    assert!(
        sum[2].is_infinite(),
        "65504 + 16 ties to even, which is infinity"
    );
    assert_eq!(sum[3].to_f32(), 2048.0);
    // 0.1 * 3 in f16: exact product rounded once.
    let p: Vec<f16> = eval2(&[f16::from_f32(0.1)], &[f16::from_f32(3.0)], |a, b| a * b);
    assert_eq!(p[0], f16::from_f32(f16::from_f32(0.1).to_f32() * 3.0));

    let b1 = bf16::ONE;
    let bx = vec![b1, bf16::from_f32(1.0 + 2f32.powi(-7))];
    let by = vec![bf16::from_f32(2f32.powi(-8)); 2];
    let bsum: Vec<bf16> = eval2(&bx, &by, |a, b| a + b);
    assert_eq!(bsum[0], b1);
    assert_eq!(bsum[1].to_f32(), 1.0 + 2f32.powi(-6));
    let q: Vec<bf16> = eval2(&[bf16::from_f32(1.0)], &[bf16::from_f32(3.0)], |a, b| a / b);
    assert_eq!(q[0], bf16::from_f32(1.0 / 3.0));
}

#[test]
fn math_functions_and_their_special_values() {
    let inf = f32::INFINITY;
    let r: Vec<f32> = eval1(&[4.0, 0.0, -0.0, -1.0, inf, 2.0], rsqrt);
    assert_same_f32(&r, &[0.5, inf, -inf, f32::NAN, 0.0, 1.0 / 2f32.sqrt()]);
    let s: Vec<f32> = eval1(&[4.0, 2.0, -0.0, -1.0], sqrt);
    assert_same_f32(&s, &[2.0, 2f32.sqrt(), -0.0, f32::NAN]);
    let e: Vec<f32> = eval1(&[0.0, 1.0, -inf, inf, 100.0, f32::NAN], exp);
    assert_same_f32(&e, &[1.0, std::f32::consts::E, 0.0, inf, inf, f32::NAN]);
    let l: Vec<f32> = eval1(&[1.0, 2.0, 0.0, -1.0, inf], log);
    assert_same_f32(&l, &[0.0, std::f32::consts::LN_2, -inf, f32::NAN, inf]);
    let l16: Vec<f16> = eval1(&[f16::from_f32(2.0)], log);
    assert_eq!(l16[0], f16::from_f32(std::f32::consts::LN_2));
}

#[test]
fn fma_rounds_once() {
    // (1 + 2^-12)^2 = 1 + 2^-11 + 2^-24: a separate multiply would round the 2^-24 away.
    let a = 1.0 + 2f32.powi(-12);
    let c = -(1.0 + 2f32.powi(-11));
    let params = [("x", input(DType::F32)), ("out", output(DType::F32))];
    let k = build("fma", &params, move |p| {
        let offs = arange(2);
        let x = load(p[0] + offs);
        store(p[1] + offs, fma(x, x, c));
    });
    let (mut xb, mut ob) = (bytes(&[a, 1.0]), zeroed::<f32>(2));
    run_ok(
        &k,
        [1, 1, 1],
        &mut [ArgValue::Buffer(&mut xb), ArgValue::Buffer(&mut ob)],
    );
    assert_eq!(elems::<f32>(&ob), vec![2f32.powi(-24), 1.0 + c]);
    let h = f16::from_f32(3.0);
    let r: Vec<f16> = eval2(&[h], &[h], |x, y| fma(x, y, 1.0));
    assert_eq!(r[0].to_f32(), 10.0);
}

#[test]
fn select_picks_per_lane() {
    let x: Vec<i32> = vec![1, -2, 3, -4];
    let r: Vec<i32> = eval1(&x, |a| where_(gt(a, 0), a * 10, -1));
    assert_eq!(r, vec![10, -1, 30, -1]);
    let y = vec![f32::NAN, 2.0];
    let r: Vec<f32> = eval1(&y, |a| where_(ne(a, a), 0.0, a));
    assert_eq!(r, vec![0.0, 2.0]);
}
