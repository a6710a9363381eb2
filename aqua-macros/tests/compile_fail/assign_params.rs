use aqua_macros::kernel;

#[kernel]
fn assigns(x: PtrMut<f32>, n: i32, #[comptime] mut block: u32) {
    n = n + 1;
    if n > 4 {
        block = 2 * block;
    }
    store(x + arange(block), 0.0);
}

fn main() {}
