//! Row-wise softmax: one program per row, reductions (max, sum) and `exp`.

use aqua_macros::kernel;

/// `y[r, :] = softmax(x[r, :])` over rows of `n_cols <= block` contiguous f32 values;
/// grid: one program per row.
#[kernel]
pub fn softmax_rows(x: Ptr<f32>, y: PtrMut<f32>, n_cols: i32, #[comptime(default = 1024)] block: u32) {
    let cols = arange(block);
    let mask = cols < n_cols;
    let offs = program_id(0) * n_cols + cols;
    // Padding lanes read -inf, so they add exp(-inf) = 0 to the sum.
    let v = load(x + offs, mask, f32::NEG_INFINITY);
    let e = (v - v.max(0)).exp();
    store(y + offs, e / e.sum(0), mask);
}

/// The plain-Rust reference: max, `exp(x - max)`, sum in order, divide.
pub fn reference(x: &[f32], n_cols: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(x.len());
    for row in x.chunks(n_cols) {
        let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let e: Vec<f32> = row.iter().map(|&v| (v - m).exp()).collect();
        let s: f32 = e.iter().sum();
        out.extend(e.iter().map(|&v| v / s));
    }
    out
}
