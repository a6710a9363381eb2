//! The HIGGS kernels against the plain-Rust reference (`quant::higgs`), on the CPU runtime
//! and the interpreter: scales, codes and dequantized values equal bit for bit (the
//! kernels follow the reference's f32 operations exactly, every sum having two terms).
//! Covers the four EDEN grids, Hadamard groups 32 to 1024, f16, bf16 and f32, real KV data,
//! random data with degenerate and non-finite groups, ragged sizes; and the error on
//! N(0, 1) data against the grids' known error.

mod common;

use aqua_dsl::DType;
use aqua_kernels::data::KvSlice;
use aqua_kernels::host::higgs::{HiggsBuffers, HiggsKernels};
use aqua_kernels::quant::clvq::gaussian_samples;
use aqua_kernels::quant::higgs::{Higgs, HiggsConfig};
use aqua_kernels::quant::{bits_per_value, relative_error, Element};
use aqua_runtime::{HostBuffer, Runtime};
use common::Rng;
use half::{bf16, f16};

/// `(dim, points)` of the EDEN grids and their mean squared error per coordinate on
/// N(0, 1) (measured offline on 1.6e7 vectors; see `tests/grids.rs`).
const GRIDS: [((usize, usize), f64); 4] = [
    ((2, 16), 0.107629),
    ((2, 64), 0.029615),
    ((2, 256), 0.007748),
    ((4, 256), 0.096527),
];

/// Equal bits, or both NaN (NaN payloads are unspecified).
fn same<E: Element>(a: &[E], b: &[E]) -> Option<usize> {
    if a.len() != b.len() {
        return Some(a.len().min(b.len()));
    }
    a.iter().zip(b).position(|(x, y)| {
        let (x, y) = (x.widen(), y.widen());
        x.to_bits() != y.to_bits() && !(x.is_nan() && y.is_nan())
    })
}

/// Quantizes and dequantizes `x` with the kernels (`block` values per program, or the
/// default) and compares everything with the reference.
fn check<E: Element>(rt: &Runtime, config: HiggsConfig, block: Option<u32>, x: &[E], what: &str) {
    let ctx = format!(
        "{what}: EDEN{}-{} group={} block={block:?} n={} {}",
        config.dim,
        config.points,
        config.group,
        x.len(),
        E::DTYPE
    );
    let kernels = match block {
        Some(b) => HiggsKernels::compile_with_block(rt, config, E::DTYPE, b),
        None => HiggsKernels::compile(rt, config, E::DTYPE),
    }
    .unwrap_or_else(|e| panic!("{ctx}: {e}"));
    let packed = kernels
        .quantize(rt, &HostBuffer::from_slice(x))
        .unwrap_or_else(|e| panic!("{ctx}: {e}"));
    let got = packed.to_quantized().unwrap();
    let reference = Higgs::new(config.group, config.dim, config.points).unwrap();
    let want = reference.quantize_as(x);
    if let Some(g) = same(&got.scale, &want.scale) {
        panic!(
            "{ctx}: scale of group {g}: {:?} vs reference {:?}",
            got.scale.get(g),
            want.scale.get(g)
        );
    }
    if got.codes != want.codes {
        let (a, b) = (got.unpacked_all().unwrap(), want.unpacked_all().unwrap());
        let i = a.iter().zip(&b).position(|(a, b)| a != b).unwrap();
        panic!(
            "{ctx}: code {i} (group {}): {} vs reference {}",
            i / config.codes_per_group(),
            a[i],
            b[i]
        );
    }
    let restored: Vec<E> = kernels
        .dequantize(rt, &packed)
        .unwrap_or_else(|e| panic!("{ctx}: {e}"))
        .to_vec()
        .unwrap();
    let expected: Vec<E> = reference.dequantize_as(&want).unwrap();
    if let Some(i) = same(&restored, &expected) {
        panic!(
            "{ctx}: dequantized value {i}: {:?} vs reference {:?}",
            restored[i], expected[i]
        );
    }
}

fn config(group: usize, dim: usize, points: usize) -> HiggsConfig {
    HiggsConfig::new(group, dim, points).unwrap()
}

/// Keys and values of a shallow and a deep layer of the bundled slice.
fn real_data() -> Vec<f16> {
    let slice = KvSlice::bundled().unwrap();
    let pick = |i: usize| slice.layers.iter().find(|l| l.layer == i).unwrap();
    [pick(0), pick(29)]
        .iter()
        .flat_map(|l| l.k.iter().chain(&l.v))
        .copied()
        .collect()
}

#[test]
fn real_kv_slice_every_grid() {
    let data = real_data();
    for ((dim, points), _) in GRIDS {
        check(common::cpu(), config(64, dim, points), None, &data, "real KV");
    }
}

#[test]
fn hadamard_groups_from_32_to_1024() {
    let data = real_data();
    for group in [32, 128, 1024] {
        check(common::cpu(), config(group, 2, 16), None, &data, "real KV");
    }
    // 512 with EDEN4-256: 128 codes of 8 bits per group.
    check(common::cpu(), config(512, 4, 256), None, &data[..20_000], "real KV");
}

/// Groups of several kinds: Gaussian at random scales, all zero, tiny (norm below f16),
/// huge (norm beyond f16), constant, and groups with a NaN or an infinity.
fn random_groups(rng: &mut Rng, n: usize, group: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let gauss = gaussian_samples(1, group, rng.next_u64());
        let scale = 10f32.powf(rng.unit() * 6.0 - 3.0);
        match rng.below(8) {
            0 => out.extend(std::iter::repeat_n(0.0, group)),
            1 => out.extend(gauss.iter().map(|v| v * 1e-9)),
            2 => out.extend(gauss.iter().map(|v| v * 3e4)),
            3 => out.extend(std::iter::repeat_n(scale, group)),
            4 => {
                let mut g: Vec<f32> = gauss.iter().map(|v| v * scale).collect();
                g[rng.below(group as u64) as usize] =
                    [f32::NAN, f32::INFINITY, f32::NEG_INFINITY][rng.below(3) as usize];
                out.extend(g);
            }
            _ => out.extend(gauss.iter().map(|v| v * scale)),
        }
    }
    out.truncate(n);
    out
}

#[test]
fn random_and_degenerate_groups_every_dtype() {
    let mut rng = Rng::new(5);
    for ((dim, points), _) in GRIDS {
        let c = config(64, dim, points);
        // Whole tiles, a partial tile, a partial group, fewer values than a group.
        for n in [64 * 16 * 3, 64 * 5 + 17, 40] {
            let x = random_groups(&mut rng, n, 64);
            let f16s: Vec<f16> = x.iter().map(|&v| f16::narrow(v)).collect();
            check(common::cpu(), c, None, &f16s, "random");
        }
    }
    // bf16 and f32 inputs (huge groups overflow f16's scale but not these dtypes' values).
    for (dim, points) in [(2, 64), (4, 256)] {
        let c = config(64, dim, points);
        let x = random_groups(&mut rng, 64 * 40 + 9, 64);
        check(common::cpu(), c, None, &x, "random");
        let b: Vec<bf16> = x.iter().map(|&v| bf16::narrow(v)).collect();
        check(common::cpu(), c, None, &b, "random");
    }
    // f32 values whose squares overflow: the scale saturates, outputs stay finite.
    let x: Vec<f32> = gaussian_samples(1, 128, 3).iter().map(|v| v * 1e25).collect();
    check(common::cpu(), config(64, 2, 64), None, &x, "overflow");
    let q = Higgs::new(64, 2, 64).unwrap();
    assert!(q.dequantize(&q.quantize(&x)).unwrap().iter().all(|v| v.is_finite()));
}

/// Tuples outside the box of the candidate cells (`quant::cells`: EDEN2-64 and -256, and
/// EDEN2-16 in a tile's masked form) send their tile to the brute-force search. A group
/// `x_i = a + b (-1)^popcount(i & m)` of 1024 values rotates to `32 (a, b)` at
/// coordinates 0 and m: one tuple at radius 32 in the direction (a, b), for m = 1 and
/// m = 512 (whichever pairing the transform uses). Around 3 degrees the cell the tuple
/// would clamp to lacks its nearest point, so without the fallback the codes differ.
#[test]
fn tuples_outside_the_cells_take_the_brute_force() {
    let mut x = Vec::new();
    for k in 10..50 {
        let (b, a) = (k as f32 * 0.1f32).to_radians().sin_cos();
        for m in [1usize, 512] {
            x.extend((0..1024usize).map(|i| {
                if (i & m).count_ones() % 2 == 0 {
                    a + b
                } else {
                    a - b
                }
            }));
        }
    }
    // A partial last tile too: its masked form is the one that searches cells on EDEN2-16
    // (interior tiles take the brute force there on the CPU).
    let partial = &x[..x.len() - 1000];
    for points in [16, 64, 256] {
        check(common::cpu(), config(1024, 2, points), None, &x, "outside the cells");
        check(common::cpu(), config(1024, 2, points), None, partial, "outside the cells, partial tile");
    }
}

#[test]
fn tiles_of_one_group_and_of_many() {
    let mut rng = Rng::new(8);
    // block = 32 * dim is the smallest (one packing unit of codes); 4096 is 64 groups.
    for (block, dim, points) in [(64, 2, 16), (128, 4, 256), (4096, 2, 16)] {
        let x = random_groups(&mut rng, 3 * block as usize + 70, 64);
        check(common::cpu(), config(64, dim, points), Some(block), &x, "random");
    }
}

#[test]
fn interpreter_agrees_with_the_reference() {
    let mut rng = Rng::new(13);
    for (group, dim, points, block) in [(32, 2, 16, 256), (64, 4, 256, 128), (64, 2, 256, 128)] {
        let x = random_groups(&mut rng, 3 * block + group / 2, group);
        check(
            common::interpreter(),
            config(group, dim, points),
            Some(block as u32),
            &x,
            "interpreter",
        );
    }
}

/// The GPU program against the reference, on 4 warps and on 1: the general form of every
/// tile, groups as rows, so a group's transform stages are copies inside a thread's run
/// and warp shuffles (4 warps: 8 values a thread at 1024), or runs of 32 values a thread
/// (1 warp). Every grid, groups of 32 to 1024, degenerate and non-finite groups, and
/// tuples outside the candidate cells (the brute-force branch).
fn gpu_agrees_with_the_reference(four: &Runtime, one: &Runtime, what: &str) {
    let mut rng = Rng::new(21);
    for (rt, group, dim, points, block) in [
        (four, 64, 2, 16, 1024),
        (four, 64, 2, 64, 1024),
        (four, 64, 2, 256, 1024),
        (four, 64, 4, 256, 1024),
        (four, 32, 2, 16, 256),
        (four, 1024, 2, 64, 1024),
        (one, 128, 2, 16, 1024),
    ] {
        let x = random_groups(&mut rng, 2 * block + group / 2 + 3, group);
        let f16s: Vec<f16> = x.iter().map(|&v| f16::narrow(v)).collect();
        check(rt, config(group, dim, points), Some(block as u32), &f16s, what);
    }
    // Groups of 1024 whose one big tuple leaves the cells' box (see the test above).
    let x: Vec<f32> = (0..1024).map(|i| if i % 2 == 0 { 0.95 } else { 0.85 }).collect();
    check(four, config(1024, 2, 16), Some(1024), &x, what);
}

common::gpu_form_tests!(gpu_agrees_with_the_reference);

#[test]
fn error_on_gaussian_data_is_the_grids_error() {
    // The kernels on N(0, 1) data, one group per head (H = 64): the relative error equals
    // the grid's error on y = H x / ||x||, uniform on the sphere of radius sqrt(H), whose
    // coordinates are Gaussian up to O(1/H) (about 2% less error at H = 64). 2^17 values
    // (2^16 pairs) estimate an error to about 0.6% (one standard deviation), so: between
    // 5% below and 2.5% above the Gaussian value. f16 input and output add a relative
    // error of about 1e-7, far below these margins.
    let x: Vec<f16> = gaussian_samples(1, 1 << 17, 21)
        .iter()
        .map(|&v| f16::from_f32(v))
        .collect();
    let wide: Vec<f32> = x.iter().map(|v| v.to_f32()).collect();
    for ((dim, points), mse) in GRIDS {
        let k = HiggsKernels::compile(common::cpu(), config(64, dim, points), DType::F16).unwrap();
        let y: Vec<f16> = k
            .dequantize(
                common::cpu(),
                &k.quantize(common::cpu(), &HostBuffer::from_slice(&x)).unwrap(),
            )
            .unwrap()
            .to_vec()
            .unwrap();
        let err = relative_error(&wide, &y.iter().map(|v| v.to_f32()).collect::<Vec<_>>());
        assert!(
            (0.95 * mse..1.025 * mse).contains(&err),
            "EDEN{dim}-{points}: relative error {err:.6}, grid error {mse:.6}"
        );
        // Bits per value: log2(points) / dim for the codes, 16 / 64 for the scale.
        let bpv = bits_per_value(&k.storage(x.len()));
        assert_eq!(bpv, (points.trailing_zeros() as f64) / dim as f64 + 0.25);
    }
}

#[test]
fn empty_input_and_mismatched_buffers() {
    let rt = common::cpu();
    let c = config(64, 2, 16);
    let k = HiggsKernels::compile(rt, c, DType::F16).unwrap();
    let packed = k.quantize(rt, &HostBuffer::from_slice::<f16>(&[])).unwrap();
    assert_eq!(k.dequantize(rt, &packed).unwrap().len(), 0);
    let e = k
        .quantize(rt, &HostBuffer::from_slice(&[1.0f32; 64]))
        .err()
        .expect("dtype");
    assert!(e.to_string().contains("`x`"), "{e}");
    let mut other = HiggsBuffers::zeros(config(64, 2, 64), 64);
    let e = k
        .quantize_into(rt, &HostBuffer::from_slice(&[f16::ONE; 64]), &mut other)
        .unwrap_err();
    assert!(e.to_string().contains("output sized for 64 values"), "{e}");
    let e = HiggsKernels::compile(rt, config(16, 2, 16), DType::F16)
        .err()
        .expect("group 16");
    assert!(e.to_string().contains("group = 16"), "{e}");
}
