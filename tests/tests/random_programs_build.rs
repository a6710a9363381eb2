//! The random program generator itself: it must produce well-typed kernels that the
//! reference interpreter runs without error, and exercise what the backends must get
//! right (here: enough ops, lanes written, tensor-core dots and butterfly partners).

use aqua_dsl::ir::{DType, Op};
use aqua_tests::harness::run_interpreter;
use aqua_tests::random_program::generate;

#[test]
fn a_thousand_random_programs_build_verify_and_interpret() {
    let mut ops = 0usize;
    let mut written = 0usize;
    let mut tile_dots = Vec::new();
    let mut lane_partners = Vec::new();
    for seed in 0..1000 {
        let p = generate(seed).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        assert!(!p.exact_f.is_empty() || !p.exact_i.is_empty(), "seed {seed} stores nothing");
        let (mut tile_dot, mut lane_partner) = (false, false);
        p.kernel.walk(&mut |inst| {
            ops += 1;
            match inst.op {
                Op::Dot { a, .. } => tile_dot |= matches!(p.kernel.ty(a).dtype(), DType::F16 | DType::BF16),
                Op::XorPermute { arg, axis, mask } => {
                    // On one warp a block of n elements gives each thread n / 32 of them:
                    // a partner `flat` away is in another lane when flat is a multiple of that.
                    let shape = &p.kernel.ty(arg).shape;
                    let inner: u32 = shape.dims()[axis as usize + 1..].iter().product();
                    let (flat, run) = (mask * inner, shape.numel() as u32 / 32);
                    lane_partner |= run >= 1 && flat % run == 0;
                }
                _ => {}
            }
        });
        if tile_dot {
            tile_dots.push(seed);
        }
        if lane_partner {
            lane_partners.push(seed);
        }
        let out = run_interpreter(&p).unwrap_or_else(|e| panic!("seed {seed}: {e}\n{}", p.kernel));
        // Every unmasked lane of every used slot was written (the sentinel is gone or
        // legitimately equal to it, which random data makes vanishingly rare).
        for slot in 0..p.exact_f.len() {
            written +=
                (0..p.n as usize).filter(|&l| out.out_f[slot * p.len() + l].to_bits() != (-7.0f32).to_bits()).count();
        }
    }
    // The generator must exercise ops, not emit trivial kernels.
    assert!(ops > 1000 * 15, "only {ops} ops in 1000 programs");
    assert!(written > 1000, "only {written} lanes written");
    // Tensor-core dots (f16/bf16 tiles on GPU targets) among the seeds the SIMT suite runs.
    let simt = tile_dots.iter().filter(|&&s| s < 300 || s % 7 == 300 % 7).count();
    assert!(simt >= 10, "only {simt} programs with an f16/bf16 dot in the SIMT sample: {tile_dots:?}");
    // `xor_permute`s whose partners a warp shuffle brings, among the seeds the SIMT suite
    // runs on one warp.
    let shuffled = lane_partners.iter().filter(|&&s| s < 300).count();
    assert!(shuffled >= 10, "only {shuffled} programs with a partner in another lane: {lane_partners:?}");
}
