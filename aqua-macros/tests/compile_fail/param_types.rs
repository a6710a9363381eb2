use aqua_macros::kernel;

#[kernel]
fn params(a: Vec<f32>, b: Ptr<f64>, #[comptime] c: Ptr<f32>, #[comptime] d: u8, e: PtrMut<f16>) {
    store(e, 0.0);
}

fn main() {}
