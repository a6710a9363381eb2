use aqua_macros::kernel;

#[kernel]
fn misc(x: PtrMut<f32>, n: i32) {
    let mut parts = [load(x), load(x)];
    let rows = 0..n;
    'rows: for i in 0..n {
        parts[0] = load(x + i);
    }
    store(x, parts[0]);
}

fn main() {}
