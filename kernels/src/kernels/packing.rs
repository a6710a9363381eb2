//! Dense code packing inside kernels: the block-level form of [`crate::quant::pack`].
//!
//! Codes are packed in units of 32 codes into `bits` consecutive u32 words, LSB first.
//! Two strategies, chosen at build time from the comptime bit width:
//! - `bits` divides 32 (1, 2, 4, 8): each word holds `32 / bits` whole codes, so packing is
//!   a reshape to `[words, 32 / bits]`, a shift per column and a sum along the row, and the
//!   words of a block are contiguous;
//! - otherwise (3, 5, 6, 7) codes straddle words: word `w` of a unit is the sum over the
//!   unit's 32 codes of `code << (j*bits - 32w)` and `code >> (32w - j*bits)`, where shift
//!   amounts that are negative or at least 32 give 0 (the IR's shift semantics), so only the
//!   codes overlapping word `w` contribute; unpacking gathers each code's one or two words.
//!
//! Bits of different codes never overlap, so sums are exact ORs.

use aqua_dsl::build::*;

/// Packs `q: u32[rows, cols]` (`rows * cols` a multiple of 32, codes in row-major order,
/// each `< 2^bits`) and stores the words at `codes + first_word ..`, skipping words at or
/// past `n_words` (`None`: storing every word).
#[track_caller]
pub fn store_packed(codes: Value, first_word: Value, q: Value, bits: u32, n_words: Option<Value>) {
    let n_codes: u32 = q.shape().iter().product();
    if 32 % bits == 0 {
        let per_word = 32 / bits;
        let words = n_codes / per_word;
        let shifts = arange(per_word).cast::<u32>() * bits;
        let packed = (q.reshape([words, per_word]) << shifts).sum(1);
        store_words(codes, first_word + arange(words), packed, n_words);
    } else {
        let units = n_codes / 32;
        let q = q.reshape([units, 32]);
        let bit = arange(32).cast::<u32>() * bits;
        let unit_first = first_word + arange(units) * bits as i32;
        for w in 0..bits {
            // Lane j's bits that fall in word w: shifted up when the code starts inside the
            // word, down when it started in the word before (wrapping u32 amounts that are
            // "negative" are >= 32 and shift everything out).
            let up = bit - 32 * w;
            let down = 32 * w - bit;
            let word = ((q << up) | (q >> down)).sum(1);
            store_words(codes, unit_first + w as i32, word, n_words);
        }
    }
}

#[track_caller]
fn store_words(codes: Value, idx: Value, words: Value, n_words: Option<Value>) {
    match n_words {
        Some(n) => store_masked(codes + idx, words, lt(idx, n)),
        None => store(codes + idx, words),
    }
}

/// Words `codes[idx]`, zero where `mask` (when given) is false.
#[track_caller]
fn load_words(codes: Value, idx: Value, mask: Option<Value>) -> Value {
    match mask {
        Some(m) => load_masked_or(codes + idx, m, 0u32),
        None => load(codes + idx),
    }
}

/// Loads `units` packing units starting at word `first_word` and unpacks them to
/// `u32[units, 32]`; units at or past `n_words` (`None`: none are) read as zero codes.
#[track_caller]
pub fn load_unpacked(codes: Value, first_word: Value, units: u32, bits: u32, n_words: Option<Value>) -> Value {
    let low_bits = (1u32 << bits) - 1;
    if 32 % bits == 0 {
        let per_word = 32 / bits;
        let words = units * bits;
        let idx = first_word + arange(words);
        let packed = load_words(codes, idx, n_words.map(|n| lt(idx, n)));
        let shifts = arange(per_word).cast::<u32>() * bits;
        ((packed.expand_dims(1) >> shifts) & low_bits).reshape([units, 32])
    } else {
        let bit = arange(32) * bits as i32;
        let word = bit >> 5;
        let shift = (bit & 31).cast::<u32>();
        let unit_first = (first_word + arange(units) * bits as i32).expand_dims(1);
        // Lane j of a unit reads the word its code starts in; units past the end read 0
        // (all of a unit's words exist or none do, so the unit's first word decides).
        let live = n_words.map(|n| lt(unit_first, n).broadcast_to([units, 32]));
        let idx = unit_first + word;
        let lo = load_words(codes, idx, live);
        // The next word holds the high bits of a code that straddles; a shift by 32 (for
        // codes starting at bit 0 of a word) gives 0.
        let straddles = gt(shift + bits, 32u32).broadcast_to([units, 32]);
        let hi_live = Some(live.map_or(straddles, |l| logical_and(l, straddles)));
        let hi = load_words(codes, idx + 1, hi_live);
        ((lo >> shift) | (hi << (32u32 - shift))) & low_bits
    }
}
