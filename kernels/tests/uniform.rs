//! The uniform quantizer kernels against the plain-Rust reference, on the CPU runtime and
//! the interpreter: packed codes, scales and zeros equal, dequantized values equal bit for
//! bit (the kernels follow the reference's f32 op order, see `quant::uniform`). Covers bits
//! 1 to 8, groups 32/64/128, f16 and f32, real KV data and random data whose sizes are not
//! multiples of the block or the group.

mod common;

use aqua_dsl::DType;
use aqua_kernels::data::KvSlice;
use aqua_kernels::host::uniform::UniformKernels;
use aqua_kernels::quant::Uniform;
use aqua_runtime::{HostBuffer, Runtime};
use common::Rng;
use half::f16;

const GROUPS: [usize; 3] = [32, 64, 128];

/// Quantizes and dequantizes `x` with the kernels and compares with the reference.
fn check(rt: &Runtime, q: Uniform, block: u32, x: &Input, what: &str) {
    let ctx = format!(
        "{what}: bits={} group={} block={block} n={} {:?}",
        q.bits(),
        q.group(),
        x.len(),
        x.dtype()
    );
    let kernels = UniformKernels::compile(rt, q, block, x.dtype()).unwrap_or_else(|e| panic!("{ctx}: {e}"));
    let packed = kernels
        .quantize(rt, &x.buffer())
        .unwrap_or_else(|e| panic!("{ctx}: {e}"));
    let got = packed.to_quantized(q).unwrap();
    let want = x.reference(q);
    assert_eq!(got.scale, want.scale, "{ctx}: scales");
    assert_eq!(got.zero, want.zero, "{ctx}: zeros");
    if got.codes != want.codes {
        let (a, b) = (got.unpacked().unwrap(), want.unpacked().unwrap());
        let i = a.iter().zip(&b).position(|(a, b)| a != b);
        panic!(
            "{ctx}: codes differ; first differing code {i:?}: {:?} vs reference {:?}",
            i.map(|i| a[i]),
            i.map(|i| b[i])
        );
    }
    let restored = kernels.dequantize(rt, &packed).unwrap_or_else(|e| panic!("{ctx}: {e}"));
    match x {
        Input::F16(_) => assert_eq!(
            restored.to_vec::<f16>().unwrap(),
            want.dequantize_f16().unwrap(),
            "{ctx}: dequantized"
        ),
        Input::F32(_) => {
            let bits = |v: Vec<f32>| v.into_iter().map(f32::to_bits).collect::<Vec<u32>>();
            assert_eq!(
                bits(restored.to_vec::<f32>().unwrap()),
                bits(want.dequantize().unwrap()),
                "{ctx}: dequantized"
            );
        }
    }
}

enum Input {
    F16(Vec<f16>),
    F32(Vec<f32>),
}

impl Input {
    fn len(&self) -> usize {
        match self {
            Input::F16(v) => v.len(),
            Input::F32(v) => v.len(),
        }
    }
    fn dtype(&self) -> DType {
        match self {
            Input::F16(_) => DType::F16,
            Input::F32(_) => DType::F32,
        }
    }
    fn buffer(&self) -> HostBuffer {
        match self {
            Input::F16(v) => HostBuffer::from_slice(v),
            Input::F32(v) => HostBuffer::from_slice(v),
        }
    }
    fn reference(&self, q: Uniform) -> aqua_kernels::quant::Quantized {
        match self {
            Input::F16(v) => q.quantize_f16(v),
            Input::F32(v) => q.quantize(v),
        }
    }
}

/// Random groups of several kinds: smooth noise at random scales and offsets, constant
/// groups (scale 0), and values on a half-step grid with the range pinned to [0, L] so
/// `(x - zero) / scale` lands exactly on ties.
fn random_values(rng: &mut Rng, n: usize, bits: u32) -> Vec<f32> {
    let levels = ((1u32 << bits) - 1) as f32;
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let len = 1 + rng.below(80) as usize;
        match rng.below(4) {
            0 => out.extend(std::iter::repeat_n(rng.unit() * 8.0 - 4.0, len)),
            1 => {
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

#[test]
fn real_kv_slice_on_cpu() {
    let slice = KvSlice::bundled().unwrap();
    // Shallow and deep layers; keys and values differ a lot in range (see meta.json).
    let pick = |i: usize| slice.layers.iter().find(|l| l.layer == i).unwrap();
    let mut data: Vec<f16> = Vec::new();
    for l in [pick(0), pick(29)] {
        data.extend(&l.k);
        data.extend(&l.v);
    }
    let x16 = Input::F16(data.clone());
    let x32 = Input::F32(data.iter().map(|v| v.to_f32()).collect());
    for bits in 1..=8 {
        for group in GROUPS {
            let q = Uniform::new(bits, group).unwrap();
            check(common::cpu(), q, 1024, &x16, "real KV");
            check(common::cpu(), q, 1024, &x32, "real KV");
        }
    }
}

#[test]
fn random_data_on_cpu_with_ragged_sizes() {
    let mut rng = Rng::new(7);
    for bits in 1..=8 {
        for group in GROUPS {
            let q = Uniform::new(bits, group).unwrap();
            // Sizes below, at and past one block, ragged against both group and block.
            for n in [1, 31, 33, group + 5, 1024, 1024 + 96, 5000] {
                let x = random_values(&mut rng, n, bits);
                check(common::cpu(), q, 1024, &Input::F32(x.clone()), "random");
                check(
                    common::cpu(),
                    q,
                    1024,
                    &Input::F16(x.iter().map(|&v| f16::from_f32(v)).collect()),
                    "random",
                );
            }
        }
    }
}

#[test]
fn block_of_one_group_and_of_many() {
    let mut rng = Rng::new(11);
    for (bits, group, block) in [(3, 32, 32), (5, 64, 64), (2, 128, 128), (7, 32, 256), (4, 64, 2048)] {
        let q = Uniform::new(bits, group).unwrap();
        let x = random_values(&mut rng, 3 * block as usize + 17, bits);
        check(common::cpu(), q, block, &Input::F32(x), "random");
    }
}

#[test]
fn interpreter_agrees_with_the_reference() {
    let mut rng = Rng::new(3);
    for bits in 1..=8 {
        for group in GROUPS {
            let q = Uniform::new(bits, group).unwrap();
            let x = random_values(&mut rng, 300 + group / 2, bits);
            check(common::interpreter(), q, 256, &Input::F32(x.clone()), "interpreter");
            check(
                common::interpreter(),
                q,
                256,
                &Input::F16(x.iter().map(|&v| f16::from_f32(v)).collect()),
                "interpreter",
            );
        }
    }
}

#[test]
fn empty_input_launches_nothing() {
    let q = Uniform::new(4, 64).unwrap();
    let k = UniformKernels::compile(common::cpu(), q, 1024, DType::F16).unwrap();
    let packed = k.quantize(common::cpu(), &HostBuffer::from_slice::<f16>(&[])).unwrap();
    assert_eq!(packed.size_bytes(), 0);
    assert_eq!(k.dequantize(common::cpu(), &packed).unwrap().len(), 0);
}

#[test]
fn mismatched_buffers_are_errors() {
    let q = Uniform::new(4, 64).unwrap();
    let rt = common::cpu();
    let k = UniformKernels::compile(rt, q, 1024, DType::F16).unwrap();
    // An f32 tensor for the f16 variant: the launch's dtype check names the argument.
    let e = k
        .quantize(rt, &HostBuffer::from_slice(&[1.0f32; 100]))
        .err()
        .expect("dtype mismatch");
    assert!(e.to_string().contains("`x`"), "{e}");
    let mut small = aqua_kernels::host::uniform::QuantizedBuffers::zeros(q, 10);
    let e = k
        .quantize_into(rt, &HostBuffer::from_slice(&[f16::ONE; 100]), &mut small)
        .unwrap_err();
    assert!(e.to_string().contains("sized for 10 values"), "{e}");
    let e = UniformKernels::compile(rt, q, 1024, DType::I32)
        .err()
        .expect("no i32 variant");
    assert!(e.to_string().contains("f16 or f32"), "{e}");
}
