//! The random program generator itself: it must produce well-typed kernels only.

use aqua_tests::random_program::generate;

#[test]
fn a_thousand_random_programs_build_and_verify() {
    let mut ops = 0usize;
    for seed in 0..1000 {
        let p = generate(seed).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        assert!(!p.exact_f.is_empty() || !p.exact_i.is_empty(), "seed {seed} stores nothing");
        p.kernel.walk(&mut |_| ops += 1);
    }
    // The generator must actually exercise ops, not emit trivial kernels.
    assert!(ops > 1000 * 15, "only {ops} ops in 1000 programs");
}
