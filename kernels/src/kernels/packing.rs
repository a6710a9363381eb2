//! Dense code packing inside kernels: the block-level form of [`crate::quant::pack`].
//!
//! Codes are packed in units of 32 codes into `bits` consecutive u32 words, LSB first. A
//! kernel packs a block of whole units and says where each unit's words go (`unit_word`:
//! the index of its first word), so the units of a tile need not be contiguous (a tile of
//! token groups holds a piece of several token rows).
//!
//! Two strategies, chosen at build time from the comptime bit width:
//! - `bits` divides 32 (1, 2, 4, 8): each word holds `32 / bits` whole codes, so packing is
//!   a reshape to `[words, 32 / bits]`, a shift per column and a sum along the row;
//! - otherwise (3, 5, 6, 7) codes straddle words. Packing first puts `g` codes side by
//!   side in one piece of `g * bits` bits (`g` the largest power of two that fits: 8 codes
//!   of 3 bits, 4 of the others), the way the first strategy packs a word; word `w` of a
//!   unit is then the sum over its pieces of `piece << (k*g*bits - 32w)` and
//!   `piece >> (32w - k*g*bits)`, where shift amounts that are negative or at least 32
//!   give 0 (the IR's shift semantics), so only the pieces overlapping word `w` contribute
//!   (summing all 32 codes so took the CPU's 3-bit quantize from 2.8 to 6.0 GB/s, its
//!   sm_90 SASS 568 to 352 instructions). Unpacking reads each code's one or two words,
//!   or on the CPU builds codes from all of the unit's words ([`load_interior_units`]).
//!
//! The interior form of a token tile, whose units lie in rows a tensor's channels apart,
//! loads and stores each row's words as one run at the widths that divide 32
//! ([`load_interior_rows`], [`store_interior_rows`]); that of a channel tile computes all
//! of its units' straddling words before it stores them, which the CPU then writes in one
//! loop ([`store_interior_units`]).
//!
//! Bits of different codes never overlap, so sums are exact ORs.

use aqua_dsl::build::*;

use super::specialize::{load_where, store_where};

/// Packs `q: u32[..]` (codes in row-major order, a multiple of 32 of them, each
/// `bias + code` with `code < 2^bits`, where `bias` has its low `bits` bits clear) and
/// stores unit `u`'s words at `codes + unit_word[u] + w`, `w < bits`, for the units where
/// `live: bool[units]` holds (`None`: every unit).
///
/// The bias saves a kernel the op that would clear it from every code: where `bits`
/// divides 32 the sum of a word's shifted lanes carries it as one constant (sums wrap, so
/// the constant's bits shifted past 32 are gone from both), subtracted once a word.
#[track_caller]
pub fn store_units(
    codes: Value,
    unit_word: Value,
    q: Value,
    bits: u32,
    bias: u32,
    live: Option<Value>,
) {
    let n_codes: u32 = q.shape().iter().product();
    let units = n_codes / 32;
    if 32 % bits == 0 {
        let words = pack_words(q, bits, bias);
        let idx = unit_word.expand_dims(1) + arange(bits).expand_dims(0);
        store_where(
            codes + idx,
            words,
            live.map(|l| l.expand_dims(1).broadcast_to([units, bits])),
        );
    } else {
        let (piece, bit) = pieces(q, bits, bias);
        for w in 0..bits {
            let word = straddling_word(piece, bit, w);
            store_where(codes + (unit_word + w as i32), word, live);
        }
    }
}

/// [`store_units`] of every unit, in the interior form of a specialized tile (which only
/// the CPU runs). Where codes straddle words, every word is computed first, then stored
/// one after another: stores the CPU writes in one loop where the units' words are
/// consecutive (`unit_word` affine, [`aqua_dsl::analysis::affine`]), as one interleaved
/// group; one word at a time, each store had a stride of `bits` words, a scatter (uniform
/// quantize at 3, 5, 6 and 7 bits 1.18-1.31x on one core). The units of a KIVI tile lie
/// in rows, whose words stay scatters either way: they take [`store_units`], whose order
/// ran 6-bit KIVI quantize 10% faster.
#[track_caller]
pub fn store_interior_units(codes: Value, unit_word: Value, q: Value, bits: u32, bias: u32) {
    if 32 % bits == 0 {
        return store_units(codes, unit_word, q, bits, bias, None);
    }
    let (piece, bit) = pieces(q, bits, bias);
    let words: Vec<Value> = (0..bits).map(|w| straddling_word(piece, bit, w)).collect();
    for (w, word) in (0..).zip(words) {
        store(codes + (unit_word + w), word);
    }
}

/// Codes `q` (`bias + code`) at a width that does not divide 32, first `g` side by side in
/// one piece of `g * bits` bits (`g` a power of two, `g * bits <= 32`), as the widths
/// that divide 32 pack, so that each word gathers a few such pieces, not all 32 codes of
/// the unit: `u32[units, 32 / g]`, and the bit of its unit at which each piece starts.
#[track_caller]
fn pieces(q: Value, bits: u32, bias: u32) -> (Value, Value) {
    let units = q.shape().iter().product::<u32>() / 32;
    let g = 1u32 << (31 - (32 / bits).leading_zeros());
    let pieces = 32 / g;
    let q = if bias != 0 { q - bias } else { q }.reshape([units * pieces, g]);
    let piece = (q << (arange(g).cast::<u32>() * bits))
        .sum(1)
        .reshape([units, pieces]);
    (piece, arange(pieces).cast::<u32>() * (g * bits))
}

/// Word `w` of every unit from its [`pieces`] starting at bits `bit`: the bits of piece
/// `k` that fall in the word, shifted up when it starts inside the word, down when it
/// started in the word before (wrapping u32 amounts that are "negative" are >= 32 and
/// shift everything out).
#[track_caller]
fn straddling_word(piece: Value, bit: Value, w: u32) -> Value {
    let up = bit - 32 * w;
    let down = 32 * w - bit;
    ((piece << up) | (piece >> down)).sum(1)
}

/// The words of codes `q` (`bias + code`, see [`store_units`]) at a width dividing 32,
/// `u32[units, bits]`: a reshape to `[words, 32 / bits]`, a shift per column and a sum
/// along the row, less the bias's sum once a word.
#[track_caller]
fn pack_words(q: Value, bits: u32, bias: u32) -> Value {
    let units = q.shape().iter().product::<u32>() / 32;
    let per_word = 32 / bits;
    let shifts = arange(per_word).cast::<u32>() * bits;
    let biases = (0..per_word).fold(0u32, |sum, j| sum.wrapping_add(bias << (bits * j)));
    let mut words = (q.reshape([units * bits, per_word]) << shifts).sum(1);
    if biases != 0 {
        words -= biases;
    }
    words.reshape([units, bits])
}

/// [`store_units`] of units that lie in rows, in the interior form of a specialized tile
/// (which only the CPU runs), at widths dividing 32: row `r` holds `units` consecutive
/// units from word `first_word[r]` (`i32[rows]`), each row's words one run of offsets, as
/// [`load_interior_rows`] reads them.
#[track_caller]
pub fn store_interior_rows(
    codes: Value,
    first_word: Value,
    units: u32,
    q: Value,
    bits: u32,
    bias: u32,
) {
    let rows = first_word.shape()[0];
    let words = units * bits;
    let idx = first_word.expand_dims(1) + arange(words).expand_dims(0);
    store(
        codes + idx,
        pack_words(q, bits, bias).reshape([rows, words]),
    );
}

/// Loads the units whose first words are at `unit_word: i32[units]` and unpacks them to
/// `u32[units, 32]`; units where `live` is false (when given) read as zero codes.
#[track_caller]
pub fn load_units(codes: Value, unit_word: Value, bits: u32, live: Option<Value>) -> Value {
    let units = unit_word.shape()[0];
    let low_bits = (1u32 << bits) - 1;
    if 32 % bits == 0 {
        let idx = unit_word.expand_dims(1) + arange(bits).expand_dims(0);
        let mask = live.map(|l| l.expand_dims(1).broadcast_to([units, bits]));
        let packed = load_where(codes + idx, mask).reshape([units * bits]);
        unpack_words(packed, bits)
    } else {
        let bit = arange(32) * bits as i32;
        let word = bit >> 5;
        let shift = (bit & 31).cast::<u32>();
        let first = unit_word.expand_dims(1);
        let live = live.map(|l| l.expand_dims(1).broadcast_to([units, 32]));
        // Lane j of a unit reads the word its code starts in.
        let idx = first + word;
        let lo = load_where(codes + idx, live);
        // The next word holds the high bits of a code that straddles. A code that starts
        // at bit 0 of a word does not, and its shift by 32 gives 0 whatever the word, so it
        // reads its unit's last word instead of one that may lie past the codes: no mask
        // beyond the unit's.
        let hi_word = (word + 1).minimum(bits as i32 - 1);
        let hi = load_where(codes + (first + hi_word), live);
        ((lo >> shift) | (hi << (32u32 - shift))) & low_bits
    }
}

/// The codes of whole words `u32[words]` at a width dividing 32: `u32[words * bits / 32, 32]`.
#[track_caller]
fn unpack_words(packed: Value, bits: u32) -> Value {
    let per_word = 32 / bits;
    let units = packed.shape()[0] / bits;
    let shifts = arange(per_word).cast::<u32>() * bits;
    ((packed.expand_dims(1) >> shifts) & ((1u32 << bits) - 1)).reshape([units, 32])
}

/// [`load_units`] of units that lie in rows, in the interior form of a specialized tile
/// (which only the CPU runs), at widths dividing 32: row `r` holds `units` consecutive
/// units from word `first_word[r]` (`i32[rows]`). A row's words are one run of offsets,
/// which the CPU loads as a vector; unit by unit they were loaded one word at a time
/// (a KIVI tile's rows are a tensor's channels apart).
#[track_caller]
pub fn load_interior_rows(codes: Value, first_word: Value, units: u32, bits: u32) -> Value {
    let rows = first_word.shape()[0];
    let words = units * bits;
    let idx = first_word.expand_dims(1) + arange(words).expand_dims(0);
    unpack_words(load(codes + idx).reshape([rows * words]), bits)
}

/// [`load_units`] in the interior form of a specialized tile, which only the CPU runs
/// (`specialize.rs`). Where codes straddle words, each of a unit's `bits` words is
/// broadcast over its 32 lanes and shifted into place by per-lane constants (the
/// mirror of [`store_units`]' shifts), which vectorize: the two words a lane would read
/// were two gathers a vector, 16 loads each.
#[track_caller]
pub fn load_interior_units(codes: Value, unit_word: Value, bits: u32) -> Value {
    if 32 % bits == 0 {
        return load_units(codes, unit_word, bits, None);
    }
    let bit = arange(32).cast::<u32>() * bits;
    let code = (0..bits)
        .map(|w| {
            let word = load(codes + (unit_word + w as i32)).expand_dims(1);
            (word >> (bit - 32 * w)) | (word << (32 * w - bit))
        })
        .reduce(|code, part| code | part)
        .expect("bits >= 1");
    code & ((1u32 << bits) - 1)
}
