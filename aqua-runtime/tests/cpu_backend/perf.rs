//! The uniform quantizer end to end against plain Rust, and the costs the issue sets
//! targets for: cold compile, link, load, launch, and quantize throughput next to memcpy
//! (printed, not asserted: the test machine is shared).

use aqua_dsl::build::*;
use aqua_dsl::ir::DType;
use half::f16;

use super::harness::*;

const QBLOCK: u32 = 1024;
const GROUP: u32 = 64;
const BITS: u32 = 2;

/// The uniform asymmetric quantizer (2 bits, groups of 64, f16 in), one block of 1024
/// values per program: per group min/max, f16 scale and zero, codes
/// `clamp(round((x - zero) / scale), 0, 3)` (0 where scale is 0), packed 16 to a word.
fn quantizer() -> aqua_dsl::ir::Kernel {
    kernel(
        "quantize",
        vec![ptr(DType::F16), ptr_mut(DType::U32), ptr_mut(DType::F16), ptr_mut(DType::F16), scalar(DType::I32)],
        |a| {
            let (x, codes, scale, zero, n) = (a[0], a[1], a[2], a[3], a[4]);
            let groups = QBLOCK / GROUP;
            let offs = program_id(0) * QBLOCK + arange(QBLOCK);
            let m = offs.lt(n);
            let v = load_masked(x + offs, m).cast::<f32>().reshape([groups, GROUP]);
            let (lo, hi) = (v.min(1), v.max(1));
            let levels = ((1u32 << BITS) - 1) as f32;
            let s = ((hi - lo) / levels).cast::<f16>();
            let z = lo.cast::<f16>();
            let g = program_id(0) * groups + arange(groups);
            let gm = (g * GROUP).lt(n);
            store_masked(scale + g, s, gm);
            store_masked(zero + g, z, gm);
            let (s, z) = (s.cast::<f32>().expand_dims(1), z.cast::<f32>().expand_dims(1));
            let q = ((v - z) / s).round().clamp(0.0, levels);
            let q = where_(s.eq(0.0), 0.0, q).cast::<u32>();
            let per_word = 32 / BITS;
            let words = q.reshape([QBLOCK / per_word, per_word]) << (arange(per_word).cast::<u32>() * BITS);
            let w = program_id(0) * (QBLOCK / per_word) + arange(QBLOCK / per_word);
            store_masked(codes + w, words.sum(1), (w * per_word).lt(n));
        },
    )
}

/// Plain Rust reference of [`quantizer`]: (codes, scale, zero).
fn quantize_ref(x: &[f16]) -> (Vec<u32>, Vec<f16>, Vec<f16>) {
    let levels = ((1u32 << BITS) - 1) as f32;
    let (mut codes, mut scales, mut zeros) = (vec![0u32; x.len() * BITS as usize / 32], vec![], vec![]);
    for (gi, grp) in x.chunks(GROUP as usize).enumerate() {
        let f: Vec<f32> = grp.iter().map(|v| v.to_f32()).collect();
        let lo = f.iter().copied().fold(f32::INFINITY, f32::min);
        let hi = f.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let (s, z) = (f16::from_f32((hi - lo) / levels), f16::from_f32(lo));
        scales.push(s);
        zeros.push(z);
        for (i, &v) in f.iter().enumerate() {
            let q = if s.to_f32() == 0.0 {
                0.0
            } else {
                ((v - z.to_f32()) / s.to_f32()).round_ties_even().clamp(0.0, levels)
            };
            let k = gi * GROUP as usize + i;
            codes[k * BITS as usize / 32] |= (q as u32) << ((k % (32 / BITS as usize)) * BITS as usize);
        }
    }
    (codes, scales, zeros)
}

#[test]
fn quantizer_matches_plain_rust_and_is_fast() {
    let k = quantizer();
    let ops = {
        let mut n = 0;
        k.walk(&mut |_| n += 1);
        n
    };
    // Cold compile (LLVM lowering, O3, object emission), best of a few runs.
    let mut best = std::time::Duration::MAX;
    let mut stages = vec![];
    for _ in 0..3 {
        let t = std::time::Instant::now();
        let art = aqua_dsl::codegen::compile(&k, &Default::default()).unwrap();
        if t.elapsed() < best {
            best = t.elapsed();
            stages = art.timings.iter().map(|(s, d)| format!("{s} {:.1}", d.as_secs_f64() * 1e3)).collect();
        }
    }
    println!("quantizer: {ops} ops, cold compile {:.1} ms ({})", best.as_secs_f64() * 1e3, stages.join(", "));

    let n: usize = 64 * 1024 + 640; // ragged: the last program is partly masked
    let mut rng = Rng(21);
    let x: Vec<f16> = (0..n).map(|i| f16::from_f32(if i % 700 < 64 { 1.5 } else { rng.float(4.0) })).collect();
    let programs = n.div_ceil(QBLOCK as usize) as u32;
    let args = [
        buf(&x),
        empty(DType::U32, n / 16),
        empty(DType::F16, n / 64),
        empty(DType::F16, n / 64),
        int(DType::I32, n as i64),
    ];
    let out = check_exact(&k, [programs, 1, 1], &args);
    let (codes, scales, zeros) = quantize_ref(&x);
    assert_eq!(read::<u32>(&out[1]), codes);
    assert_eq!(read::<f16>(&out[2]), scales);
    assert_eq!(read::<f16>(&out[3]), zeros);

    // Throughput next to a copy of the same input bytes, interleaved and best of several
    // runs (reported only: this machine is shared, so timings vary run to run).
    let j = jit(&k, false);
    let big = 8 << 20; // 8 Mi values, 16 MiB of f16: well beyond the caches
    let x: Vec<f16> = (0..big).map(|i| f16::from_f32((i % 1000) as f32 * 0.01)).collect();
    let args = [
        buf(&x),
        empty(DType::U32, big / 16),
        empty(DType::F16, big / 64),
        empty(DType::F16, big / 64),
        int(DType::I32, big as i64),
    ];
    let grid = [(big / QBLOCK as usize) as u32, 1, 1];
    let mut prepared = Prepared::new(&args);
    let mut dst = vec![f16::ZERO; big];
    let (mut q1, mut q2, mut copy) = (f64::MAX, f64::MAX, f64::MAX);
    let time = |f: &mut dyn FnMut()| {
        let t = std::time::Instant::now();
        f();
        t.elapsed().as_secs_f64()
    };
    for _ in 0..5 {
        copy = copy.min(time(&mut || dst.copy_from_slice(std::hint::black_box(&x))));
        q1 = q1.min(time(&mut || assert!(prepared.launch(&j, grid, 1).is_none())));
        q2 = q2.min(time(&mut || assert!(prepared.launch(&j, grid, 2).is_none())));
    }
    let gbs = |t: f64| (big * 2) as f64 / t / 1e9;
    println!(
        "quantize: {:.2} GB/s of input on 1 thread ({:.2} x memcpy), {:.2} GB/s on 2; memcpy {:.2} GB/s",
        gbs(q1),
        copy / q1,
        gbs(q2),
        gbs(copy)
    );
}

#[test]
fn launch_link_and_load_costs() {
    let k = kernel("tiny", vec![ptr_mut(DType::F32)], |a| store(a[0] + arange(16), arange(16).cast::<f32>()));
    let art = aqua_dsl::codegen::compile(&k, &Default::default()).unwrap();
    let mut link = f64::MAX;
    for _ in 0..5 {
        let t = std::time::Instant::now();
        drop(aqua_runtime::backend::cpu::CpuModule::load(&art.objects()).unwrap());
        link = link.min(t.elapsed().as_secs_f64());
    }
    let j = jit(&k, false);
    let mut p = Prepared::new(&[empty(DType::F32, 16)]);
    let n = 10_000;
    let t = std::time::Instant::now();
    for _ in 0..n {
        p.launch(&j, [1, 1, 1], 8);
    }
    let launch = t.elapsed().as_secs_f64() / n as f64;
    assert_eq!(read::<f32>(&p.outputs(&[empty(DType::F32, 16)])[0]), (0..16).map(|i| i as f32).collect::<Vec<_>>());
    println!("link and load {:.2} ms, one-program launch {:.0} ns", link * 1e3, launch * 1e9);
}
