//! Data-flow kernels: element-wise, reductions, the quantizer sketch, tables and `dot`,
//! build-time type queries, and names.

use aqua_dsl::build::{ComptimeType, KernelSource, Params};
use aqua_dsl::ir::{
    BinOp, CmpPred, ComptimeValue, DType, Lit, Op, ParamKind, ReduceOp, Shape, UnOp,
};
use aqua_macros::kernel;

use super::common::*;

fn line(marker: &str) -> u32 {
    line_of(include_str!("dataflow.rs"), marker)
}

/// A plain Rust function: called with comptime arguments, it runs while building.
fn max_code(bits: u32) -> u32 {
    (1 << bits) - 1
}
// ---- element-wise: axpy ----

/// `y = a * x + y`, masked at the end of the vectors.
#[kernel]
pub fn axpy(x: Ptr<f32>, y: PtrMut<f32>, n: i32, a: f32, #[comptime(default = 128)] block: u32) {
    let offs = program_id(0) * block + arange(block);
    let mask = offs < n;
    let xv = load(x + offs, mask, 0.0);
    let yv = load(y + offs, mask);
    store(y + offs, a * xv + yv, mask);
}

#[test]
fn axpy_signature() {
    assert_eq!(axpy.name(), "axpy");
    let p = axpy.params();
    let names: Vec<&str> = p.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["x", "y", "n", "a"]);
    assert_eq!(
        p[0].kind,
        ParamKind::Ptr {
            dtype: DType::F32,
            mutable: false
        }
    );
    assert_eq!(
        p[1].kind,
        ParamKind::Ptr {
            dtype: DType::F32,
            mutable: true
        }
    );
    assert_eq!(p[2].kind, ParamKind::Scalar(DType::I32));
    assert_eq!(p[3].kind, ParamKind::Scalar(DType::F32));
    let c = axpy.comptime_params();
    assert_eq!(c.len(), 1);
    assert_eq!(
        (c[0].name, c[0].ty, c[0].default),
        ("block", ComptimeType::U32, Some(ComptimeValue::Int(128)))
    );
}

#[test]
fn axpy_ir() {
    let k = build(&axpy, Params::new());
    assert_eq!(k.comptime.get("block"), Some(&ComptimeValue::Int(128)));
    assert_eq!(count(&k, |o| matches!(o, Op::ProgramId(0))), 1);
    assert_eq!(
        count(&k, |o| matches!(o, Op::Arange { start: 0, end: 128 })),
        1
    );
    // `offs < n` became a comparison op, not a Rust comparison.
    assert_eq!(
        count(&k, |o| matches!(
            o,
            Op::Cmp {
                pred: CmpPred::Lt,
                ..
            }
        )),
        1
    );
    assert_eq!(
        count(&k, |o| matches!(
            o,
            Op::Load {
                mask: Some(_),
                other: Some(_),
                ..
            }
        )),
        1
    );
    assert_eq!(
        count(&k, |o| matches!(
            o,
            Op::Load {
                mask: Some(_),
                other: None,
                ..
            }
        )),
        1
    );
    assert_eq!(
        count(&k, |o| matches!(o, Op::Store { mask: Some(_), .. })),
        1
    );
    // The store writes `a * x + y` (an add of a mul).
    let store = insts(&k)
        .into_iter()
        .find(|i| matches!(i.op, Op::Store { .. }))
        .unwrap();
    let Op::Store { value, .. } = store.op else {
        unreachable!()
    };
    assert!(matches!(
        def(&k, value).op,
        Op::Binary { op: BinOp::Add, .. }
    ));
    assert_eq!(k.ty(value).shape, Shape::new([128]));
    // Every op carries the author's line in this file.
    assert!(insts(&k)
        .iter()
        .all(|i| i.loc.file.ends_with("dataflow.rs") && i.loc.line > 0));
    let first = line("let offs = program_id(0) * block + arange(block);");
    assert_eq!(insts(&k)[0].loc.line, first);
}

#[test]
fn comptime_defaults_and_overrides() {
    let k = build(&axpy, Params::new().with("block", 64));
    assert_eq!(
        count(&k, |o| matches!(o, Op::Arange { start: 0, end: 64 })),
        1
    );
    assert_eq!(k.comptime.get("block"), Some(&ComptimeValue::Int(64)));
    // The IR text is the built kernel's canonical text.
    assert_eq!(
        axpy.ir(&Params::new()).unwrap(),
        build(&axpy, Params::new()).to_string()
    );
    // A comptime value the builder rejects (not a power of two) is reported at its use.
    let e = axpy.build(&Params::new().with("block", 100)).unwrap_err();
    assert!(e.message.contains("power"), "{e}");
    assert_eq!(
        e.loc.line,
        line("let offs = program_id(0) * block + arange(block);")
    );
}

// ---- reductions: row softmax ----

/// One program per row; the row fits in one block.
#[kernel]
fn softmax(
    x: Ptr<f32>,
    y: PtrMut<f32>,
    row_stride: i32,
    n: i32,
    #[comptime(default = 256)] block: u32,
) {
    let row = program_id(0);
    let cols = arange(block);
    let mask = cols < n;
    let v = load(x + row * row_stride + cols, mask, f32::NEG_INFINITY);
    let m = v.max(0);
    let e = exp(v - m);
    let s = e.sum(0);
    store(y + row * row_stride + cols, e / s, mask);
}

#[test]
fn softmax_ir() {
    let k = build(&softmax, Params::new());
    assert_eq!(
        count(&k, |o| matches!(
            o,
            Op::Reduce {
                op: ReduceOp::Max,
                axis: 0,
                ..
            }
        )),
        1
    );
    assert_eq!(
        count(&k, |o| matches!(
            o,
            Op::Reduce {
                op: ReduceOp::Sum,
                axis: 0,
                ..
            }
        )),
        1
    );
    assert_eq!(
        count(&k, |o| matches!(o, Op::Unary { op: UnOp::Exp, .. })),
        1
    );
    assert_eq!(
        count(&k, |o| matches!(o, Op::Binary { op: BinOp::Div, .. })),
        1
    );
    // `f32::NEG_INFINITY` is a plain Rust constant that became the load's fallback.
    assert_eq!(
        count(
            &k,
            |o| matches!(o, Op::Const(c) if c.dtype == DType::F32 && c.lit == Lit::Float(f64::NEG_INFINITY))
        ),
        1
    );
    let max = insts(&k)
        .into_iter()
        .find(|i| matches!(i.op, Op::Reduce { .. }))
        .unwrap();
    assert!(k.ty(max.results[0]).is_scalar());
}

// ---- the uniform group quantizer, sketched ----

/// Per group of `group` values: scale and zero from min and max, codes rounded and clamped.
#[kernel]
pub fn quantize_sketch(
    x: Ptr<f16>,
    codes: PtrMut<u8>,
    scale: PtrMut<f16>,
    zero: PtrMut<f16>,
    n: i32,
    #[comptime] bits: u32,
    #[comptime] group: u32,
    #[comptime(default = 128)] block: u32,
) {
    let groups = block / group;
    let levels = max_code(bits) as f32;
    let offs = program_id(0) * block + arange(block);
    let x = load(x + offs, offs < n, 0.0)
        .cast::<f32>()
        .reshape([groups, group]);
    let (lo, hi) = (x.min(1), x.max(1));
    let s = (hi - lo) / levels;
    let safe = where_(s > 0.0, s, 1.0);
    let q = round((x - lo.reshape([groups, 1])) / safe.reshape([groups, 1]));
    let q = where_(s.reshape([groups, 1]) > 0.0, clamp(q, 0.0, levels), 0.0);
    store(codes + offs, q.reshape([block]).cast::<u8>(), offs < n);
    let g = program_id(0) * groups + arange(groups);
    store(scale + g, s.cast::<f16>(), g * group < n);
    store(zero + g, lo.cast::<f16>(), g * group < n);
}

#[test]
fn quantizer_sketch_ir() {
    let k = build(
        &quantize_sketch,
        Params::new().with("bits", 4).with("group", 32),
    );
    assert_eq!(
        count(&k, |o| matches!(
            o,
            Op::Reduce {
                op: ReduceOp::Min,
                axis: 1,
                ..
            }
        )),
        1
    );
    assert_eq!(
        count(&k, |o| matches!(
            o,
            Op::Reduce {
                op: ReduceOp::Max,
                axis: 1,
                ..
            }
        )),
        1
    );
    assert_eq!(
        count(&k, |o| matches!(
            o,
            Op::Unary {
                op: UnOp::Round,
                ..
            }
        )),
        1
    );
    assert_eq!(
        count(
            &k,
            |o| matches!(o, Op::Reshape { shape, .. } if *shape == Shape::new([4, 32]))
        ),
        1
    );
    assert_eq!(
        count(&k, |o| matches!(o, Op::Cast { to: DType::F32, .. })),
        1
    );
    assert_eq!(
        count(&k, |o| matches!(o, Op::Cast { to: DType::U8, .. })),
        1
    );
    assert_eq!(
        count(&k, |o| matches!(o, Op::Cast { to: DType::F16, .. })),
        2
    );
    // `levels` was computed in Rust while building: 2^4 - 1 = 15, no IR op for it.
    assert!(
        count(
            &k,
            |o| matches!(o, Op::Const(c) if c.lit == Lit::Float(15.0))
        ) >= 1
    );
    assert_eq!(
        count(&k, |o| matches!(o, Op::Binary { op: BinOp::Shl, .. })),
        0
    );
    // clamp is max then min.
    assert_eq!(
        count(&k, |o| matches!(o, Op::Binary { op: BinOp::Max, .. })),
        1
    );
    assert_eq!(
        count(&k, |o| matches!(o, Op::Binary { op: BinOp::Min, .. })),
        1
    );
    // Another specialization: other shapes, another level count.
    let k2 = build(
        &quantize_sketch,
        Params::new().with("bits", 2).with("group", 64),
    );
    assert_eq!(
        count(
            &k2,
            |o| matches!(o, Op::Reshape { shape, .. } if *shape == Shape::new([2, 64]))
        ),
        1
    );
    assert!(
        count(
            &k2,
            |o| matches!(o, Op::Const(c) if c.lit == Lit::Float(3.0))
        ) >= 1
    );
}

// ---- build-time introspection ----

/// `dtype()` and `shape()` are known while building: this `if` is decided in Rust.
#[kernel]
fn introspect(x: Ptr<f16>, y: PtrMut<f32>, #[comptime(default = 16)] block: u32) {
    let v = load(x + arange(block));
    let v = if v.dtype() == aqua_dsl::DType::F16 {
        v.cast::<f32>()
    } else {
        v
    };
    let rows = v.shape()[0] / 4;
    store(y + arange(block), v.reshape([rows, 4]).reshape([block]));
}

#[test]
fn type_queries_are_comptime() {
    let k = build(&introspect, Params::new());
    assert_eq!(
        count(&k, |o| matches!(o, Op::If { .. } | Op::Cmp { .. })),
        0
    );
    assert_eq!(
        count(&k, |o| matches!(o, Op::Cast { to: DType::F32, .. })),
        1
    );
    assert_eq!(
        count(
            &k,
            |o| matches!(o, Op::Reshape { shape, .. } if *shape == Shape::new([4, 4]))
        ),
        1
    );
}

// ---- tables, dot, two-argument arange ----

const GRID: [f32; 4] = [-1.5, -0.5, 0.5, 1.5];

#[kernel]
fn codebook_dot(idx: Ptr<u8>, w: Ptr<f32>, out: PtrMut<f32>, #[comptime(default = 16)] m: u32) {
    let grid = const_table::<f32, f32>(&GRID);
    let rows = arange(0, m).reshape([m, 1]);
    let cols = arange(m, 2 * m).reshape([1, m]);
    let codes = load(idx + rows * m + (cols - m));
    let a = grid.gather(codes);
    let b = load(w + rows * m + (cols - m));
    let c = dot(a, b);
    let c = dot(a, b, c);
    store(out + rows * m + (cols - m), c);
}

#[test]
fn tables_dot_and_arange_ranges() {
    let k = build(&codebook_dot, Params::new());
    assert_eq!(k.tables.len(), 1);
    assert_eq!(k.tables[0].data, vec![-1.5, -0.5, 0.5, 1.5]);
    assert_eq!(
        count(&k, |o| matches!(o, Op::Arange { start: 16, end: 32 })),
        1
    );
    assert_eq!(count(&k, |o| matches!(o, Op::Gather { .. })), 1);
    assert_eq!(count(&k, |o| matches!(o, Op::Dot { acc: None, .. })), 1);
    assert_eq!(count(&k, |o| matches!(o, Op::Dot { acc: Some(_), .. })), 1);
}

// ---- butterfly partners ----

/// One Walsh-Hadamard stage of a comptime stride along the rows of a `[16, 8]` block.
#[kernel]
fn butterfly(x: Ptr<f32>, y: PtrMut<f32>, #[comptime(default = 4)] stride: u32) {
    let offs = arange(16).reshape([16, 1]) * 8 + arange(8).reshape([1, 8]);
    let v = load(x + offs);
    let p = v.xor_permute(0, stride);
    let upper = ne(arange(16).reshape([16, 1]) & stride as i32, 0).broadcast_to([16, 8]);
    store(y + offs, where_(upper, p - v, v + p));
}

#[test]
fn xor_permute_takes_comptime_axis_and_mask() {
    for stride in [1u32, 4, 8] {
        let k = build(&butterfly, Params::new().with("stride", stride));
        assert_eq!(
            count(
                &k,
                |o| matches!(o, Op::XorPermute { axis: 0, mask, .. } if *mask == stride)
            ),
            1,
            "stride {stride}"
        );
    }
    let e = butterfly
        .build(&Params::new().with("stride", 16u32))
        .unwrap_err();
    assert!(
        e.message
            .contains("mask 16 must be at least 1 and below the dim 16"),
        "{e}"
    );
    assert_eq!(e.loc.line, line("let p = v.xor_permute"), "{e}");
}

// ---- streaming stores ----

/// A dequantizer's output that is read back no time soon.
#[kernel]
fn stream_out(x: Ptr<f32>, y: PtrMut<f16>) {
    let offs = arange(64);
    store_streaming(y + offs, load(x + offs).cast::<f16>());
}

#[test]
fn store_streaming_is_a_streaming_store() {
    let k = build(&stream_out, Params::new());
    assert_eq!(
        count(&k, |o| matches!(
            o,
            Op::Store {
                streaming: true,
                mask: None,
                ..
            }
        )),
        1
    );
    assert_eq!(
        count(&k, |o| matches!(
            o,
            Op::Store {
                streaming: false,
                ..
            }
        )),
        0
    );
}

// ---- names ----

/// Named like its own parameter and a local: the generated unit struct `shift` must not
/// turn those bindings into pattern matches against the struct.
#[kernel]
fn shift(x: PtrMut<f32>, shift: f32) {
    let v = load(x) * shift;
    let shift = v + 1.0;
    store(x, shift);
}

#[test]
fn kernel_named_like_its_bindings() {
    let k = build(&shift, Params::new());
    let mul = insts(&k)
        .into_iter()
        .find(|i| matches!(i.op, Op::Binary { op: BinOp::Mul, .. }))
        .unwrap();
    assert!(matches!(mul.op, Op::Binary { rhs, .. } if rhs == k.body.args[1]));
    assert_eq!(
        count(&k, |o| matches!(o, Op::Binary { op: BinOp::Add, .. })),
        1
    );
}
