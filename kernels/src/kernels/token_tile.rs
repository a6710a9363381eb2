//! The tile one program of the uniform quantizer along tokens handles: one token group
//! (`group` consecutive tokens) of `cols` consecutive channels of a `[tokens, channels]`
//! tensor, with its offsets, masks, loads and stores.
//!
//! Grid: axis 0 over channel tiles (`ceil(channels / cols)`), axis 1 over token groups
//! (`ceil(tokens / group)`). Values are `[group, cols]` (a token per row), the group of a
//! column runs down axis 0, and its scale and zero live at `token_group * channels + c`.
//! Codes are in element order, so row `t` of the tile holds `cols / 32` packing units
//! starting at code `t * channels + first_column`; `channels` must be a multiple of 32 for
//! units to start at a row (the host checks it).

use aqua_dsl::build::*;

use super::packing::{load_units, store_units};

#[derive(Clone, Copy)]
pub struct TokenTile {
    /// Tokens per group (the tile's rows).
    pub group: u32,
    /// Channels per tile (its columns).
    pub cols: u32,
    /// First channel of the tile.
    first_col: Value,
    /// `i32[group, cols]`: element offsets.
    offs: Value,
    /// `i32[cols]`: indices of the tile's scales and zeros.
    params: Value,
    /// `i32[group * cols / 32]`: the first code word of each packing unit, row by row.
    unit_word: Value,
    masks: Option<Masks>,
}

#[derive(Clone, Copy)]
struct Masks {
    /// `bool[group, cols]`: values inside the tensor.
    valid: Value,
    /// `bool[cols]`: the channels that exist.
    live_cols: Value,
    /// `bool[group * cols / 32]`: units inside the tensor.
    live_units: Value,
}

impl TokenTile {
    /// The masked tile of program `(program_id(0), program_id(1))`.
    #[track_caller]
    pub fn of_program(tokens: Value, channels: Value, bits: u32, group: u32, cols: u32) -> TokenTile {
        let units = cols / 32;
        let t = program_id(1) * group as i32 + arange(group);
        let first_col = program_id(0) * cols as i32;
        let c = first_col + arange(cols);
        let offs = t.expand_dims(1) * channels + c.expand_dims(0);
        // Units of 32 codes: the row's first unit plus the tile's column units.
        let unit_cols = program_id(0) * units as i32 + arange(units);
        let row_units = channels / 32;
        let unit = t.expand_dims(1) * row_units + unit_cols.expand_dims(0);
        let live_rows = lt(t, tokens).expand_dims(1);
        let masks = Some(Masks {
            valid: logical_and(live_rows, lt(c, channels).expand_dims(0)),
            live_cols: lt(c, channels),
            live_units: logical_and(live_rows, lt(unit_cols, row_units).expand_dims(0)).reshape([group * units]),
        });
        TokenTile {
            group,
            cols,
            first_col,
            offs,
            params: program_id(1) * channels + c,
            unit_word: (unit * bits as i32).reshape([group * units]),
            masks,
        }
    }

    /// Whether every value of the tile lies inside the tensor (a scalar bool).
    #[track_caller]
    pub fn is_full(&self, tokens: Value, channels: Value) -> Value {
        let end_token = (program_id(1) + 1) * self.group as i32;
        logical_and(le(end_token, tokens), le(self.first_col + self.cols as i32, channels))
    }

    /// The same tile without masks, for when [`TokenTile::is_full`] holds.
    pub fn unmasked(&self) -> TokenTile {
        TokenTile { masks: None, ..*self }
    }

    /// `bool[group, cols]`: the lanes holding values (`None`: all of them).
    pub fn valid(&self) -> Option<Value> {
        self.masks.map(|m| m.valid)
    }

    /// The tile's values, `[group, cols]` (zero outside the tensor).
    #[track_caller]
    pub fn load(&self, x: Value) -> Value {
        match self.masks {
            Some(m) => load_masked_or(x + self.offs, m.valid, 0.0),
            None => load(x + self.offs),
        }
    }

    /// Stores `v: [group, cols]` (lanes outside the tensor skipped).
    #[track_caller]
    pub fn store(&self, out: Value, v: Value) {
        match self.masks {
            Some(m) => store_masked(out + self.offs, v, m.valid),
            None => store(out + self.offs, v),
        }
    }

    /// The per-column values at `p`, `[cols]`.
    #[track_caller]
    pub fn load_params(&self, p: Value) -> Value {
        match self.masks {
            Some(m) => load_masked_or(p + self.params, m.live_cols, 0.0),
            None => load(p + self.params),
        }
    }

    /// Stores per-column values `v: [cols]`.
    #[track_caller]
    pub fn store_params(&self, p: Value, v: Value) {
        match self.masks {
            Some(m) => store_masked(p + self.params, v, m.live_cols),
            None => store(p + self.params, v),
        }
    }

    /// Packs and stores codes `q: u32[group, cols]`.
    #[track_caller]
    pub fn store_codes(&self, codes: Value, q: Value, bits: u32) {
        store_units(codes, self.unit_word, q, bits, self.masks.map(|m| m.live_units));
    }

    /// Loads and unpacks the tile's codes, `u32[group, cols]`.
    #[track_caller]
    pub fn load_codes(&self, codes: Value, bits: u32) -> Value {
        load_units(codes, self.unit_word, bits, self.masks.map(|m| m.live_units)).reshape([self.group, self.cols])
    }
}
