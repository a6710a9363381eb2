//! Narrowing dequantized f32 blocks to the output dtype inside kernels: the rule of
//! [`crate::quant::element`] (nearest-even; f16 saturates at `±65504`, NaN stays NaN).

use aqua_dsl::build::*;
use aqua_dsl::DType;

use crate::quant::element::F16_MAX;

/// `v: f32[..]` converted to `dtype` (f16, bf16 or f32).
#[track_caller]
pub fn narrow(v: Value, dtype: DType) -> Value {
    if dtype != DType::F16 {
        return v.cast_to(dtype);
    }
    // Comparisons with NaN are false, so NaN passes both selects.
    let v = where_(gt(v, F16_MAX), F16_MAX, v);
    where_(lt(v, -F16_MAX), -F16_MAX, v).cast_to(dtype)
}
