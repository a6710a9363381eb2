//! The verifier: builder-built kernels pass, and every rejection rule fires with an error
//! naming the kernel, the op and the op's location. Bad kernels are written as IR text
//! (the offending op's line is marked `// <-`) or made by editing a `Kernel` value, since
//! the builder catches most mistakes itself.

mod common;

use aqua_dsl::build::*;
use aqua_dsl::ir::{DType, Inst, Loc, Op, Type, ValueId};
use aqua_dsl::text::{parse, IR_FILE};
use aqua_dsl::verify::verify;
use aqua_dsl::{KernelError, KernelSource, Params};

const HEADER: &str = "kernel bad(%x x: ptr<f32>, %y y: ptr<f32> mut, %n n: i32, %hp hp: ptr<f16> mut) {
  table t0: f32 = [0.5, 1.0]
  %f = const 1.0 : f32
  %i = const 1 : i32
  %b = const true : bool
  %h = const 1.0 : f16
  %v = arange 0, 16 : i32[16]
  %fv = cast %v to f32 : f32[16]
  %nv = splat %n to [16] : i32[16]
  %bv = cmp lt %v, %nv : bool[16]
  %xs = splat %x to [16] : ptr<f32>[16]
  %px = ptr_add %xs, %v : ptr<f32>[16]
  %ys = splat %y to [16] : ptr<f32>[16]
  %py = ptr_add %ys, %v : ptr<f32>[16]
  %m2 = reshape %fv to [4,4] : f32[4,4]
";

/// The kernel `bad` with `body` after a prelude of values of many types:
/// `%f: f32, %i: i32, %b: bool, %h: f16, %v: i32[16], %fv: f32[16], %bv: bool[16],
/// %px: ptr<f32>[16]` (into `x`, not `mut`), `%py` (into `y`, `mut`), `%m2: f32[4,4]`.
fn with_body(body: &str) -> String {
    format!("{HEADER}{body}\n}}\n")
}

fn error_of(text: &str) -> KernelError {
    let k = parse(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let e = verify(&k).expect_err(&format!("verify should reject:\n{text}"));
    assert_eq!(e.kernel, k.name);
    e
}

/// Verifying `body` fails at the op on the line marked `// <-`, naming `op`, with a
/// message containing `needle`.
fn rejects(body: &str, op: &str, needle: &str) {
    let text = with_body(body);
    let e = error_of(&text);
    let (idx, line) = text
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains("// <-"))
        .expect("a marked line");
    let col = line.len() - line.trim_start().len() + 1;
    let want = Loc {
        file: IR_FILE,
        line: idx as u32 + 1,
        col: col as u32,
    };
    assert_eq!((e.op, e.loc), (Some(op), want), "{e}\n{text}");
    assert!(e.message.contains(needle), "expected {needle:?} in: {e}");
    let shown = e.to_string();
    assert!(
        shown.contains(&format!("kernel `bad`, op `{op}` at <ir>:{}:{col}: ", idx + 1)),
        "{shown}"
    );
}

/// Verifying fails with an error about the kernel as a whole (no op, no location).
fn rejects_kernel(e: KernelError, needle: &str) {
    assert_eq!(e.op, None, "{e}");
    assert!(!e.loc.is_known(), "{e}");
    assert!(e.message.contains(needle), "expected {needle:?} in: {e}");
}

fn cases(list: &[(&str, &str, &str)]) {
    for &(body, op, needle) in list {
        rejects(body, op, needle);
    }
}

#[test]
fn builder_kernels_and_the_prelude_verify() {
    for k in [common::all_ops(), common::loops(), common::scaled(32, 1.0, &[0.0])] {
        verify(&k).unwrap_or_else(|e| panic!("{e}\n{}", k.display_with_locs()));
    }
    verify(&parse(&with_body("")).unwrap()).unwrap();
}

#[test]
fn operands_are_defined_before_use_and_visible() {
    cases(&[
        ("  %a = add %later, %f : f32 // <-\n  %later = neg %f : f32", "add", "used before its definition"),
        (
            "  for %i, %n, %i {\n  ^(%k: i32):\n    %inner = neg %f : f32\n    yield\n  }\n  %z = neg %inner : f32 // <-",
            "neg",
            "region that has ended",
        ),
        ("  for %i, %n, %i {\n  ^(%k: i32):\n    yield\n  }\n  %z = add %k, %i : i32 // <-", "add", "region that has ended"),
        ("  %r = for %i, %n, %i iter(%f) {\n  ^(%k: i32, %c: f32):\n    yield %r // <-\n  } : f32", "yield", "used before its definition"),
    ]);
}

/// The prelude kernel, for edits the text cannot express.
fn prelude() -> aqua_dsl::Kernel {
    parse(&with_body("")).unwrap()
}

fn push(k: &mut aqua_dsl::Kernel, op: Op, result: Option<Type>, line: u32) -> Loc {
    let loc = Loc {
        file: "edited.rs",
        line,
        col: 7,
    };
    let results = result
        .map(|t| {
            k.values.push(t);
            vec![ValueId(k.values.len() as u32 - 1)]
        })
        .unwrap_or_default();
    k.body.insts.push(Inst { op, results, loc });
    loc
}

#[test]
fn values_are_in_the_table_and_defined_once() {
    let f = ValueId(4); // %f in the prelude: params are %0..%3
    let mut k = prelude();
    assert_eq!(*k.ty(f), Type::scalar(DType::F32));
    k.values.push(Type::scalar(DType::F32));
    let ghost = ValueId(k.values.len() as u32 - 1);
    let loc = push(
        &mut k,
        Op::Unary {
            op: aqua_dsl::ir::UnOp::Neg,
            arg: ghost,
        },
        Some(Type::scalar(DType::F32)),
        50,
    );
    let e = verify(&k).unwrap_err();
    assert_eq!((e.op, e.loc), (Some("neg"), loc));
    assert!(e.message.contains("is never defined"), "{e}");

    let mut k = prelude();
    let loc = push(
        &mut k,
        Op::Unary {
            op: aqua_dsl::ir::UnOp::Neg,
            arg: ValueId(9999),
        },
        Some(Type::scalar(DType::F32)),
        51,
    );
    let e = verify(&k).unwrap_err();
    assert_eq!((e.op, e.loc), (Some("neg"), loc));
    assert!(e.message.contains("not in the value table"), "{e}");

    let mut k = prelude();
    let mut again = k.body.insts[0].clone();
    again.loc = Loc {
        file: "edited.rs",
        line: 52,
        col: 1,
    };
    k.body.insts.push(again.clone());
    let e = verify(&k).unwrap_err();
    assert_eq!((e.op, e.loc), (Some("const"), again.loc));
    assert!(e.message.contains("is defined twice"), "{e}");
}

#[test]
fn result_types_match_the_value_table() {
    cases(&[
        (
            "  %a = add %f, %f : f16 // <-",
            "add",
            "has type f16 in the value table, but the op produces f32",
        ),
        (
            "  %a, %c = add %f, %f : f32, f32 // <-",
            "add",
            "has 2 results, but produces 1",
        ),
        (
            "  %a = store %py, %fv : f32 // <-",
            "store",
            "has 1 results, but produces 0",
        ),
    ]);
    let e = error_of(&with_body("  %a = const f32 1.0 : i32"));
    assert!(
        e.message
            .contains("has type i32 in the value table, but the op produces f32"),
        "{e}"
    );
}

#[test]
fn constants_and_coordinates() {
    cases(&[
        (
            "  %a = const 1.5 : i32 // <-",
            "const",
            "a float literal cannot be a i32 constant",
        ),
        ("  %a = const 300 : u8 // <-", "const", "300 does not fit in u8"),
        (
            "  %a = const 0.1 : f16 // <-",
            "const",
            "not exactly representable in f16",
        ),
        (
            "  %a = const 1 : bool // <-",
            "const",
            "integer literal cannot be a bool constant",
        ),
        (
            "  %a = program_id 3 : i32 // <-",
            "program_id",
            "grid axis must be 0, 1 or 2",
        ),
        (
            "  %a = num_programs 5 : i32 // <-",
            "num_programs",
            "grid axis must be 0, 1 or 2",
        ),
        ("  %a = arange 0, 12 : i32[12] // <-", "arange", "powers of two"),
        ("  %a = arange 5, 5 : i32[1] // <-", "arange", "is empty"),
    ]);
}

#[test]
fn shapes() {
    cases(&[
        ("  %a = splat %v to [16] : i32[16] // <-", "splat", "needs a scalar"),
        ("  %a = splat %f to [3] : f32[3] // <-", "splat", "powers of two"),
        ("  %a = splat %f to [2,2,2,2] : f32[2,2,2,2] // <-", "splat", "at most 3 dims"),
        ("  %a = splat %f to [2048,1024] : f32[2048,1024] // <-", "splat", "more than 1048576 elements"),
        ("  %a = broadcast %fv to [4,16] : f32[4,16] // <-", "broadcast", "ranks must match"),
        ("  %a = broadcast %m2 to [8,4] : f32[8,4] // <-", "broadcast", "cannot broadcast f32[4,4] to [8,4]"),
        ("  %a = expand_dims %fv, axis 2 : f32[16,1] // <-", "expand_dims", "axis 2 is out of range"),
        (
            "  %c = reshape %m2 to [2,2,4] : f32[2,2,4]\n  %a = expand_dims %c, axis 0 : f32[1,2,2,4] // <-",
            "expand_dims",
            "at most 3 dims",
        ),
        ("  %a = reshape %fv to [4,8] : f32[4,8] // <-", "reshape", "element counts differ"),
        ("  %a = trans %fv : f32[16] // <-", "trans", "needs a 2-D block"),
        ("  %a = xor_permute %fv, axis 0, mask 16 : f32[16] // <-", "xor_permute", "mask 16 must be at least 1 and below the dim 16"),
        ("  %a = xor_permute %fv, axis 0, mask 0 : f32[16] // <-", "xor_permute", "mask 0 must be at least 1"),
        ("  %a = xor_permute %m2, axis 2, mask 1 : f32[4,4] // <-", "xor_permute", "axis 2 is out of range (rank 2)"),
        (
            "  %a = splat %f to [2048,1] : f32[2048,1]\n  %c = splat %f to [1,1024] : f32[1,1024]\n  %d = dot %a, %c : f32[2048,1024] // <-",
            "dot",
            "has more than 1048576 elements",
        ),
    ]);
}

#[test]
fn element_wise_ops() {
    cases(&[
        ("  %a = add %f, %h : f32 // <-", "add", "needs operands of one type"),
        ("  %a = shl %f, %f : f32 // <-", "shl", "needs integer or bool operands"),
        ("  %a = add %b, %b : bool // <-", "add", "`add` is not defined on bool"),
        (
            "  %a = add %px, %px : ptr<f32>[16] // <-",
            "add",
            "not defined on pointers",
        ),
        ("  %a = sqrt %i : i32 // <-", "sqrt", "needs a float operand"),
        ("  %a = not %f : f32 // <-", "not", "needs an integer or bool operand"),
        ("  %a = neg %b : bool // <-", "neg", "`neg` is not defined on bool"),
        ("  %a = cmp lt %f, %i : bool // <-", "cmp", "needs operands of one type"),
        (
            "  %a = select %f, %f, %f : f32 // <-",
            "select",
            "condition must be bool",
        ),
        (
            "  %a = select %b, %fv, %fv : f32[16] // <-",
            "select",
            "condition must be bool[16]",
        ),
        (
            "  %a = select %bv, %fv, %v : f32[16] // <-",
            "select",
            "alternatives differ",
        ),
        ("  %a = fma %i, %i, %i : i32 // <-", "fma", "needs float operands"),
        (
            "  %a = cast %px to i64 : i64[16] // <-",
            "cast",
            "not defined on pointers",
        ),
        ("  %a = bitcast %f to f16 : f16 // <-", "bitcast", "32 bits vs 16 bits"),
        (
            "  %a = bitcast %b to u8 : u8 // <-",
            "bitcast",
            "bool has no bit layout",
        ),
    ]);
}

#[test]
fn reductions_and_dot() {
    cases(&[
        (
            "  %a = reduce_sum %fv, axis 1 : f32 // <-",
            "reduce_sum",
            "has no axis 1",
        ),
        (
            "  %a = reduce_max %f, axis 0 : f32 // <-",
            "reduce_max",
            "has no axis 0",
        ),
        (
            "  %a = reduce_sum %bv, axis 0 : bool // <-",
            "reduce_sum",
            "not defined on bool[16]",
        ),
        (
            "  %a = reduce_argmax %px, axis 0 : i32 // <-",
            "reduce_argmax",
            "not defined on ptr<f32>[16]",
        ),
        ("  %a = dot %fv, %fv : f32[16,16] // <-", "dot", "needs 2-D operands"),
        (
            "  %c = reshape %fv to [2,8] : f32[2,8]\n  %a = dot %c, %c : f32[2,8] // <-",
            "dot",
            "inner dims 8 and 2 differ",
        ),
        (
            "  %c = reshape %v to [4,4] : i32[4,4]\n  %a = dot %c, %c : f32[4,4] // <-",
            "dot",
            "float operands",
        ),
        (
            "  %a = dot %m2, %m2, acc %fv : f32[4,4] // <-",
            "dot",
            "accumulator must be f32[4,4]",
        ),
    ]);
}

#[test]
fn memory_ops() {
    cases(&[
        (
            "  %a = ptr_add %v, %v : i32[16] // <-",
            "ptr_add",
            "`ptr_add` needs pointers",
        ),
        (
            "  %a = ptr_add %px, %fv : ptr<f32>[16] // <-",
            "ptr_add",
            "offsets must be integers",
        ),
        (
            "  %a = ptr_add %xs, %i : ptr<f32>[16] // <-",
            "ptr_add",
            "shapes differ",
        ),
        ("  %a = load %v : i32[16] // <-", "load", "`load` needs pointers"),
        (
            "  %a = load %px, mask %v : f32[16] // <-",
            "load",
            "mask must be bool[16]",
        ),
        (
            "  %a = load %px, mask %b : f32[16] // <-",
            "load",
            "mask must be bool[16]",
        ),
        (
            "  %a = load %px, other %f : f32[16] // <-",
            "load",
            "fallback must be f32[16]",
        ),
        ("  store %py, %v // <-", "store", "needs a f32[16] value"),
        ("  store %py, %fv, mask %b // <-", "store", "mask must be bool[16]"),
        (
            "  store %px, %fv // <-",
            "store",
            "parameter `x`, which is not declared `mut`",
        ),
        (
            "  %a = gather t3, %v : f32[16] // <-",
            "gather",
            "table t3 does not exist",
        ),
        (
            "  %a = gather t0, %fv : f32[16] // <-",
            "gather",
            "indices must be integers",
        ),
    ]);
}

#[test]
fn pointers_derive_from_one_parameter() {
    cases(&[
        (
            "  %r = for %i, %n, %i iter(%px) { // <-\n  ^(%k: i32, %p: ptr<f32>[16]):\n    yield %py\n  } : ptr<f32>[16]",
            "for",
            "changes its base parameter",
        ),
        (
            "  %r = if %b { // <-\n    yield %px\n  } else {\n    yield %py\n  } : ptr<f32>[16]",
            "if",
            "different parameters",
        ),
        ("  %r = select %bv, %px, %py : ptr<f32>[16] // <-", "select", "different parameters"),
    ]);
}

#[test]
fn loops() {
    cases(&[
        (
            "  for %f, %f, %f { // <-\n  ^(%k: f32):\n    yield\n  }",
            "for",
            "loop bounds must be integer scalars",
        ),
        (
            "  for %v, %v, %v { // <-\n  ^(%k: i32[16]):\n    yield\n  }",
            "for",
            "loop bounds must be integer scalars",
        ),
        (
            "  %l = const 0 : i64\n  for %l, %n, %i { // <-\n  ^(%k: i64):\n    yield\n  }",
            "for",
            "loop bounds must share one type",
        ),
        (
            "  for %i, %n, %i { // <-\n    yield\n  }",
            "for",
            "induction variable and the carried values: 1 expected, got 0",
        ),
        (
            "  %r = for %i, %n, %i iter(%f) { // <-\n  ^(%k: i32, %c: f16):\n    yield %c\n  } : f32",
            "for",
            "must be f32, got f16",
        ),
        (
            "  %r = for %i, %n, %i iter(%f) { // <-\n  ^(%k: i32, %c: f32):\n    %d = neg %c : f32\n  } : f32",
            "for",
            "the loop body must end in `yield`",
        ),
        (
            "  %r = for %i, %n, %i iter(%f) {\n  ^(%k: i32, %c: f32):\n    yield %k // <-\n  } : f32",
            "yield",
            "as value 0, but the carried values of the enclosing `for` have type f32",
        ),
        (
            "  %r = for %i, %n, %i iter(%f) {\n  ^(%k: i32, %c: f32):\n    yield %c, %c // <-\n  } : f32",
            "yield",
            "yields 2 values",
        ),
        (
            "  %r = for %i, %n, %i iter(%f) { // <-\n  ^(%k: i32, %c: f32):\n    yield %c\n  } : f16",
            "for",
            "has type f16 in the value table, but the op produces f32",
        ),
        (
            "  for %i, %n, %i {\n  ^(%k: i32):\n    yield %k // <-\n    %q = neg %f : f32\n    yield\n  }",
            "yield",
            "must be the last op",
        ),
        ("  yield %f // <-", "yield", "outside of a `for` body or an `if` branch"),
    ]);
}

#[test]
fn branches() {
    cases(&[
        (
            "  if %f { // <-\n    yield\n  } else {\n    yield\n  }",
            "if",
            "condition must be a scalar bool",
        ),
        (
            "  if %bv { // <-\n    yield\n  } else {\n    yield\n  }",
            "if",
            "condition must be a scalar bool",
        ),
        (
            "  if %b { // <-\n  ^(%z: i32):\n    yield\n  } else {\n    yield\n  }",
            "if",
            "`if` branches take no arguments",
        ),
        (
            "  %r = if %b {\n    yield %f\n  } else {\n    yield %i // <-\n  } : f32",
            "yield",
            "the results of the enclosing `if` have type f32",
        ),
        (
            "  %r = if %b { // <-\n    yield %f\n  } else {\n    %q = neg %f : f32\n  } : f32",
            "if",
            "each branch must end in `yield`",
        ),
    ]);
}

#[test]
fn kernel_signature_and_tables() {
    let mut k = prelude();
    let n = k.body.args[2];
    k.values[n.0 as usize] = Type::ptr(DType::I32);
    rejects_kernel(
        verify(&k).unwrap_err(),
        "parameter `n` is declared i32 but its value %2 has type ptr<i32>",
    );

    let mut k = prelude();
    k.name = "not a name".into();
    rejects_kernel(verify(&k).unwrap_err(), "kernel name `not a name` is not an identifier");

    let mut k = prelude();
    k.body.args.pop();
    rejects_kernel(verify(&k).unwrap_err(), "3 arguments for 4 parameters");

    let mut k = prelude();
    k.comptime.insert("a-b".into(), aqua_dsl::ComptimeValue::Int(1));
    rejects_kernel(verify(&k).unwrap_err(), "comptime parameter name `a-b`");

    for (text, needle) in [
        ("kernel k(%a x: i32, %b x: i32) {\n}", "two parameters are named `x`"),
        (
            "kernel k() {\n  table t0: f16 = [0.1]\n}",
            "table t0: entry 0 (0.1) is not a f16 value",
        ),
        (
            "kernel k() {\n  table t0: i32 = [1.5]\n}",
            "entry 0 (1.5) is not a i32 value",
        ),
        (
            "kernel k() {\n  table t0: u8 = [256]\n}",
            "entry 0 (256.0) is not a u8 value",
        ),
        ("kernel k() {\n  table t0: f32 = []\n}", "must not be empty"),
    ] {
        rejects_kernel(error_of(text), needle);
    }
}

/// For kernels from the builder, the error points at the author's Rust line.
#[test]
fn builder_kernels_are_located_at_the_authors_line() {
    let params = vec![
        common::ptr("src", DType::F32, false),
        common::ptr("dst", DType::F32, true),
    ];
    let args = begin("writes_input", params, Default::default());
    let offs = arange(16);
    let line = line!() + 1;
    store(args[0] + offs, load(args[1] + offs));
    let k = finish().expect("the builder does not check mutability");
    let e = verify(&k).unwrap_err();
    assert_eq!((e.op, e.loc.file, e.loc.line), (Some("store"), file!(), line), "{e}");
    assert!(e.to_string().contains("stores through parameter `src`"), "{e}");

    // `KernelSource::build` verifies too.
    struct WritesInput;
    impl KernelSource for WritesInput {
        fn name(&self) -> &'static str {
            "writes_input"
        }
        fn params(&self) -> Vec<aqua_dsl::ir::Param> {
            vec![common::ptr("src", DType::F32, false)]
        }
        fn comptime_params(&self) -> Vec<ComptimeParam> {
            vec![]
        }
        fn body(&self, a: &[Value], _: &Params) {
            store(a[0] + arange(16), 1.0);
        }
    }
    let e = WritesInput.build(&Params::new()).unwrap_err();
    assert_eq!((e.op, e.loc.file), (Some("store"), file!()), "{e}");
}
