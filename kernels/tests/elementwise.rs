//! axpy and row softmax on the CPU runtime and the interpreter against their plain-Rust
//! references.

mod common;

use aqua_dsl::{DType, Params};
use aqua_kernels::kernels::{axpy, elementwise, softmax, softmax_rows};
use aqua_runtime::{Arg, HostBuffer, Runtime};
use common::Rng;

fn run_axpy(rt: &Runtime, block: u32, a: f32, x: &[f32], y: &[f32]) -> Vec<f32> {
    let k = rt.compile(&axpy, &Params::new().with("block", block)).unwrap();
    let xb = HostBuffer::from_slice(x);
    let mut yb = HostBuffer::from_slice(y);
    let grid = [x.len().div_ceil(block as usize) as u32, 1, 1];
    rt.launch(
        &k,
        grid,
        &mut [
            Arg::Buf(&xb),
            Arg::BufMut(&mut yb),
            Arg::f32(a),
            Arg::i32(x.len() as i32),
        ],
    )
    .unwrap();
    yb.to_vec().unwrap()
}

/// `a * x + y` is a multiply then an add, each rounded: equal bit for bit.
#[test]
fn axpy_matches_reference_exactly() {
    let mut rng = Rng::new(1);
    for rt in [common::cpu(), common::interpreter()] {
        for (n, block) in [(1, 64), (1000, 64), (1024, 1024), (5000, 1024), (3, 1024)] {
            let x: Vec<f32> = (0..n).map(|_| rng.unit() * 200.0 - 100.0).collect();
            let y: Vec<f32> = (0..n).map(|_| rng.unit() * 2.0 - 1.0).collect();
            let mut want = y.clone();
            elementwise::reference(0.37, &x, &mut want);
            let got = run_axpy(rt, block, 0.37, &x, &y);
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got), bits(&want), "{:?} n={n} block={block}", rt.backend());
        }
    }
}

fn run_softmax(rt: &Runtime, block: u32, x: &[f32], n_cols: usize) -> Vec<f32> {
    let k = rt.compile(&softmax_rows, &Params::new().with("block", block)).unwrap();
    let xb = HostBuffer::from_slice(x);
    let mut yb = HostBuffer::zeros(DType::F32, x.len());
    let grid = [(x.len() / n_cols) as u32, 1, 1];
    rt.launch(
        &k,
        grid,
        &mut [Arg::Buf(&xb), Arg::BufMut(&mut yb), Arg::i32(n_cols as i32)],
    )
    .unwrap();
    yb.to_vec().unwrap()
}

/// Softmax agrees within 1e-6 absolute plus 4e-6 relative: `exp` may differ by an ulp or
/// two between LLVM's and Rust's libm, and the order of the sum's additions is unspecified
/// (n additions of values <= 1 add at most n * 2^-24 relative error to the denominator).
#[test]
fn softmax_matches_reference() {
    let mut rng = Rng::new(2);
    for rt in [common::cpu(), common::interpreter()] {
        for (rows, n_cols, block) in [(3, 1, 16), (5, 7, 16), (4, 100, 128), (2, 1024, 1024), (7, 700, 1024)] {
            let x: Vec<f32> = (0..rows * n_cols).map(|_| rng.unit() * 30.0 - 15.0).collect();
            let want = softmax::reference(&x, n_cols);
            let got = run_softmax(rt, block, &x, n_cols);
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!(
                    (g - w).abs() <= 1e-6 + 4e-6 * w.abs(),
                    "{:?} rows={rows} n={n_cols} [{i}]: {g} vs {w}",
                    rt.backend()
                );
            }
            for row in got.chunks(n_cols) {
                let s: f32 = row.iter().sum();
                assert!((s - 1.0).abs() < 1e-5, "row sums to {s}");
            }
        }
    }
}
