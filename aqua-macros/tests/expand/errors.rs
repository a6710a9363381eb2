//! Mistakes found while building: comptime parameters that do not fit the declaration,
//! and IR errors located at the author's line.

use aqua_dsl::build::Params;
use aqua_macros::kernel;

use super::common::*;
use super::dataflow::{axpy, quantize_sketch};

fn line(marker: &str) -> u32 {
    line_of(include_str!("errors.rs"), marker)
}

#[test]
fn unknown_missing_and_ill_typed_comptime_params() {
    let e = axpy.build(&Params::new().with("blocks", 64)).unwrap_err();
    assert!(
        e.message.contains("unknown comptime parameter `blocks`"),
        "{e}"
    );
    assert_eq!(e.kernel, "axpy");
    let e = axpy.build(&Params::new().with("block", 1.5)).unwrap_err();
    assert!(
        e.message.contains("`block`") && e.message.contains("u32"),
        "{e}"
    );
    let e = quantize_sketch
        .build(&Params::new().with("bits", 2))
        .unwrap_err();
    assert!(
        e.message
            .contains("`group: u32` has no value and no default"),
        "{e}"
    );
}

// ---- build-time errors point at the author's line ----

#[kernel]
fn mixes_dtypes(x: Ptr<f16>, y: PtrMut<f32>, #[comptime(default = 32)] block: u32) {
    let offs = arange(block);
    let v = load(x + offs);
    let w = load(y + offs);
    store(y + offs, v + w); // MARK: f16 + f32
}

#[kernel]
fn bad_compare(x: Ptr<f32>, y: PtrMut<f32>, n: i32) {
    let v = load(x);
    let small = v < n; // MARK: f32 < i32
    store(y, where_(small, v, 0.0));
}

#[kernel]
fn bad_loop_carry(x: Ptr<f32>, y: PtrMut<f32>, n: i32) {
    let mut acc = load(x);
    for step in 0..n {
        acc = acc.cast::<f16>().cast::<f32>() + step.cast::<f32>();
        acc = acc.reshape([1]);
    }
    store(y, acc.sum(0));
}

/// `Ptr<T>` is read-only: the verifier rejects the store, at its line.
#[kernel]
fn stores_to_input(x: Ptr<f32>, y: PtrMut<f32>) {
    let v = load(y);
    store(x, v); // MARK: store through Ptr
}

#[test]
fn build_errors_carry_the_authors_line() {
    let e = mixes_dtypes.build(&Params::new()).unwrap_err();
    assert!(e.message.contains("mixes f16 and f32"), "{e}");
    assert_eq!(e.kernel, "mixes_dtypes");
    assert!(e.loc.file.ends_with("errors.rs"), "{e}");
    assert_eq!(e.loc.line, line("// MARK: f16 + f32"));

    let e = bad_compare.build(&Params::new()).unwrap_err();
    assert!(e.message.contains("`lt` mixes f32 and i32"), "{e}");
    assert_eq!(e.loc.line, line("// MARK: f32 < i32"));

    let e = bad_loop_carry.build(&Params::new()).unwrap_err();
    assert!(e.message.contains("changes type"), "{e}");
    assert_eq!(e.loc.line, line("for step in 0..n {"));

    let e = stores_to_input.build(&Params::new()).unwrap_err();
    assert!(e.message.contains("`x`"), "{e}");
    assert_eq!(e.loc.line, line("// MARK: store through Ptr"));
}
