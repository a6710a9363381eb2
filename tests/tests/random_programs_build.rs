//! The random program generator itself: it must produce well-typed kernels that the
//! reference interpreter runs without error.

use aqua_tests::harness::run_interpreter;
use aqua_tests::random_program::generate;

#[test]
fn a_thousand_random_programs_build_verify_and_interpret() {
    let mut ops = 0usize;
    let mut written = 0usize;
    for seed in 0..1000 {
        let p = generate(seed).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        assert!(!p.exact_f.is_empty() || !p.exact_i.is_empty(), "seed {seed} stores nothing");
        p.kernel.walk(&mut |_| ops += 1);
        let out = run_interpreter(&p).unwrap_or_else(|e| panic!("seed {seed}: {e}\n{}", p.kernel));
        // Every unmasked lane of every used slot was written (the sentinel is gone or
        // legitimately equal to it, which random data makes vanishingly rare).
        for slot in 0..p.exact_f.len() {
            written += (0..p.n as usize).filter(|&l| out.out_f[slot * p.len() + l].to_bits() != (-7.0f32).to_bits()).count();
        }
    }
    // The generator must exercise ops, not emit trivial kernels.
    assert!(ops > 1000 * 15, "only {ops} ops in 1000 programs");
    assert!(written > 1000, "only {written} lanes written");
}
