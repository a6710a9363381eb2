//! `cast` and `bitcast`.

use half::{bf16, f16};
use proptest::prelude::*;

use super::harness::*;

fn cast_to<T: Elt, U: Elt>(x: &[T]) -> Vec<U> {
    eval1::<T, U>(x, |a| a.cast_to(U::DTYPE))
}

#[test]
fn float_to_int_truncates_and_saturates() {
    let nan = f32::NAN;
    let x = [
        2.7,
        -2.7,
        nan,
        1e10,
        -1e10,
        f32::INFINITY,
        f32::NEG_INFINITY,
        -0.0,
    ];
    assert_eq!(
        cast_to::<f32, i32>(&x),
        vec![2, -2, 0, i32::MAX, i32::MIN, i32::MAX, i32::MIN, 0]
    );
    assert_eq!(
        cast_to::<f32, u8>(&[-1.0, 300.0, 255.9, 0.5, nan]),
        vec![0, 255, 255, 0, 0]
    );
    assert_eq!(cast_to::<f32, i64>(&[1e30, -2.5]), vec![i64::MAX, -2]);
    let h: Vec<f16> = [300.0, -200.0, nan, -1.5]
        .iter()
        .map(|&v| f16::from_f32(v))
        .collect();
    assert_eq!(cast_to::<f16, i8>(&h), vec![127, -128, 0, -1]);
}

#[test]
fn conversions_to_and_from_bool() {
    let x = [0.0, -0.0, f32::NAN, 0.1, f32::INFINITY];
    assert_eq!(
        cast_to::<f32, bool>(&x),
        vec![false, false, true, true, true]
    );
    assert_eq!(cast_to::<i32, bool>(&[0, -1, 256]), vec![false, true, true]);
    assert_eq!(cast_to::<bool, f32>(&[true, false]), vec![1.0, 0.0]);
    assert_eq!(cast_to::<bool, i8>(&[true, false]), vec![1, 0]);
    assert_eq!(cast_to::<bool, bf16>(&[true])[0], bf16::ONE);
}

#[test]
fn int_to_int_wraps_with_the_source_extension() {
    assert_eq!(
        cast_to::<i32, i8>(&[200, -129, 127, 256]),
        vec![-56, 127, 127, 0]
    );
    assert_eq!(cast_to::<i8, u32>(&[-1, 5]), vec![u32::MAX, 5]);
    assert_eq!(cast_to::<u8, i32>(&[255, 0]), vec![255, 0]);
    assert_eq!(cast_to::<u32, i64>(&[u32::MAX]), vec![u32::MAX as i64]);
    assert_eq!(cast_to::<i32, u32>(&[-1]), vec![u32::MAX]);
    assert_eq!(cast_to::<i64, i32>(&[(1 << 40) + 5, -1]), vec![5, -1]);
    assert_eq!(cast_to::<u32, i8>(&[0x1ff]), vec![-1]);
}

#[test]
fn int_to_float_rounds_to_nearest_even() {
    let h: Vec<f16> = cast_to::<i32, f16>(&[2049, 2051, 70000, -65519, 65520]);
    let h: Vec<f32> = h.iter().map(|v| v.to_f32()).collect();
    assert_eq!(
        h,
        vec![2048.0, 2052.0, f32::INFINITY, -65504.0, f32::INFINITY]
    );
    assert_eq!(
        cast_to::<i64, f32>(&[(1 << 24) + 1, (1 << 24) + 3]),
        vec![16777216.0, 16777220.0]
    );
    assert_eq!(cast_to::<u32, f32>(&[u32::MAX]), vec![4294967296.0]);
    // bf16 holds 8 significant bits: 255 is exact, 257 and 259 are ties.
    assert_eq!(cast_to::<u8, bf16>(&[255])[0].to_f32(), 255.0);
    let b: Vec<f32> = cast_to::<i32, bf16>(&[257, 259])
        .iter()
        .map(|v| v.to_f32())
        .collect();
    assert_eq!(b, vec![256.0, 260.0]);
}

#[test]
fn float_narrowing_rounds_to_nearest_even() {
    let x = [
        1.0 + 2f32.powi(-11),
        65520.0,
        1e-8,
        3e-8,
        -0.0,
        f32::NAN,
        0.1,
    ];
    let got: Vec<f16> = cast_to::<f32, f16>(&x);
    for (i, (&g, &v)) in got.iter().zip(&x).enumerate() {
        let want = f16::from_f32(v);
        assert!(
            g.to_bits() == want.to_bits() || (g.is_nan() && want.is_nan()),
            "lane {i}: {g} vs {want}"
        );
    }
    assert_eq!(got[0], f16::ONE);
    assert!(got[1].is_infinite());
    assert_eq!(got[2].to_bits(), 0);
    assert_eq!(
        got[3].to_bits(),
        1,
        "3e-8 rounds up to the smallest subnormal"
    );
    let b: Vec<bf16> = cast_to::<f32, bf16>(&[1.0 + 2f32.powi(-8), 1.0 + 3.0 * 2f32.powi(-8)]);
    assert_eq!(
        b.iter().map(|v| v.to_f32()).collect::<Vec<_>>(),
        vec![1.0, 1.0 + 2f32.powi(-6)]
    );
    // Between the half formats: one rounding from the exact value.
    let fb: Vec<bf16> = cast_to::<f16, bf16>(&[f16::from_f32(1.0 + 2f32.powi(-10))]);
    assert_eq!(fb[0], bf16::ONE);
    let bf: Vec<f16> =
        cast_to::<bf16, f16>(&[bf16::from_f32(1e10), bf16::from_f32(2f32.powi(-20))]);
    assert!(bf[0].is_infinite());
    assert_eq!(bf[1].to_f32(), 2f32.powi(-20));
    assert_eq!(cast_to::<f16, f32>(&[f16::MAX])[0], 65504.0);
}

#[test]
fn bitcast_reinterprets_bits() {
    assert_eq!(
        eval1::<f32, u32>(&[1.0, -0.0], |a| a.bitcast::<u32>()),
        vec![0x3f80_0000, 0x8000_0000]
    );
    assert_eq!(
        eval1::<i32, u32>(&[-1], |a| a.bitcast::<u32>()),
        vec![u32::MAX]
    );
    assert!(eval1::<u32, f32>(&[0x7fc0_0000], |a| a.bitcast::<f32>())[0].is_nan());
    assert_eq!(
        eval1::<f16, bf16>(&[f16::ONE], |a| a.bitcast::<bf16>())[0].to_bits(),
        0x3c00
    );
    assert_eq!(
        eval1::<i8, u8>(&[-1, 5], |a| a.bitcast::<u8>()),
        vec![255, 5]
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Float to int casts are exactly Rust's `as` (truncate, saturate, NaN to 0), for any
    /// bit pattern including NaN and infinities.
    #[test]
    fn float_to_int_matches_rust_as(bits in proptest::collection::vec(any::<u32>(), 16)) {
        let x: Vec<f32> = bits.iter().map(|&b| f32::from_bits(b)).collect();
        prop_assert_eq!(cast_to::<f32, i8>(&x), x.iter().map(|&v| v as i8).collect::<Vec<_>>());
        prop_assert_eq!(cast_to::<f32, u32>(&x), x.iter().map(|&v| v as u32).collect::<Vec<_>>());
        prop_assert_eq!(cast_to::<f32, i64>(&x), x.iter().map(|&v| v as i64).collect::<Vec<_>>());
    }

    /// Int to f32 is Rust's `as` (round to nearest-even); to f16 it agrees with rounding
    /// the exact f64 value (exact here: |x| < 2^31) through f32 when f32 is exact.
    #[test]
    fn int_to_float_matches_rust_as(x in proptest::collection::vec(any::<i32>(), 16)) {
        prop_assert_eq!(cast_to::<i32, f32>(&x), x.iter().map(|&v| v as f32).collect::<Vec<_>>());
        let small: Vec<i32> = x.iter().map(|&v| v >> 12).collect(); // fits f32 exactly
        let got: Vec<f16> = cast_to::<i32, f16>(&small);
        prop_assert_eq!(got, small.iter().map(|&v| f16::from_f32(v as f32)).collect::<Vec<_>>());
    }
}
