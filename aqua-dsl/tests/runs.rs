//! The runs analysis (`analysis::runs`): which offsets run consecutively along a dim,
//! and what their run starts are divisible by. GPU code claims the alignment it reports
//! for 16-byte accesses, so every fact here is one a misaligned access would break.
//! And the affine forms of offsets (`analysis::affine`), from which the CPU tells which
//! blocks are one run and which stores can never write the same element.

use std::cell::RefCell;

use aqua_dsl::analysis::{affine, disjoint, one_run_blocks, runs, Axis, ANY};
use aqua_dsl::build::*;
use aqua_dsl::ir::{DType, Param, ParamKind, ValueId};
use aqua_dsl::Kernel;

/// A kernel over an f16 buffer `x` and an `i32` scalar `n`, and the values `body` returns
/// to inspect.
fn probe(body: impl FnOnce(Value, Value) -> Vec<Value>) -> (Kernel, Vec<ValueId>) {
    let params = vec![
        Param { name: "x".into(), kind: ParamKind::Ptr { dtype: DType::F16, mutable: true } },
        Param { name: "n".into(), kind: ParamKind::Scalar(DType::I32) },
    ];
    let ids: RefCell<Vec<ValueId>> = RefCell::default();
    let k = build_kernel("probe", params, |a| {
        let vals = body(a[0], a[1]);
        ids.borrow_mut().extend(vals.iter().map(|v| v.id()));
        let offs = program_id(0) * 8 + arange(8);
        store(a[0] + offs, load(a[0] + offs));
    })
    .unwrap();
    (k, ids.into_inner())
}

/// What the analysis knows of each value `body` returns (per dim).
fn facts(body: impl FnOnce(Value, Value) -> Vec<Value>) -> Vec<Vec<Axis>> {
    let (k, ids) = probe(body);
    let info = runs(&k);
    ids.iter().map(|id| info.get(id).map(|r| r.axes.clone()).unwrap_or_default()).collect()
}

/// Whether each value `body` returns is one run over its block
/// (`analysis::one_run_blocks`).
fn one_run(body: impl FnOnce(Value, Value) -> Vec<Value>) -> Vec<bool> {
    let (k, ids) = probe(body);
    let blocks = one_run_blocks(&k, &affine(&k));
    ids.iter().map(|id| blocks.contains(id)).collect()
}

fn last(axes: &[Axis]) -> Axis {
    *axes.last().expect("a block")
}

#[test]
fn program_blocks_run_whole_and_start_at_multiples_of_the_block() {
    let f = facts(|x, _| {
        let offs = program_id(0) * 1024 + arange(1024);
        vec![offs, x + offs, arange(1024)]
    });
    assert_eq!(last(&f[2]), Axis { contig: 10, same: 0, div: ANY }, "starts at zero");
    assert_eq!(last(&f[0]), Axis { contig: 10, same: 0, div: 10 });
    assert_eq!(last(&f[1]), Axis { contig: 10, same: 0, div: 10 }, "a buffer's start adds nothing");
}

#[test]
fn quantizer_tiles_run_along_groups() {
    // Tile::of_groups: 16 groups of 64 contiguous values.
    let f = facts(|_, _| {
        let groups = program_id(0) * 16 + arange(16);
        let offs = groups.expand_dims(1) * 64 + arange(64).expand_dims(0);
        vec![offs, offs.trans(), offs.reshape([1024]), offs.reshape([64, 16])]
    });
    assert_eq!(last(&f[0]), Axis { contig: 6, same: 0, div: 6 });
    assert_eq!(f[0][0].contig, 0, "rows are 64 apart, not consecutive");
    assert_eq!(last(&f[1]).contig, 0, "a transpose's last dim is the old stride-64 one");
    // Merged rows keep their own runs (the analysis does not join rows).
    assert_eq!(last(&f[2]), Axis { contig: 6, same: 0, div: 6 });
    // A narrower last dim splits runs: starts are 16 apart.
    assert_eq!(last(&f[3]), Axis { contig: 4, same: 0, div: 4 });
}

#[test]
fn starts_that_are_not_multiples_lose_divisibility() {
    let f = facts(|_, n| {
        vec![
            arange_from(8, 72),
            arange_from(1, 65),
            program_id(0) * 1024 + arange(1024) + 1,
            program_id(0) * n + arange(64),
            program_id(0) * 1024 + arange(1024) + 24,
        ]
    });
    assert_eq!(last(&f[0]), Axis { contig: 6, same: 0, div: 3 });
    assert_eq!(last(&f[1]), Axis { contig: 6, same: 0, div: 0 });
    assert_eq!(last(&f[2]), Axis { contig: 10, same: 0, div: 0 });
    assert_eq!(last(&f[3]), Axis { contig: 6, same: 0, div: 0 }, "a runtime stride is of unknown divisibility");
    assert_eq!(last(&f[4]), Axis { contig: 10, same: 0, div: 3 });
}

#[test]
fn strides_splats_and_differences() {
    let f = facts(|_, n| {
        let a = arange(64);
        vec![
            a * 2,
            full([64], 5) - a,
            a - 1,
            full([64], n),
            (program_id(0) * 16 + arange(16)).expand_dims(1).broadcast_to([16, 64]),
            a * 64 + 8,
        ]
    });
    assert_eq!(last(&f[0]), Axis { contig: 0, same: 0, div: 1 }, "a stride of 2 is no run");
    assert_eq!(last(&f[1]).contig, 0, "a falling sequence is no run");
    assert_eq!(last(&f[2]), Axis { contig: 6, same: 0, div: 0 });
    assert_eq!(last(&f[3]), Axis { contig: 0, same: 6, div: 0 });
    assert_eq!(last(&f[4]), Axis { contig: 0, same: 6, div: 0 }, "a broadcast column is one value per row");
    assert_eq!(last(&f[5]), Axis { contig: 0, same: 0, div: 3 });
}

#[test]
fn unsigned_offsets_and_loaded_offsets_are_unknown() {
    let f = facts(|x, _| {
        let offs = program_id(0) * 64 + arange(64);
        let loaded = load(x + offs).cast::<i32>();
        vec![x + offs.cast::<u32>(), x + loaded, offs.cast::<i64>(), offs.cast::<u8>()]
    });
    assert_eq!(f[0], vec![], "u32 offsets wrap to valid ones");
    assert_eq!(last(&f[1]), Axis::UNKNOWN, "offsets read from memory");
    assert_eq!(last(&f[2]), Axis { contig: 6, same: 0, div: 6 }, "widening keeps every value");
    assert_eq!(f[3], vec![], "narrowing wraps");
}

#[test]
fn masks_are_constant_where_their_operands_are() {
    let f = facts(|_, n| {
        let rows = program_id(0) * 16 + arange(16);
        let row_mask = lt(rows, n).expand_dims(1).broadcast_to([16, 64]);
        let col_mask = lt(arange(64), n).expand_dims(0).broadcast_to([16, 64]);
        vec![row_mask, col_mask, logical_and(row_mask, col_mask), logical_and(row_mask, row_mask)]
    });
    assert_eq!(last(&f[0]), Axis { contig: 0, same: 6, div: 0 }, "a row's mask is one value along it");
    assert_eq!(last(&f[1]).same, 0);
    assert_eq!(last(&f[2]).same, 0, "and: constant only where both are");
    assert_eq!(last(&f[3]).same, 6);
}

/// Rows that follow each other make one run across rows; rows a tensor's run-time row
/// length apart, or in another order, do not (the CPU addresses those by runs).
#[test]
fn one_run_blocks_need_rows_that_follow_each_other() {
    let runs = one_run(|x, n| {
        let pid = program_id(0);
        let groups = (pid * 16 + arange(16)).expand_dims(1);
        let tile = groups * 64 + arange(64).expand_dims(0);
        let tokens = groups * n + arange(64).expand_dims(0);
        let wide = groups * 128 + arange(64).expand_dims(0);
        let flat = (pid * 1024 + arange(1024)).reshape([16, 64]);
        let reversed = (pid * 16 + (full([16], 15) - arange(16))).expand_dims(1) * 64 + arange(64).expand_dims(0);
        vec![tile, x + tile, flat, flat.reshape([1024]), tokens, wide, tile.trans(), reversed, arange(64) * 2]
    });
    assert_eq!(runs[..4], [true; 4], "a tile of whole rows, its pointers, a reshape of one run and back");
    assert_eq!(runs[4..], [false; 5], "a run-time row length, rows 128 apart, a transpose, reversed rows, a stride");
}

/// Whether the blocks of offsets `body` returns (all of one shape) are pairwise disjoint
/// by their affine forms; `None` where one has none.
fn disjoint_offsets(body: impl FnOnce(Value, Value) -> Vec<Value>) -> Option<bool> {
    let (k, ids) = probe(body);
    let forms = affine(&k);
    let dims = k.ty(ids[0]).shape.dims().to_vec();
    let of: Option<Vec<_>> = ids.iter().map(|id| forms.get(id)).collect();
    Some(disjoint(&of?, &dims))
}

/// A unit's words at `unit * bits + w` never meet for distinct `w < bits`, whatever the
/// program; words `bits` apart do (the next unit's), as do offsets that differ by a
/// run-time value or come from memory.
#[test]
fn offsets_a_constant_apart_modulo_their_steps_are_disjoint() {
    let words = |bits: i32, ws: &'static [i32]| {
        disjoint_offsets(move |x, _| {
            let unit = program_id(0) * 32 + arange(32);
            ws.iter().map(|&w| x + (unit * bits + w)).collect()
        })
    };
    assert_eq!(words(3, &[0, 1, 2]), Some(true));
    assert_eq!(words(7, &[6, 0, 3, 1]), Some(true), "in any order, through pointers");
    assert_eq!(words(3, &[0, 1, 3]), Some(false), "word 3 is the next unit's word 0");
    assert_eq!(words(3, &[0, 1, 2, 3]), Some(false));
    assert_eq!(words(3, &[1, 1]), Some(false), "one offset twice");
    let broadcast = disjoint_offsets(|_, _| {
        let unit = (program_id(0) * 8 + arange(8)).expand_dims(1).broadcast_to([8, 4]);
        (0..3).map(|w| unit * 3 + w).collect()
    });
    assert_eq!(broadcast, Some(true), "a broadcast dim has no step");
    let scalar = disjoint_offsets(|_, n| {
        let unit = program_id(0) * 32 + arange(32);
        vec![unit * 3, unit * 3 + n]
    });
    assert_eq!(scalar, Some(false), "apart by a run-time value");
    let same = disjoint_offsets(|_, n| {
        let unit = (program_id(0) + n) * 32 + arange(32);
        vec![unit * 3, unit * 3 + 1]
    });
    assert_eq!(same, Some(true), "one run-time value in both");
    let loaded = disjoint_offsets(|x, _| {
        let unit = load(x + arange(32)).cast::<i32>();
        vec![unit * 3, unit * 3 + 1]
    });
    assert_eq!(loaded, None, "offsets from memory");
    let wide = disjoint_offsets(|_, _| {
        let unit = program_id(0) * 32 + arange(32);
        vec![unit * (1 << 28), unit * (1 << 28) + 1]
    });
    assert_eq!(wide, Some(false), "spread past 2^31: wrapped offsets may meet");
}
