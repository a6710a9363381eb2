//! The tile one program of a group-quantizer kernel handles: its offsets, its masks, and
//! masked or unmasked loads and stores of values, per-group parameters and packed codes.
//! Two layouts build it: flat groups ([`Tile::of_groups`], here: the uniform quantizer
//! along channels, HIGGS) and token groups ([`Tile::of_tokens`], in [`super::token_tile`]).

use aqua_dsl::build::*;

use super::packing::{
    load_interior_rows, load_interior_units, load_units, store_interior_rows, store_interior_units, store_units,
};
use super::specialize::{load_where, load_where_or, specialize, store_where};

/// A program's values `[rows, cols]`, one f16 parameter per group (a scale, a zero), and
/// codes `u32[code_shape]` packed in units of 32, each unit stored at its own word index.
///
/// A tile either masks every access (the last tile, which may reach past the tensor) or
/// none (a tile inside it): masks cost about as much as the quantizer's arithmetic, so
/// kernels run their body through [`Tile::specialize`], unmasked on every tile but the last.
#[derive(Clone, Copy)]
pub struct Tile {
    /// The shape of the tile's codes.
    pub(super) code_shape: [u32; 2],
    /// `i32[rows, cols]`: element offsets of the tile's values.
    pub(super) offs: Value,
    /// `i32[groups]`: indices of the tile's groups' parameters.
    pub(super) params: Value,
    /// `i32[units]`: the first code word of each of the tile's packing units.
    pub(super) unit_word: Value,
    /// Units that lie in rows (a token tile): `i32[rows]`, the first word of each row's
    /// units, and the units a row holds, consecutive from there.
    pub(super) unit_rows: Option<(Value, u32)>,
    /// Bool scalar: every value of the tile lies inside the tensor.
    pub(super) full: Value,
    pub(super) masks: Option<Masks>,
}

#[derive(Clone, Copy)]
pub(super) struct Masks {
    /// `bool[rows, cols]`: values inside the tensor.
    pub(super) valid: Value,
    /// `bool[groups]`: groups that hold at least one value.
    pub(super) live: Value,
    /// `bool[units]`: packing units that hold at least one group's codes.
    pub(super) live_units: Value,
    /// Bool scalar: the tile holds a group of the tensor (a program launched past the
    /// tensor, or over an empty one, does nothing).
    pub(super) any: Value,
    /// `i32[groups]`: the parameter indices clamped into the tensor's groups, so loads
    /// need no mask (a dead group reads the last group's; nothing of it is stored).
    pub(super) params_in: Value,
    /// `i32[units]`: the unit words clamped into the tensor's units, likewise.
    pub(super) unit_word_in: Value,
}

impl Tile {
    /// The masked tile of program `program_id(0)` over a flat array of `n` values:
    /// `block / group` consecutive groups of `group` values (`[rows, group]`), each with
    /// `codes` codes (the group size for the uniform quantizer, `group / dim` for HIGGS).
    /// `rows * codes` must be a multiple of 32 (whole packing units) and `codes` a power
    /// of two.
    #[track_caller]
    pub fn of_groups(n: Value, bits: u32, group: u32, codes: u32, block: u32) -> Tile {
        let rows = block / group;
        let units = rows * codes / 32;
        let first = program_id(0) * rows as i32;
        let groups = first + arange(rows);
        let offs = groups.expand_dims(1) * group as i32 + arange(group).expand_dims(0);
        let n_groups = (n + (group as i32 - 1)) / group as i32;
        let n_units = (n_groups * codes as i32 + 31) / 32;
        let unit = program_id(0) * units as i32 + arange(units);
        let unit_word = unit * bits as i32;
        let masks = Some(Masks {
            valid: lt(offs, n),
            live: lt(groups, n_groups),
            live_units: lt(unit, n_units),
            any: lt(first, n_groups),
            params_in: groups.minimum(n_groups - 1),
            unit_word_in: unit.minimum(n_units - 1) * bits as i32,
        });
        Tile {
            code_shape: [rows, codes],
            offs,
            params: groups,
            unit_word,
            unit_rows: None,
            full: le((first + rows as i32) * group as i32, n),
            masks,
        }
    }

    /// Runs `body` on this tile: without masks when it is full, with them otherwise (an IR
    /// branch), and not at all when it holds no group of the tensor (where the clamped
    /// indices would have nothing to point at).
    #[track_caller]
    pub fn specialize(self, body: impl Fn(Tile)) {
        let edge = || match self.masks {
            Some(m) => if_then(m.any, || body(self)),
            None => body(self),
        };
        specialize(self.full, || body(Tile { masks: None, ..self }), edge);
    }

    /// `bool[rows, cols]`: the lanes holding values (`None`: all of them).
    pub fn valid(&self) -> Option<Value> {
        self.masks.map(|m| m.valid)
    }

    /// The tile's values, `[rows, cols]` (zero outside the tensor).
    #[track_caller]
    pub fn load(&self, x: Value) -> Value {
        load_where(x + self.offs, self.valid())
    }

    /// The tile's values, `[rows, cols]`, and `pad` outside the tensor.
    #[track_caller]
    pub fn load_or(&self, x: Value, pad: f32) -> Value {
        load_where_or(x + self.offs, self.valid(), pad)
    }

    /// Stores `v: [rows, cols]` (lanes outside the tensor skipped).
    #[track_caller]
    pub fn store(&self, out: Value, v: Value) {
        store_where(out + self.offs, v, self.valid());
    }

    /// Stores an output `v: [rows, cols]` that is read back no time soon (`stream`, a
    /// dequantizer's output larger than the caches): the interior form as a streaming store
    /// ([`aqua_dsl::build::store_streaming`]), the last tile as [`Self::store`].
    #[track_caller]
    pub fn store_output(&self, out: Value, v: Value, stream: bool) {
        match self.valid() {
            None if stream => store_streaming(out + self.offs, v),
            _ => self.store(out, v),
        }
    }

    /// The per-group parameters at `p`, `[groups]` (a dead group's: anything).
    #[track_caller]
    pub fn load_params(&self, p: Value) -> Value {
        load(p + self.masks.map_or(self.params, |m| m.params_in))
    }

    /// Stores per-group parameters `v: [groups]`.
    #[track_caller]
    pub fn store_params(&self, p: Value, v: Value) {
        store_where(p + self.params, v, self.masks.map(|m| m.live));
    }

    /// Packs and stores codes `q: u32[code_shape]`.
    #[track_caller]
    pub fn store_codes(&self, codes: Value, q: Value, bits: u32) {
        self.store_biased_codes(codes, q, bits, 0);
    }

    /// Packs and stores codes given as `bias + code` (`q: u32[code_shape]`, `bias` with its
    /// low `bits` bits clear), without clearing the bias from each ([`store_units`]).
    #[track_caller]
    pub fn store_biased_codes(&self, codes: Value, q: Value, bits: u32, bias: u32) {
        match (self.masks, self.unit_rows) {
            (None, Some((first, units))) if 32 % bits == 0 => store_interior_rows(codes, first, units, q, bits, bias),
            (None, None) => store_interior_units(codes, self.unit_word, q, bits, bias),
            (masks, _) => store_units(codes, self.unit_word, q, bits, bias, masks.map(|m| m.live_units)),
        }
    }

    /// Loads and unpacks the tile's codes, `u32[code_shape]`.
    #[track_caller]
    pub fn load_codes(&self, codes: Value, bits: u32) -> Value {
        match self.masks {
            Some(m) => load_units(codes, m.unit_word_in, bits, None),
            None => match self.unit_rows {
                Some((first, units)) if 32 % bits == 0 => load_interior_rows(codes, first, units, bits),
                _ => load_interior_units(codes, self.unit_word, bits),
            },
        }
        .reshape(self.code_shape)
    }
}
