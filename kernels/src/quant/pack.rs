//! Dense packing of quantization codes, the plain-Rust reference.
//!
//! Codes of `bits` bits (1 to 8) are packed in *units* of 32 codes into `bits` consecutive
//! `u32` words. Read a unit's words as one little-endian bit string of `32 * bits` bits
//! (bit `i` of word `w` is bit `32 * w + i` of the string); code `j` of the unit occupies
//! bits `[j * bits, (j + 1) * bits)`, least significant bit first. Every width is dense:
//! no bit is wasted, and a code may straddle two words (widths 3, 5, 6, 7).
//! A last partial unit is padded with zero codes.

use thiserror::Error;

/// Codes per packing unit.
pub const UNIT: usize = 32;

#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum PackError {
    #[error("bit width {0} is not in 1..=8")]
    Bits(u32),
    #[error("code {code} at index {index} does not fit in {bits} bits")]
    CodeTooLarge { index: usize, code: u32, bits: u32 },
    #[error("{n} codes of {bits} bits need {need} words, got {got}")]
    TooFewWords {
        n: usize,
        bits: u32,
        need: usize,
        got: usize,
    },
}

/// Checks a bit width.
pub fn check_bits(bits: u32) -> Result<(), PackError> {
    if (1..=8).contains(&bits) {
        Ok(())
    } else {
        Err(PackError::Bits(bits))
    }
}

/// Words holding `n` codes of `bits` bits (whole units).
pub fn packed_words(n: usize, bits: u32) -> usize {
    n.div_ceil(UNIT) * bits as usize
}

/// Packs `codes` (each `< 2^bits`) into `packed_words(codes.len(), bits)` words.
pub fn pack(codes: &[u32], bits: u32) -> Result<Vec<u32>, PackError> {
    check_bits(bits)?;
    let mut words = vec![0u32; packed_words(codes.len(), bits)];
    for (index, &code) in codes.iter().enumerate() {
        if code >> bits != 0 {
            return Err(PackError::CodeTooLarge { index, code, bits });
        }
        let (unit, j) = (index / UNIT, index % UNIT);
        let bit = j * bits as usize;
        let (word, shift) = (unit * bits as usize + bit / 32, bit % 32);
        words[word] |= code << shift;
        if shift + bits as usize > 32 {
            words[word + 1] |= code >> (32 - shift);
        }
    }
    Ok(words)
}

/// Unpacks the first `n` codes of `bits` bits from `words`.
pub fn unpack(words: &[u32], bits: u32, n: usize) -> Result<Vec<u32>, PackError> {
    check_bits(bits)?;
    let need = packed_words(n, bits);
    if words.len() < need {
        return Err(PackError::TooFewWords {
            n,
            bits,
            need,
            got: words.len(),
        });
    }
    let mask = (1u64 << bits) - 1;
    Ok((0..n)
        .map(|index| {
            let (unit, j) = (index / UNIT, index % UNIT);
            let bit = j * bits as usize;
            let word = unit * bits as usize + bit / 32;
            // Two adjacent words as one 64-bit string covers a straddling code; the second
            // word is read only when it belongs to the same unit.
            let next = if bit % 32 + bits as usize > 32 {
                words[word + 1] as u64
            } else {
                0
            };
            let pair = words[word] as u64 | next << 32;
            ((pair >> (bit % 32)) & mask) as u32
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn layout_of_a_3_bit_unit() {
        // Code j = j % 8: bits [3j, 3j+3). Code 10 (value 2) sits at bits 30..33 and
        // straddles words 0 and 1: bits 30, 31 of word 0 hold its low bits (0b10),
        // bit 0 of word 1 its high bit (0).
        let codes: Vec<u32> = (0..32).map(|j| j % 8).collect();
        let words = pack(&codes, 3).unwrap();
        assert_eq!(words.len(), 3);
        assert_eq!(words[0] & 0b111, 0);
        assert_eq!((words[0] >> 3) & 0b111, 1);
        assert_eq!(words[0] >> 30, 0b10);
        assert_eq!(words[1] & 1, 0);
        assert_eq!((words[1] >> 1) & 0b111, 3); // code 11
        assert_eq!(words[2] >> 29, 7); // code 31 in the top 3 bits of the last word
    }

    #[test]
    fn two_bit_codes_fill_words_in_order() {
        let codes = [1u32, 2, 3, 0].repeat(8);
        let words = pack(&codes, 2).unwrap();
        assert_eq!(words, vec![0x3939_3939, 0x3939_3939]);
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(
            pack(&[4], 2),
            Err(PackError::CodeTooLarge {
                index: 0,
                code: 4,
                bits: 2
            })
        );
        assert_eq!(pack(&[0], 9), Err(PackError::Bits(9)));
        assert_eq!(
            unpack(&[0; 2], 3, 1),
            Err(PackError::TooFewWords {
                n: 1,
                bits: 3,
                need: 3,
                got: 2
            })
        );
    }

    proptest! {
        #[test]
        fn round_trip(bits in 1u32..=8, seed in prop::collection::vec(any::<u32>(), 0..200)) {
            let codes: Vec<u32> = seed.iter().map(|c| c & ((1 << bits) - 1)).collect();
            let words = pack(&codes, bits).unwrap();
            prop_assert_eq!(words.len(), packed_words(codes.len(), bits));
            prop_assert_eq!(unpack(&words, bits, codes.len()).unwrap(), codes.clone());
            // Dense: the packed bits count equals the code bits rounded up to whole units.
            let ones: u32 = words.iter().map(|w| w.count_ones()).sum();
            let code_ones: u32 = codes.iter().map(|c| c.count_ones()).sum();
            prop_assert_eq!(ones, code_ones);
        }
    }
}
