//! Element-wise kernels: `y = a * x + y` over `n` f32 values (masked tail).

use aqua_macros::kernel;

/// `y = a * x + y`, `block` values per program; grid `ceil(n / block)` programs.
#[kernel]
pub fn axpy(x: Ptr<f32>, y: PtrMut<f32>, a: f32, n: i32, #[comptime(default = 1024)] block: u32) {
    let offs = program_id(0) * block + arange(block);
    let mask = offs < n;
    let xv = load(x + offs, mask, 0.0);
    let yv = load(y + offs, mask, 0.0);
    store(y + offs, a * xv + yv, mask);
}

/// The plain-Rust reference: `a * x + y` with two roundings, as the IR's `mul` then `add`.
pub fn reference(a: f32, x: &[f32], y: &mut [f32]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y += a * x;
    }
}
