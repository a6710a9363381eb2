//! The canonical text form: round trips on builder-built and hand-written kernels,
//! bit-exact floats, parse errors with their positions, and the cache-key properties of
//! the canonical text.

mod common;

use aqua_dsl::ir::{Const, DType, Inst, Lit, Loc, Op, Region, Table, Type, ValueId};
use aqua_dsl::text::{parse, IR_FILE};
use aqua_dsl::verify::verify;
use aqua_dsl::{ComptimeValue, Kernel};
use proptest::prelude::*;

/// Prints, parses, prints again: the texts agree and the parsed kernel verifies.
fn round_trip(k: &Kernel) -> Kernel {
    let text = k.to_string();
    let parsed = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(parsed.to_string(), text);
    parsed
}

#[test]
fn builder_kernels_round_trip_and_verify() {
    for k in [
        common::all_ops(),
        common::loops(),
        common::scaled(32, 2.0, &[1.0, -0.5]),
    ] {
        verify(&k).unwrap_or_else(|e| panic!("{e}\n{}", k.display_with_locs()));
        let parsed = round_trip(&k);
        verify(&parsed).unwrap_or_else(|e| panic!("{e}\n{parsed}"));
        assert_eq!(parsed.params, k.params);
        assert_eq!(parsed.comptime, k.comptime);
        assert_eq!(parsed.tables, k.tables);
        assert_eq!(parsed.name, k.name);
    }
}

#[test]
fn builder_kernels_use_every_op_kind() {
    // Every mnemonic, and the optional operands of load, store and dot in both forms.
    let mut names = std::collections::BTreeSet::new();
    for k in [common::all_ops(), common::loops()] {
        k.walk(&mut |inst| {
            names.insert(inst.op.name());
            let variant = match &inst.op {
                Op::Load { mask, other, .. } => ["load", "load+mask", "load+other", "load+mask+other"]
                    [mask.is_some() as usize + 2 * other.is_some() as usize],
                Op::Store { mask, .. } => ["store", "store+mask"][mask.is_some() as usize],
                Op::Dot { acc, .. } => ["dot", "dot+acc"][acc.is_some() as usize],
                _ => return,
            };
            names.insert(variant);
        });
    }
    for name in ["load+mask", "load+mask+other", "store+mask", "dot+acc"] {
        assert!(names.contains(name), "no `{name}` in the test kernels");
    }
    for name in [
        "const",
        "program_id",
        "num_programs",
        "arange",
        "splat",
        "add",
        "sub",
        "mul",
        "div",
        "rem",
        "min",
        "max",
        "and",
        "or",
        "xor",
        "shl",
        "shr",
        "neg",
        "not",
        "abs",
        "sqrt",
        "rsqrt",
        "exp",
        "log",
        "floor",
        "ceil",
        "round",
        "cmp",
        "select",
        "fma",
        "cast",
        "bitcast",
        "broadcast",
        "expand_dims",
        "reshape",
        "trans",
        "xor_permute",
        "reduce_sum",
        "reduce_max",
        "reduce_min",
        "reduce_argmax",
        "reduce_argmin",
        "dot",
        "ptr_add",
        "load",
        "store",
        "store_streaming",
        "gather",
        "for",
        "if",
        "yield",
    ] {
        assert!(names.contains(name), "no `{name}` in the test kernels");
    }
}

#[test]
fn canonical_text_ignores_internal_value_ids() {
    // The builder allocates a loop's results after its body; the printer numbers them
    // before it, so the parsed kernel's ids differ from the builder's.
    let k = common::loops();
    let parsed = round_trip(&k);
    assert_ne!(parsed.values, k.values, "the test needs different internal numbering");
    assert_eq!(parsed.to_string(), k.to_string());
}

#[test]
fn canonical_text_is_stable_and_separates_variants() {
    let base = common::scaled(32, 2.0, &[1.0, -0.5]).to_string();
    assert_eq!(common::scaled(32, 2.0, &[1.0, -0.5]).to_string(), base);
    assert_eq!(common::all_ops().to_string(), common::all_ops().to_string());
    assert_ne!(
        common::scaled(64, 2.0, &[1.0, -0.5]).to_string(),
        base,
        "comptime value"
    );
    assert_ne!(common::scaled(32, 2.5, &[1.0, -0.5]).to_string(), base, "constant");
    assert_ne!(common::scaled(32, 2.0, &[1.0, 0.5]).to_string(), base, "table entry");
    assert_ne!(
        common::scaled(32, 2.0, &[1.0, -0.5, 0.0]).to_string(),
        base,
        "table length"
    );
    // Source locations are not part of the canonical text.
    let mut moved = common::scaled(32, 2.0, &[1.0, -0.5]);
    fn shift(r: &mut Region) {
        for inst in &mut r.insts {
            inst.loc.line += 100;
        }
    }
    shift(&mut moved.body);
    assert_eq!(moved.to_string(), base);
}

#[test]
fn malformed_kernels_print_faithfully() {
    // Each line is wrong for the verifier, yet prints exactly as it is.
    let text = "kernel k(%0 x: ptr<f32>) {
^(%1: i32):
  %2 = const f32 1.0 : i32
  %3, %4 = add %2, %2 : f32, f16
  %5 = load %0, other %2 : f32
  %6 = gather t3, %2 : f32
  %7 = program_id 7 : i32
  %8 = reduce_sum %7, axis 9 : bool[3]
  %9 = add %10, %7 : i32
  %10 = neg %7 : i32
  yield %8
}
";
    let k = parse(text).unwrap();
    assert_eq!(k.to_string(), text);
    assert_eq!(k.body.args.len(), 2);
    assert!(verify(&k).is_err());
}

const HAND_WRITTEN: &str = "
// A kernel written by hand, with names instead of numbers.
kernel  copy_scaled ( %src x : ptr<f32>, %dst y: ptr<f32> mut , %n n: i32 ) {
  comptime scale = 2.0 , block = 16   // out of order on purpose
  table cb: f32 = [0.25, -0.0, 9.5367431640625e-7, nan(0x7ff8000000000123),]
  %offs = arange 0, 16 : i32[16]
  %p = splat %src to [16] : ptr<f32>[16]
  %ptrs = ptr_add %p, %offs : ptr<f32>[16]
  %v = load %ptrs : f32[16]
  %zero = const 0 : i32
  %one = const 1 : i32
  %acc = for %zero, %n, %one iter(%v) {
  ^(%i: i32, %a: f32[16]):
    %g = gather cb, %offs : f32[16]
    %next = add %a, %g : f32[16]
    yield %next
  } : f32[16]
  %q = splat %dst to [16] : ptr<f32>[16]
  %qs = ptr_add %q, %offs : ptr<f32>[16]
  store %qs, %acc
}";

const HAND_WRITTEN_CANONICAL: &str = "\
kernel copy_scaled(%0 x: ptr<f32>, %1 y: ptr<f32> mut, %2 n: i32) {
  comptime block = 16, scale = 2.0
  table t0: f32 = [0.25, -0.0, 9.5367431640625e-7, nan(0x7ff8000000000123)]
  %3 = arange 0, 16 : i32[16]
  %4 = splat %0 to [16] : ptr<f32>[16]
  %5 = ptr_add %4, %3 : ptr<f32>[16]
  %6 = load %5 : f32[16]
  %7 = const 0 : i32
  %8 = const 1 : i32
  %9 = for %7, %2, %8 iter(%6) {
  ^(%10: i32, %11: f32[16]):
    %12 = gather t0, %3 : f32[16]
    %13 = add %11, %12 : f32[16]
    yield %13
  } : f32[16]
  %14 = splat %1 to [16] : ptr<f32>[16]
  %15 = ptr_add %14, %3 : ptr<f32>[16]
  store %15, %9
}
";

#[test]
fn hand_written_text_prints_canonically() {
    let k = parse(HAND_WRITTEN).unwrap();
    assert_eq!(k.to_string(), HAND_WRITTEN_CANONICAL);
    verify(&k).unwrap();
    assert_eq!(k.comptime["scale"], ComptimeValue::Float(2.0));
    assert_eq!(k.comptime["block"], ComptimeValue::Int(16));
    assert_eq!(k.tables[0].data[1].to_bits(), (-0.0f64).to_bits());
    assert_eq!(k.tables[0].data[3].to_bits(), 0x7ff8000000000123);
    round_trip(&k);
}

#[test]
fn parsed_ops_point_at_their_lines() {
    let k = parse(HAND_WRITTEN).unwrap();
    let lines: Vec<&str> = HAND_WRITTEN.lines().collect();
    let mut count = 0;
    k.walk(&mut |inst| {
        assert_eq!(inst.loc.file, IR_FILE);
        let line = lines[inst.loc.line as usize - 1];
        let at = &line[inst.loc.col as usize - 1..];
        assert!(
            at.starts_with('%') || at.starts_with(inst.op.name()),
            "{:?} at {line:?}",
            inst.loc
        );
        assert!(
            line.contains(inst.op.name()) || inst.op.name() == "add" && line.contains("add"),
            "{line}"
        );
        count += 1;
    });
    assert_eq!(count, 13);
    let store = k.body.insts.last().unwrap();
    assert_eq!((store.loc.line, store.loc.col), (20, 3));
}

#[test]
fn the_documented_example_parses_verifies_and_is_canonical() {
    let doc = include_str!("../../docs/ir-text.md");
    let start = doc.find("```\nkernel axpy").unwrap() + 4;
    let text = &doc[start..start + doc[start..].find("```").unwrap()];
    let k = parse(text).unwrap();
    verify(&k).unwrap();
    assert_eq!(k.to_string(), text);
}

#[test]
fn display_with_locs_names_source_lines_and_reads_back() {
    let k = common::scaled(32, 2.0, &[1.0]);
    let text = k.display_with_locs().to_string();
    let op_lines: Vec<&str> = text
        .lines()
        .filter(|l| l.trim_start().starts_with(['%', 's']))
        .collect();
    assert!(op_lines.len() > 5, "{text}");
    for l in op_lines {
        assert!(l.contains("  // ") && l.contains("tests/common/mod.rs:1"), "{l}");
    }
    assert!(!k.to_string().contains("//"));
    assert_eq!(parse(&text).unwrap().to_string(), k.to_string());
}

/// A kernel holding `x` as an f32 constant, a table entry and a comptime value.
fn float_holder(x: f64) -> Kernel {
    Kernel {
        name: "floats".into(),
        params: vec![],
        comptime: [("x".to_string(), ComptimeValue::Float(x))].into(),
        values: vec![Type::scalar(DType::F32)],
        tables: vec![Table {
            dtype: DType::F32,
            data: vec![x, -x],
        }],
        body: Region {
            args: vec![],
            insts: vec![Inst {
                op: Op::Const(Const {
                    dtype: DType::F32,
                    lit: Lit::Float(x),
                }),
                results: vec![ValueId(0)],
                loc: Loc::UNKNOWN,
            }],
        },
    }
}

fn assert_floats_read_back(x: f64) {
    let k = parse(&float_holder(x).to_string()).unwrap();
    let ComptimeValue::Float(c) = k.comptime["x"] else {
        panic!("comptime kind")
    };
    let Op::Const(Const { lit: Lit::Float(v), .. }) = k.body.insts[0].op else {
        panic!("const kind")
    };
    for (got, want) in [(c, x), (v, x), (k.tables[0].data[0], x), (k.tables[0].data[1], -x)] {
        assert_eq!(got.to_bits(), want.to_bits(), "{x:?} printed as {}", float_holder(x));
    }
}

#[test]
fn special_floats_read_back_bit_exactly() {
    for x in [
        0.0,
        -0.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        -f64::NAN,
        f64::from_bits(0x7ff0_0000_0000_0001),
        f64::MIN_POSITIVE,
        5e-324,
        f64::MAX,
        0.1,
        1e21,
        1e-7,
        half::f16::from_f32(0.1).to_f64(),
        half::bf16::MAX.to_f64(),
    ] {
        assert_floats_read_back(x);
    }
    let text = float_holder(f64::NAN).to_string();
    assert!(text.contains("const nan : f32"), "{text}");
    assert!(float_holder(-f64::NAN).to_string().contains("nan(0xfff8000000000000)"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn every_f64_reads_back_bit_exactly(bits in any::<u64>()) {
        assert_floats_read_back(f64::from_bits(bits));
    }
}

#[test]
fn integer_and_bool_tables_and_constants_read_back() {
    let text = "kernel t() {
  table t0: i64 = [-9223372036854775808, 9007199254740992, 0]
  table t1: bool = [true, false]
  table t2: u8 = [255, 0]
  %0 = const -9223372036854775808 : i64
  %1 = const 4294967295 : u32
  %2 = const true : bool
  %3 = const 0x10 : i32
}
";
    let k = parse(text).unwrap();
    assert_eq!(k.tables[0].data, vec![-9223372036854775808.0, 9007199254740992.0, 0.0]);
    assert_eq!(k.tables[1].data, vec![1.0, 0.0]);
    assert_eq!(k.to_string(), text.replace("0x10", "16"));
    verify(&k).unwrap();
}

/// The position and message of the error `parse` gives for `text`.
fn parse_error(text: &str) -> (u32, u32, String) {
    let e = parse(text).expect_err("the text should not parse");
    assert!(e.to_string().starts_with(&format!("{}:{}: ", e.line, e.col)));
    (e.line, e.col, e.message)
}

#[test]
fn parse_errors_report_line_and_column() {
    let head = "kernel k(%0 x: ptr<f32> mut, %1 n: i32) {\n";
    let cases: &[(&str, u32, u32, &str)] = &[
        ("  %2 = frobnicate %1 : i32\n}", 2, 8, "unknown op `frobnicate`"),
        ("  %2 = add %1, %9 : i32\n}", 2, 16, "`%9` is never defined"),
        (
            "  %2 = neg %1 : i32\n  %2 = neg %1 : i32\n}",
            3,
            3,
            "`%2` is defined twice",
        ),
        ("  %2 = neg %1\n}", 3, 1, "expected `:`"),
        ("  %2 = neg %1 : i33\n}", 2, 17, "unknown dtype `i33`"),
        ("  %2 = const 12ab : i32\n}", 2, 14, "malformed number"),
        ("  %2 = const 1. : f32\n}", 2, 14, "must be followed by digits"),
        ("  %2 = neg %1 : i32 $\n}", 2, 21, "unexpected character `$`"),
        ("  %2 = cmp lq %1, %1 : bool\n}", 2, 12, "unknown comparison `lq`"),
        ("  %2 = gather cb, %1 : f32\n}", 2, 15, "unknown table `cb`"),
        ("  %2 = program_id 300 : i32\n}", 2, 19, "out of range"),
        ("  %2 = const nan(0x1) : f32\n}", 2, 14, "not the bits of a NaN"),
        (
            "  %2 = neg %1 : i32\n",
            3,
            1,
            "expected an op, found the end of the text",
        ),
        ("  %2 = neg %1 : i32\n}\nkernel", 4, 1, "expected the end of the text"),
        ("  %2 = load %1, bogus %1 : f32\n}", 2, 17, "expected `mask` or `other`"),
        ("  % = neg %1 : i32\n}", 2, 3, "`%` must be followed by a value name"),
    ];
    for &(body, line, col, needle) in cases {
        let (l, c, m) = parse_error(&format!("{head}{body}"));
        assert_eq!((l, c), (line, col), "{needle}: got {l}:{c}: {m}");
        assert!(m.contains(needle), "expected {needle:?}, got {m:?}");
    }
    let (l, c, m) = parse_error("kernel k(%0 x: ptr<f32>, %0 y: i32) {}");
    assert_eq!((l, c), (1, 26));
    assert!(m.contains("defined twice"), "{m}");
    let (l, c, m) = parse_error("kernel k() {\n  comptime a = 1, a = 2\n}");
    assert_eq!((l, c, m.contains("given twice")), (2, 19, true), "{m}");
}
