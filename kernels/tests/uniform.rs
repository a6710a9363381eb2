//! The uniform quantizer kernels against the plain-Rust reference, on the CPU runtime and
//! the interpreter: packed codes, scales and zeros equal, dequantized values equal bit for
//! bit (the kernels follow the reference's f32 op order, see `quant::uniform`). Covers bits
//! 1 to 8, groups 16 to 256, both groupings, f16, bf16 and f32, real KV data and random data
//! with edge cases (constant, all-zero, ties, ranges beyond f16, NaN and infinities), with
//! sizes that are not multiples of the tile or the group.

mod common;

use aqua_dsl::DType;
use aqua_kernels::data::KvSlice;
use aqua_kernels::host::uniform::{QuantizedBuffers, UniformKernels};
use aqua_kernels::quant::{Element, Grouping, Uniform};
use aqua_runtime::{HostBuffer, Runtime};
use common::Rng;
use half::{bf16, f16};

/// Quantizes and dequantizes `x` with the kernels and compares with the reference.
fn check<E: Element>(rt: &Runtime, q: Uniform, grouping: Grouping, tile: u32, x: &[E], what: &str) {
    let ctx = format!(
        "{what}: bits={} group={} {grouping:?} tile={tile} n={} {}",
        q.bits(),
        q.group(),
        x.len(),
        E::DTYPE
    );
    let kernels =
        UniformKernels::compile_tiled(rt, q, grouping, E::DTYPE, tile).unwrap_or_else(|e| panic!("{ctx}: {e}"));
    let packed = kernels
        .quantize(rt, &HostBuffer::from_slice(x))
        .unwrap_or_else(|e| panic!("{ctx}: {e}"));
    let got = packed.to_quantized().unwrap();
    let want = q.quantize_as(x, grouping).unwrap();
    // By bits: f16's `==` takes -0 for +0, and a zero's sign is part of the output.
    let bits16 = |v: &[f16]| v.iter().map(|h| h.to_bits()).collect::<Vec<u16>>();
    assert_eq!(bits16(&got.scale), bits16(&want.scale), "{ctx}: scales");
    assert_eq!(bits16(&got.zero), bits16(&want.zero), "{ctx}: zeros");
    if got.codes != want.codes {
        let (a, b) = (got.unpacked().unwrap(), want.unpacked().unwrap());
        let i = a.iter().zip(&b).position(|(a, b)| a != b);
        panic!(
            "{ctx}: codes differ; first differing code {i:?}: {:?} vs reference {:?}",
            i.map(|i| a[i]),
            i.map(|i| b[i])
        );
    }
    let restored: Vec<E> = kernels
        .dequantize(rt, &packed)
        .unwrap_or_else(|e| panic!("{ctx}: {e}"))
        .to_vec()
        .unwrap();
    let reference: Vec<E> = want.dequantize_as().unwrap();
    let bits = |v: &[E]| bytemuck::cast_slice::<E, u8>(v).to_vec();
    assert!(bits(&restored) == bits(&reference), "{ctx}: dequantized values differ");
}

/// [`check`] on the CPU runtime with `x` narrowed to f16.
fn check_f16_on_cpu(q: Uniform, grouping: Grouping, tile: u32, x: &[f32], what: &str) {
    check(common::cpu(), q, grouping, tile, &narrow::<f16>(x), what);
}

/// [`check`] on `x` as given (f32) and narrowed to bf16.
fn check_f32_and_bf16(rt: &Runtime, q: Uniform, grouping: Grouping, tile: u32, x: &[f32], what: &str) {
    check(rt, q, grouping, tile, x, what);
    check(rt, q, grouping, tile, &narrow::<bf16>(x), what);
}

/// Random groups of several kinds: smooth noise at random scales and offsets, constant
/// runs (runs of zeros too, of either sign), and values on a half-step grid with the range pinned to
/// [0, L] so `(x - zero) / scale` lands exactly on ties.
fn random_values(rng: &mut Rng, n: usize, bits: u32) -> Vec<f32> {
    let levels = ((1u32 << bits) - 1) as f32;
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let len = 1 + rng.below(80) as usize;
        match rng.below(5) {
            0 => out.extend(std::iter::repeat_n(rng.unit() * 8.0 - 4.0, len)),
            1 => out.extend((0..len).map(|_| if rng.below(2) == 0 { 0.0 } else { -0.0 })),
            2 => {
                let mut run: Vec<f32> = (0..len)
                    .map(|_| (rng.below(2 * levels as u64 + 1) as f32) * 0.5)
                    .collect();
                run[0] = 0.0;
                if len > 1 {
                    run[len - 1] = levels;
                }
                out.extend(run);
            }
            _ => {
                let (center, spread) = (rng.unit() * 20.0 - 10.0, 10f32.powf(rng.unit() * 4.0 - 3.0));
                out.extend((0..len).map(|_| center + spread * (rng.unit() * 2.0 - 1.0)));
            }
        }
    }
    out.truncate(n);
    out
}

/// Values that stress the edges: ranges beyond f16 (scale and zero saturate), f16's own
/// extremes, NaN and infinities scattered among ordinary values.
fn extreme_values(rng: &mut Rng, n: usize) -> Vec<f32> {
    (0..n)
        .map(|_| match rng.below(12) {
            0 => f32::NAN,
            1 => f32::INFINITY,
            2 => f32::NEG_INFINITY,
            3 => 65504.0,
            4 => -65504.0,
            5 => 1e30 * (rng.unit() - 0.5),
            _ => rng.unit() * 100.0 - 50.0,
        })
        .collect()
}

/// Groups of `group` values from 0 to `levels * step` (f32), the step of each group
/// around 2^-25, where the f16 scale turns from 0 (a constant group's: every code 0) to
/// the least subnormal: just below, exactly (a tie that rounds to 0), just above, between
/// it and 2^-24, and 2^-24.
fn tiny_steps(rng: &mut Rng, n: usize, bits: u32, group: usize) -> Vec<f32> {
    let levels = ((1u32 << bits) - 1) as f32;
    let tie = 2f32.powi(-25);
    let steps = [f32::from_bits(tie.to_bits() - 1), tie, f32::from_bits(tie.to_bits() + 1), 3.0 * tie / 2.0, 2.0 * tie];
    let mut out = Vec::with_capacity(n);
    for g in 0..n.div_ceil(group) {
        let top = levels * steps[g % steps.len()];
        out.extend([0.0, top]);
        out.extend((2..group).map(|_| top * rng.unit()));
    }
    out.truncate(n);
    out
}

fn narrow<E: Element>(x: &[f32]) -> Vec<E> {
    x.iter().map(|&v| E::narrow(v)).collect()
}

/// The variants every test draws from, so each compiles once per test binary (the
/// runtime's memory cache serves the rest). Along channels: every width twice, every group
/// size at least three times, f16. Along tokens: every width, groups cycling, f16.
const CHANNELS: [(u32, usize); 16] = [
    (1, 16),
    (1, 128),
    (2, 32),
    (2, 64),
    (3, 64),
    (3, 256),
    (4, 128),
    (4, 16),
    (5, 256),
    (5, 32),
    (6, 16),
    (6, 64),
    (7, 32),
    (7, 128),
    (8, 64),
    (8, 256),
];
const TOKENS: [(u32, usize); 8] = [(1, 16), (2, 32), (3, 64), (4, 128), (5, 256), (6, 16), (7, 32), (8, 64)];
/// Variants also run with bf16 and f32: a dividing and a straddling width, small and large
/// groups.
const WIDE: [(u32, usize); 3] = [(1, 16), (2, 64), (7, 32)];

fn uniform(bits: u32, group: usize) -> Uniform {
    Uniform::new(bits, group).unwrap()
}

#[test]
fn real_kv_slice() {
    let slice = KvSlice::bundled().unwrap();
    // Shallow and deep layers; keys and values differ a lot in range (see meta.json).
    let pick = |i: usize| slice.layers.iter().find(|l| l.layer == i).unwrap();
    let mut data: Vec<f16> = Vec::new();
    for l in [pick(0), pick(29)] {
        data.extend(&l.k);
        data.extend(&l.v);
    }
    // 192 channels: three tiles of 64.
    let tokens = Grouping::Tokens {
        channels: slice.channels,
    };
    for (bits, group) in CHANNELS {
        check(
            common::cpu(),
            uniform(bits, group),
            Grouping::Channels,
            1024,
            &data,
            "real KV",
        );
    }
    for (bits, group) in TOKENS {
        check(common::cpu(), uniform(bits, group), tokens, 64, &data, "real KV");
    }
    let wide: Vec<f32> = data.iter().map(|v| v.to_f32()).collect();
    for (bits, group) in WIDE {
        let q = uniform(bits, group);
        check_f32_and_bf16(common::cpu(), q, Grouping::Channels, 1024, &wide, "real KV");
        check_f32_and_bf16(common::cpu(), q, tokens, 64, &wide, "real KV");
    }
}

#[test]
fn random_data_with_ragged_sizes() {
    let mut rng = Rng::new(7);
    for (bits, group) in CHANNELS {
        // Sizes below, at and past one block, ragged against both group and block.
        for n in [1, 17, 31, group + 5, 1024, 1024 + 96, 5000] {
            let x = random_values(&mut rng, n, bits);
            check_f16_on_cpu(uniform(bits, group), Grouping::Channels, 1024, &x, "random");
        }
    }
    for (bits, group) in TOKENS {
        // Token counts ragged against the group, channels against the tile (96 = 64 + 32).
        for (tokens, channels) in [(1, 64), (group + 3, 96), (3 * group, 192)] {
            let x = random_values(&mut rng, tokens * channels, bits);
            check_f16_on_cpu(uniform(bits, group), Grouping::Tokens { channels }, 64, &x, "random");
        }
    }
}

#[test]
fn extreme_and_non_finite_values_match_the_reference() {
    let mut rng = Rng::new(19);
    for (bits, group) in WIDE {
        let q = uniform(bits, group);
        let x = extreme_values(&mut rng, 3072);
        check_f32_and_bf16(common::cpu(), q, Grouping::Channels, 1024, &x, "extreme");
        check(common::cpu(), q, Grouping::Tokens { channels: 192 }, 64, &x, "extreme");
        // Whatever the input, a finite input never dequantizes to NaN or infinity.
        let finite: Vec<f32> = x.iter().map(|v| if v.is_finite() { *v } else { 1.0 }).collect();
        let y = q
            .quantize(&finite, Grouping::Channels)
            .unwrap()
            .dequantize_as::<f16>()
            .unwrap();
        assert!(y.iter().all(|v| v.is_finite()), "bits={bits}: non-finite output");
    }
    for (bits, group) in CHANNELS.into_iter().step_by(3) {
        let x = extreme_values(&mut rng, 3000);
        check_f16_on_cpu(uniform(bits, group), Grouping::Channels, 1024, &x, "extreme");
    }
}

/// A group's scale rounds to an f16 0 exactly when its step is at most 2^-25; the
/// kernels decide it on the step in f32, the reference on the f16 scale.
#[test]
fn steps_around_the_least_f16_subnormal_match_the_reference() {
    let mut rng = Rng::new(29);
    for (bits, group) in WIDE {
        let x = tiny_steps(&mut rng, 40 * group + 5, bits, group);
        check_f32_and_bf16(common::cpu(), uniform(bits, group), Grouping::Channels, 1024, &x, "tiny steps");
    }
}

#[test]
fn tiles_of_one_group_and_of_many() {
    let mut rng = Rng::new(11);
    for (bits, group, block) in [(5, 16, 32), (2, 128, 128), (4, 64, 2048)] {
        let q = Uniform::new(bits, group).unwrap();
        let x = random_values(&mut rng, 3 * block as usize + 17, bits);
        check(common::cpu(), q, Grouping::Channels, block, &x, "random");
    }
}

#[test]
fn interpreter_agrees_with_the_reference() {
    let mut rng = Rng::new(3);
    for (bits, group) in CHANNELS.into_iter().step_by(3) {
        let q = uniform(bits, group);
        let x = random_values(&mut rng, 300 + group / 2, bits);
        check_f32_and_bf16(
            common::interpreter(),
            q,
            Grouping::Channels,
            256.max(group as u32),
            &x,
            "interpreter",
        );
        let x = random_values(&mut rng, (group + 1) * 64, bits);
        check(
            common::interpreter(),
            q,
            Grouping::Tokens { channels: 64 },
            32,
            &narrow::<f16>(&x),
            "interpreter",
        );
    }
}

/// The GPU form (every tile masked, groups spread over threads and warps) against the
/// reference on `four` and `one` warps: both groupings, the GPU's default tile of 4096 and
/// smaller ones, ragged sizes, signed zeros and non-finite values.
fn gpu_agrees_with_the_reference(four: &Runtime, one: &Runtime, what: &str) {
    let mut rng = Rng::new(23);
    let variants = [(four, 2, 64, 4096), (four, 3, 256, 1024), (four, 8, 16, 256), (one, 1, 32, 1024)];
    for (rt, bits, group, tile) in variants {
        let q = uniform(bits, group);
        let x = random_values(&mut rng, 2 * tile as usize + group / 2 + 3, bits);
        check(rt, q, Grouping::Channels, tile, &narrow::<f16>(&x), what);
        check(rt, q, Grouping::Channels, tile, &extreme_values(&mut rng, tile as usize + 7), what);
        check(rt, q, Grouping::Channels, tile, &tiny_steps(&mut rng, tile as usize + 9, bits, group), what);
    }
    for (rt, bits, group) in [(four, 2, 64), (one, 4, 32)] {
        let x = random_values(&mut rng, (group + 3) * 128, bits);
        check(rt, uniform(bits, group), Grouping::Tokens { channels: 128 }, 64, &narrow::<f16>(&x), what);
    }
}

common::gpu_form_tests!(gpu_agrees_with_the_reference);

/// Programs launched past the tensor (a grid larger than the groups need, or any grid over
/// an empty tensor) do nothing: checked launches would report a read or write out of the
/// buffers, and the outputs keep what they held.
#[test]
fn programs_past_the_tensor_do_nothing() {
    use aqua_dsl::Params;
    use aqua_kernels::kernels::{dequantize_uniform, quantize_uniform};
    use aqua_runtime::Arg;
    let rt = common::cpu();
    let params = Params::new().with("bits", 2).with("block", 64);
    let quantize = rt.compile(&quantize_uniform, &params).unwrap();
    let dequantize = rt.compile(&dequantize_uniform, &params).unwrap();
    for n in [0usize, 40, 64] {
        let groups = n.div_ceil(64);
        let x = HostBuffer::from_slice(&vec![f16::from_f32(1.5); n]);
        let mut codes = HostBuffer::from_slice(&vec![7u32; groups * 4]);
        let mut scale = HostBuffer::from_slice(&vec![f16::ONE; groups]);
        let mut zero = HostBuffer::from_slice(&vec![f16::ONE; groups]);
        let mut out = HostBuffer::from_slice(&vec![f16::from_f32(9.0); n]);
        // Three programs: the groups need at most one.
        let mut args = [
            Arg::Buf(&x),
            Arg::BufMut(&mut codes),
            Arg::BufMut(&mut scale),
            Arg::BufMut(&mut zero),
            Arg::i32(n as i32),
        ];
        rt.launch(&quantize, [3, 1, 1], &mut args)
            .unwrap_or_else(|e| panic!("quantize, n = {n}: {e}"));
        let mut args = [
            Arg::Buf(&codes),
            Arg::Buf(&scale),
            Arg::Buf(&zero),
            Arg::BufMut(&mut out),
            Arg::i32(n as i32),
        ];
        rt.launch(&dequantize, [3, 1, 1], &mut args)
            .unwrap_or_else(|e| panic!("dequantize, n = {n}: {e}"));
        // A constant group: scale 0, zero 1.5, and back to 1.5.
        let out: Vec<f16> = out.to_vec().unwrap();
        assert!(out.iter().all(|&v| v == f16::from_f32(1.5)), "n = {n}: {out:?}");
    }
}

#[test]
fn empty_input_launches_nothing() {
    let q = Uniform::new(4, 64).unwrap();
    for grouping in [Grouping::Channels, Grouping::Tokens { channels: 64 }] {
        let k = UniformKernels::compile(common::cpu(), q, grouping, DType::F16).unwrap();
        let packed = k.quantize(common::cpu(), &HostBuffer::from_slice::<f16>(&[])).unwrap();
        assert_eq!(packed.size_bytes(), 0);
        assert_eq!(k.dequantize(common::cpu(), &packed).unwrap().len(), 0);
    }
}

#[test]
fn mismatched_buffers_are_errors() {
    let q = Uniform::new(4, 64).unwrap();
    let rt = common::cpu();
    let k = UniformKernels::compile(rt, q, Grouping::Channels, DType::F16).unwrap();
    // An f32 tensor for the f16 variant: the launch's dtype check names the argument.
    let e = k
        .quantize(rt, &HostBuffer::from_slice(&[1.0f32; 100]))
        .err()
        .expect("dtype mismatch");
    assert!(e.to_string().contains("`x`"), "{e}");
    let mut small = QuantizedBuffers::zeros(q, Grouping::Channels, 10);
    let e = k
        .quantize_into(rt, &HostBuffer::from_slice(&[f16::ONE; 100]), &mut small)
        .unwrap_err();
    assert!(e.to_string().contains("sized for 10 values"), "{e}");
    let e = UniformKernels::compile(rt, q, Grouping::Channels, DType::I32)
        .err()
        .expect("no i32 variant");
    assert!(e.to_string().contains("f16, bf16 or f32"), "{e}");
    let e = UniformKernels::compile(rt, q, Grouping::Tokens { channels: 48 }, DType::F16)
        .err()
        .expect("48 channels");
    assert!(e.to_string().contains("multiple of 32 channels"), "{e}");
    let k = UniformKernels::compile(rt, q, Grouping::Tokens { channels: 64 }, DType::F16).unwrap();
    let e = k
        .quantize(rt, &HostBuffer::from_slice(&[f16::ONE; 100]))
        .err()
        .expect("ragged");
    assert!(e.to_string().contains("not whole tokens"), "{e}");
}

/// The interior form of the KIVI dequantizer (widths dividing 32) loads each token row's
/// code words as one run of offsets, `[rows, words]`, which the CPU reads as vectors; unit
/// by unit (`[units, bits]`, two units a row) they were read one word at a time. The masked
/// form, which GPUs run for every tile, keeps loading by unit.
#[test]
fn kivi_interior_tiles_load_each_rows_code_words_as_one_run() {
    use aqua_dsl::ir::{Inst, Op};
    use aqua_dsl::Params;
    use aqua_kernels::kernels::dequantize_uniform_tokens;
    for (bits, cols) in [(2u32, 64u32), (4, 64), (8, 64), (1, 128)] {
        let p = Params::new().with("bits", bits).with("cols", cols);
        let k = dequantize_uniform_tokens.build(&p).unwrap();
        let runs = aqua_dsl::analysis::runs(&k);
        let words = cols / 32 * bits;
        let mut code_loads = Vec::new();
        k.walk(&mut |inst: &Inst| {
            if let Op::Load { ptr, mask, .. } = &inst.op {
                if k.ty(*ptr).dtype() == DType::U32 {
                    let shape = k.ty(*ptr).shape.dims().to_vec();
                    code_loads.push((shape, mask.is_some(), runs.get(ptr).map(|r| r.last())));
                }
            }
        });
        let rows = code_loads.iter().filter(|(shape, masked, run)| {
            !masked && shape == &[64, words] && run.is_some_and(|r| 1 << r.contig == words)
        });
        assert_eq!(rows.count(), 1, "bits={bits} cols={cols}: {code_loads:?}");
    }
}
