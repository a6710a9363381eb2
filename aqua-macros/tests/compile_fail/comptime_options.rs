use aqua_macros::kernel;

#[kernel]
fn options(
    x: PtrMut<f32>,
    #[comptime(size = 4)] block: u32,
    #[comptime(default = 1.5)] bits: u32,
    #[comptime(default = 5000000000)] small: u32,
    #[comptime(default = -1)] count: usize,
) {
    store(x, 0.0);
}

fn main() {}
