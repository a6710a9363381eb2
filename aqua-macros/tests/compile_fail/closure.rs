use aqua_macros::kernel;

#[kernel]
fn squares(x: PtrMut<f32>, #[comptime] block: u32) {
    let offs = arange(block);
    let square = |v| v * v;
    store(x + offs, square(load(x + offs)));
}

fn main() {}
