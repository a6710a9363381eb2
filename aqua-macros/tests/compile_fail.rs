//! Mistakes in kernels are compile errors at the offending span. Each file under
//! `compile_fail/` holds one kind of mistake; its `.stderr` is the expected diagnostic
//! (regenerate with `TRYBUILD=overwrite` and review every message and span).

#[test]
fn kernel_mistakes_are_compile_errors() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/compile_fail/*.rs");
}
