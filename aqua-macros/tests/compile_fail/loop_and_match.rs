use aqua_macros::kernel;

#[kernel]
fn pick(x: PtrMut<f32>, #[comptime] mode: u32) {
    let v = load(x);
    let w = match mode {
        0 => v,
        _ => v * 2.0,
    };
    loop {
        store(x, w);
    }
}

fn main() {}
