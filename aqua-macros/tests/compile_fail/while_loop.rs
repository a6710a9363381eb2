use aqua_macros::kernel;

#[kernel]
fn halve_until_small(x: PtrMut<f32>, #[comptime] block: u32) {
    let offs = arange(block);
    let mut v = load(x + offs);
    while v.max(0) > 1.0 {
        v = v * 0.5;
    }
    store(x + offs, v);
}

fn main() {}
