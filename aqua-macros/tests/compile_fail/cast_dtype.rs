use aqua_macros::kernel;

#[kernel]
fn widen(x: Ptr<f32>, y: PtrMut<f32>) {
    let v = load(x).cast::<f64>();
    let w = load(x) as f16;
    store(y, zeros::<usize>([4]).sum(0));
}

fn main() {}
