use aqua_macros::kernel;

#[kernel]
fn dynamic(x: PtrMut<f32>, n: i32) {
    let offs = arange(n);
    let v = load(x + offs).reshape([n, 2]);
    for i in [0, n] {
        store(x + i, v.sum(0).sum(0));
    }
}

fn main() {}
