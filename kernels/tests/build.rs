//! Every kernel builds and verifies for every supported comptime combination, and bad
//! comptime values are errors naming the kernel and the parameter, never panics.

use aqua_dsl::{KernelSource, Params};
use aqua_kernels::kernels::*;

const UNIFORM: [&dyn KernelSource; 4] = [
    &quantize_uniform,
    &quantize_uniform_f32,
    &dequantize_uniform,
    &dequantize_uniform_f32,
];

#[test]
fn uniform_variants_build() {
    for k in UNIFORM {
        for bits in 1..=8u32 {
            for group in [32u32, 64, 128] {
                for block in [group, 1024] {
                    let p = Params::new()
                        .with("bits", bits)
                        .with("group", group)
                        .with("block", block);
                    let ir = k.ir(&p).unwrap_or_else(|e| panic!("{} {p}: {e}", k.name()));
                    assert!(ir.contains(k.name()), "{ir}");
                }
            }
        }
    }
}

#[test]
fn small_kernels_build_with_defaults() {
    for k in [&axpy as &dyn KernelSource, &softmax_rows] {
        k.build(&Params::new()).unwrap_or_else(|e| panic!("{}: {e}", k.name()));
    }
}

#[test]
fn bad_comptime_values_are_located_errors() {
    let cases = [
        (Params::new().with("bits", 9), "bits = 9"),
        (Params::new().with("bits", 0), "bits = 0"),
        (Params::new().with("bits", 2).with("group", 48), "group = 48"),
        (Params::new().with("bits", 2).with("group", 16), "group = 16"),
        (
            Params::new().with("bits", 2).with("group", 128).with("block", 64),
            "block = 64",
        ),
    ];
    for k in UNIFORM {
        for (p, expected) in &cases {
            let e = k.build(p).expect_err(&format!("{} {p} should not build", k.name()));
            assert_eq!(e.kernel, k.name());
            assert!(e.message.contains(expected), "{e}");
            assert!(e.loc.file.ends_with("uniform.rs"), "located in the kernel: {e}");
        }
        let e = k.build(&Params::new()).expect_err("bits has no default");
        assert!(e.message.contains("bits"), "{e}");
    }
}
