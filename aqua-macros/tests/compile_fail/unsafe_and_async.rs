use aqua_macros::kernel;

#[kernel]
async fn fill(x: PtrMut<f32>) {
    unsafe {
        store(x, 1.0);
    }
}

fn main() {}
