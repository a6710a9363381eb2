//! Errors: out-of-bounds accesses, argument mismatches, and ill-formed kernels (which
//! must fail with an error, never a panic).

use aqua_dsl::build::*;
use aqua_dsl::interp::{run, ArgValue, InterpError};
use aqua_dsl::ir::{Const, Inst, Kernel, Lit, Loc, Op, Type, ValueId};
use aqua_dsl::DType;

use super::harness::*;

fn copy_kernel(name: &'static str, block: u32, offset: i32) -> Kernel {
    build(
        name,
        &[("x", input(DType::F32)), ("out", output(DType::F32))],
        move |p| {
            let offs = program_id(0) * block as i32 + arange(block) + offset;
            store(p[1] + offs, load(p[0] + offs));
        },
    )
}

#[test]
fn unmasked_out_of_bounds_load_names_kernel_argument_and_offset() {
    let k = copy_kernel("oob_load", 8, 0);
    let (mut x, mut out) = (bytes(&[1.0f32; 12]), zeroed::<f32>(16));
    let e = run_err(
        &k,
        [2, 1, 1],
        &mut [ArgValue::Buffer(&mut x), ArgValue::Buffer(&mut out)],
    );
    match &e {
        InterpError::OutOfBounds {
            kernel,
            arg,
            param,
            offset,
            program,
            is_store,
            loc,
        } => {
            assert_eq!(
                (kernel.as_str(), *arg, param.as_str()),
                ("oob_load", 0, "x")
            );
            assert_eq!((*offset, *program, *is_store), (12, [1, 0, 0], false));
            assert!(loc.is_known() && loc.file.ends_with("errors.rs"), "{loc}");
        }
        other => panic!("expected an out-of-bounds error, got {other}"),
    }
    let msg = e.to_string();
    for part in [
        "`oob_load`",
        "load from argument 0 (`x`)",
        "offset 12",
        "[1, 0, 0]",
        "errors.rs",
    ] {
        assert!(msg.contains(part), "`{part}` missing from: {msg}");
    }
    // The first program ran to completion before the fault.
    assert_eq!(elems::<f32>(&out)[..8], [1.0; 8]);
}

#[test]
fn unmasked_out_of_bounds_store_writes_nothing_of_that_store() {
    let k = build("oob_store", &[("out", output(DType::I32))], |p| {
        store(p[0] + (arange(4) - 1), arange(4));
    });
    let mut out = bytes(&[7i32; 4]);
    let e = run_err(&k, [1, 1, 1], &mut [ArgValue::Buffer(&mut out)]);
    assert!(
        matches!(
            e,
            InterpError::OutOfBounds {
                arg: 0,
                offset: -1,
                is_store: true,
                ..
            }
        ),
        "{e}"
    );
    assert!(
        e.to_string()
            .contains("store to argument 0 (`out`) at element offset -1"),
        "{e}"
    );
    assert_eq!(elems::<i32>(&out), vec![7; 4]);
}

#[test]
fn argument_mismatches_are_errors() {
    let k = build(
        "sig",
        &[("x", input(DType::F32)), ("n", scalar(DType::I32))],
        |_| {},
    );
    let mut buf = zeroed::<f32>(4);
    let n = || ArgValue::Scalar(Const::from_i64(DType::I32, 4));

    let e = run(&k, [1, 1, 1], &mut [ArgValue::Buffer(&mut buf)]).unwrap_err();
    assert_eq!(
        e,
        InterpError::ArgCount {
            kernel: "sig".into(),
            expected: 2,
            got: 1
        }
    );
    assert_eq!(e.to_string(), "kernel `sig` takes 2 arguments, got 1");

    let e = run(&k, [1, 1, 1], &mut [n(), n()]).unwrap_err();
    assert!(matches!(&e, InterpError::ArgMismatch { arg: 0, .. }), "{e}");
    assert!(
        e.to_string()
            .contains("argument 0 (`x`): expected a buffer (ptr<f32>), got a i32 scalar"),
        "{e}"
    );

    let mut other = zeroed::<i32>(1);
    let e = run(
        &k,
        [1, 1, 1],
        &mut [ArgValue::Buffer(&mut buf), ArgValue::Buffer(&mut other)],
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("argument 1 (`n`): expected a i32 scalar, got a buffer"),
        "{e}"
    );

    let f = ArgValue::Scalar(Const::from_f64(DType::F32, 4.0));
    let e = run(&k, [1, 1, 1], &mut [ArgValue::Buffer(&mut buf), f]).unwrap_err();
    assert!(
        e.to_string()
            .contains("expected a i32 scalar, got a f32 scalar"),
        "{e}"
    );

    let bad = ArgValue::Scalar(Const {
        dtype: DType::I32,
        lit: Lit::Int(1 << 40),
    });
    let e = run(&k, [1, 1, 1], &mut [ArgValue::Buffer(&mut buf), bad]).unwrap_err();
    assert!(matches!(e, InterpError::ArgMismatch { arg: 1, .. }), "{e}");

    let mut odd = vec![0u8; 5];
    let e = run(&k, [1, 1, 1], &mut [ArgValue::Buffer(&mut odd), n()]).unwrap_err();
    assert!(
        matches!(
            e,
            InterpError::BufferLength {
                arg: 0,
                bytes: 5,
                dtype: DType::F32,
                ..
            }
        ),
        "{e}"
    );
    assert!(
        e.to_string()
            .contains("5 bytes is not a whole number of f32 elements"),
        "{e}"
    );
}

#[test]
fn a_store_through_a_read_only_pointer_is_an_error() {
    // The verifier rejects this at build time; a kernel made by other means reaches the
    // interpreter, which must refuse too.
    let mut k = build("ro", &[("x", output(DType::I32))], |p| store(p[0], 1));
    k.params[0].kind = input(DType::I32);
    let mut x = zeroed::<i32>(1);
    let e = run_err(&k, [1, 1, 1], &mut [ArgValue::Buffer(&mut x)]);
    assert!(
        matches!(&e, InterpError::Runtime { op: "store", .. }),
        "{e}"
    );
    assert!(e.to_string().contains("read-only"), "{e}");
    assert_eq!(elems::<i32>(&x), vec![0]);
}

#[test]
fn ill_formed_kernels_fail_with_the_op_and_location() {
    let good = copy_kernel("bad", 8, 0);
    let args = || (bytes(&[0.0f32; 8]), zeroed::<f32>(8));

    // A value whose declared type disagrees with what its op computes.
    let mut k = good.clone();
    let arange = k
        .body
        .insts
        .iter()
        .position(|i| matches!(i.op, Op::Arange { .. }))
        .unwrap();
    let id = k.body.insts[arange].results[0];
    k.values[id.0 as usize] = Type::block(DType::I64, [8]);
    let (mut x, mut out) = args();
    let e = run_err(
        &k,
        [1, 1, 1],
        &mut [ArgValue::Buffer(&mut x), ArgValue::Buffer(&mut out)],
    );
    assert!(
        matches!(&e, InterpError::Runtime { op: "arange", loc, .. } if loc.is_known()),
        "{e}"
    );
    assert!(e.to_string().contains("declares i64[8]"), "{e}");

    // A use before the definition.
    let mut k = good.clone();
    k.body.insts.swap(0, arange);
    k.body.insts.swap(0, 1);
    let (mut x, mut out) = args();
    let e = run_err(
        &k,
        [1, 1, 1],
        &mut [ArgValue::Buffer(&mut x), ArgValue::Buffer(&mut out)],
    );
    assert!(e.to_string().contains("outside the scope"), "{e}");

    // `yield` in the kernel body.
    let mut k = good.clone();
    k.body.insts.push(Inst {
        op: Op::Yield(vec![]),
        results: vec![],
        loc: Loc::UNKNOWN,
    });
    let (mut x, mut out) = args();
    let e = run_err(
        &k,
        [1, 1, 1],
        &mut [ArgValue::Buffer(&mut x), ArgValue::Buffer(&mut out)],
    );
    assert!(matches!(e, InterpError::InvalidKernel { .. }), "{e}");

    // An integer constant outside its dtype.
    let mut k = good;
    let v = ValueId(k.values.len() as u32);
    k.values.push(Type::scalar(DType::I8));
    let c = Const {
        dtype: DType::I8,
        lit: Lit::Int(300),
    };
    k.body.insts.insert(
        0,
        Inst {
            op: Op::Const(c),
            results: vec![v],
            loc: Loc::UNKNOWN,
        },
    );
    let (mut x, mut out) = args();
    let e = run_err(
        &k,
        [1, 1, 1],
        &mut [ArgValue::Buffer(&mut x), ArgValue::Buffer(&mut out)],
    );
    assert!(
        matches!(&e, InterpError::Runtime { op: "const", .. }),
        "{e}"
    );
}

/// xorshift64*: a tiny deterministic generator for the mutation test.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n.max(1)
    }
}

#[test]
fn randomly_corrupted_kernels_never_panic() {
    let params = [
        ("x", input(DType::F32)),
        ("out", output(DType::F32)),
        ("n", scalar(DType::I32)),
    ];
    let base = build("fuzz", &params, |p| {
        let offs = arange(8);
        let x = load_masked_or(p[0] + offs, lt(offs, p[2]), 1.0);
        let m = x.reshape([2, 4]).trans().max(1);
        let r = for_range(0, p[2], 1, &[m], |i, c| vec![c[0] + i.cast::<f32>()]);
        let y = if_else(gt(p[2], 2), || vec![r[0] * 2.0], || vec![r[0]]);
        let g = const_table::<f32, f32>(&[1.0, 2.0]).gather(arange(4) % 3);
        store_masked(
            p[1] + arange(4),
            fma(y[0], g, y[0]).exp().round(),
            lt(arange(4), p[2]),
        );
    });
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut outcomes = [0usize; 2];
    for _ in 0..400 {
        let mut k = base.clone();
        for _ in 0..1 + rng.below(3) {
            let n = k.body.insts.len();
            match rng.below(4) {
                0 => {
                    k.body.insts.remove(rng.below(n));
                }
                1 => k.body.insts.swap(rng.below(n), rng.below(n)),
                2 => {
                    let (a, b) = (rng.below(k.values.len()), rng.below(k.values.len()));
                    k.values[a] = k.values[b].clone();
                }
                _ => {
                    let i = rng.below(n);
                    let j = rng.below(n);
                    let results = k.body.insts[j].results.clone();
                    k.body.insts[i].results = results;
                }
            }
        }
        let (mut x, mut out) = (bytes(&[0.5f32; 8]), zeroed::<f32>(4));
        let n = ArgValue::Scalar(Const::from_i64(DType::I32, 3));
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run(
                &k,
                [2, 1, 1],
                &mut [ArgValue::Buffer(&mut x), ArgValue::Buffer(&mut out), n],
            )
        }));
        match result {
            Ok(r) => outcomes[r.is_ok() as usize] += 1,
            Err(_) => panic!("the interpreter panicked on a corrupted kernel:\n{k:?}"),
        }
    }
    // Both outcomes occur, so the mutations neither always break nor never matter.
    assert!(outcomes[0] > 0 && outcomes[1] > 0, "{outcomes:?}");
}
