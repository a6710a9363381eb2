//! Control flow: runtime `for` and `if` with carried values and results, `if` as an
//! expression, nesting, and comptime loops and branches that unroll.

use aqua_dsl::build::Params;
use aqua_dsl::ir::{BinOp, DType, Inst, Lit, Op, ReduceOp, Type};
use aqua_macros::kernel;

use super::common::*;

// ---- runtime `for` with carried values ----

/// Sum and maximum of one row of any length, block by block.
#[kernel]
fn row_stats(x: Ptr<f32>, out: PtrMut<f32>, n: i32, #[comptime(default = 64)] block: u32) {
    let cols = arange(block);
    let mut total = zeros::<f32>([block]);
    let mut peak = full([block], f32::NEG_INFINITY);
    for start in (0..n).step_by(block) {
        let offs = start + cols;
        let v = load(x + offs, offs < n, 0.0);
        total = total + v;
        peak = maximum(peak, v);
    }
    store(out, total.sum(0));
    store(out + 1, peak.max(0));
}

#[test]
fn runtime_for_carries_two_values() {
    let k = build(&row_stats, Params::new());
    let fors: Vec<&Inst> = insts(&k)
        .into_iter()
        .filter(|i| matches!(i.op, Op::For { .. }))
        .collect();
    assert_eq!(fors.len(), 1);
    let Op::For {
        lo,
        hi,
        step,
        init,
        body,
    } = &fors[0].op
    else {
        unreachable!()
    };
    assert_eq!(init.len(), 2);
    assert_eq!(fors[0].results.len(), 2);
    assert_eq!(
        body.args.len(),
        3,
        "induction variable and two carried values"
    );
    assert_eq!(
        k.body.args[2], *hi,
        "the upper bound is the runtime parameter `n`"
    );
    assert!(matches!(def(&k, *lo).op, Op::Const(c) if c.lit == Lit::Int(0)));
    assert!(matches!(def(&k, *step).op, Op::Const(c) if c.lit == Lit::Int(64)));
    let Op::Yield(ys) = &body.insts.last().unwrap().op else {
        panic!("the body ends in a yield")
    };
    assert_eq!(ys.len(), 2);
    assert!(matches!(
        def(&k, ys[0]).op,
        Op::Binary { op: BinOp::Add, .. }
    ));
    assert!(matches!(
        def(&k, ys[1]).op,
        Op::Binary { op: BinOp::Max, .. }
    ));
    // After the loop, the results (not the initial values) are reduced.
    let sums: Vec<&Inst> = insts(&k)
        .into_iter()
        .filter(|i| matches!(i.op, Op::Reduce { .. }))
        .collect();
    assert_eq!(sums.len(), 2);
    assert!(
        matches!(sums[0].op, Op::Reduce { op: ReduceOp::Sum, arg, .. } if arg == fors[0].results[0])
    );
    assert!(
        matches!(sums[1].op, Op::Reduce { op: ReduceOp::Max, arg, .. } if arg == fors[0].results[1])
    );
    assert_eq!(
        fors[0].loc.line,
        line_of(
            include_str!("control.rs"),
            "for start in (0..n).step_by(block) {"
        )
    );
}

/// A variable that starts as a Rust number and is carried by a runtime loop is lifted.
#[kernel]
fn running_sum(x: Ptr<f32>, h: Ptr<f16>, out: PtrMut<f32>, n: i32) {
    let mut acc = 0.0;
    let mut steps: i32 = 0;
    let mut low: f16 = 0.0;
    for i in 0..n {
        acc += load(x + i);
        steps = steps + 1;
        low = minimum(low, load(h + i));
    }
    store(out, acc / steps.cast::<f32>() + low.cast::<f32>());
}

#[test]
fn lifted_carried_variables() {
    let k = build(&running_sum, Params::new());
    let f = insts(&k)
        .into_iter()
        .find(|i| matches!(i.op, Op::For { .. }))
        .unwrap();
    let Op::For { init, .. } = &f.op else {
        unreachable!()
    };
    assert!(
        matches!(def(&k, init[0]).op, Op::Const(c) if c.dtype == DType::F32 && c.lit == Lit::Float(0.0))
    );
    assert!(
        matches!(def(&k, init[1]).op, Op::Const(c) if c.dtype == DType::I32 && c.lit == Lit::Int(0))
    );
    // Annotated `f16`: the lifted constant has that dtype, so `minimum` with f16 loads works.
    assert!(matches!(def(&k, init[2]).op, Op::Const(c) if c.dtype == DType::F16));
}

// ---- runtime `if` ----

#[kernel]
fn scale_or_clip(
    x: Ptr<f32>,
    y: PtrMut<f32>,
    count_out: PtrMut<i32>,
    flag: i32,
    n: i32,
    #[comptime(default = 64)] block: u32,
) {
    let offs = arange(block);
    let v = load(x + offs, offs < n, 0.0);
    let mut out = v;
    let mut scaled = 0;
    if flag > 0 && n > 1 {
        out = v * 2.0;
        scaled = 1;
    } else {
        out = minimum(v, 1.0);
    }
    store(y + offs, out, offs < n);
    store(count_out, scaled);
}

#[test]
fn runtime_if_with_results() {
    let k = build(&scale_or_clip, Params::new());
    let ifs: Vec<&Inst> = insts(&k)
        .into_iter()
        .filter(|i| matches!(i.op, Op::If { .. }))
        .collect();
    assert_eq!(ifs.len(), 1);
    let Op::If {
        cond,
        then_body,
        else_body,
        specialized: false,
    } = &ifs[0].op
    else {
        unreachable!()
    };
    // `&&` became a logical and of two comparisons.
    assert!(matches!(
        def(&k, *cond).op,
        Op::Binary { op: BinOp::And, .. }
    ));
    assert_eq!(ifs[0].results.len(), 2, "`out` and `scaled`");
    for branch in [then_body, else_body] {
        let Op::Yield(ys) = &branch.insts.last().unwrap().op else {
            panic!("branches end in yields")
        };
        assert_eq!(ys.len(), 2);
    }
    assert_eq!(k.ty(ifs[0].results[0]), &Type::block(DType::F32, [64]));
    assert_eq!(k.ty(ifs[0].results[1]), &Type::scalar(DType::I32));
    // The stores after the branch use its results.
    let stores: Vec<&Inst> = insts(&k)
        .into_iter()
        .filter(|i| matches!(i.op, Op::Store { .. }))
        .collect();
    assert!(matches!(stores[0].op, Op::Store { value, .. } if value == ifs[0].results[0]));
    assert!(matches!(stores[1].op, Op::Store { value, .. } if value == ifs[0].results[1]));
}

/// `if` as an expression: runtime condition (an IR branch with one result) and comptime
/// condition (chosen while building, a comptime branch lifted to match a runtime one).
#[kernel]
fn select_scale(
    x: Ptr<f32>,
    y: PtrMut<f32>,
    n: i32,
    #[comptime(default = 32)] block: u32,
    #[comptime(default = true)] halve: bool,
) {
    let offs = arange(block);
    let v = load(x + offs, offs < n, 0.0);
    let s = if n > block { v.sum(0) } else { 1.0 };
    let t = if halve { 0.5 } else { 2.0 };
    let w = if halve { v * t } else { 3.0 };
    store(y + offs, w * s, offs < n);
}

#[test]
fn if_expressions() {
    let k = build(&select_scale, Params::new());
    let ifs: Vec<&Inst> = insts(&k)
        .into_iter()
        .filter(|i| matches!(i.op, Op::If { .. }))
        .collect();
    assert_eq!(
        ifs.len(),
        1,
        "only the runtime condition makes an IR branch"
    );
    assert_eq!(ifs[0].results.len(), 1);
    assert_eq!(k.ty(ifs[0].results[0]), &Type::scalar(DType::F32));
    let Op::If { else_body, .. } = &ifs[0].op else {
        unreachable!()
    };
    assert!(matches!(else_body.insts[0].op, Op::Const(c) if c.lit == Lit::Float(1.0)));
    // `t` is 0.5 in Rust: `v * t` multiplies by a constant 0.5.
    assert!(
        count(
            &k,
            |o| matches!(o, Op::Const(c) if c.lit == Lit::Float(0.5))
        ) == 1
    );
    let k = build(&select_scale, Params::new().with("halve", false));
    // `w` is the lifted 3.0: no multiplication by `t`.
    assert!(
        count(
            &k,
            |o| matches!(o, Op::Const(c) if c.lit == Lit::Float(3.0))
        ) == 1
    );
    assert_eq!(
        count(&k, |o| matches!(o, Op::Binary { op: BinOp::Mul, .. })),
        1
    );
}

// ---- nesting ----

/// Runtime loops in runtime loops, an `else if` chain of runtime conditions, runtime `if`s
/// in an unrolled loop, and a labeled `break` out of nested comptime loops.
#[kernel]
fn nested_flow(x: Ptr<f32>, y: PtrMut<f32>, n: i32, m: i32, #[comptime(default = 2)] reps: u32) {
    let mut acc = 0.0;
    let mut best = -1.0;
    for i in 0..n {
        for j in 0..m {
            let v = load(x + i * m + j);
            if v > best {
                best = v;
            } else if v < 0.0 {
                acc = acc - v;
            }
        }
        acc = acc + 1.0;
    }
    for r in 0..reps {
        if n > r {
            acc = acc * 2.0;
        }
    }
    'outer: for a in [1u32, 2, 3] {
        for b in 0..4u32 {
            if a * b > 3 {
                break 'outer;
            }
            acc = acc + (a * b) as f32;
        }
    }
    store(y, acc + best);
}

#[test]
fn nested_control_flow() {
    let k = build(&nested_flow, Params::new());
    // The outer loop carries `acc` and `best`; so does the inner one.
    let Op::For { init, body, .. } = &k
        .body
        .insts
        .iter()
        .find(|i| matches!(i.op, Op::For { .. }))
        .unwrap()
        .op
    else {
        unreachable!()
    };
    assert_eq!(init.len(), 2);
    let inner = body
        .insts
        .iter()
        .find(|i| matches!(i.op, Op::For { .. }))
        .unwrap();
    let Op::For {
        init: inner_init,
        body: inner_body,
        ..
    } = &inner.op
    else {
        unreachable!()
    };
    assert_eq!(inner_init.len(), 2);
    assert_eq!(inner.results.len(), 2);
    // `if v > best` yields both (`best` in its branch, `acc` in the nested `else if`).
    let outer_if = inner_body
        .insts
        .iter()
        .find(|i| matches!(i.op, Op::If { .. }))
        .unwrap();
    assert_eq!(outer_if.results.len(), 2);
    let Op::If { else_body, .. } = &outer_if.op else {
        unreachable!()
    };
    let nested_if = else_body
        .insts
        .iter()
        .find(|i| matches!(i.op, Op::If { .. }))
        .unwrap();
    assert_eq!(nested_if.results.len(), 1, "only `acc`");
    // Two runtime `if`s from the unrolled `for r in 0..reps`, two in the loops.
    assert_eq!(count(&k, |o| matches!(o, Op::If { .. })), 4);
    assert_eq!(count(&k, |o| matches!(o, Op::For { .. })), 2);
    // `acc + 1.0`, six unrolled additions (a = 1: b = 0..4; a = 2: b = 0, 1), `acc + best`.
    assert_eq!(
        count(&k, |o| matches!(o, Op::Binary { op: BinOp::Add, .. })),
        8
    );
    let k = build(&nested_flow, Params::new().with("reps", 5));
    assert_eq!(count(&k, |o| matches!(o, Op::If { .. })), 7);
}

// ---- comptime control flow unrolls ----

#[kernel]
fn unrolled(
    x: Ptr<f32>,
    y: PtrMut<f32>,
    #[comptime(default = 4)] steps: u32,
    #[comptime(default = false)] square: bool,
    #[comptime(default = 32)] block: u32,
) {
    let offs = arange(block);
    let mut acc = load(x + offs);
    for k in 1..steps {
        if k == 3 {
            break;
        }
        acc = acc + load(x + offs + k * block);
    }
    if square {
        acc = acc * acc;
    } else if steps > 2 {
        acc = acc * 0.5;
    }
    store(y + offs, acc);
}

#[test]
fn comptime_if_and_for_unroll() {
    let k = build(&unrolled, Params::new());
    assert_eq!(
        count(&k, |o| matches!(o, Op::For { .. } | Op::If { .. })),
        0
    );
    assert_eq!(
        count(&k, |o| matches!(o, Op::Load { .. })),
        3,
        "k = 0, 1, 2; the loop breaks at 3"
    );
    assert_eq!(
        count(&k, |o| matches!(o, Op::Binary { op: BinOp::Mul, .. })),
        1
    );
    assert!(
        count(
            &k,
            |o| matches!(o, Op::Const(c) if c.lit == Lit::Float(0.5))
        ) == 1
    );
    let k = build(
        &unrolled,
        Params::new().with("steps", 2).with("square", true),
    );
    assert_eq!(count(&k, |o| matches!(o, Op::Load { .. })), 2);
    assert_eq!(
        count(
            &k,
            |o| matches!(o, Op::Const(c) if c.lit == Lit::Float(0.5))
        ),
        0
    );
    assert_eq!(
        count(&k, |o| matches!(o, Op::Binary { op: BinOp::Mul, .. })),
        1
    );
}
