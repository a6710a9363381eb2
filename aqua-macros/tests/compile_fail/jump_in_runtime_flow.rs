use aqua_macros::kernel;

#[kernel]
fn early_exit(x: PtrMut<f32>, n: i32) {
    if n < 1 {
        return;
    }
    for i in 0..n {
        if i == 3 {
            continue;
        }
        store(x + i, 0.0);
        break;
    }
}

fn main() {}
