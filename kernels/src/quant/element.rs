//! The dtypes quantizers read and write (f16, bf16, f32), and how values move between them
//! and the f32 the arithmetic runs in: the same rules in the references and the kernels.
//!
//! - widening to f32 is exact;
//! - narrowing rounds to nearest-even, except that f16 **saturates**: a finite value beyond
//!   `±65504` becomes `±65504` instead of an infinity (a group whose f16 scale saturated can
//!   dequantize slightly past the f16 range; the output stays finite). NaN stays NaN. bf16
//!   needs no such rule: dequantized values stay far below its range.

use half::{bf16, f16};

/// The largest finite f16, `65504`.
pub const F16_MAX: f32 = 65504.0;

/// A dtype quantizers read and write (its aqua dtype is `aqua_runtime::Element::DTYPE`).
pub trait Element: aqua_runtime::Element + Default + PartialEq + std::fmt::Debug + bytemuck::Pod + Send + Sync {
    /// Exact conversion to f32.
    fn widen(self) -> f32;
    /// Conversion from f32 by the module's rule.
    fn narrow(v: f32) -> Self;
}

impl Element for f32 {
    fn widen(self) -> f32 {
        self
    }
    fn narrow(v: f32) -> f32 {
        v
    }
}

impl Element for f16 {
    fn widen(self) -> f32 {
        self.to_f32()
    }
    fn narrow(v: f32) -> f16 {
        // Comparisons with NaN are false, so NaN passes through (`clamp` would too, but
        // this is written as the kernels' two selects).
        #[allow(clippy::manual_clamp)]
        let v = if v > F16_MAX {
            F16_MAX
        } else if v < -F16_MAX {
            -F16_MAX
        } else {
            v
        };
        f16::from_f32(v)
    }
}

impl Element for bf16 {
    fn widen(self) -> f32 {
        self.to_f32()
    }
    fn narrow(v: f32) -> bf16 {
        bf16::from_f32(v)
    }
}

/// Every value widened to f32.
pub fn widen<E: Element>(x: &[E]) -> Vec<f32> {
    x.iter().map(|v| v.widen()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_saturates_and_keeps_nan() {
        assert_eq!(f16::narrow(70000.0), f16::MAX);
        assert_eq!(f16::narrow(-1e30), f16::MIN);
        assert_eq!(f16::narrow(f32::INFINITY), f16::MAX);
        assert!(f16::narrow(f32::NAN).is_nan());
        assert_eq!(f16::narrow(1.5), f16::from_f32(1.5));
        assert_eq!(bf16::narrow(1e30), bf16::from_f32(1e30));
        assert_eq!(f32::narrow(-3.25).widen(), -3.25);
    }
}
