use aqua_macros::kernel;

#[kernel]
fn annotated(x: PtrMut<f32>) {
    let v: f32 = load(x) * 2.0;
    store(x, v);
}

fn main() {}
