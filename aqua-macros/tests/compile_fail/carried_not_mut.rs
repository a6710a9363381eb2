use aqua_macros::kernel;

#[kernel]
fn sum(x: Ptr<f32>, y: PtrMut<f32>, n: i32) {
    let acc = 0.0;
    for i in 0..n {
        acc = acc + load(x + i);
    }
    store(y, acc);
}

fn main() {}
