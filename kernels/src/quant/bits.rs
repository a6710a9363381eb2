//! Bits per value: the storage cost of a compressed tensor, everything included.
//!
//! AQUA-KV results are compared at equal *total* storage, so the count includes the packed
//! codes (whole groups, padding too), every f16 scale and zero, and the values kept in 16
//! bits (attention-sink and recent tokens).

use super::uniform::Uniform;

/// What a compressed tensor stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Storage {
    /// The quantizer and how many values it quantizes.
    pub quantizer: Uniform,
    pub quantized_values: usize,
    /// Values kept in 16 bits, outside the quantizer.
    pub fp16_values: usize,
}

impl Storage {
    /// Total bits: codes + one f16 scale and one f16 zero per group + 16 per kept value.
    pub fn total_bits(&self) -> u64 {
        let q = self.quantizer;
        let codes = q.code_words(self.quantized_values) as u64 * 32;
        let scale_and_zero = q.groups(self.quantized_values) as u64 * 2 * 16;
        codes + scale_and_zero + self.fp16_values as u64 * 16
    }
}

/// Bits per value over every value of the tensor (quantized and kept in 16 bits). For `n`
/// a multiple of the group and nothing kept in 16 bits this is `bits + 32 / group`.
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

    fn storage(bits: u32, group: usize, n: usize, fp16: usize) -> Storage {
        Storage {
            quantizer: Uniform::new(bits, group).unwrap(),
            quantized_values: n,
            fp16_values: fp16,
        }
    }

    #[test]
    fn whole_groups_cost_bits_plus_32_over_group() {
        assert_eq!(bits_per_value(&storage(2, 64, 64 * 10, 0)), 2.5);
        assert_eq!(bits_per_value(&storage(4, 128, 128 * 3, 0)), 4.25);
        assert_eq!(bits_per_value(&storage(3, 32, 32, 0)), 4.0);
    }

    #[test]
    fn padding_and_16_bit_values_are_counted() {
        // 65 values in groups of 64: 2 groups, 128 codes of 2 bits + 2 * 32 bits.
        assert_eq!(storage(2, 64, 65, 0).total_bits(), 128 * 2 + 64);
        // 64 quantized (2.5 bits each) and 64 kept in f16: (160 + 1024) / 128.
        assert_eq!(bits_per_value(&storage(2, 64, 64, 64)), (160.0 + 1024.0) / 128.0);
        assert_eq!(bits_per_value(&storage(2, 64, 0, 0)), 0.0);
    }
}
