use aqua_macros::kernel;

#[kernel]
fn method(&self, x: PtrMut<f32>) {
    store(x, 1.0);
}

fn main() {}
