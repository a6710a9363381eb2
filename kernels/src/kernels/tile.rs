//! The tile of flat groups one program of a group-quantizer kernel handles (the uniform
//! quantizer along channels, HIGGS): its offsets, its masks, and masked or unmasked loads
//! and stores of values, per-group values and packed codes.

use aqua_dsl::build::*;

use super::packing::{load_units, store_units};

/// The groups one program handles: `block / group` consecutive groups of `group` values
/// of a flat array of `n` values, each with `codes` codes (the group size for the uniform
/// quantizer, `group / dim` for HIGGS), and how to load and store them.
///
/// A tile either masks every access against `n` (the last tile, which may hold a partial
/// group or groups past the end) or none (a tile inside the array): masks cost about as
/// much as the quantizer's arithmetic, so kernels branch on [`GroupTile::is_full`] and
/// run the unmasked form on every tile but the last.
#[derive(Clone, Copy)]
pub struct GroupTile {
    /// Groups per tile.
    pub rows: u32,
    pub group: u32,
    /// Codes per group.
    pub codes: u32,
    /// Index of the program's first group.
    pub first: Value,
    /// `i32[rows]`: the program's group indices.
    pub groups: Value,
    /// `i32[rows, group]`: element offsets of the tile.
    pub offs: Value,
    /// `i32[rows * codes / 32]`: the first code word of each of the tile's packing units.
    unit_word: Value,
    masks: Option<Masks>,
}

#[derive(Clone, Copy)]
struct Masks {
    /// `bool[rows, group]`: offsets below `n`.
    valid: Value,
    /// `bool[rows]`: groups that hold at least one value.
    live: Value,
    /// `bool[units]`: packing units that hold at least one group's codes.
    live_units: Value,
}

impl GroupTile {
    /// The masked tile of program `program_id(0)`; `rows * codes` must be a multiple of 32
    /// (whole packing units) and `codes` a power of two.
    #[track_caller]
    pub fn of_program(n: Value, bits: u32, group: u32, codes: u32, block: u32) -> GroupTile {
        let rows = block / group;
        let units = rows * codes / 32;
        let first = program_id(0) * rows as i32;
        let groups = first + arange(rows);
        let offs = groups.expand_dims(1) * group as i32 + arange(group).expand_dims(0);
        let n_groups = (n + (group as i32 - 1)) / group as i32;
        let n_units = (n_groups * codes as i32 + 31) / 32;
        let unit = program_id(0) * units as i32 + arange(units);
        let masks = Some(Masks {
            valid: lt(offs, n),
            live: lt(groups, n_groups),
            live_units: lt(unit, n_units),
        });
        GroupTile {
            rows,
            group,
            codes,
            first,
            groups,
            offs,
            unit_word: unit * bits as i32,
            masks,
        }
    }

    /// Whether every value of the tile is below `n` (a scalar bool).
    #[track_caller]
    pub fn is_full(&self, n: Value) -> Value {
        le((self.first + self.rows as i32) * self.group as i32, n)
    }

    /// The same tile without masks, for when [`GroupTile::is_full`] holds.
    pub fn unmasked(&self) -> GroupTile {
        GroupTile { masks: None, ..*self }
    }

    /// `bool[rows, group]`: the lanes holding values (`None`: all of them).
    pub fn valid(&self) -> Option<Value> {
        self.masks.map(|m| m.valid)
    }

    /// The tile's values, `[rows, group]` (zero past `n`).
    #[track_caller]
    pub fn load(&self, x: Value) -> Value {
        match self.masks {
            Some(m) => load_masked_or(x + self.offs, m.valid, 0.0),
            None => load(x + self.offs),
        }
    }

    /// Stores `v: [rows, group]` (lanes past `n` skipped).
    #[track_caller]
    pub fn store(&self, out: Value, v: Value) {
        match self.masks {
            Some(m) => store_masked(out + self.offs, v, m.valid),
            None => store(out + self.offs, v),
        }
    }

    /// The per-group values at `p`, `[rows]`.
    #[track_caller]
    pub fn load_groups(&self, p: Value) -> Value {
        match self.masks {
            Some(m) => load_masked_or(p + self.groups, m.live, 0.0),
            None => load(p + self.groups),
        }
    }

    /// Stores per-group values `v: [rows]`.
    #[track_caller]
    pub fn store_groups(&self, p: Value, v: Value) {
        match self.masks {
            Some(m) => store_masked(p + self.groups, v, m.live),
            None => store(p + self.groups, v),
        }
    }

    /// Packs and stores codes `q: u32[rows, codes]`.
    #[track_caller]
    pub fn store_codes(&self, codes: Value, q: Value, bits: u32) {
        store_units(codes, self.unit_word, q, bits, self.masks.map(|m| m.live_units));
    }

    /// Loads and unpacks the tile's codes, `u32[rows, codes]`.
    #[track_caller]
    pub fn load_codes(&self, codes: Value, bits: u32) -> Value {
        load_units(codes, self.unit_word, bits, self.masks.map(|m| m.live_units)).reshape([self.rows, self.codes])
    }
}
