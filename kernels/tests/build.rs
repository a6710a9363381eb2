//! Every kernel builds and verifies for every supported comptime combination, and bad
//! comptime values are errors naming the kernel and the parameter, located in the kernel's
//! file, never panics.

use aqua_dsl::{KernelSource, Params};
use aqua_kernels::host::higgs::default_block;
use aqua_kernels::kernels::*;
use aqua_kernels::quant::higgs::HiggsConfig;

const UNIFORM: [&dyn KernelSource; 6] = [
    &quantize_uniform,
    &quantize_uniform_bf16,
    &quantize_uniform_f32,
    &dequantize_uniform,
    &dequantize_uniform_bf16,
    &dequantize_uniform_f32,
];

const TOKENS: [&dyn KernelSource; 6] = [
    &quantize_uniform_tokens,
    &quantize_uniform_tokens_bf16,
    &quantize_uniform_tokens_f32,
    &dequantize_uniform_tokens,
    &dequantize_uniform_tokens_bf16,
    &dequantize_uniform_tokens_f32,
];

const HIGGS: [&dyn KernelSource; 6] = [
    &quantize_higgs,
    &quantize_higgs_bf16,
    &quantize_higgs_f32,
    &dequantize_higgs,
    &dequantize_higgs_bf16,
    &dequantize_higgs_f32,
];

fn builds(k: &dyn KernelSource, p: &Params) {
    let ir = k.ir(p).unwrap_or_else(|e| panic!("{} {p}: {e}", k.name()));
    assert!(ir.contains(k.name()), "{ir}");
}

#[test]
fn uniform_variants_build() {
    for bits in 1..=8u32 {
        for group in [16u32, 32, 64, 128, 256] {
            for k in UNIFORM {
                for block in [group.max(32), 1024] {
                    builds(
                        k,
                        &Params::new()
                            .with("bits", bits)
                            .with("group", group)
                            .with("block", block),
                    );
                }
            }
            for k in TOKENS {
                for cols in [32, 128] {
                    builds(
                        k,
                        &Params::new().with("bits", bits).with("group", group).with("cols", cols),
                    );
                }
            }
        }
    }
}

#[test]
fn higgs_variants_build() {
    for (dim, points) in [(2u32, 16u32), (2, 64), (2, 256), (4, 256)] {
        for group in [32u32, 64, 128, 256, 512, 1024] {
            for k in HIGGS {
                let config = HiggsConfig::new(group as usize, dim as usize, points as usize).unwrap();
                let block = default_block(config);
                let p = Params::new()
                    .with("dim", dim)
                    .with("points", points)
                    .with("group", group)
                    .with("block", block);
                builds(k, &p);
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

/// Each kernel rejects each case with an error naming the kernel, containing `expected`,
/// located in `file`.
fn rejects(kernels: &[&dyn KernelSource], cases: &[(Params, &str)], file: &str) {
    for k in kernels {
        for (p, expected) in cases {
            let e = k.build(p).expect_err(&format!("{} {p} should not build", k.name()));
            assert_eq!(e.kernel, k.name());
            assert!(e.message.contains(expected), "{e}");
            assert!(e.loc.file.ends_with(file), "located in the kernel: {e}");
        }
    }
}

#[test]
fn bad_comptime_values_are_located_errors() {
    let p = |bits: u32, group: u32| Params::new().with("bits", bits).with("group", group);
    rejects(
        &UNIFORM,
        &[
            (p(9, 64), "bits = 9"),
            (p(0, 64), "bits = 0"),
            (p(2, 48), "group = 48"),
            (p(2, 8), "group = 8"),
            (p(2, 512), "group = 512"),
            (p(2, 128).with("block", 64), "block = 64"),
            (p(2, 16).with("block", 16), "block = 16"),
        ],
        "kernels/uniform.rs",
    );
    rejects(
        &TOKENS,
        &[
            (p(9, 64), "bits = 9"),
            (p(2, 24), "group = 24"),
            (p(2, 64).with("cols", 16), "cols = 16"),
        ],
        "uniform_tokens.rs",
    );
    let h = |dim: u32, points: u32, group: u32| {
        Params::new()
            .with("dim", dim)
            .with("points", points)
            .with("group", group)
    };
    rejects(
        &HIGGS,
        &[
            (h(2, 32, 64), "points = 32"),
            (h(3, 64, 64), "dim = 3"),
            (h(2, 16, 16), "group = 16"),
            (h(2, 16, 2048), "group = 2048"),
            (h(2, 16, 64).with("block", 32), "block = 32"),
            (h(4, 256, 64).with("block", 64), "block = 64"),
            (h(2, 256, 1024).with("block", 16384), "at most 8192"),
        ],
        "kernels/higgs.rs",
    );
    for k in UNIFORM.iter().chain(&TOKENS) {
        let e = k.build(&Params::new()).expect_err("bits has no default");
        assert!(e.message.contains("bits"), "{e}");
    }
    for k in HIGGS {
        let e = k.build(&Params::new()).expect_err("points has no default");
        assert!(e.message.contains("points"), "{e}");
    }
}
