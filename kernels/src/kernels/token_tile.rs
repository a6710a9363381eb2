//! The tile layout of the uniform quantizer along tokens: one token group (`group`
//! consecutive tokens) of `cols` consecutive channels of a `[tokens, channels]` tensor.
//!
//! Grid: axis 0 over channel tiles (`ceil(channels / cols)`), axis 1 over token groups
//! (`ceil(tokens / group)`). Values are `[group, cols]` (a token per row), the group of a
//! column runs down axis 0, and its scale and zero live at `token_group * channels + c`.
//! Codes are in element order, so row `t` of the tile holds `cols / 32` packing units
//! starting at code `t * channels + first_column`; `channels` must be a multiple of 32 for
//! units to start at a row (the host checks it).

use aqua_dsl::build::*;

use super::tile::{Masks, Tile};

impl Tile {
    /// The masked tile of program `(program_id(0), program_id(1))` over a `[tokens,
    /// channels]` tensor: values `[group, cols]`, one group per column, codes in the
    /// values' shape.
    #[track_caller]
    pub fn of_tokens(tokens: Value, channels: Value, bits: u32, group: u32, cols: u32) -> Tile {
        let units = cols / 32;
        // `channels` is a multiple of 32 (the host checks it); spelled as one, so the code
        // generator knows each row's offsets start 64-byte aligned and moves a GPU
        // thread's values 16 bytes at a time (`analysis::runs`).
        let channels = channels / 32 * 32;
        let t = program_id(1) * group as i32 + arange(group);
        let first_col = program_id(0) * cols as i32;
        let c = first_col + arange(cols);
        let offs = t.expand_dims(1) * channels + c.expand_dims(0);
        // Units of 32 codes: the row's first unit plus the tile's column units.
        let unit_cols = program_id(0) * units as i32 + arange(units);
        let row_units = channels / 32;
        let unit = t.expand_dims(1) * row_units + unit_cols.expand_dims(0);
        let live_rows = lt(t, tokens).expand_dims(1);
        let params = program_id(1) * channels + c;
        let unit_word = (unit * bits as i32).reshape([group * units]);
        let row_first_word = (t * row_units + program_id(0) * units as i32) * bits as i32;
        // Clamped into the tensor (the tile runs only with a token and a channel in it), so
        // the parameter and code loads need no mask.
        let (last_col, last_unit_col) = (channels - 1, row_units - 1);
        let t_in = t.minimum(tokens - 1).expand_dims(1);
        let unit_in = t_in * row_units + unit_cols.minimum(last_unit_col).expand_dims(0);
        let masks = Some(Masks {
            valid: logical_and(live_rows, lt(c, channels).expand_dims(0)),
            live: lt(c, channels),
            live_units: logical_and(live_rows, lt(unit_cols, row_units).expand_dims(0)).reshape([group * units]),
            any: logical_and(lt(program_id(1) * group as i32, tokens), lt(first_col, channels)),
            params_in: program_id(1) * channels + c.minimum(last_col),
            unit_word_in: (unit_in * bits as i32).reshape([group * units]),
        });
        let end_token = (program_id(1) + 1) * group as i32;
        Tile {
            code_shape: [group, cols],
            offs,
            params,
            unit_word,
            unit_rows: Some((row_first_word, units)),
            full: logical_and(le(end_token, tokens), le(first_col + cols as i32, channels)),
            masks,
        }
    }
}
