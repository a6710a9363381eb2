//! Bits per value: the storage cost of a compressed tensor, everything included. The one
//! place it is computed; every quantizer describes what it stores as a [`Storage`], and
//! every printed result goes through [`bits_per_value`].
//!
//! AQUA-KV results are compared at equal *total* storage, so the count includes the packed
//! codes (whole packing units, padding too), every f16 scale and zero, and the values kept
//! in 16 bits (attention-sink and recent tokens).

/// What a compressed tensor stores.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Storage {
    /// Values encoded by the quantizer.
    pub quantized_values: usize,
    /// u32 words of packed codes (whole units of 32 codes, padding included).
    pub code_words: usize,
    /// f16 per-group parameters: scales, and zeros where the quantizer has them.
    pub f16_params: usize,
    /// Values kept in 16 bits, outside the quantizer.
    pub fp16_values: usize,
}

impl Storage {
    /// Total bits: 32 per code word, 16 per f16 parameter and per value kept in 16 bits.
    pub fn total_bits(&self) -> u64 {
        self.code_words as u64 * 32 + (self.f16_params as u64 + self.fp16_values as u64) * 16
    }

    /// The same storage plus `values` more kept in 16 bits.
    pub fn with_fp16(self, values: usize) -> Storage {
        Storage {
            fp16_values: self.fp16_values + values,
            ..self
        }
    }

    /// Two tensors stored side by side (K and V, or several layers).
    pub fn plus(self, other: Storage) -> Storage {
        Storage {
            quantized_values: self.quantized_values + other.quantized_values,
            code_words: self.code_words + other.code_words,
            f16_params: self.f16_params + other.f16_params,
            fp16_values: self.fp16_values + other.fp16_values,
        }
    }
}

/// Bits per value over every value of the tensor (quantized and kept in 16 bits); 0 for an
/// empty tensor.
pub fn bits_per_value(storage: &Storage) -> f64 {
    let values = storage.quantized_values + storage.fp16_values;
    if values == 0 {
        return 0.0;
    }
    storage.total_bits() as f64 / values as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_part_is_counted() {
        let s = Storage {
            quantized_values: 64,
            code_words: 4,
            f16_params: 2,
            fp16_values: 0,
        };
        // 2-bit codes of 64 values and an f16 scale and zero: 128 + 32 bits.
        assert_eq!(s.total_bits(), 160);
        assert_eq!(bits_per_value(&s), 2.5);
        // 64 more values kept in f16: (160 + 1024) / 128.
        assert_eq!(bits_per_value(&s.with_fp16(64)), (160.0 + 1024.0) / 128.0);
        assert_eq!(bits_per_value(&s.plus(s)), 2.5);
        assert_eq!(bits_per_value(&Storage::default()), 0.0);
    }
}
