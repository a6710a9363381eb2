//! Placement tests: what becomes lazy and what gets a buffer, on the CPU and a GPU.

use super::*;
use crate::analysis::pointer_bases;
use crate::build::*;
use crate::codegen::llvm::specialized::{skipped_forms, Unit};
use crate::ir::{DType, Param, ParamKind};

fn ptr(name: &str, dtype: DType, mutable: bool) -> Param {
    Param { name: name.into(), kind: ParamKind::Ptr { dtype, mutable } }
}

/// The parameters of most tests: an f32 input `x` and an f32 output `y`.
fn x_to_y() -> Vec<Param> {
    vec![ptr("x", DType::F32, false), ptr("y", DType::F32, true)]
}

fn places(body: fn(&[Value]), params: Vec<Param>) -> (Kernel, Plan) {
    places_for(PlanTarget::default(), body, params)
}

fn places_for(target: PlanTarget, body: fn(&[Value]), params: Vec<Param>) -> (Kernel, Plan) {
    let k = build_kernel("plan_test", params, body).unwrap();
    let bases = pointer_bases(&k).unwrap();
    let p = plan(&k, &bases, target, &[]);
    (k, p)
}

/// Butterfly stages of strides 32 to 2 on a `[64, 16]` block, stored.
fn stages(a: &[Value]) {
    let offs = (arange(64).expand_dims(1) * 16 + arange(16).expand_dims(0)).reshape([1024]);
    let mut v = load(a[0] + offs).reshape([64, 16]).exp();
    for s in [32, 16, 8, 4, 2] {
        let p = v.xor_permute(0, s);
        let upper = ne(arange(64) & s as i32, 0).expand_dims(1).broadcast_to([64, 16]);
        v = where_(upper, p - v, v + p);
    }
    store(a[1] + offs, v.reshape([1024]));
}

fn place_of(k: &Kernel, p: &Plan, name: &str) -> Vec<Place> {
    let mut out = vec![];
    k.walk(&mut |i| {
        if i.op.name() == name {
            out.push(p.of(i.results[0]));
        }
    });
    out
}

#[test]
fn an_elementwise_chain_fuses_into_its_store() {
    let (k, p) = places(
        |a| {
            let offs = arange(64);
            let x = load(a[0] + offs);
            store(a[1] + offs, (x * 2.0 + 1.0).exp());
        },
        x_to_y(),
    );
    assert_eq!(place_of(&k, &p, "load"), vec![Place::Lazy]);
    assert_eq!(place_of(&k, &p, "exp"), vec![Place::Lazy]);
}

#[test]
fn a_value_used_by_two_sinks_gets_a_buffer() {
    let (k, p) = places(
        |a| {
            let x = load(a[0] + arange(64)).exp();
            let s = x.sum(0);
            store(a[1] + arange(64), x / s);
        },
        x_to_y(),
    );
    assert_eq!(place_of(&k, &p, "exp"), vec![Place::Buffer]);
    assert_eq!(place_of(&k, &p, "load"), vec![Place::Lazy]);
}

#[test]
fn cheap_offsets_and_masks_are_recomputed_in_every_sink() {
    let (k, p) = places(
        |a| {
            let offs = program_id(0) * 64 + arange(64);
            let m = offs.lt(100);
            let x = load_masked(a[0] + offs, m).exp();
            store_masked(a[1] + offs, x / x.sum(0), m);
        },
        x_to_y(),
    );
    // `offs` and the mask feed the load and the store: still lazy (affine indexing).
    assert_eq!(place_of(&k, &p, "add"), vec![Place::Lazy]);
    assert_eq!(place_of(&k, &p, "cmp"), vec![Place::Lazy]);
    assert_eq!(place_of(&k, &p, "exp"), vec![Place::Buffer]);
}

#[test]
fn a_load_does_not_move_past_a_store_to_its_buffer() {
    let (k, p) = places(
        |a| {
            let offs = arange(64);
            let y = load(a[0] + offs);
            store(a[0] + offs, y + 1.0);
        },
        vec![ptr("y", DType::F32, true)],
    );
    assert_eq!(place_of(&k, &p, "load"), vec![Place::Buffer]);
}

#[test]
fn a_short_axis_reduction_fuses_into_its_consumer() {
    let (k, p) = places(
        |a| {
            let x = load(a[0] + arange(1024)).reshape([32, 2, 16]);
            store(a[1] + arange(512), (x.sum(1) * 2.0).reshape([512]));
            store(a[1] + arange(64), x.reshape([64, 16]).sum(1));
        },
        x_to_y(),
    );
    // Along 2 elements: computed in the store's loop. Along 16: a buffer.
    let reductions = place_of(&k, &p, "reduce_sum");
    assert_eq!(reductions, vec![Place::Lazy, Place::Buffer]);
}

#[test]
fn a_transpose_is_a_tiled_copy_of_its_operands_buffer() {
    let (k, p) = places(
        |a| {
            let x = load(a[0] + arange(1024)).reshape([16, 64]).cast::<f32>();
            store(a[1] + arange(1024), x.trans().reshape([1024]));
        },
        vec![ptr("x", DType::F16, false), ptr("y", DType::F32, true)],
    );
    assert_eq!(place_of(&k, &p, "trans"), vec![Place::Buffer]);
    assert_eq!(place_of(&k, &p, "cast"), vec![Place::Buffer]);
}

#[test]
fn a_division_under_a_broadcast_gets_a_buffer() {
    let (k, p) = places(
        |a| {
            let x = load(a[0] + arange(1024)).reshape([16, 64]);
            let inv = 1.0f32 / x.max(1);
            store((a[1] + arange(1024)).reshape([16, 64]), x * inv.expand_dims(1));
        },
        x_to_y(),
    );
    // One division per row, not one per element: the quotient or its expand_dims
    // (which computes it once per element of its own) gets a buffer.
    let row_buffers = [place_of(&k, &p, "div"), place_of(&k, &p, "expand_dims")].concat();
    assert!(row_buffers.contains(&Place::Buffer), "{row_buffers:?}");
    assert_eq!(place_of(&k, &p, "broadcast"), vec![Place::Lazy]);
}

#[test]
fn values_used_inside_a_loop_are_not_recomputed_there() {
    let (k, p) = places(
        |a| {
            let x = arange(64).cast::<f32>().exp();
            for_range(0, 4, 1, &[], |i, _| {
                store(a[0] + arange(64) + i * 64, x);
                vec![]
            });
        },
        vec![ptr("y", DType::F32, true)],
    );
    assert_eq!(place_of(&k, &p, "exp"), vec![Place::Buffer]);
    assert_eq!(place_of(&k, &p, "arange")[0], Place::Lazy);
}

#[test]
fn butterfly_partners_in_other_lanes_stay_in_registers_on_a_gpu() {
    use Place::{Buffer, Lazy};
    let params = x_to_y();
    // The stages' outputs, strides 32 to 2. The first is cheap over the `exp` buffer
    // (recomputed wherever it is read); the last is read by the store. The store
    // reads the partners of stride 2 itself, so stride 4's output is a buffer.
    //
    // 1024 elements on 128 threads: flat bits 3..8 are the lane. Strides 8 and 4
    // (flat 128, 64) read their partners with shuffles inside stride 4's buffer, so
    // the outputs of strides 16 and 8 stay lazy.
    let gpu = PlanTarget { threads: Some(128), register_lookups: false };
    let (k, p) = places_for(gpu, stages, params.clone());
    assert_eq!(place_of(&k, &p, "select"), vec![Lazy, Lazy, Lazy, Buffer, Lazy]);
    // On the CPU a materialization brings one partner as a copy of its loop body:
    // stride 4's buffer brings stride 8's output, whose own partners (stride 16's
    // output) need a buffer.
    let (k, p) = places_for(PlanTarget::default(), stages, params);
    assert_eq!(place_of(&k, &p, "select"), vec![Lazy, Buffer, Lazy, Buffer, Lazy]);
}

/// Butterfly stages of strides 256 and 128 on `[512, 2]` (over an `exp` buffer), whose
/// pairs along axis 1 two short sums split into `a + b` and `a - b` (a HIGGS tuple's
/// coordinates), each read by two sinks: a reduction and a store.
fn split_read_twice(a: &[Value]) {
    let mut v = load(a[0] + arange(1024)).reshape([512, 2]).exp();
    for s in [256, 128] {
        let p = v.xor_permute(0, s);
        let upper = ne(arange(512) & s as i32, 0).expand_dims(1).broadcast_to([512, 2]);
        v = where_(upper, p - v, v + p);
    }
    let sign = (arange(2) * -2 + 1).cast::<f32>().reshape([1, 2]);
    let (sum, diff) = (v.sum(1), (v * sign).sum(1));
    store(a[1] + arange(512), sum * diff + sum.max(0) + diff.min(0));
}

#[test]
fn on_a_gpu_short_sums_over_a_costly_buffer_are_recomputed_by_each_sink() {
    use Place::{Buffer, Lazy};
    let params = x_to_y();
    // The butterfly's output is a buffer either way (both splits read it). On a GPU it
    // keeps it in every round, so a split costs its few operations over it and each of
    // its sinks computes it: no pass and barrier of its own.
    let gpu = PlanTarget { threads: Some(128), register_lookups: false };
    let (k, p) = places_for(gpu, split_read_twice, params.clone());
    assert_eq!(place_of(&k, &p, "select").last(), Some(&Buffer));
    assert_eq!(place_of(&k, &p, "reduce_sum"), vec![Lazy, Lazy]);
    // On the CPU reading that buffer counts as recomputing the stages: each split gets
    // a buffer of its own.
    let (k, p) = places_for(PlanTarget::default(), split_read_twice, params);
    assert_eq!(place_of(&k, &p, "select").last(), Some(&Buffer));
    assert_eq!(place_of(&k, &p, "reduce_sum"), vec![Buffer, Buffer]);
}

/// A parameter loaded from `x` (and made positive) scales a `[16, 64]` block: one per row,
/// broadcast along the rows (`per_row`), or one per column, broadcast down the columns.
fn scaled_by(a: &[Value], per_row: bool) {
    let offs = arange(16).expand_dims(1) * 64 + arange(64).expand_dims(0);
    let v = load(a[0] + offs);
    let s = load(a[0] + 1024 + arange(if per_row { 16 } else { 64 })).abs();
    let s = if per_row { s.expand_dims(1) } else { s.expand_dims(0) };
    store(a[1] + offs, v * s.broadcast_to([16, 64]));
}

#[test]
fn on_a_gpu_a_parameter_along_the_rows_is_loaded_by_each_use() {
    use Place::{Buffer, Lazy};
    let gpu = PlanTarget { threads: Some(128), register_lookups: false };
    // Whether the parameters (or their view as a column or row) got a buffer.
    let buffered = |k: &Kernel, p: &Plan| ["abs", "expand_dims"].iter().any(|n| place_of(k, p, n).contains(&Buffer));
    // Along the rows a thread's run of the store reads one parameter, or a few: each use
    // loads it (LLVM merges a thread's repeats), with no pass and barrier of its own.
    let (k, p) = places_for(gpu, |a| scaled_by(a, true), x_to_y());
    assert!(!buffered(&k, &p));
    assert_eq!(place_of(&k, &p, "load"), vec![Lazy, Lazy]);
    // Down the columns a run reads a different one for every value: a buffer.
    let (k, p) = places_for(gpu, |a| scaled_by(a, false), x_to_y());
    assert!(buffered(&k, &p));
    // The CPU computes a repeated load once, in a buffer, either way.
    let (k, p) = places_for(PlanTarget::default(), |a| scaled_by(a, true), x_to_y());
    assert!(buffered(&k, &p));
}

#[test]
fn on_the_cpu_a_load_read_by_two_sinks_is_loaded_by_each() {
    use Place::{Buffer, Lazy};
    // A tile's f16 values, widened: their row maxima, then the values over them.
    let body = |a: &[Value]| {
        let offs = arange(16).expand_dims(1) * 64 + arange(64).expand_dims(0);
        let v = load(a[0] + offs).cast::<f32>();
        let m = v.max(1).expand_dims(1).broadcast_to([16, 64]);
        store(a[1] + offs, v / m);
    };
    let params = vec![ptr("x", DType::F16, false), ptr("y", DType::F32, true)];
    // On the CPU both sinks load and widen the values again: no pass and buffer.
    let (k, p) = places_for(PlanTarget::default(), body, params.clone());
    assert_eq!(place_of(&k, &p, "cast"), vec![Lazy]);
    // A GPU keeps the shared-memory buffer (a second read of global memory is not free).
    let gpu = PlanTarget { threads: Some(128), register_lookups: false };
    let (k, p) = places_for(gpu, body, params);
    assert_eq!(place_of(&k, &p, "cast"), vec![Buffer]);
}

#[test]
fn on_the_cpu_a_tokens_tile_recomputes_its_offsets_in_each_sink() {
    use Place::Lazy;
    // A KIVI tile: 16 tokens of 64 channels of f16, rows a run-time row length apart, read
    // for a reduction along the tokens and again for the values over it.
    let body = |a: &[Value]| {
        let channels = a[2] / 32 * 32;
        let t = program_id(1) * 16 + arange(16);
        let c = program_id(0) * 64 + arange(64);
        let offs = t.expand_dims(1) * channels + c.expand_dims(0);
        let v = load(a[0] + offs).cast::<f32>();
        let m = v.max(0).expand_dims(0).broadcast_to([16, 64]);
        store(a[1] + offs, v - m);
    };
    let mut params = vec![ptr("x", DType::F16, false), ptr("y", DType::F32, true)];
    params.push(Param { name: "n".into(), kind: ParamKind::Scalar(DType::I32) });
    // On the CPU the offsets stay affine in each loop (no buffer of them to gather from).
    let (k, p) = places_for(PlanTarget::default(), body, params);
    let offsets = |k: &Kernel, p: &Plan| {
        let mut out = vec![];
        k.walk(&mut |i| {
            if let Op::Binary { op: BinOp::Add, .. } = i.op {
                if k.ty(i.results[0]).shape.dims() == [16, 64] {
                    out.push(p.of(i.results[0]));
                }
            }
        });
        out
    };
    assert_eq!(offsets(&k, &p), vec![Lazy]);
    // So are the addresses: a pointer offset costs nothing more (a buffer of the tile's
    // 64-bit addresses, read at each run's start, took a seventh of KIVI quantize's time).
    assert_eq!(place_of(&k, &p, "ptr_add"), vec![Lazy, Lazy]);
    // Both sinks load and widen the f16 values again (`reread_by_sinks`): the offsets'
    // 8 ops, the load and the widening.
    assert_eq!(place_of(&k, &p, "cast"), vec![Lazy]);
}

/// A value both forms of a specialized `if` read looks shared, and gets a buffer; placed
/// for one form (the other skipped, as in a module that does not lower it) it is computed
/// in its one sink. GPU targets skip every fast form, the host's split modules the form
/// the other module holds (`specialized::skipped_forms`).
#[test]
fn a_value_read_by_both_forms_is_placed_for_the_form_a_module_lowers() {
    let body: fn(&[Value]) = |a| {
        let x = load(a[0] + arange(64)).exp();
        specialize(
            program_id(0).lt(4),
            || {
                store(a[1] + arange(64), x + 1.0);
                vec![]
            },
            || {
                store(a[1] + arange(64), x * 2.0);
                vec![]
            },
        );
    };
    let k = build_kernel("plan_test", x_to_y(), body).unwrap();
    let bases = pointer_bases(&k).unwrap();
    let Some(Op::If { then_body, else_body, .. }) =
        k.body.insts.iter().map(|i| &i.op).find(|op| matches!(op, Op::If { .. }))
    else {
        panic!("no specialized if")
    };
    for target in [PlanTarget::default(), PlanTarget { threads: Some(128), ..Default::default() }] {
        let both = plan(&k, &bases, target, &[]);
        assert_eq!(place_of(&k, &both, "exp"), vec![Place::Buffer], "{target:?}");
        for skipped in [then_body, else_body] {
            let one = plan(&k, &bases, target, &[skipped]);
            assert_eq!(place_of(&k, &one, "exp"), vec![Place::Lazy], "{target:?}");
        }
    }
    let at = k.body.insts.iter().position(|i| matches!(i.op, Op::If { .. })).unwrap();
    for (unit, gpu, skipped) in [
        (Unit::Fast { at }, false, else_body),
        (Unit::General { at }, false, then_body),
        (Unit::Whole, true, then_body),
    ] {
        let forms = skipped_forms(&k, unit, gpu);
        assert!(forms.len() == 1 && std::ptr::eq(forms[0], skipped), "{unit:?} gpu={gpu}");
    }
    assert!(skipped_forms(&k, Unit::Whole, false).is_empty());
}
